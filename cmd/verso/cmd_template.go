package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

// templatePoll is how often --watch asks again when the server does not
// long-poll (it answers at once).
const templatePoll = 2 * time.Second

// templateWait is how long one long-poll of --watch waits.
const templateWait = 5 * time.Minute

func newTemplateCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var watch bool
	var execCmd string
	cmd := &cobra.Command{
		Use:   "template SRC DEST",
		Short: "Render a file from a template with values from verso",
		Long: `Template renders the Go text/template in SRC with values read from verso and
writes the result to DEST atomically (a temporary file renamed over DEST), so
a program reading DEST never sees half a file. The functions it adds:

  key PATH            the value of the key at PATH (an error if missing)
  keyOr PATH DEFAULT  the value, or DEFAULT when the key is missing
  exists PATH         whether the key or namespace exists
  ls PATH             the names in the namespace PATH, sorted
  tree PATH           the namespace PATH as nested maps of strings
  json TEXT           TEXT parsed as JSON (for values holding JSON)
  toJSON VALUE        VALUE as JSON text
  join LIST SEP       the strings of LIST joined with SEP
  split TEXT SEP      TEXT split at SEP

All reads of one rendering see the same revision. With --watch, template
keeps running and renders again whenever a namespace it read changes (by the
server's long-poll, or by asking every 2s); DEST is rewritten, and the
--exec command run, only when the output changes. --exec runs CMD with sh -c
after DEST is written (with --watch, after each change), as
consul-template and confd do (for example to reload nginx).`,
		Example: `  verso template nginx.conf.tmpl /etc/nginx/conf.d/app.conf
  verso template nginx.conf.tmpl /etc/nginx/conf.d/app.conf --watch --exec "nginx -s reload"

  # nginx.conf.tmpl:
  upstream app {
  {{- range ls "/app/backends" }}
    server {{ key (printf "/app/backends/%s" .) }};
  {{- end }}
  }`,
		Args: argsBetween(2, 2, "SRC DEST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dest := args[0], args[1]
			text, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			r := &templateRun{c: c, name: filepath.Base(src), text: string(text), dest: dest, exec: execCmd, cmd: cmd}
			if !watch {
				_, err := r.once(cmd.Context())
				return c.explain(err)
			}
			return c.explain(r.watch(cmd.Context()))
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&watch, "watch", "w", false, "keep running; render again when the values change")
	fs.StringVar(&execCmd, "exec", "", "run `CMD` (with sh -c) after DEST changes")
	flags.bind(cmd)
	return cmd
}

// templateRun renders one template to one file.
type templateRun struct {
	c    *clientConn
	name string
	text string
	dest string
	exec string
	cmd  *cobra.Command
	last []byte // the output last written
}

// once renders the template, writes DEST if the output changed, and runs
// the --exec command after writing. It returns the namespaces the
// rendering read.
func (r *templateRun) once(ctx context.Context) ([]verso.Path, error) {
	out, read, err := r.render(ctx)
	if err != nil {
		return read, err
	}
	if r.last != nil && bytes.Equal(out, r.last) {
		return read, nil
	}
	if err := writeAtomic(r.dest, out); err != nil {
		return read, err
	}
	r.last = out
	if r.exec != "" {
		c := exec.CommandContext(ctx, "/bin/sh", "-c", r.exec)
		c.Stdout, c.Stderr = r.cmd.OutOrStdout(), r.cmd.ErrOrStderr()
		if err := c.Run(); err != nil {
			return read, fmt.Errorf("--exec %q: %w", r.exec, err)
		}
	}
	return read, nil
}

// watch renders, then waits for a change below the namespaces the last
// rendering read and renders again, until ctx ends. A rendering that fails
// is logged and the old DEST kept.
func (r *templateRun) watch(ctx context.Context) error {
	read, err := r.once(ctx)
	if err != nil {
		return err
	}
	for {
		ns := commonNamespace(read)
		index, err := r.c.WaitNamespace(ctx, ns, 0, 0)
		if errors.Is(err, verso.ErrNotFound) {
			ns = verso.Root // what was read does not exist yet: watch everything
			index, err = r.c.WaitNamespace(ctx, ns, 0, 0)
		}
		if err != nil {
			return err
		}
		for {
			start := time.Now()
			rev, err := r.c.WaitNamespace(ctx, ns, index, templateWait)
			if ctx.Err() != nil {
				return nil
			}
			if err == nil && rev != index {
				break
			}
			if err != nil {
				slog.Warn("template: waiting for a change failed", "namespace", ns, "err", err)
			}
			if time.Since(start) < templatePoll {
				// No long-poll on this server (or an error): ask again later.
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(templatePoll):
				}
			}
		}
		if got, err := r.once(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			slog.Warn("template: render failed; keeping the old file", "dest", r.dest, "err", err)
		} else {
			read = got
		}
	}
}

// render runs the template at one revision and returns its output and the
// namespaces it read from (a key counts as its namespace).
func (r *templateRun) render(ctx context.Context) ([]byte, []verso.Path, error) {
	rev := verso.Head
	if cm, err := r.c.Revision(ctx, verso.Head); err == nil {
		rev = cm.Rev // every read of this rendering sees this revision
	} else if !errors.Is(err, verso.ErrNotFound) {
		return nil, nil, err
	}
	var read []verso.Path
	path := func(s string, ns bool) (verso.Path, error) {
		p, err := verso.ParsePath(s)
		if err != nil {
			return "", err
		}
		if ns {
			read = append(read, p)
		} else {
			read = append(read, p.Parent())
		}
		return p, nil
	}
	get := func(s string) (string, bool, error) {
		p, err := path(s, false)
		if err != nil {
			return "", false, err
		}
		v, err := r.c.Get(ctx, p, rev)
		if errors.Is(err, verso.ErrNotFound) {
			return "", false, nil
		}
		if err != nil {
			return "", false, err
		}
		return string(v.Data), true, nil
	}
	funcs := template.FuncMap{
		"key": func(s string) (string, error) {
			v, ok, err := get(s)
			if err == nil && !ok {
				err = fmt.Errorf("key %s does not exist", s)
			}
			return v, err
		},
		"keyOr": func(s, def string) (string, error) {
			v, ok, err := get(s)
			if !ok {
				v = def
			}
			return v, err
		},
		"exists": func(s string) (bool, error) {
			p, err := path(s, true)
			if err != nil {
				return false, err
			}
			_, err = r.c.Get(ctx, p, rev)
			var ce *client.Error
			switch {
			case err == nil, errors.As(err, &ce) && ce.Status == http.StatusConflict: // 409: a namespace
				return true, nil
			case errors.Is(err, verso.ErrNotFound):
				return false, nil
			}
			return false, err
		},
		"ls": func(s string) ([]string, error) {
			p, err := path(s, true)
			if err != nil {
				return nil, err
			}
			entries, err := r.c.List(ctx, p, rev)
			if err != nil {
				return nil, err
			}
			names := make([]string, 0, len(entries))
			for _, e := range entries {
				names = append(names, e.Name)
			}
			sort.Strings(names)
			return names, nil
		},
		"tree": func(s string) (map[string]any, error) {
			p, err := path(s, true)
			if err != nil {
				return nil, err
			}
			e, err := r.c.Export(ctx, p, &client.ExportOptions{Rev: max(rev, 0)})
			if err != nil {
				return nil, err
			}
			var m map[string]any
			return m, json.Unmarshal(e.Data, &m)
		},
		"json": func(s string) (any, error) {
			var v any
			return v, json.Unmarshal([]byte(s), &v)
		},
		"toJSON": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"join":  func(list []string, sep string) string { return strings.Join(list, sep) },
		"split": func(s, sep string) []string { return strings.Split(s, sep) },
	}
	t, err := template.New(r.name).Funcs(funcs).Option("missingkey=error").Parse(r.text)
	if err != nil {
		return nil, nil, err
	}
	var out bytes.Buffer
	if err := t.Execute(&out, nil); err != nil {
		return nil, read, err
	}
	return out.Bytes(), read, nil
}

// commonNamespace is the deepest namespace holding every path of ps (the
// root when there are none).
func commonNamespace(ps []verso.Path) verso.Path {
	if len(ps) == 0 {
		return verso.Root
	}
	common := ps[0]
	for _, p := range ps[1:] {
		for !common.Contains(p) {
			common = common.Parent()
		}
	}
	return common
}

// writeAtomic writes data to a temporary file beside dest and renames it
// over dest, keeping dest's permissions when it exists.
func writeAtomic(dest string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(dest); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), dest)
}
