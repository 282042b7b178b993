package headcache

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
)

// randomEntry is an entry of path p with some of everything the cache
// keeps apart: properties, long and many content types and authors, empty
// and big values, namespaces.
func randomEntry(r *rand.Rand, p verso.Path, i int) *verso.Entry {
	e := &verso.Entry{
		Path:      p,
		Kind:      verso.KindKey,
		CreateRev: verso.Revision(r.IntN(1000)),
		ModRev:    verso.Revision(i),
		TreeRev:   verso.Revision(i),
		Version:   int64(r.IntN(50) + 1),
		ModTime:   time.Unix(r.Int64N(2e9), r.Int64N(1e9)).UTC(),
		Value:     []byte{},
	}
	switch r.IntN(10) {
	case 0:
		e.Kind, e.Value, e.TreeRev = verso.KindNamespace, nil, verso.Revision(i+5)
	case 1:
		e.Value = bytes.Repeat([]byte{byte(i)}, bigRecord+r.IntN(1000)) // a chunk of its own
	case 2:
		e.Value = bytes.Repeat([]byte{byte(i)}, 100_000)
	case 3:
		// empty
	default:
		e.Value = fmt.Appendf(nil, "value %d", i)
	}
	if e.Kind == verso.KindKey {
		switch r.IntN(4) {
		case 0:
			e.ContentType = "text/plain"
		case 1:
			e.ContentType = "application/x-" + strings.Repeat("long", 100) // kept in the record
		case 2:
			e.ContentType = fmt.Sprintf("application/x-%d", r.IntN(3000)) // more than are interned
		}
	}
	if r.IntN(3) == 0 {
		e.ModBy = fmt.Sprintf("user%d", r.IntN(2000))
	}
	if r.IntN(5) == 0 {
		e.Props = map[string]string{"{DAV:}x": fmt.Sprint(i), "{urn:v}y": ""}
	}
	return e
}

func TestCache_Model(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var c Cache
	c.Reset(10)
	want := map[verso.Path]*verso.Entry{}
	check := func(step int) {
		t.Helper()
		for p, w := range want {
			got, ok := c.Load(p)
			if !ok {
				t.Fatalf("step %d: Load(%q) found nothing", step, p)
			}
			if diff := entryDiff(w, got); diff != "" {
				t.Fatalf("step %d: Load(%q) (-want +got):\n%s", step, p, diff)
			}
		}
		seen := 0
		c.Range(func(p verso.Path, e *verso.Entry) bool {
			seen++
			if diff := entryDiff(want[p], e); diff != "" {
				t.Errorf("step %d: Range gave %q (-want +got):\n%s", step, p, diff)
			}
			return true
		})
		if seen != len(want) {
			t.Fatalf("step %d: Range saw %d entries, want %d", step, seen, len(want))
		}
	}
	for i := range 2000 {
		p := verso.Path(fmt.Sprintf("/n%d/k%d", r.IntN(20), r.IntN(50)))
		if r.IntN(4) == 0 {
			c.Delete(p)
			delete(want, p)
			if _, ok := c.Load(p); ok {
				t.Fatalf("step %d: Load(%q) found a deleted entry", i, p)
			}
		} else {
			e := randomEntry(r, p, i)
			c.Store(p, e)
			want[p] = e
		}
		if i%500 == 499 {
			check(i)
		}
	}
	check(2000)
	if c.bytes-c.live > c.live && c.bytes-c.live >= 4*chunkSize {
		t.Errorf("%d dead bytes beside %d live ones: never compacted", c.bytes-c.live, c.live)
	}
	for p := range want {
		c.Delete(p)
	}
	if c.n != 0 || c.live != 0 {
		t.Errorf("after deleting everything: %d slots used, %d live bytes", c.n, c.live)
	}
	if _, ok := c.Load("/n0/k0"); ok {
		t.Error("Load found an entry in an empty cache")
	}
}

// entryDiff reports how got differs from want; values are compared apart,
// as cmp.Diff of large values is slow.
func entryDiff(want, got *verso.Entry) string {
	if want == nil || got == nil {
		return cmp.Diff(want, got)
	}
	if !bytes.Equal(want.Value, got.Value) || (want.Value == nil) != (got.Value == nil) {
		return fmt.Sprintf("values differ: %d bytes (nil %v), want %d (nil %v)", len(got.Value), got.Value == nil, len(want.Value), want.Value == nil)
	}
	w, g := *want, *got
	w.Value, g.Value = nil, nil
	return cmp.Diff(&w, &g)
}

// TestCache_DecodeStored loads entries from their stored form as the
// bolt store's Open does, and compares them with what codec decodes.
func TestCache_DecodeStored(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var c Cache
	c.Reset(0)
	for i := range 500 {
		p := verso.Path(fmt.Sprintf("/k%d", i))
		stored := codec.EncodeEntry(randomEntry(r, p, i))
		want, err := codec.DecodeEntry(p, stored)
		if err != nil {
			t.Fatalf("DecodeEntry(%q) error: %v", p, err)
		}
		var x encoder
		v, err := c.decodeStored(&x, stored)
		if err != nil {
			t.Fatalf("decodeStored(%q) refused what codec decodes: %v", p, err)
		}
		c.put([]byte(p), v, &x)
		got, _ := c.Load(p)
		if diff := entryDiff(want, got); diff != "" {
			t.Errorf("%s: loaded (-codec +cache):\n%s", p, diff)
		}
	}
	for _, bad := range [][]byte{nil, {1}, {1, 1}, {9, 1, 0}, {1, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, append(codec.EncodeEntry(&verso.Entry{Kind: verso.KindKey}), 0)} {
		var x encoder
		if _, err := c.decodeStored(&x, bad); !errors.Is(err, codec.ErrCorrupt) {
			t.Errorf("decodeStored(%x) = %v, want ErrCorrupt", bad, err)
		}
	}
}
