// Package codec is the stored form of verso's entries and commit records,
// shared by the stores (package bolt keeps it in bbolt buckets, package etcd
// in etcd keys), so that both write the same bytes and a tool can read
// either. Where a store keeps them, and under which keys, is the store's
// own business.
//
// The formats are fixed: data files and clusters hold them. A change must
// leave every byte written so far readable as before; testdata holds the
// bytes the first version wrote, and the tests compare against them.
package codec

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

// ErrCorrupt is wrapped by every error about stored bytes that cannot be
// read: a record that is not one of these formats, or a store's own
// structure that does not hold together.
var ErrCorrupt = errors.New("corrupt record")

// Entries are stored in a small binary encoding rather than JSON: the
// history keeps one copy of an entry per revision that changed it, so size
// counts, values are arbitrary bytes (JSON would base64 them), and decoding
// sits on the path of every read at an old revision. The first byte is the
// encoding's version, so a later layout can be told apart. A history record
// that is a lone Tombstone byte says the path was deleted; a lone Gone byte
// that its states from that revision until its next record were dropped by
// pruning.
//
//	entryV1 kind createRev modRev treeRev version sec nsec modBy contentType value nprops (name value)...
//
// Revisions, counts and lengths are uvarints; sec is a varint; strings and
// the value are a uvarint length and the bytes; properties are in name
// order. The path is not stored: it is in the store's key.
const (
	Tombstone = 0
	entryV1   = 1
	Gone      = 2
)

// IsTombstone reports whether a history record says the path was deleted.
func IsTombstone(v []byte) bool { return len(v) == 1 && v[0] == Tombstone }

// IsGone reports whether a history record says pruning dropped the states
// from its revision on.
func IsGone(v []byte) bool { return len(v) == 1 && v[0] == Gone }

// EncodeEntry returns the stored form of e (its path aside).
func EncodeEntry(e *verso.Entry) []byte {
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
	return AppendProps(b, e.Props)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// DecodeEntry decodes the stored entry of path p. It copies everything out
// of b, so b may be memory the store reuses afterwards (bbolt's, after the
// transaction). A key's Value is never nil; a namespace's always is.
func DecodeEntry(p verso.Path, b []byte) (*verso.Entry, error) {
	r, err := DecodeRaw(b)
	if err != nil {
		return nil, fmt.Errorf("entry %s: %w", p, err)
	}
	e := &verso.Entry{
		Path: p, Kind: r.Kind,
		CreateRev: r.CreateRev, ModRev: r.ModRev, TreeRev: r.TreeRev, Version: r.Version,
		ModTime:     time.Unix(r.Sec, r.Nsec).UTC(),
		ModBy:       string(r.ModBy),
		ContentType: string(r.ContentType),
	}
	if e.Kind == verso.KindKey {
		e.Value = bytes.Clone(r.Value)
		if e.Value == nil {
			e.Value = []byte{}
		}
	}
	if r.Props != nil {
		e.Props = DecodeProps(r.Props)
	}
	return e, nil
}

// RawEntry is a stored entry's fields as they are encoded: its byte slices
// are views of the encoding, for a reader that copies them into memory of
// its own (the bolt store loads a million entries into its head cache
// without allocating one). A namespace's Value is nil.
type RawEntry struct {
	Kind                       verso.Kind
	CreateRev, ModRev, TreeRev verso.Revision
	Version                    int64
	Sec, Nsec                  int64 // ModTime; Nsec below 1e9
	ModBy, ContentType, Value  []byte
	// Props are the properties in the encoding (a count, then each name
	// and value as a length and bytes), for DecodeProps; nil when none.
	Props []byte
}

// DecodeRaw decodes a stored entry without copying anything out of b: the
// RawEntry's slices point into it. Its error wraps ErrCorrupt.
func DecodeRaw(b []byte) (RawEntry, error) {
	d := decoder{b: b}
	if d.byte() != entryV1 {
		return RawEntry{}, fmt.Errorf("unknown encoding: %w", ErrCorrupt)
	}
	r := RawEntry{Kind: verso.Kind(d.byte())}
	r.CreateRev = verso.Revision(d.uvarint())
	r.ModRev = verso.Revision(d.uvarint())
	r.TreeRev = verso.Revision(d.uvarint())
	r.Version = int64(d.uvarint())
	r.Sec = d.varint()
	nsec := d.uvarint()
	r.ModBy, r.ContentType = d.bytes(), d.bytes()
	if v := d.bytes(); r.Kind == verso.KindKey {
		r.Value = v
	}
	props := d.b
	if n := d.uvarint(); n > 0 {
		for range 2 * n {
			d.bytes()
		}
		r.Props = props
	}
	switch {
	case d.err != nil || len(d.b) != 0 || nsec >= 1e9:
		return RawEntry{}, ErrCorrupt
	case r.Kind != verso.KindKey && r.Kind != verso.KindNamespace:
		return RawEntry{}, fmt.Errorf("kind %d: %w", r.Kind, ErrCorrupt)
	}
	r.Nsec = int64(nsec)
	return r, nil
}

// DecodeProps decodes properties in the encoding of RawEntry.Props, which
// DecodeRaw checked (or AppendProps wrote).
func DecodeProps(b []byte) map[string]string {
	d := decoder{b: b}
	n := d.uvarint()
	m := make(map[string]string, min(n, 64))
	for range n {
		k := d.string()
		m[k] = d.string()
	}
	return m
}

// AppendProps appends props in the encoding of RawEntry.Props, in name
// order, and returns the extended slice.
func AppendProps(b []byte, props map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(props)))
	for _, k := range slices.Sorted(maps.Keys(props)) {
		b = appendString(b, k)
		b = appendString(b, props[k])
	}
	return b
}

// decoder reads the entry encoding, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err, d.b = ErrCorrupt, nil }

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
// inspecting a store with its own tools (the bbolt command, etcdctl).
// verso.Kind has no numeric JSON form, hence the record's own types.
//
// Group is the id of the etcd transaction that wrote the record: a
// committer whose transaction's outcome is unknown (a timeout, a member
// lost) reads it back to learn whether its own transaction won. The bolt
// store writes none.
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
	// Mods is verso.Change.Mods; records written before it was kept have
	// none (0: not recorded).
	Mods uint8 `json:"mods,omitempty"`
}

// EncodeCommit returns the stored form of c, with the id of the group that
// writes it ("" for none).
func EncodeCommit(c *verso.Commit, group string) ([]byte, error) {
	if b, ok := appendCommitFast(nil, c, group); ok {
		return b, nil
	}
	return encodeCommitJSON(c, group)
}

// encodeCommitJSON is EncodeCommit with encoding/json, for any record.
func encodeCommitJSON(c *verso.Commit, group string) ([]byte, error) {
	r := commitRecord{Rev: c.Rev, Author: c.Author, Sec: c.Time.Unix(), Nsec: int64(c.Time.Nanosecond()), Message: c.Message, Group: group}
	for _, ch := range c.Changes {
		r.Changes = append(r.Changes, changeRecord{Path: ch.Path, Kind: uint8(ch.Kind), Action: ch.Action, From: ch.From, FromRev: ch.FromRev, Mods: uint8(ch.Mods)})
	}
	return json.Marshal(r)
}

// DecodeCommit decodes a stored commit record and the id of the group that
// wrote it.
func DecodeCommit(b []byte) (c *verso.Commit, group string, err error) {
	if c, group, ok := decodeCommitFast(b); ok {
		return c, group, nil
	}
	return decodeCommitJSON(b)
}

// decodeCommitJSON is DecodeCommit with encoding/json, for any record.
func decodeCommitJSON(b []byte) (c *verso.Commit, group string, err error) {
	var r commitRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, "", fmt.Errorf("commit record: %w: %v", ErrCorrupt, err)
	}
	c = &verso.Commit{Rev: r.Rev, Author: r.Author, Time: time.Unix(r.Sec, r.Nsec).UTC(), Message: r.Message}
	if len(r.Changes) > 0 {
		c.Changes = make([]verso.Change, len(r.Changes))
		for i, ch := range r.Changes {
			c.Changes[i] = verso.Change{Path: ch.Path, Kind: verso.Kind(ch.Kind), Action: ch.Action, From: ch.From, FromRev: ch.FromRev, Mods: verso.Mods(ch.Mods)}
		}
	}
	return c, r.Group, nil
}
