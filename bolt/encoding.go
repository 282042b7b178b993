package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/verso-config/verso"
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

// Entries are stored in a small binary encoding rather than JSON: the hist
// bucket keeps one copy of an entry per revision that changed it, so size
// counts, values are arbitrary bytes (JSON would base64 them), and decoding
// sits on the path of every read at an old revision. The first byte is the
// encoding's version, so a later layout can be told apart; a lone
// tombstoneByte in hist records that the path was deleted, and a lone
// goneByte that its states from that revision until its next record were
// dropped by pruning.
//
//	entryV1 kind createRev modRev treeRev version sec nsec modBy contentType value nprops (name value)...
//
// Revisions, counts and lengths are uvarints; sec is a varint; strings and
// the value are a uvarint length and the bytes. The path is not stored: it
// is in the key.
const (
	tombstoneByte = 0
	entryV1       = 1
	goneByte      = 2
)

var errCorrupt = errors.New("corrupt record")

func isTombstone(v []byte) bool { return len(v) == 1 && v[0] == tombstoneByte }

func isGone(v []byte) bool { return len(v) == 1 && v[0] == goneByte }

func encodeEntry(e *verso.Entry) []byte {
	n := 2 + 6*binary.MaxVarintLen64 + len(e.ModBy) + len(e.ContentType) + len(e.Value) + 4*binary.MaxVarintLen64
	for k, v := range e.Props {
		n += len(k) + len(v) + 2*binary.MaxVarintLen64
	}
	b := make([]byte, 0, n)
	b = append(b, entryV1, byte(e.Kind))
	b = binary.AppendUvarint(b, uint64(e.CreateRev))
	b = binary.AppendUvarint(b, uint64(e.ModRev))
	b = binary.AppendUvarint(b, uint64(e.TreeRev))
	b = binary.AppendUvarint(b, uint64(e.Version))
	b = binary.AppendVarint(b, e.ModTime.Unix())
	b = binary.AppendUvarint(b, uint64(e.ModTime.Nanosecond()))
	b = appendString(b, e.ModBy)
	b = appendString(b, e.ContentType)
	b = appendString(b, string(e.Value))
	b = binary.AppendUvarint(b, uint64(len(e.Props)))
	for _, k := range slices.Sorted(maps.Keys(e.Props)) {
		b = appendString(b, k)
		b = appendString(b, e.Props[k])
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeEntry decodes an entry of path p. It copies everything out of b, so
// b may be memory that bbolt reuses after the transaction.
func decodeEntry(p verso.Path, b []byte) (*verso.Entry, error) {
	d := decoder{b: b}
	if d.byte() != entryV1 {
		return nil, fmt.Errorf("entry %s: unknown encoding: %w", p, errCorrupt)
	}
	e := &verso.Entry{Path: p, Kind: verso.Kind(d.byte())}
	e.CreateRev = verso.Revision(d.uvarint())
	e.ModRev = verso.Revision(d.uvarint())
	e.TreeRev = verso.Revision(d.uvarint())
	e.Version = int64(d.uvarint())
	sec := d.varint()
	nsec := d.uvarint()
	e.ModTime = time.Unix(sec, int64(nsec)).UTC()
	e.ModBy = d.string()
	e.ContentType = d.string()
	if v := d.bytes(); e.Kind == verso.KindKey {
		e.Value = bytes.Clone(v)
		if e.Value == nil {
			e.Value = []byte{}
		}
	}
	if n := d.uvarint(); n > 0 && d.err == nil {
		e.Props = make(map[string]string, min(n, 64))
		for range n {
			k := d.string()
			e.Props[k] = d.string()
			if d.err != nil {
				break
			}
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, fmt.Errorf("entry %s: %w", p, errCorrupt)
	}
	if e.Kind != verso.KindKey && e.Kind != verso.KindNamespace {
		return nil, fmt.Errorf("entry %s: kind %d: %w", p, e.Kind, errCorrupt)
	}
	return e, nil
}

// decoder reads the entry encoding, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err, d.b = errCorrupt, nil }

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

// commitRecord is the stored form of a verso.Commit, in JSON: records are
// read one at a time (Revision, Log) and a readable format helps when
// inspecting a data file with the bbolt tool. verso.Kind has no
// UnmarshalText, hence the record's own types.
type commitRecord struct {
	Rev     verso.Revision `json:"rev"`
	Author  string         `json:"author,omitempty"`
	Sec     int64          `json:"sec"`
	Nsec    int64          `json:"nsec,omitempty"`
	Message string         `json:"msg,omitempty"`
	Changes []changeRecord `json:"changes,omitempty"`
}

type changeRecord struct {
	Path    verso.Path     `json:"path"`
	Kind    uint8          `json:"kind"`
	Action  verso.Action   `json:"action"`
	From    verso.Path     `json:"from,omitempty"`
	FromRev verso.Revision `json:"fromRev,omitempty"`
}

func encodeCommit(c *verso.Commit) ([]byte, error) {
	r := commitRecord{Rev: c.Rev, Author: c.Author, Sec: c.Time.Unix(), Nsec: int64(c.Time.Nanosecond()), Message: c.Message}
	for _, ch := range c.Changes {
		r.Changes = append(r.Changes, changeRecord{Path: ch.Path, Kind: uint8(ch.Kind), Action: ch.Action, From: ch.From, FromRev: ch.FromRev})
	}
	return json.Marshal(r)
}

func decodeCommit(b []byte) (*verso.Commit, error) {
	var r commitRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("commit record: %w: %v", errCorrupt, err)
	}
	c := &verso.Commit{Rev: r.Rev, Author: r.Author, Time: time.Unix(r.Sec, r.Nsec).UTC(), Message: r.Message}
	if len(r.Changes) > 0 {
		c.Changes = make([]verso.Change, len(r.Changes))
		for i, ch := range r.Changes {
			c.Changes[i] = verso.Change{Path: ch.Path, Kind: verso.Kind(ch.Kind), Action: ch.Action, From: ch.From, FromRev: ch.FromRev}
		}
	}
	return c, nil
}
