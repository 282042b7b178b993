// Package wc is verso's working copy: a subtree of a verso server checked
// out as plain files (keys) and folders (namespaces), edited with ordinary
// tools, and committed back as one transaction, the way a Subversion
// working copy works.
//
// A working copy keeps its metadata in a .verso folder at its top: the
// server, the mount and the path checked out, and for each file and folder
// the revision it was last brought in at (its base) and its base content
// (pristine copies, by SHA-256), so that status, diff and revert need no
// server and update can tell local edits from server changes.
//
// Every file present locally and not known to the metadata is added on the
// next commit; every known file missing locally is deleted. A commit is one
// transaction guarded by the base revision of each path it changes: it
// applies completely, or not at all when any of those paths changed on the
// server ("out of date"); then update brings the server changes in, marking
// files that both sides changed as conflicted without losing either side.
package wc

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/verso-config/verso"
)

// MetaDir is the name of the metadata folder at the top of a working copy.
const MetaDir = ".verso"

// ErrNotWorkingCopy is returned by Open outside any working copy.
var ErrNotWorkingCopy = errors.New("not a verso working copy")

// Entry is what the metadata knows about one checked-out path.
type Entry struct {
	Kind verso.Kind `json:"kind"`
	// Rev is the revision the path was last changed at, as of the
	// working copy's base: for a key its ModRev, which guards a commit of
	// it; for a folder its TreeRev (the last revision that changed it or
	// anything below it, as the server's listing gives it), which guards
	// its deletion. Format 1 has always recorded both.
	Rev verso.Revision `json:"rev"`
	// Hash is the SHA-256 of the base content of a key (hex); the
	// pristine copy is .verso/pristine/HASH.
	Hash        string `json:"hash,omitempty"`
	ContentType string `json:"content_type,omitempty"`
}

// Conflict records a file that update could not merge.
type Conflict struct {
	// Files are the side files update wrote next to it (FILE.mine,
	// FILE.rN), relative to the top of the working copy.
	Files []string `json:"files"`
}

// meta is the content of .verso/wc.json.
type meta struct {
	Format int    `json:"format"`
	Server string `json:"server"`
	Mount  string `json:"mount"`
	// Path is the path of the tree checked out at the top folder.
	Path verso.Path `json:"path"`
	// Revision is the head at the last checkout or update.
	Revision verso.Revision `json:"revision"`
	// Entries are by path relative to the top, slash-separated; "" is the
	// top folder itself.
	Entries   map[string]*Entry    `json:"entries"`
	Conflicts map[string]*Conflict `json:"conflicts,omitempty"`
}

// WC is an open working copy.
type WC struct {
	// Root is the top folder of the working copy.
	Root string
	m    *meta
}

// Server returns the URL of the server, its mount and the path checked out.
func (w *WC) Server() (url, mount string, p verso.Path) { return w.m.Server, w.m.Mount, w.m.Path }

// Revision returns the revision of the last checkout or update.
func (w *WC) Revision() verso.Revision { return w.m.Revision }

// Open finds the working copy that holds dir (dir or a folder above it).
func Open(dir string) (*WC, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for d := abs; ; {
		b, err := os.ReadFile(filepath.Join(d, MetaDir, "wc.json"))
		if err == nil {
			var m meta
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, fmt.Errorf("read %s: %w", filepath.Join(d, MetaDir, "wc.json"), err)
			}
			if m.Entries == nil {
				m.Entries = map[string]*Entry{}
			}
			return &WC{Root: d, m: &m}, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		up := filepath.Dir(d)
		if up == d {
			return nil, fmt.Errorf("%s: %w", abs, ErrNotWorkingCopy)
		}
		d = up
	}
}

// save writes the metadata, atomically.
func (w *WC) save() error {
	b, err := json.MarshalIndent(w.m, "", "  ")
	if err != nil {
		return err
	}
	f := filepath.Join(w.Root, MetaDir, "wc.json")
	tmp := f + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, f)
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// storePristine keeps data as a base copy and returns its hash.
func (w *WC) storePristine(data []byte) (string, error) {
	h := hashOf(data)
	f := filepath.Join(w.Root, MetaDir, "pristine", h)
	if _, err := os.Stat(f); err == nil {
		return h, nil
	}
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		return "", err
	}
	tmp := f + ".tmp"
	if err := os.WriteFile(tmp, data, 0o444); err != nil {
		return "", err
	}
	return h, os.Rename(tmp, f)
}

// pristine returns the base content of a key.
func (w *WC) pristine(e *Entry) ([]byte, error) {
	if e == nil || e.Kind != verso.KindKey {
		return nil, nil
	}
	return os.ReadFile(filepath.Join(w.Root, MetaDir, "pristine", e.Hash))
}

// local returns the file name of a relative path.
func (w *WC) local(rel string) string {
	if rel == "" {
		return w.Root
	}
	return filepath.Join(w.Root, filepath.FromSlash(rel))
}

// remote returns the verso path of a relative path.
func (w *WC) remote(rel string) verso.Path {
	if rel == "" {
		return w.m.Path
	}
	return w.m.Path.Join(rel) // rel holds slashes: Join keeps them
}

// Rel turns a file name (absolute, or relative to the current folder) into
// a path relative to the top of the working copy.
func (w *WC) Rel(name string) (string, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", err
	}
	r, err := filepath.Rel(w.Root, abs)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside the working copy %s", name, w.Root)
	}
	if r == "." {
		return "", nil
	}
	r = filepath.ToSlash(r)
	if r == MetaDir || strings.HasPrefix(r, MetaDir+"/") {
		return "", fmt.Errorf("%s is verso's metadata, not part of the tree", name)
	}
	return r, nil
}

// sideFiles returns the conflict side files, which are not part of the tree.
func (w *WC) sideFiles() map[string]bool {
	out := map[string]bool{}
	for _, c := range w.m.Conflicts {
		for _, f := range c.Files {
			out[f] = true
		}
	}
	return out
}

// parent returns the relative path of the folder holding rel.
func parent(rel string) string {
	d := path.Dir(rel)
	if d == "." {
		return ""
	}
	return d
}

// below reports whether rel is dir or inside it.
func below(dir, rel string) bool {
	return dir == "" || rel == dir || strings.HasPrefix(rel, dir+"/")
}

// sortedKeys returns the keys of m in order, parents before children.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
