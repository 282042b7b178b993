package storetest

import (
	"testing"
	"time"

	"github.com/verso-config/verso"
)

// testCommitRecord checks the Changes, Author, Message, Time and Rev of
// commit records, as returned by Commit and by Revision.
func testCommitRecord(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	ctx := t.Context()
	ch := func(path string, kind verso.Kind, action verso.Action) verso.Change {
		return verso.Change{Path: p(path), Kind: kind, Action: action}
	}
	from := func(c verso.Change, path string, rev verso.Revision) verso.Change {
		c.From, c.FromRev = p(path), rev
		return c
	}
	// mods gives c the Mods a store records: what it did to the value
	// and the properties (deletions have none).
	mods := func(c verso.Change, m verso.Mods) verso.Change {
		c.Mods = verso.ModsRecorded | m
		return c
	}
	const (
		key = verso.KindKey
		ns  = verso.KindNamespace
	)
	steps := []struct {
		name    string
		tx      *verso.Txn
		changes []verso.Change
	}{
		{"Added", txn(opMkcol("/a"), opPut("/a/k", "1"), opMkcol("/a/sub"), opPut("/a/sub/x", "x")),
			[]verso.Change{mods(ch("/a", ns, verso.Added), 0), mods(ch("/a/k", key, verso.Added), verso.ModValue),
				mods(ch("/a/sub", ns, verso.Added), 0), mods(ch("/a/sub/x", key, verso.Added), verso.ModValue)}},
		{"Modified", txn(opPut("/a/k", "2")),
			[]verso.Change{mods(ch("/a/k", key, verso.Modified), verso.ModValue)}},
		{"PutThenDeleteNotListed", txn(opPut("/tmp", "t"), opDelete("/tmp"), opPut("/a/k2", "k2")),
			[]verso.Change{mods(ch("/a/k2", key, verso.Added), verso.ModValue)}},
		{"DeleteThenPutIsModified", txn(opDelete("/a/k"), opPut("/a/k", "3")),
			[]verso.Change{mods(ch("/a/k", key, verso.Modified), verso.ModValue)}},
		{"PutTwiceIsOneChange", txn(opPut("/a/k", "4"), opPut("/a/k", "5"), opProps("/a/k", setProp("{urn:x}p", "1"))),
			[]verso.Change{mods(ch("/a/k", key, verso.Modified), verso.ModValue|verso.ModProps)}},
		{"CopyNamespace", txn(opCopy("/a", "/b")),
			[]verso.Change{
				mods(from(ch("/b", ns, verso.Copied), "/a", 5), 0), mods(from(ch("/b/k", key, verso.Copied), "/a/k", 5), 0),
				mods(from(ch("/b/k2", key, verso.Copied), "/a/k2", 5), 0), mods(from(ch("/b/sub", ns, verso.Copied), "/a/sub", 5), 0),
				mods(from(ch("/b/sub/x", key, verso.Copied), "/a/sub/x", 5), 0),
			}},
		{"MoveNamespace", txn(opMove("/b", "/c")),
			[]verso.Change{
				ch("/b", ns, verso.Deleted), ch("/b/k", key, verso.Deleted), ch("/b/k2", key, verso.Deleted),
				ch("/b/sub", ns, verso.Deleted), ch("/b/sub/x", key, verso.Deleted),
				mods(from(ch("/c", ns, verso.Moved), "/b", 6), 0), mods(from(ch("/c/k", key, verso.Moved), "/b/k", 6), 0),
				mods(from(ch("/c/k2", key, verso.Moved), "/b/k2", 6), 0), mods(from(ch("/c/sub", ns, verso.Moved), "/b/sub", 6), 0),
				mods(from(ch("/c/sub/x", key, verso.Moved), "/b/sub/x", 6), 0),
			}},
		{"DeleteNamespace", txn(opDelete("/c")),
			[]verso.Change{
				ch("/c", ns, verso.Deleted), ch("/c/k", key, verso.Deleted), ch("/c/k2", key, verso.Deleted),
				ch("/c/sub", ns, verso.Deleted), ch("/c/sub/x", key, verso.Deleted),
			}},
		{"PropsOnRoot", txn(opProps("/", setProp("{urn:x}r", "1"))),
			[]verso.Change{mods(ch("/", ns, verso.Modified), verso.ModProps)}},
		{"PropsOnNamespace", txn(opProps("/a/sub", setProp("{urn:x}s", "1"))),
			[]verso.Change{mods(ch("/a/sub", ns, verso.Modified), verso.ModProps)}},
		{"CopyOverwriteKey", txn(overwrite(opCopy("/a/k", "/a/k2"))),
			[]verso.Change{mods(from(ch("/a/k2", key, verso.Copied), "/a/k", 10), 0)}},
		{"CopyOverwriteKeyWithNamespace", txn(overwrite(opCopy("/a/sub", "/a/k"))),
			[]verso.Change{mods(from(ch("/a/k", ns, verso.Copied), "/a/sub", 11), 0), mods(from(ch("/a/k/x", key, verso.Copied), "/a/sub/x", 11), 0)}},
		{"CopyDepth0", txn(verso.Op{Kind: verso.OpCopy, From: p("/a/k"), Path: p("/a/k-shallow"), Depth: 0}),
			[]verso.Change{mods(from(ch("/a/k-shallow", ns, verso.Copied), "/a/k", 12), 0)}},
		{"MoveOverwriteNamespace", txn(opMkcol("/a/sub/y"), overwrite(opMove("/a/k", "/a/sub"))),
			[]verso.Change{
				ch("/a/k", ns, verso.Deleted), ch("/a/k/x", key, verso.Deleted),
				mods(from(ch("/a/sub", ns, verso.Moved), "/a/k", 13), 0), mods(from(ch("/a/sub/x", key, verso.Moved), "/a/k/x", 13), 0),
			}},
		{"DeleteAndRecreateNamespace", txn(opDelete("/a/sub"), opMkcol("/a/sub"), opPut("/a/sub/new", "n")),
			[]verso.Change{mods(ch("/a/sub", ns, verso.Modified), verso.ModProps), mods(ch("/a/sub/new", key, verso.Added), verso.ModValue), ch("/a/sub/x", key, verso.Deleted)}},
		{"SameValueAgain", txn(opPut("/a/sub/new", "n")),
			[]verso.Change{mods(ch("/a/sub/new", key, verso.Modified), 0)}},
		{"CopyOfAChangedSource", txn(opPut("/a/sub/new", "changed"), opProps("/a/sub/new", setProp("{urn:x}c", "1")), opCopy("/a/sub/new", "/a/sub/cp")),
			[]verso.Change{mods(from(ch("/a/sub/cp", key, verso.Copied), "/a/sub/new", 16), verso.ModValue|verso.ModProps),
				mods(ch("/a/sub/new", key, verso.Modified), verso.ModValue|verso.ModProps)}},
		{"PropsRemoved", txn(opProps("/a/sub/cp", verso.PropChange{Name: "{urn:x}c", Remove: true})),
			[]verso.Change{mods(ch("/a/sub/cp", key, verso.Modified), verso.ModProps)}},
	}
	for i, st := range steps {
		rev := verso.Revision(i + 1)
		st.tx.Author = "author-" + st.name
		st.tx.Message = "message " + itoa(int64(rev))
		t.Run(st.name, func(t *testing.T) {
			c, err := s.Commit(ctx, st.tx)
			if err != nil {
				t.Fatalf("Commit(%s) error: %v", describe(st.tx), err)
			}
			want := &verso.Commit{Rev: rev, Author: st.tx.Author, Message: st.tx.Message, Changes: st.changes}
			what := "Commit(" + describe(st.tx) + ")"
			checkCommit(t, what, c, want)
			got, err := s.Revision(ctx, rev)
			if err != nil {
				t.Fatalf("Revision(%d) error: %v", rev, err)
			}
			checkCommit(t, "Revision("+itoa(int64(rev))+")", got, want)
			if d := got.Time.Sub(c.Time).Abs(); d > time.Millisecond {
				t.Errorf("Revision(%d).Time = %v, want the time Commit returned: %v", rev, got.Time, c.Time)
			}
		})
		if t.Failed() {
			return
		}
	}
	// Commit times do not go back. (They are not compared with the wall
	// clock: a store may take its time from an injected clock.)
	for r := verso.Revision(2); r <= verso.Revision(len(steps)); r++ {
		prev, err1 := s.Revision(ctx, r-1)
		cur, err2 := s.Revision(ctx, r)
		if err1 == nil && err2 == nil && cur.Time.Before(prev.Time) {
			t.Errorf("Revision(%d).Time = %v is before Revision(%d).Time = %v", r, cur.Time, r-1, prev.Time)
		}
	}
}
