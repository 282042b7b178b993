package wc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

// remoteItem is a path of the server's tree at some revision.
type remoteItem struct {
	kind        verso.Kind
	rev         verso.Revision // ModRev of a key, TreeRev of a namespace
	contentType string
}

// head returns the server's newest revision.
func head(ctx context.Context, c *client.Client) (verso.Revision, error) {
	page, err := c.Log(ctx, verso.Root, verso.Head, 1)
	if err != nil {
		return 0, err
	}
	return page.Head, nil
}

// fetchTree lists the namespace p and everything below it as of rev, by
// path relative to p.
func fetchTree(ctx context.Context, c *client.Client, p verso.Path, rev verso.Revision) (map[string]*remoteItem, error) {
	out := map[string]*remoteItem{"": {kind: verso.KindNamespace}}
	var walk func(ns verso.Path, rel string) error
	walk = func(ns verso.Path, rel string) error {
		kids, err := c.List(ctx, ns, rev)
		if err != nil {
			return err
		}
		for _, k := range kids {
			r := k.Name
			if rel != "" {
				r = rel + "/" + k.Name
			}
			if rel == "" && k.Name == MetaDir {
				continue // cannot be checked out: the name is the metadata's
			}
			out[r] = &remoteItem{kind: k.Kind, rev: k.Revision, contentType: k.ContentType}
			if k.Kind == verso.KindNamespace {
				if err := walk(ns.Join(k.Name), r); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return out, walk(p, "")
}

// Checkout writes the namespace at p, as of the server's head, into dir
// (which must not exist or be empty) and makes dir a working copy of it.
// serverURL and mount are recorded for later commands. It reports each
// path written to out, svn style, and returns the working copy.
func Checkout(ctx context.Context, c *client.Client, serverURL, mount string, p verso.Path, dir string, out io.Writer) (*WC, error) {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%s exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	rev, err := head(ctx, c)
	if err != nil {
		return nil, err
	}
	tree, err := fetchTree(ctx, c, p, rev)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(abs, MetaDir, "pristine"), 0o755); err != nil {
		return nil, err
	}
	w := &WC{Root: abs, m: &meta{Format: 1, Server: serverURL, Mount: mount, Path: p, Revision: rev, Entries: map[string]*Entry{}}}
	w.m.Entries[""] = &Entry{Kind: verso.KindNamespace, Rev: rev}
	for _, rel := range sortedKeys(tree) {
		if rel == "" {
			continue
		}
		if err := w.bringIn(ctx, c, rel, tree[rel], rev); err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "A    %s\n", filepath.Join(dir, filepath.FromSlash(rel)))
	}
	if err := w.save(); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "Checked out revision %d.\n", rev)
	return w, nil
}

// fetch reads the value of the key rel at rev.
func (w *WC) fetch(ctx context.Context, c *client.Client, rel string, rev verso.Revision) ([]byte, error) {
	v, err := c.Get(ctx, w.remote(rel), rev)
	if err != nil {
		return nil, err
	}
	return v.Data, nil
}

// bringIn writes the server's rel (a folder, or a key's value as of rev)
// to disk and records it as the base.
func (w *WC) bringIn(ctx context.Context, c *client.Client, rel string, it *remoteItem, rev verso.Revision) error {
	name := w.local(rel)
	if it.kind == verso.KindNamespace {
		if err := os.MkdirAll(name, 0o755); err != nil {
			return err
		}
		w.m.Entries[rel] = &Entry{Kind: verso.KindNamespace, Rev: it.rev}
		return nil
	}
	data, err := w.fetch(ctx, c, rel, rev)
	if err != nil {
		return err
	}
	return w.record(rel, data, it.rev, it.contentType, true)
}

// record makes data the base of the key rel at revision rev, and writes
// it to the file too when write is set.
func (w *WC) record(rel string, data []byte, rev verso.Revision, contentType string, write bool) error {
	h, err := w.storePristine(data)
	if err != nil {
		return err
	}
	if write {
		if err := writeFile(w.local(rel), data); err != nil {
			return err
		}
	}
	w.m.Entries[rel] = &Entry{Kind: verso.KindKey, Rev: rev, Hash: h, ContentType: contentType}
	return nil
}

// writeFile replaces a file's content atomically.
func writeFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	tmp := name + ".verso-tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
