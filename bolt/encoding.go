package bolt

import (
	"encoding/binary"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
)

// Buckets of the data file. See doc.go for what each holds.
var (
	bucketMeta  = []byte("meta")
	bucketRevs  = []byte("revs")
	bucketTree  = []byte("tree")
	bucketHist  = []byte("hist")
	bucketIndex = []byte("index")

	allBuckets = [][]byte{bucketMeta, bucketRevs, bucketTree, bucketHist, bucketIndex}

	keyHead   = []byte("head")
	keyFormat = []byte("format")
	// keyStart holds the revision where history starts, once pruning
	// has dropped older revisions (see prune.go); absent means 0.
	keyStart = []byte("start")
	// keyPruned holds the progress of pruning by Retention.KeepVersions:
	// the newest revision whose changed paths were trimmed, then the
	// KeepVersions they were trimmed to.
	keyPruned = []byte("pruned")
)

// formatVersion is the layout of the data file this package writes. Open
// refuses a file with another number rather than misreading it.
const formatVersion = 1

// revKey is the 8-byte big-endian form of r, so that byte order is numeric
// order.
func revKey(r verso.Revision) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(r))
}

func decodeRev(b []byte) verso.Revision { return verso.Revision(binary.BigEndian.Uint64(b)) }

// treeKey is the key of p in the tree bucket: its depth, then the path. All
// children of a namespace share the prefix childPrefix(ns), and sort by name.
func treeKey(p verso.Path) []byte {
	k := make([]byte, 0, 1+len(p))
	k = append(k, byte(p.Depth()))
	return append(k, p...)
}

// childPrefix is the tree and hist key prefix of the children of ns. A
// child's name never holds '/', and a clean path never holds 0x00, so the
// prefix matches exactly the children (plus, in hist, their revisions).
func childPrefix(ns verso.Path) []byte {
	k := make([]byte, 0, 2+len(ns))
	k = append(k, byte(ns.Depth()+1))
	if ns != verso.Root {
		k = append(k, ns...)
	}
	return append(k, '/')
}

// pathFromTreeKey returns the path a tree key (or the path part of a hist
// key) names.
func pathFromTreeKey(k []byte) verso.Path { return verso.Path(k[1:]) }

// histKey is the key of p's state as of revision r in the hist bucket: the
// tree key, 0x00, then r. A path's states sort by revision, and because
// 0x00 sorts before every byte of a path, p's states come before those of
// any path that p is a prefix of.
func histKey(p verso.Path, r verso.Revision) []byte {
	k := make([]byte, 0, 1+len(p)+1+8)
	k = append(k, byte(p.Depth()))
	k = append(k, p...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, uint64(r))
}

// splitHistKey splits a hist key into its tree-key part and revision.
func splitHistKey(k []byte) (treePart []byte, r verso.Revision, ok bool) {
	if len(k) < 1+1+1+8 || k[len(k)-9] != 0 {
		return nil, 0, false
	}
	return k[:len(k)-9], decodeRev(k[len(k)-8:]), true
}

// indexKey is the key recording that revision r changed p or something below
// it: the path, 0x00, then r. Log of p is a reverse scan of the prefix p+0x00.
func indexKey(p verso.Path, r verso.Revision) []byte {
	k := make([]byte, 0, len(p)+1+8)
	k = append(k, p...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, uint64(r))
}

func splitIndexKey(k []byte) (verso.Path, verso.Revision, bool) {
	if len(k) < 1+1+8 || k[len(k)-9] != 0 {
		return "", 0, false
	}
	return verso.Path(k[:len(k)-9]), decodeRev(k[len(k)-8:]), true
}

// Entries and commit records are stored in the encodings of package
// internal/codec, which the etcd store shares.

// errCorrupt is codec.ErrCorrupt, so that one sentinel names damage
// whichever package found it.
var errCorrupt = codec.ErrCorrupt
