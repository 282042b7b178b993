/*
Package bolt is verso's embedded store: a verso.Store kept in one bbolt file
(go.etcd.io/bbolt), the default for a single server.

# Basics

Open creates or opens a data file; only one process may have it open.

	s, err := bolt.Open("/var/lib/verso/verso.db", nil)
	if err != nil {
		return err
	}
	defer s.Close()

The file holds five buckets:

  - meta: the head revision, the number of the file's format and, once
    history was pruned, the revision where it starts ("start") and how far
    trimming by count got ("pruned").
  - revs: the commit record of each revision, by 8-byte big-endian
    revision, in JSON.
  - tree: the tree at head, one entry per path, keyed by the path's depth
    (one byte) and the path, so that the children of a namespace are one
    prefix scan, already in name order. Namespaces carry their current
    TreeRev.
  - hist: every state every path has had: depth, path, 0x00, revision ->
    the entry as that revision left it, a tombstone if it deleted the
    path, or a gone marker where pruning dropped the states from that
    revision up to the next record. Reading p at revision R is one seek: to
    p's key at R+1, then one step back.
  - index: path, 0x00, revision -> nothing, for each path a revision
    changed and each namespace above it (the root: every revision, even
    one whose operations cancelled out). Log of p is a backward scan of the
    keys starting with p+0x00; the TreeRev of a namespace at R is the first
    key at or before R.

The root namespace is not stored until properties are set on it. Entries
are stored in a compact binary encoding that starts with a version byte,
and commit records in JSON: the encodings of package internal/codec, which
the etcd store shares.

The tree at head is also held in memory, loaded by Open and updated after
each commit is durable, before Commit returns. Get at verso.Head reads only
memory and never waits for a commit; Get at an older revision, Walk, Log and
Revision use one bbolt read transaction each, so each sees one revision.

# Group commit

A single committer goroutine does all writing. Commit hands its transaction
to the committer and waits. The committer takes the first waiting
transaction and whatever others are queued (up to Options.MaxBatch) and runs
them all in one bbolt write transaction (db.Update), so one fsync makes all
of them durable. Inside it, in order, each transaction is planned against
the state the ones before it left (every operation validated and every
change computed, nothing written, by package internal/plan, which the
etcd store shares) and, if valid, written as revision head+1. An invalid
transaction gets its own error and consumes no revision; the others in
the group are unaffected.

The contract that keeps revisions exact: planning a transaction is a pure
function of the bbolt transaction's state (it writes nothing, so running it
again would be harmless: it is idempotent), and the head revision that
numbers each plan is read and written inside the same bbolt transaction as
the plan itself. So revisions never advance twice and have no gaps. If the
bbolt transaction fails to commit, every transaction of the group gets that
error, nothing is published, and no revision is consumed, since the head
rolled back with everything else. The committer uses db.Update, never
db.Batch: Batch re-runs functions one at a time after a failure, and a
function that allocates a revision must not run twice.

After db.Update returns (bbolt has fsynced), the committer publishes the
group's entries to the in-memory tree in revision order, advances the head,
wakes Wait, and answers each Commit.

# Retention

Store implements verso.Pruner: Prune drops the history a verso.Retention
does not keep, and HistoryStart says where history starts. The committer
runs pruning too, in small steps (bbolt write transactions of about a
thousand deleted records) between group commits, so it never races with a
commit and holds commits up for a few milliseconds at most; reads go on
meanwhile and each sees the file before or after a step, and every step
leaves a file that reads correctly. Pruning by age first raises the start
of history (reads below it are verso.ErrGone from then on), then retires
the revisions below it: their commit records, the states of paths that no
read from the start on can reach, and the index keys no namespace's TreeRev
needs. Pruning by count replaces a path's oldest states with one gone
marker at the oldest of them: a read it would have served finds the marker
and returns verso.ErrGone, while a read before the path existed still finds
nothing. Only paths changed since the last pruning are revisited, so a
periodic Prune costs what changed since, not the size of the history.
Deleted records leave free pages that bbolt reuses; the file does not
shrink.

# Caveats

A transaction whose context is done when the committer reaches it is
skipped and its Commit returns the context's error. Once it is part of a
bbolt transaction it commits regardless of its context, and Commit waits
for that outcome rather than returning early: an error from Commit means
the transaction did not commit (short of a failed fsync of bbolt's meta
page, after which, as with any file, the outcome is unknown until the next
Open).

While a group's revisions are being published, a Get at verso.Head may
return an entry of a revision a moment before Head reports it; it never
returns an entry of a revision that is not on disk.

Walk reads every entry it will visit in one read transaction before it
calls fn, so a slow fn never holds a bbolt transaction open (which would
stall commits that need to grow the file), at the cost of holding the
walked entries in memory.

Check verifies the whole file against the head cache; it reads everything,
and commits wait for it. Tests run it after every test.

The whole tree at head lives in memory: the store suits configuration, not
bulk data.
*/
package bolt
