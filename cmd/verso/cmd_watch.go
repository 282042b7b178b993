package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

func newWatchCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var from, execCmd string
	var debounce time.Duration
	cmd := &cobra.Command{
		Use:   "watch PATH",
		Short: "Print, or act on, every change to a key or namespace",
		Long: `Watch follows PATH (a key, or a namespace with everything below it) and prints
each change as it happens, one line per changed path: the revision, what
happened to the path (A added, M modified, D deleted) and the path, as in
"r12 M /app/db/host". It sees every revision that changes PATH, in order,
none missed: when the connection drops it reconnects and resumes where it
stopped. It runs until interrupted (SIGINT or SIGTERM).

--from REV starts after revision REV instead of now, replaying what changed
since (--from 0: the whole history).

--exec CMD runs CMD with sh -c after each change instead of printing it,
with VERSO_REVISION set to the revision and VERSO_CHANGED_PATHS to the
changed paths, one a line. With --debounce D it waits until nothing has
changed for D, then runs CMD once for everything that changed meanwhile
(VERSO_REVISION is then the newest revision). CMD's output goes to verso's;
a CMD that fails is reported and the watch goes on.`,
		Example: `  verso watch /app
  verso watch /app/db --exec 'systemctl reload myapp' --debounce 2s
  verso watch /app --from 120`,
		Args: argsBetween(1, 1, "PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parsePathArg(cmd, args[0])
			if err != nil {
				return err
			}
			start, err := parseRevFlag(cmd, "-from", from)
			if err != nil {
				return err
			}
			if debounce < 0 {
				return usageErrorf(cmd, "invalid --debounce %v: want a duration from 0 up", debounce)
			}
			if debounce > 0 && execCmd == "" {
				return usageErrorf(cmd, "--debounce needs --exec")
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			w, err := c.Watch(cmd.Context(), p, start, &client.WatchOptions{OnDisconnect: func(err error) {
				fmt.Fprintf(stderr, "verso: watch: %v; reconnecting\n", c.explain(err))
			}})
			if err != nil {
				return c.explain(err)
			}
			defer w.Close()
			wr := &watchRun{out: cmd.OutOrStdout(), stderr: stderr, exec: execCmd, debounce: debounce}
			err = wr.run(cmd.Context(), w)
			if cmd.Context().Err() != nil {
				return nil // interrupted: a clean stop
			}
			return c.explain(err)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&from, "from", "HEAD", "start after revision `REV` (HEAD: only new changes)")
	fs.StringVar(&execCmd, "exec", "", "run `CMD` (with sh -c) after each change instead of printing it")
	fs.DurationVar(&debounce, "debounce", 0, "with --exec, run CMD once things have been quiet for `D` (like 500ms or 2s)")
	flags.bind(cmd)
	return cmd
}

// watchRun prints the events of a watch, or runs a command for them.
type watchRun struct {
	out, stderr io.Writer
	exec        string
	debounce    time.Duration

	pending map[verso.Path]bool // changed paths not yet given to the command
	rev     verso.Revision      // the newest revision among them
}

// run handles the events of w until ctx ends or w fails.
func (wr *watchRun) run(ctx context.Context, w *client.Watcher) error {
	events := make(chan *client.Event)
	errc := make(chan error, 1)
	go func() {
		for {
			ev, err := w.Next()
			if err != nil {
				errc <- err
				return
			}
			select {
			case events <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	wr.pending = map[verso.Path]bool{}
	var quiet <-chan time.Time
	for {
		select {
		case ev := <-events:
			if wr.exec == "" {
				wr.print(ev)
				continue
			}
			for _, ch := range ev.Changes {
				wr.pending[ch.Path] = true
			}
			wr.rev = ev.Rev
			if wr.debounce == 0 {
				wr.runCommand()
			} else {
				quiet = time.After(wr.debounce)
			}
		case <-quiet:
			quiet = nil
			wr.runCommand()
		case err := <-errc:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// print writes one line per changed path: "r12 M /ns/key".
func (wr *watchRun) print(ev *client.Event) {
	var b strings.Builder
	for _, ch := range ev.Changes {
		fmt.Fprintf(&b, "r%d %s %s", ev.Rev, actionLetter(ch.Action), ch.Path)
		if ch.From != "" {
			fmt.Fprintf(&b, " (from %s:%d)", ch.From, ch.FromRev)
		}
		b.WriteByte('\n')
	}
	io.WriteString(wr.out, b.String())
}

// runCommand runs the command for the pending changes and waits for it.
func (wr *watchRun) runCommand() {
	if len(wr.pending) == 0 {
		return
	}
	paths := slices.Sorted(maps.Keys(wr.pending))
	lines := make([]string, len(paths))
	for i, p := range paths {
		lines[i] = string(p)
	}
	clear(wr.pending)
	c := exec.Command("/bin/sh", "-c", wr.exec)
	c.Env = append(os.Environ(),
		"VERSO_REVISION="+strconv.FormatInt(int64(wr.rev), 10),
		"VERSO_CHANGED_PATHS="+strings.Join(lines, "\n"))
	c.Stdout, c.Stderr = wr.out, wr.stderr
	if err := c.Run(); err != nil {
		fmt.Fprintf(wr.stderr, "verso: watch: --exec command for r%d: %v\n", wr.rev, err)
	}
}
