package etcd

import (
	"fmt"
	"strconv"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
)

// Keys under the prefix. See doc.go for what each holds.
const (
	keyRev     = "rev"
	keyStart   = "start"  // where history starts: see prune.go
	keyGuard   = "prune"  // rewritten by every pruning step: see prune.go
	keyPruned  = "pruned" // how far Retention.KeepVersions has trimmed
	dirCommit  = "c/"
	dirTree    = "t/"
	dirHist    = "h/"
	dirIndex   = "i/"
	revDigits  = 20 // a revision as a key suffix: zero-padded decimal
	pathRevSep = "\x00"
)

// keys builds the keys of one store, all under its prefix.
type keys struct{ prefix string }

func (k keys) rev() string { return k.prefix + keyRev }

func (k keys) start() string  { return k.prefix + keyStart }
func (k keys) guard() string  { return k.prefix + keyGuard }
func (k keys) pruned() string { return k.prefix + keyPruned }

func (k keys) commit(r verso.Revision) string { return k.prefix + dirCommit + revString(r) }

func (k keys) tree(p verso.Path) string { return k.prefix + dirTree + string(p) }

// hist is the key of p's state as of revision r. A clean path never holds
// 0x00, so p's states sort by revision and come before those of any path
// that p is a prefix of.
func (k keys) hist(p verso.Path, r verso.Revision) string {
	return k.prefix + dirHist + string(p) + pathRevSep + revString(r)
}

// histEnd is the key just after every hist key of p (and before those of
// any path p is a prefix of).
func (k keys) histEnd(p verso.Path) string {
	return k.prefix + dirHist + string(p) + "\x01"
}

// index is the key recording that revision r changed p or something below
// it. Log of p is a backward range read of the keys p+0x00+rev.
func (k keys) index(p verso.Path, r verso.Revision) string {
	return k.prefix + dirIndex + string(p) + pathRevSep + revString(r)
}

// subtreeRange returns the range [start, end) of the keys in dir of p and
// everything below it. It also holds paths that merely start with p's bytes
// followed by a byte below '/' ("/a!b" for "/a"); callers filter them out.
func (k keys) subtreeRange(dir string, p verso.Path) (string, string) {
	if p == verso.Root {
		return k.prefix + dir + "/", k.prefix + dir + "0"
	}
	return k.prefix + dir + string(p) + pathRevSep, k.prefix + dir + string(p) + "0" // '0' follows '/'
}

// splitPathRev splits the part of a hist or index key after the directory
// into the path and the revision.
func splitPathRev(rest string) (verso.Path, verso.Revision, bool) {
	n := len(rest) - revDigits - 1
	if n < 1 || rest[n] != 0 {
		return "", 0, false
	}
	r, err := strconv.ParseInt(rest[n+1:], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return verso.Path(rest[:n]), verso.Revision(r), true
}

func revString(r verso.Revision) string {
	s := strconv.FormatInt(int64(r), 10)
	if len(s) < revDigits {
		s = "00000000000000000000"[:revDigits-len(s)] + s
	}
	return s
}

// parseRevValue reads the value of the rev key; a missing key is 0.
func parseRevValue(v []byte) (verso.Revision, error) {
	if v == nil {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("head revision %q: %w", v, errCorrupt)
	}
	return verso.Revision(n), nil
}

// Entries and commit records are stored in the encodings of package
// internal/codec, which the bolt store shares: tools can read either.

// errCorrupt is codec.ErrCorrupt, so that one sentinel names damage
// whichever package found it.
var errCorrupt = codec.ErrCorrupt
