package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verso-config/verso"
	bbolt "go.etcd.io/bbolt"
)

var (
	cleanMu    sync.Mutex
	cleanBytes []byte
)

// mustCleanFile returns the bytes of a closed store's data file with a
// few hundred revisions, made once per test process.
func mustCleanFile(tb testing.TB) []byte {
	tb.Helper()
	cleanMu.Lock()
	defer cleanMu.Unlock()
	if cleanBytes != nil {
		return cleanBytes
	}
	path := filepath.Join(tb.TempDir(), "verso.db")
	// A fixed clock and one transaction per group: the same file in
	// every process, so that a fuzz finding can be run again.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(time.Second); return now }
	s, err := Open(path, &Options{Clock: clock, MaxBatch: 1})
	if err != nil {
		tb.Fatal(err)
	}
	s.txMaxAge, s.walIdle, s.walMaxAge = time.Hour, time.Hour, time.Hour
	commitMix(tb, s, rand.New(rand.NewPCG(1, 2)), 600)
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	cleanBytes = b
	return b
}

// usedSize is the part of data file b that bbolt uses: its high-water
// mark (bbolt grows a file ahead of what it uses).
func usedSize(b []byte) int {
	m, err := readFileMeta(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		panic(err)
	}
	return int(m.pgid) * m.pageSize
}

// corruptions are damage a data file can suffer, each applied to a copy
// of a clean file.
var corruptions = []struct {
	name    string
	corrupt func(b []byte) []byte
}{
	{"zero a page at 25%", func(b []byte) []byte { zeroPageAt(b, usedSize(b)/4); return b }},
	{"zero a page at 75%", func(b []byte) []byte { zeroPageAt(b, usedSize(b)*3/4); return b }},
	{"flip 8 bytes in the first page in use", func(b []byte) []byte {
		p := usedPageFrom(b, 2) * 4096
		for i := p + 20; i < p+28; i++ {
			b[i] ^= 0xff
		}
		return b
	}},
	{"truncate to half", func(b []byte) []byte { return b[:usedSize(b)/2] }},
	{"truncate to three pages", func(b []byte) []byte { return b[:3*4096] }},
	{"zero the last 64 KiB in use", func(b []byte) []byte { clear(b[usedSize(b)-64<<10 : usedSize(b)]); return b }},
	{"zero both meta pages", func(b []byte) []byte { clear(b[:2*4096]); return b }},
	{"garbage over the page at 50%", func(b []byte) []byte {
		p := usedPageFrom(b, usedSize(b)/2/4096) * 4096
		rng := rand.New(rand.NewPCG(3, 4))
		for i := p; i < p+4096; i++ {
			b[i] = byte(rng.Uint32())
		}
		return b
	}},
	{"flip a byte in every 8th page header", func(b []byte) []byte {
		for p := 2 * 4096; p < usedSize(b); p += 8 * 4096 {
			b[p+10] ^= 0x5a
		}
		return b
	}},
	{"empty", func(b []byte) []byte { return b[:0] }},
}

// zeroPageAt zeroes the first page at or after offset off that holds
// data (a page of a bucket's tree, not a free one).
func zeroPageAt(b []byte, off int) {
	off = usedPageFrom(b, off/4096) * 4096
	clear(b[off : off+4096])
}

// usedPageFrom returns the first page from id on that is part of a
// bucket's tree in data file b.
func usedPageFrom(b []byte, id int) int {
	r := bytes.NewReader(b)
	m, err := readFileMeta(r, int64(len(b)))
	if err != nil {
		panic(err)
	}
	w := &pageWalker{f: r, m: m, seen: make(map[uint64]bool)}
	w.page(m.root, leafPageFlag|branchPageFlag, 0, "root bucket", nil, nil)
	for ; id < int(m.pgid); id++ {
		if w.seen[uint64(id)] {
			return id
		}
	}
	panic("no page in use")
}

// TestCheckFile_Corrupt checks damaged copies of a data file: CheckFile
// reports each as a problem, and never panics or faults.
func TestCheckFile_Corrupt(t *testing.T) {
	clean := mustCleanFile(t)
	for _, tc := range corruptions {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "verso.db")
			if err := os.WriteFile(path, tc.corrupt(clone(clean)), 0o600); err != nil {
				t.Fatal(err)
			}
			err := CheckFile(path, 0)
			if err == nil {
				t.Fatal("CheckFile = nil, want the damage reported")
			}
			t.Logf("CheckFile: %.300v", err)
		})
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// FuzzCheckCorrupt damages a data file as its input says (the first 4
// bytes: a length to truncate it to, if their top bit is set; then 5
// bytes at a time: an offset and a byte to xor there) and checks it:
// CheckFile must report problems, never panic nor fault.
func FuzzCheckCorrupt(f *testing.F) {
	clean := mustCleanFile(f)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0x20, 0, 0xff})
	f.Add([]byte{0x80, 0, 0x40, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0x10, 0x7f, 0, 0x30, 0, 0, 1})
	dir := memTempDir(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		b := damage(clean, in)
		f, err := os.CreateTemp(dir, "verso.db")
		if err != nil {
			t.Fatal(err)
		}
		path := f.Name()
		defer os.Remove(path)
		_, err = f.Write(b)
		if err := errors.Join(err, f.Close()); err != nil {
			t.Fatal(err)
		}
		err = CheckFile(path, 0) // problems or none, but no panic, no fault
		if err != nil && strings.Contains(err.Error(), "in use") {
			t.Fatalf("CheckFile: %v: an earlier check left the file locked", err)
		}
	})
}

// FuzzOpenCorrupt damages a data file as FuzzCheckCorrupt does and opens
// it as a store: Open either refuses it or opens it, and then Check,
// reads of the file (once Check found its pages whole), a commit and
// Close return errors for the damage they meet; none panics or faults.
func FuzzOpenCorrupt(f *testing.F) {
	clean := mustCleanFile(f)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0x20, 0, 0xff})
	f.Add([]byte{0x80, 0, 0x40, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0x10, 0x7f, 0, 0x30, 0, 0, 1})
	base := memTempDir(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		dir, err := os.MkdirTemp(base, "open")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "verso.db")
		if err := os.WriteFile(path, damage(clean, in), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path, nil)
		if err != nil {
			return
		}
		defer s.Close()
		if err := s.Check(); errors.Is(err, errDamaged) {
			// Pages of the history Open does not read may point back
			// up their tree, where a read would descend forever: Check
			// found and reported that, and the store stopped.
			if s.Writable() == nil {
				t.Errorf("Check = %v, but Writable = nil", err)
			}
			return
		}
		ctx := context.Background()
		s.Log(ctx, verso.LogQuery{Path: verso.Root})
		s.Get(ctx, verso.MustPath("/a"), 1)
		s.Walk(ctx, verso.Root, verso.Head, verso.Infinite, func(*verso.Entry) error { return nil })
		s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put("/fuzz", "x")}})
	})
}

// damage returns a copy of clean damaged as in says: its first 4 bytes a
// length to truncate it to, if their top bit is set; then 5 bytes at a
// time, an offset and a byte to xor there.
func damage(clean, in []byte) []byte {
	b := clone(clean)
	if len(in) >= 4 {
		if n := binary.BigEndian.Uint32(in); n&(1<<31) != 0 {
			b = b[:int(n&^(1<<31))%(len(b)+1)]
		}
		in = in[4:]
	}
	for ; len(in) >= 5 && len(b) > 0; in = in[5:] {
		b[int(binary.BigEndian.Uint32(in))%len(b)] ^= in[4]
	}
	return b
}

// TestOpen_Corrupt opens damaged copies of a data file. Open refuses the
// damage it relies on (meta pages, a file shorter than they say, an
// empty file), naming the file; damage it does not read at open is an
// error of the read that meets it, which stops the store. Nothing panics
// or faults.
func TestOpen_Corrupt(t *testing.T) {
	clean := mustCleanFile(t)
	mustRefuse := map[string]bool{
		"truncate to half": true, "truncate to three pages": true,
		"zero both meta pages": true, "empty": true,
	}
	for _, tc := range corruptions {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "verso.db")
			if err := os.WriteFile(path, tc.corrupt(clone(clean)), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, nil)
			if err != nil {
				if !strings.Contains(err.Error(), path) {
					t.Errorf("Open = %v, want it to name %s", err, path)
				}
				t.Logf("Open: %.200v", err)
				return
			}
			if mustRefuse[tc.name] {
				t.Errorf("Open of a file with %s succeeded", tc.name)
			}
			ctx := context.Background()
			// Commits write history and index pages Open does not read.
			var commitErr error
			for i := 0; i < 40 && commitErr == nil; i++ {
				_, commitErr = s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put(fmt.Sprintf("/%c/k%02d", 'a'+i%3, i), "x")}})
			}
			_, logErr := s.Log(ctx, verso.LogQuery{Path: verso.Root})
			var walkErr error
			for rev := verso.Revision(1); rev < 300 && walkErr == nil; rev += 7 {
				walkErr = s.Walk(ctx, verso.Root, rev, verso.Infinite, func(*verso.Entry) error { return nil })
			}
			checkErr := s.Check()
			if checkErr == nil {
				t.Error("Check of an open damaged store = nil")
			}
			t.Logf("Commit: %.100v; Log: %.100v; Walk: %.100v; Check: %.100v; Writable: %.100v", commitErr, logErr, walkErr, checkErr, s.Writable())
			if (commitErr != nil || logErr != nil || walkErr != nil) && s.Writable() == nil {
				t.Error("a read met damage, but Writable = nil")
			}
			s.Close()
		})
	}
}

// TestOpen_TreeCycle points a branch page of the tree bucket (which Open
// reads whole) at itself: a cursor would descend forever. Open refuses
// the file instead.
func TestOpen_TreeCycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ops []verso.Op
	for i := range 300 {
		ops = append(ops, put(fmt.Sprintf("/k%03d", i), strings.Repeat("v", 100)))
	}
	mustCommit(t, s, ops...)
	s.Close()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var root uint64
	var pageSize int
	db.View(func(tx *bbolt.Tx) error {
		root, pageSize = uint64(tx.Bucket(bucketTree).Root()), db.Info().PageSize
		return nil
	})
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := b[pageOffset(root, pageSize):]
	if readHeader(page).flags != branchPageFlag || branchChild(page, 0) == root {
		t.Fatalf("the tree's root page %d is not a branch page", root)
	}
	binary.NativeEndian.PutUint64(page[pageHeader+8:], root) // its first child: itself
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, nil)
	if err == nil {
		s.Close()
		t.Fatal("Open of a tree with a cycle succeeded")
	}
	if !strings.Contains(err.Error(), "referenced twice") || !strings.Contains(err.Error(), path) {
		t.Errorf("Open = %v, want the cycle reported, naming %s", err, path)
	}
}

// TestOpen_MissingFormat opens a file whose meta bucket lost its format
// key. Only a new, empty file is given one: on any other the key's
// absence is damage, and Open refuses the file without writing to it (a
// write would rewrite the damaged page, whose sizes may say gigabytes).
func TestOpen_MissingFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, put("/k", "v"))
	s.Close()
	mustUpdateFile(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyFormat) })
	before := mustRead(t, path)
	s, err = Open(path, nil)
	if err == nil {
		s.Close()
		t.Fatal("Open of a file without its format key succeeded")
	}
	if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "format") || !strings.Contains(err.Error(), path) {
		t.Errorf("Open = %v, want the missing format reported as damage, naming %s", err, path)
	}
	if !bytes.Equal(mustRead(t, path), before) {
		t.Error("Open of a damaged file wrote to it")
	}
}

// TestOpen_HugeFormat opens a file whose format key holds 64 MiB instead
// of 8 bytes, as damage can make it seem to: Open refuses it with a short
// message, instead of writing the value out in hex (which took seconds,
// and a message of 128 MiB, before), and Check reports it the same way.
func TestOpen_HugeFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	mustUpdateFile(t, path, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyFormat, bytes.Repeat([]byte{0xab}, 64<<20))
	})
	_, err = Open(path, nil)
	if err == nil || !errors.Is(err, errCorrupt) {
		t.Fatalf("Open = %.200v, want the format refused as damage", err)
	}
	if len(err.Error()) > 1000 || !strings.Contains(err.Error(), "67108864 bytes") {
		t.Errorf("Open's error is %d bytes long (%.200s…), want a short one that gives the value's length", len(err.Error()), err)
	}
	err = CheckFile(path, time.Second)
	if err == nil {
		t.Fatal("CheckFile of a file with a 64 MiB format = nil")
	}
	if len(err.Error()) > 4000 || !strings.Contains(err.Error(), "67108864 bytes") {
		t.Errorf("CheckFile's error is %d bytes long (%.200s…), want a short one that gives the value's length", len(err.Error()), err)
	}
}

// TestCheckFile_HugeHead checks a file whose head revision says a number
// no loop could count up to: the missing commit records are one range.
func TestCheckFile_HugeHead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	if err := os.WriteFile(path, mustCleanFile(t), 0o600); err != nil {
		t.Fatal(err)
	}
	mustUpdateFile(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyHead, revKey(1<<60)) })
	err := CheckFile(path, 0)
	if err == nil || !strings.Contains(err.Error(), "commit records missing") {
		t.Errorf("CheckFile = %.300v, want the missing records as one range", err)
	}
}

// memTempDir is a temporary directory in memory (/dev/shm) where there is
// one, else tb.TempDir(): the fuzz targets open, commit to and close a
// store every execution, and on a disk the fsyncs, not the code under
// test, would set their pace.
func memTempDir(tb testing.TB) string {
	dir, err := os.MkdirTemp("/dev/shm", "verso-fuzz")
	if err != nil {
		return tb.TempDir()
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestCheckFile_KeyOrderWithoutFreelist checks a file whose meta page
// records no freelist (a store writes them so between checkpoints) and
// whose keys are out of order: bbolt rebuilds the freelist of such a file
// by checking its pages on a goroutine of its own, which panics at the
// first key out of order and leaves that goroutine reading the file after
// it is closed. CheckFile and Open must report the damage instead, with
// the process intact.
func TestCheckFile_KeyOrderWithoutFreelist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for i := range 40 {
			b, err := tx.CreateBucket(fmt.Appendf(nil, "bucket-%03d", i))
			if err != nil {
				return err
			}
			for j := range 400 {
				if err := b.Put(fmt.Appendf(nil, "key-%05d", j), bytes.Repeat([]byte{'v'}, 40)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := readFileMeta(bytes.NewReader(b), int64(len(b))); err != nil || m.freelist != noFreelist {
		t.Fatalf("meta %+v, %v: want one that records no freelist", m, err)
	}
	// Every key ending in 7 sorts first: out of order on every page.
	n := bytes.Count(b, []byte("key-"))
	for i := 0; i+9 <= len(b); i++ {
		if bytes.HasPrefix(b[i:], []byte("key-")) && b[i+8] == '7' {
			b[i+4] = '!'
		}
	}
	if n == 0 || bytes.Equal(b, mustRead(t, path)) {
		t.Fatal("no key to damage")
	}
	for i := range 20 {
		damaged := filepath.Join(t.TempDir(), fmt.Sprintf("verso-%d.db", i))
		if err := os.WriteFile(damaged, b, 0o600); err != nil {
			t.Fatal(err)
		}
		err := CheckFile(damaged, 0)
		if err == nil || !strings.Contains(err.Error(), "not above the key before it") {
			t.Fatalf("CheckFile = %v, want the keys out of order reported", err)
		}
		if i == 0 {
			t.Logf("CheckFile: %.300v", err)
		}
		if s, err := Open(damaged, nil); err == nil {
			s.Close()
			t.Fatal("Open opened a file with keys out of order and no freelist")
		}
	}
	time.Sleep(100 * time.Millisecond) // room for a goroutine left reading
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustUpdateFile changes the closed data file at path with bbolt alone,
// as damage or another program would, in one transaction.
func mustUpdateFile(t *testing.T, path string, fn func(*bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}
