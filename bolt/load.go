package bolt

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	bbolt "go.etcd.io/bbolt"
)

// loadHead loads the tree at head (the tree bucket) into the head cache
// and publishes the head revision.
func (s *Store) loadHead() error {
	return s.db.View(func(tx *bbolt.Tx) error {
		head, err := readHead(tx)
		if err != nil {
			return err
		}
		tree := tx.Bucket(bucketTree)
		root, err := readTree(tree, verso.Root)
		if err != nil {
			return err
		}
		root.TreeRev = head
		// Counting the keys first (it reads only the pages' headers)
		// saves growing the table while loading it.
		s.cache.reset(tree.Stats().KeyN + 1)
		s.cache.Store(verso.Root, root)
		if err := s.cache.load(tree); err != nil {
			return fmt.Errorf("load tree: %w", err)
		}
		s.head.Store(int64(head))
		// Reading the tree mapped its pages, and the kernel mapped
		// their neighbours with them (history, mostly), into verso's
		// RSS: reads at head need none of them, so let them go. They
		// stay in the page cache, and come back as a read touches them.
		unmapPages(s.db.Info().Data, tx.Size())
		return nil
	})
}

// load adds every entry of the tree bucket but the root, decoding each
// stored entry straight into its record: nothing is allocated per entry.
func (c *headCache) load(tree *bbolt.Bucket) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var x encoder
	return tree.ForEach(func(k, v []byte) error {
		p := k[1:] // pathFromTreeKey, without making a string
		if len(p) == 1 && p[0] == '/' {
			return nil
		}
		if value, ok := c.decodeStored(&x, v); ok {
			c.put(p, value, &x)
			return nil
		}
		// Not the encoding decodeStored knows: codec says why, or
		// decodes it after all.
		e, err := codec.DecodeEntry(verso.Path(p), v)
		if err != nil {
			return err
		}
		c.storeLocked(e.Path, e)
		return nil
	})
}

// decodeStored reads an entry in codec's encoding (version 1; see
// internal/codec) into x, and returns its value. It is false for anything
// codec.DecodeEntry would not decode exactly so, which then decides. The
// strings it hands to header are views of v, copied before v goes.
func (c *headCache) decodeStored(x *encoder, v []byte) ([]byte, bool) {
	const entryV1 = 1
	if len(v) < 2 || v[0] != entryV1 {
		return nil, false
	}
	kind := verso.Kind(v[1])
	if kind != verso.KindKey && kind != verso.KindNamespace {
		return nil, false
	}
	d := storedReader{b: v[2:]}
	create, mod, tree, version := d.uvarint(), d.uvarint(), d.uvarint(), d.uvarint()
	sec, nsec := d.varint(), d.uvarint()
	modBy, ctype, value := d.bytes(), d.bytes(), d.bytes()
	props := d.b
	if n := d.uvarint(); n == 0 {
		props = nil
	} else {
		for range 2 * n {
			d.bytes()
		}
	}
	if d.bad || len(d.b) != 0 || nsec >= 1e9 {
		return nil, false
	}
	c.header(x, kind, verso.Revision(create), verso.Revision(mod), verso.Revision(tree), int64(version), sec, int(nsec), view(ctype), view(modBy))
	x.props = props
	if kind != verso.KindKey {
		value = nil
	}
	return value, true
}

// view is b as a string without copying it: only while b is unchanged.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// storedReader reads uvarints, varints and length-prefixed bytes,
// remembering a failure.
type storedReader struct {
	b   []byte
	bad bool
}

func (d *storedReader) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *storedReader) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *storedReader) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// HeadEntry returns p's entry at head, as Get(ctx, p, verso.Head) would,
// but as a value and without allocating (unless it has properties): for
// the server's hottest path, which reads a key's value and a few fields.
// ok is false when p does not exist or the store is closed. As with Get,
// the Value is shared: do not modify it.
func (s *Store) HeadEntry(p verso.Path) (e verso.Entry, ok bool) {
	if s.isClosed.Load() {
		return e, false
	}
	ok = s.cache.LoadInto(p, &e)
	return e, ok
}
