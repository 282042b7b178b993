// Package svnfs is Subversion's view of a verso tree, shared by the svn
// protocol (package svn) and svnadmin dump streams (package svndump):
// verso's dead properties read as svn properties and the values svn
// properties are kept as, the dates and checksums svn gives, and the store
// operations an svn copy is made of.
package svnfs

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"maps"
	"sort"
	"time"

	"github.com/verso-config/verso"
)

// Time formats t as svn dates travel: UTC, microseconds.
func Time(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// SortedKeys returns m's keys in byte order.
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// MD5Hex returns b's MD5 in hex, the checksum svn gives a text.
func MD5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// SHA1Hex returns b's SHA-1 in hex.
func SHA1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// GetOrNil is Store.Get that answers nil for a missing path or a
// revision whose history was pruned.
func GetOrNil(ctx context.Context, s verso.Store, p verso.Path, rev verso.Revision) (*verso.Entry, error) {
	if rev < 0 {
		return nil, nil
	}
	e, err := s.Get(ctx, p, rev)
	if errors.Is(err, verso.ErrNotFound) || errors.Is(err, verso.ErrGone) {
		return nil, nil
	}
	return e, err
}

// DropBelow deletes from m p and every path below it: what a deletion of
// p leaves of a commit's or a revision's bookkeeping.
func DropBelow[V any](m map[verso.Path]V, p verso.Path) {
	maps.DeleteFunc(m, func(q verso.Path, _ V) bool { return p.Contains(q) })
}
