package etcd

import (
	"errors"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/etcd/etcdtest"
)

// TestJournal checks the journals two stores on one prefix share: one
// append of each record wins, both read them, a drop or the expiry ends
// them, and the tree's watch never carries them.
func TestJournal(t *testing.T) {
	prefix := newPrefix()
	a, b := mustOpen(t, &Options{Prefix: prefix}), mustOpen(t, &Options{Prefix: prefix})
	ctx := t.Context()
	changed := b.snap.changed() // closed when b publishes a new snapshot
	id, err := a.OpenJournal(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := b.ReadJournal(ctx, id, 1); err != nil || len(recs) != 0 {
		t.Fatalf("ReadJournal of a new journal = %q, %v", recs, err)
	}
	if err := a.AppendJournal(ctx, id, 1, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := b.AppendJournal(ctx, id, 1, []byte("late")); !errors.Is(err, verso.ErrExists) {
		t.Fatalf("a second append of record 1 = %v, want ErrExists", err)
	}
	if err := b.AppendJournal(ctx, id, 2, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if recs, err := a.ReadJournal(ctx, id, 1); err != nil || len(recs) != 2 || string(recs[0]) != "one" || string(recs[1]) != "two" {
		t.Fatalf("ReadJournal = %q, %v", recs, err)
	}
	if err := a.AppendJournal(ctx, id, 3, make([]byte, etcdtest.MaxRequestBytes+1)); !errors.Is(err, verso.ErrTooLarge) {
		t.Errorf("AppendJournal of a record larger than etcd's requests = %v, want ErrTooLarge", err)
	}
	if recs, err := a.ReadJournal(ctx, id, 2); err != nil || len(recs) != 1 || string(recs[0]) != "two" {
		t.Fatalf("ReadJournal from 2 = %q, %v", recs, err)
	}
	if err := b.DropJournal(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReadJournal(ctx, id, 1); !errors.Is(err, verso.ErrNotFound) {
		t.Fatalf("ReadJournal of a dropped journal = %v, want ErrNotFound", err)
	}
	if err := a.AppendJournal(ctx, id, 3, []byte("three")); !errors.Is(err, verso.ErrNotFound) {
		t.Fatalf("AppendJournal to a dropped journal = %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "zz", "-1", "0"} {
		if _, err := a.ReadJournal(ctx, bad, 1); !errors.Is(err, verso.ErrNotFound) {
			t.Errorf("ReadJournal(%q) = %v, want ErrNotFound", bad, err)
		}
	}

	short, err := a.OpenJournal(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := b.ReadJournal(ctx, short, 1)
		if errors.Is(err, verso.ErrNotFound) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("a journal of a 1s life is still there after 10s (%v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// the tree's watch carried none of it
	select {
	case <-changed:
		t.Errorf("the journals' writes published a snapshot of the tree")
	default:
	}
}
