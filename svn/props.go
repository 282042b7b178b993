package svn

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/verso-config/verso"
)

// wireName returns the element (namespace and local name) that carries
// svn property name in PROPFIND answers.
func wireName(name string) (ns, local string) {
	if rest, ok := strings.CutPrefix(name, "svn:"); ok {
		return nsSVNProp, rest
	}
	return nsCustom, name
}

// node is an entry with what svn says of it: its committed revision (the
// last revision that changed it or, for a directory, anything below it),
// that commit's date and author.
type node struct {
	*verso.Entry
	rev    verso.Revision // the revision it was read at
	cr     verso.Revision
	date   time.Time // zero when unknown (revision 0)
	author string
}

// commits caches the commit records one request looks up.
type commits struct {
	store verso.Store
	m     map[verso.Revision]*verso.Commit
}

func newCommits(s verso.Store) *commits {
	return &commits{store: s, m: map[verso.Revision]*verso.Commit{}}
}

// get returns the record of rev, nil for revision 0 or a pruned one.
func (c *commits) get(ctx context.Context, rev verso.Revision) (*verso.Commit, error) {
	if rev <= 0 {
		return nil, nil
	}
	if cm, ok := c.m[rev]; ok {
		return cm, nil
	}
	cm, err := c.store.Revision(ctx, rev)
	if errors.Is(err, verso.ErrGone) {
		cm, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.m[rev] = cm
	return cm, nil
}

// nodeOf completes e, read at rev, with its committed revision's date
// and author.
func (c *commits) nodeOf(ctx context.Context, e *verso.Entry, rev verso.Revision) (*node, error) {
	n := &node{Entry: e, rev: rev, cr: e.TreeRev}
	if e.Kind == verso.KindKey || e.TreeRev == e.ModRev {
		n.cr, n.date, n.author = e.ModRev, e.ModTime, e.ModBy
		if n.cr == 0 {
			n.date = time.Time{}
		}
		return n, nil
	}
	cm, err := c.get(ctx, e.TreeRev)
	if err != nil {
		return nil, err
	}
	if cm != nil {
		n.date, n.author = cm.Time, cm.Author
	}
	return n, nil
}

func base64Of(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
