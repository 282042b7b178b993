package etcd

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/verso-config/verso"
)

// Keys under the prefix. See doc.go for what each holds.
const (
	keyRev     = "rev"
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

func (k keys) commit(r verso.Revision) string { return k.prefix + dirCommit + revString(r) }

func (k keys) tree(p verso.Path) string { return k.prefix + dirTree + string(p) }

// hist is the key of p's state as of revision r. A clean path never holds
// 0x00, so p's states sort by revision and come before those of any path
// that p is a prefix of.
func (k keys) hist(p verso.Path, r verso.Revision) string {
	return k.prefix + dirHist + string(p) + pathRevSep + revString(r)
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

// Entries are stored in a small binary encoding rather than JSON: the
// history keeps one copy of an entry per revision that changed it, values
// are arbitrary bytes (JSON would base64 them), and every etcd request is
// capped in size. The first byte is the encoding's version; a lone
// tombstoneByte in the history records that the path was deleted.
//
//	entryV1 kind createRev modRev treeRev version sec nsec modBy contentType value nprops (name value)...
//
// Revisions, counts and lengths are uvarints; sec is a varint; strings and
// the value are a uvarint length and the bytes. The path is in the key.
// It is the encoding of package bolt, so tools can share a decoder.
const (
	tombstoneByte = 0
	entryV1       = 1
)

var errCorrupt = errors.New("corrupt record")

func isTombstone(v []byte) bool { return len(v) == 1 && v[0] == tombstoneByte }

func encodeEntry(e *verso.Entry) []byte {
	n := 2 + 10*binary.MaxVarintLen64 + len(e.ModBy) + len(e.ContentType) + len(e.Value)
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

// decodeEntry decodes an entry of path p.
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

// commitRecord is the stored form of a verso.Commit, in JSON (readable with
// etcdctl). Group is the id of the etcd transaction that wrote it: a
// committer whose transaction's outcome is unknown (a timeout, a member
// lost) reads it back to learn whether its own transaction won.
type commitRecord struct {
	Rev     verso.Revision `json:"rev"`
	Author  string         `json:"author,omitempty"`
	Sec     int64          `json:"sec"`
	Nsec    int64          `json:"nsec,omitempty"`
	Message string         `json:"msg,omitempty"`
	Changes []changeRecord `json:"changes,omitempty"`
	Group   string         `json:"group,omitempty"`
}

type changeRecord struct {
	Path    verso.Path     `json:"path"`
	Kind    uint8          `json:"kind"`
	Action  verso.Action   `json:"action"`
	From    verso.Path     `json:"from,omitempty"`
	FromRev verso.Revision `json:"fromRev,omitempty"`
}

func encodeCommit(c *verso.Commit, group string) ([]byte, error) {
	r := commitRecord{Rev: c.Rev, Author: c.Author, Sec: c.Time.Unix(), Nsec: int64(c.Time.Nanosecond()), Message: c.Message, Group: group}
	for _, ch := range c.Changes {
		r.Changes = append(r.Changes, changeRecord{Path: ch.Path, Kind: uint8(ch.Kind), Action: ch.Action, From: ch.From, FromRev: ch.FromRev})
	}
	return json.Marshal(r)
}

func decodeCommit(b []byte) (*verso.Commit, string, error) {
	var r commitRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, "", fmt.Errorf("commit record: %w: %v", errCorrupt, err)
	}
	c := &verso.Commit{Rev: r.Rev, Author: r.Author, Time: time.Unix(r.Sec, r.Nsec).UTC(), Message: r.Message}
	if len(r.Changes) > 0 {
		c.Changes = make([]verso.Change, len(r.Changes))
		for i, ch := range r.Changes {
			c.Changes[i] = verso.Change{Path: ch.Path, Kind: verso.Kind(ch.Kind), Action: ch.Action, From: ch.From, FromRev: ch.FromRev}
		}
	}
	return c, r.Group, nil
}
