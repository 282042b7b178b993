package bolt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/wal"
)

// setNoSync turns the fsync of commits off (or back on) for building
// fixtures quickly. Call it while no Commit runs.
func setNoSync(s *Store, on bool) {
	if s.wal != nil {
		s.wal.NoSync = on
	} else {
		s.db.NoSync = on
	}
}

// crash stops s as a crash would: no checkpoint, the log left as it is.
// (The page cache keeps what was written, as it does when a process is
// killed; TestStore_PowerLoss simulates losing it.)
func crash(t testing.TB, s *Store) {
	t.Helper()
	if err := s.shut(false); err != nil {
		t.Fatalf("crash: %v", err)
	}
}

// readWAL reads the log at path: its header and records.
func readWAL(path string) (*wal.Header, []wal.Record, error) {
	l, err := wal.Read(path)
	if err != nil {
		return nil, nil, err
	}
	return l.Header, l.Records, nil
}

// snapshot is what a store answers: each revision's record, the tree as
// of every 16th and the last few revisions, and at head.
type snapshot struct {
	Head    verso.Revision
	Commits []*verso.Commit
	Trees   [][]*verso.Entry
}

func takeSnapshot(t testing.TB, s *Store) *snapshot {
	t.Helper()
	ctx := context.Background()
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap := &snapshot{Head: head}
	for r := verso.Revision(1); r <= head; r++ {
		c, err := s.Revision(ctx, r)
		if err != nil {
			t.Fatalf("Revision(%d): %v", r, err)
		}
		snap.Commits = append(snap.Commits, c)
		if r%16 == 0 || r > head-8 {
			snap.Trees = append(snap.Trees, digestValues(walkAll(t, s, "/", r, verso.Infinite)))
		}
	}
	snap.Trees = append(snap.Trees, digestValues(walkAll(t, s, "/", verso.Head, verso.Infinite)))
	return snap
}

// digestValues replaces large values by their SHA-256, which cmp compares
// far faster.
func digestValues(es []*verso.Entry) []*verso.Entry {
	for i, e := range es {
		if len(e.Value) > 1024 {
			sum := sha256.Sum256(e.Value)
			d := *e // not e itself: it may be the store's
			d.Value = sum[:]
			es[i] = &d
		}
	}
	return es
}

// commitMix commits n revisions of puts, overwrites, deletes and mkcols
// under a few namespaces, so that many pages of the file change.
func commitMix(t testing.TB, s *Store, rng *rand.Rand, n int) {
	t.Helper()
	ctx := context.Background()
	for _, ns := range []string{"/a", "/b", "/c"} {
		if _, err := s.Get(ctx, verso.MustPath(ns), verso.Head); err != nil {
			mustCommit(t, s, mkcol(ns))
		}
	}
	for i := 0; i < n; i++ {
		ns := []string{"/a", "/b", "/c"}[rng.IntN(3)]
		p := fmt.Sprintf("%s/k%02d", ns, rng.IntN(40))
		var op verso.Op
		switch k := rng.IntN(10); {
		case k < 7:
			op = put(p, strings.Repeat(fmt.Sprint(i), 1+rng.IntN(60)))
		case k < 9:
			op = del(p)
		default:
			op = mkcol(fmt.Sprintf("%s/n%d", ns, i))
		}
		if _, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{op}}); err != nil && !errors.Is(err, verso.ErrNotFound) && !errors.Is(err, verso.ErrIsNamespace) && !errors.Is(err, verso.ErrExists) {
			t.Fatalf("Commit(%v): %v", op, err)
		}
	}
}

// TestStore_Recover kills the store (as SIGKILL would: the page cache
// keeps the file's writes) in the middle of its log, and reopens it: every
// acknowledged commit is there, also after a second crash right after
// recovery.
func TestStore_Recover(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	opts := &Options{Clock: testClock()}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	commitMix(t, s, rng, 120)
	want := takeSnapshot(t, s)
	crash(t, s)
	if _, recs, err := readWAL(walPath(path)); err != nil || len(recs) == 0 {
		t.Fatalf("log after the crash: %d records, %v; want records", len(recs), err)
	}
	for round := range 2 {
		s, err = Open(path, opts)
		if err != nil {
			t.Fatalf("round %d: Open: %v", round, err)
		}
		if diff := cmp.Diff(want, takeSnapshot(t, s)); diff != "" {
			t.Fatalf("round %d: after recovery (-want +got):\n%s", round, diff)
		}
		if err := s.Check(); err != nil {
			t.Fatalf("round %d: Check: %v", round, err)
		}
		crash(t, s)
	}
	// Redoing records the file already holds changes nothing.
	s, err = Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	commitMix(t, s, rng, 50)
	_, recs, err := readWAL(walPath(path))
	if err != nil || len(recs) == 0 {
		t.Fatalf("log: %d records, %v; want records", len(recs), err)
	}
	want = takeSnapshot(t, s)
	s.publishMu.Lock()
	err = s.recover(recs)
	s.publishMu.Unlock()
	if err != nil {
		t.Fatalf("recover again: %v", err)
	}
	if diff := cmp.Diff(want, takeSnapshot(t, s)); diff != "" {
		t.Fatalf("after redoing the log again (-want +got):\n%s", diff)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestStore_Checkpoint checks when the log is started afresh: once commits
// pause, and at Close, which leaves no log.
func TestStore_Checkpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.walIdle = 300 * time.Millisecond // before the first commit; long enough to read the log first on a busy machine
	mustCommit(t, s, put("/k", "1"))
	if _, recs, _ := readWAL(walPath(path)); len(recs) != 1 {
		t.Errorf("log after a commit: %d records, want 1", len(recs))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		h, recs, err := readWAL(walPath(path))
		if err == nil && len(recs) == 0 && h.Head == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log not checkpointed after an idle spell: %v, %d records, %v", h, len(recs), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mustCommit(t, s, put("/k", "2"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(walPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("log after Close: %v, want none", err)
	}
	mustCheck(t, path)
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if e := mustGet(t, s, "/k", verso.Head); string(e.Value) != "2" {
		t.Errorf("Get(/k) = %q, want 2", e.Value)
	}
}

// TestStore_CheckpointUnderLoad checkpoints after every group: each
// checkpoint pins a new state while commits go on.
func TestStore_CheckpointUnderLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.walMaxAge = 0 // before the first commit
	commitMix(t, s, rand.New(rand.NewPCG(3, 4)), 100)
	want := takeSnapshot(t, s)
	crash(t, s)
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if diff := cmp.Diff(want, takeSnapshot(t, s)); diff != "" {
		t.Fatalf("after recovery (-want +got):\n%s", diff)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestStore_PowerLoss simulates losing power between checkpoints: of the
// writes bbolt made since the last checkpoint (none of them synced), any
// may or may not have reached the disk, each page whole or not. Whatever
// survived, Open must bring back every commit the log acknowledged. The
// argument (doc.go, "Durability"): the pages of the checkpoint's state are
// never rewritten until the next checkpoint is recorded (a read
// transaction pins them), and Open restores the checkpoint's meta pages
// from the log before bbolt reads the file, then redoes the log.
func TestStore_PowerLoss(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	opts := &Options{Clock: testClock()}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	commitMix(t, s, rng, 150)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.walIdle, s.walMaxAge, s.txMaxAge = time.Hour, time.Hour, time.Hour // before the first commit
	// Open checkpointed: this is the file on disk.
	durable, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	commitMix(t, s, rng, 200)
	for i := range 3 { // values that grow the file past its synced size
		mustCommit(t, s, put(fmt.Sprintf("/b/big%d", i), strings.Repeat(fmt.Sprint(i), 1<<20)))
	}
	// bbolt commits what it holds (a reader asks it to), then takes more
	// acknowledged groups into its open transaction, which the power
	// loss finds still open: none of them reached the file.
	if _, err := s.Log(context.Background(), verso.LogQuery{Path: verso.Root, Limit: 1}); err != nil {
		t.Fatal(err)
	}
	commitMix(t, s, rng, 30)
	if open, head := s.boltHead.Load(), s.head.Load(); head-open < 10 {
		t.Fatalf("bbolt's open transaction holds r%d-r%d, want at least 10 acknowledged revisions", open+1, head)
	}
	written, err := os.ReadFile(path) // what bbolt wrote since, unsynced
	if err != nil {
		t.Fatal(err)
	}
	want := takeSnapshot(t, s) // which has bbolt commit the open transaction
	log, err := os.ReadFile(walPath(path))
	if err != nil {
		t.Fatal(err)
	}
	ps := s.pageSize
	crash(t, s)

	differ := 0
	for i := 0; i < len(durable); i += ps {
		if !bytes.Equal(durable[i:i+ps], written[i:i+ps]) {
			differ++
		}
	}
	t.Logf("file: %d pages at the checkpoint, %d now; %d pages rewritten since", len(durable)/ps, len(written)/ps, differ)
	if differ < 3 {
		t.Fatalf("only %d pages changed since the checkpoint: the test proves nothing", differ)
	}

	for trial := range 6 {
		// Each page as at the checkpoint or as written since, at random;
		// the meta pages sometimes torn halfway.
		img := make([]byte, len(written))
		for i := 0; i < len(written); i += ps {
			old := make([]byte, ps)
			if i < len(durable) {
				copy(old, durable[i:i+ps])
			}
			switch k := rng.IntN(5); {
			case trial == 0: // nothing of it reached the disk
				copy(img[i:], old)
			case trial == 1: // all of it did
				copy(img[i:], written[i:i+ps])
			case k < 2:
				copy(img[i:], old)
			case k < 4:
				copy(img[i:], written[i:i+ps])
			default:
				copy(img[i:], old[:ps/2])
				copy(img[i+ps/2:], written[i+ps/2:i+ps])
			}
		}
		if trial >= 3 && len(img) > len(durable) {
			// The file's growth since the checkpoint was never synced:
			// its size is lost with the pages beyond it.
			img = img[:len(durable)]
		}
		if err := os.WriteFile(path, img, 0o600); err != nil { // the same inode
			t.Fatal(err)
		}
		l := log
		if trial%3 == 2 { // a group whose fsync never finished
			l = bytes.Clone(log)
			copy(l[walEnd(t, l):], []byte{0, 0, 1, 0, 9, 9, 9, 9, 1, 2, 3})
		}
		if err := os.WriteFile(walPath(path), l, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path, opts)
		if err != nil {
			t.Fatalf("trial %d: Open: %v", trial, err)
		}
		if diff := cmp.Diff(want, takeSnapshot(t, s)); diff != "" {
			t.Fatalf("trial %d: after recovery (-want +got):\n%s", trial, diff)
		}
		if err := s.Check(); err != nil {
			t.Fatalf("trial %d: Check: %v", trial, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := CheckFile(path, 0); err != nil {
			t.Fatalf("trial %d: CheckFile: %v", trial, err)
		}
	}
}

// walEnd returns the offset after the last record of log b.
func walEnd(t *testing.T, b []byte) int {
	t.Helper()
	_, off, err := wal.DecodeHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	for {
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n == 0 {
			return off
		}
		off += 8 + n
	}
}

// TestOpen_ForeignLog refuses a log beside a data file it was not written
// for (a data file replaced while its store was not closed).
func TestOpen_ForeignLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, put("/k", "1"))
	crash(t, s)
	// Replace the data file with a copy: another inode.
	b, _ := os.ReadFile(path)
	os.WriteFile(path+".copy", b, 0o600)
	os.Rename(path+".copy", path)
	if s, err := Open(path, nil); !errors.Is(err, errForeignLog) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open with a foreign log: %v, want errForeignLog", err)
	}
}

// TestOpen_ForeignLogInPlace refuses a log beside a data file whose
// contents were replaced in place (cp over it keeps the inode), which the
// inode cannot tell: the pages of the log's checkpoint differ.
func TestOpen_ForeignLogInPlace(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other.db")
	s, err := Open(other, nil)
	if err != nil {
		t.Fatal(err)
	}
	commitMix(t, s, rand.New(rand.NewPCG(9, 10)), 40)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "verso.db")
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	commitMix(t, s, rand.New(rand.NewPCG(11, 12)), 40)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Open checkpoints this store's state; a commit after it is in the
	// log only.
	if s, err = Open(path, nil); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, put("/a/last", "1"))
	crash(t, s)
	b, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil { // the same inode
		t.Fatal(err)
	}
	if s, err := Open(path, nil); !errors.Is(err, errForeignLog) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open with a foreign log: %v, want errForeignLog", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, b) {
		t.Error("Open with a foreign log changed the data file")
	}
}

// TestCheckFile_Log checks a data file its store left with a log: CheckFile
// recovers it first.
func TestCheckFile_Log(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	commitMix(t, s, rand.New(rand.NewPCG(7, 8)), 50)
	want := takeSnapshot(t, s)
	crash(t, s)
	if err := CheckFile(path, 0); err != nil {
		t.Fatalf("CheckFile: %v", err)
	}
	if _, err := os.Stat(walPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("log after CheckFile: %v, want none", err)
	}
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if diff := cmp.Diff(want, takeSnapshot(t, s)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// TestStore_LogFailure fails the log's append: the group's commits fail,
// the store refuses commits from then on, and reopening it finds every
// commit acknowledged before.
func TestStore_LogFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.walIdle = time.Hour // before the first commit
	ctx := context.Background()
	mustCommit(t, s, put("/a", "1"))
	s.wal.Close() // the committer is idle
	if _, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put("/b", "2")}}); err == nil {
		t.Fatal("Commit with a failing log = nil error, want one")
	}
	if _, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put("/c", "3")}}); err == nil {
		t.Fatal("Commit after the log failed = nil error, want one")
	}
	if err := s.Writable(); err == nil {
		t.Error("Writable() after the log failed = nil, want an error")
	}
	if _, err := s.Get(ctx, "/b", verso.Head); !errors.Is(err, verso.ErrNotFound) {
		t.Errorf("Get(/b) = %v, want ErrNotFound", err)
	}
	s.Close()
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if e := mustGet(t, s, "/a", verso.Head); string(e.Value) != "1" {
		t.Errorf("Get(/a) = %q, want 1", e.Value)
	}
	if head, _ := s.Head(ctx); head != 1 {
		t.Errorf("head after reopening = %d, want 1", head)
	}
	mustCommit(t, s, put("/b", "2"))
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestStore_CheckpointUnsure fails a checkpoint after its new log was
// renamed into place (a failed sync of the directory): from then on the
// old log may be gone from the directory, so a commit appended to it would
// be acknowledged and then lost in a crash. The store must refuse commits
// instead, and every commit it acknowledged must survive a crash.
func TestStore_CheckpointUnsure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Before the first commit: checkpoint after every group, the second
	// one failing once its log is in place, and the later ones before
	// they get as far (a directory where they write their new log).
	s.walIdle, s.walMaxAge = time.Hour, 0
	checkpoints := 0
	s.installHook = func() error {
		if checkpoints++; checkpoints == 2 {
			if err := os.Mkdir(walPath(path)+".tmp", 0o700); err != nil {
				t.Error(err)
			}
			return errors.New("injected: directory sync failed")
		}
		return nil
	}
	ctx := context.Background()
	acked := map[verso.Path]string{}
	for i := range 4 {
		p, v := verso.Path(fmt.Sprintf("/k%d", i)), fmt.Sprint(i)
		if _, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put(string(p), v)}}); err == nil {
			acked[p] = v
		}
	}
	if len(acked) == 4 {
		t.Error("every commit after the failed checkpoint was acknowledged, want refusals")
	}
	if err := s.Writable(); err == nil {
		t.Error("Writable() after the failed checkpoint = nil, want an error")
	}
	crash(t, s)
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for p, v := range acked {
		e, err := s.Get(ctx, p, verso.Head)
		if err != nil {
			t.Errorf("Get(%s) after the crash: %v, want %q (acknowledged)", p, err, v)
			continue
		}
		if string(e.Value) != v {
			t.Errorf("Get(%s) = %q, want %q", p, e.Value, v)
		}
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestStore_PruneCrash prunes in many steps while commits run, then
// crashes: every acknowledged commit and the pruned history's start are
// there after recovery, and the file checks. Steps are not in the log: a
// checkpoint after each makes it durable before it is answered.
func TestStore_PruneCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	opts := &Options{Clock: testClock(), MaxBatch: 8}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	times := fillHistory(t, s, 2500, 10)
	setNoSync(s, false)
	head, _ := s.Head(ctx)
	done := make(chan struct{})
	var acked []*verso.Commit
	go func() {
		defer close(done)
		for i := range 100 {
			c, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put(fmt.Sprintf("/ns/w%d", i%7), fmt.Sprint(i))}})
			if err != nil {
				t.Error(err)
				return
			}
			acked = append(acked, c)
		}
	}()
	if _, err := s.Prune(ctx, verso.Retention{KeepFor: time.Hour, KeepVersions: 2}, times[head-100].Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	<-done
	start, err := s.HistoryStart(ctx)
	if err != nil || start == 0 {
		t.Fatalf("HistoryStart after Prune = %d, %v; want > 0", start, err)
	}
	want := walkAll(t, s, "/", verso.Head, verso.Infinite)
	crash(t, s)

	s, err = Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.HistoryStart(ctx); err != nil || got != start {
		t.Errorf("HistoryStart after recovery = %d, %v; want %d", got, err, start)
	}
	if diff := cmp.Diff(want, walkAll(t, s, "/", verso.Head, verso.Infinite)); diff != "" {
		t.Errorf("tree after recovery (-want +got):\n%s", diff)
	}
	for _, c := range acked {
		got, err := s.Revision(ctx, c.Rev)
		if err != nil {
			t.Errorf("Revision(%d) after recovery: %v", c.Rev, err)
			continue
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("Revision(%d) after recovery (-want +got):\n%s", c.Rev, diff)
		}
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointPages_Version checks that the pages CRC of a version 2
// log covers the root and freelist pages only, and of version 3 the
// buckets' root pages too (package internal/wal reads both versions).
func TestCheckpointPages_Version(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	commitMix(t, s, rand.New(rand.NewPCG(1, 2)), 40)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	metas, err := readMetaPages(f, s.pageSize)
	if err != nil {
		t.Fatal(err)
	}
	v2, err2 := checkpointPages(f, metas, s.pageSize, 2)
	v3, err3 := checkpointPages(f, metas, s.pageSize, 3)
	if err2 != nil || err3 != nil || v2 == v3 {
		t.Errorf("pages CRC of version 2 %#x (%v), of version 3 %#x (%v): want both, different", v2, err2, v3, err3)
	}
	var top []string
	rootPage, err := readPage(f, newerMeta(metas, s.pageSize).root, s.pageSize)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range bucketRoots(rootPage) {
		top = append(top, fmt.Sprint(id))
	}
	if len(top) < 3 {
		t.Errorf("bucket roots %v: want the pages of verso's buckets", top)
	}
}
