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

The tree at head is also held in memory (package internal/headcache),
loaded by Open and updated after each commit is durable, before Commit returns. Get at verso.Head reads only
memory and never waits for a commit, and so does Revision of one of the
newest 1,024 commits (recent.go: watchers read each new revision as it is
published); Get at an older revision, Walk, Log and other Revisions use one
bbolt read transaction each, so each sees one revision (after asking the
committer to commit bbolt's open transaction if it holds a revision the
read needs: see Durability).

# Group commit

A single committer goroutine does all writing. Commit hands its transaction
to the committer and waits. The committer takes the first waiting
transaction and whatever others are queued (up to Options.MaxBatch) and runs
them all into the committer's bbolt write transaction, which one fsync of
the log makes durable (see Durability); that bbolt transaction stays open
for later groups. Inside it, in order, each transaction is planned against
the state the ones before it left (earlier groups' included) (every operation validated and every
change computed, nothing written, by package internal/plan, which the
etcd store shares) and, if valid, written as revision head+1. An invalid
transaction gets its own error and consumes no revision; the others in
the group are unaffected.

The contract that keeps revisions exact: planning a transaction is a pure
function of the bbolt transaction's state (it writes nothing, so running it
again would be harmless: it is idempotent, and a transaction that fails
planning leaves the bbolt transaction and the groups before it in there
untouched), and the head revision that numbers each plan is read and
written inside the same bbolt transaction as the plan itself. So revisions
never advance twice and have no gaps. If writing a group fails, every
transaction of the group gets that error, nothing of it is published, and
no revision is consumed, since the head rolls back with the bbolt
transaction (which stops the store if it held acknowledged groups: see
Durability). The committer never uses db.Batch: Batch re-runs functions
one at a time after a failure, and a function that allocates a revision
must not run twice.

Once the group is durable (its log record synced), the committer publishes
the group's entries to the in-memory tree in revision order, advances the
head, wakes Wait, and answers each Commit.

# Durability

A bbolt commit fsyncs twice: its new pages, then its meta page (so that the
meta page never points at pages not on disk). The store instead makes each
group durable with one fsync, of a write-ahead log beside the data file,
path+".wal" (package internal/wal has its format; wal.go what its
records hold):

  - Every write a group makes in the bbolt transaction (tree, hist, index
    and revs keys) is also recorded; the group's record (its revisions,
    the writes, a length and a CRC-32C) is appended to the log and the log
    is fdatasynced. Only then is the group published and answered. (The
    log is zero-filled ahead of its records, so that the fsync rarely has
    to update the file's size.)
  - The bbolt write transaction stays open across groups: bbolt's CPU
    per write (copying pages into nodes, spilling them, writing pages)
    falls the more writes one transaction holds. The committer commits
    it, with DB.NoSync (bbolt writes its pages to the file and syncs
    nothing, nor, with NoGrowSync and NoFreelistSync, the file's growth
    or its freelist), when it has been open 20 ms or holds 8 MiB of log
    records, before a checkpoint, a pruning step, Check or Close, and
    whenever a reader needs it: every reader of the file (Get at a
    revision, Walk, Log, Revision, HistoryStart, Backup, Size, Prune's
    scans) first compares the revision it needs (the head published when
    it started, or the revision it reads at) with the newest one bbolt
    has committed, one atomic load, and only if bbolt lags asks the
    committer to commit and waits for it. So a read never sees less than
    what was published before it began, and a Commit's caller reads its
    own writes through bbolt too. Without the log, each group's bbolt
    transaction is committed (and synced by bbolt) before it is
    published.
  - A checkpoint commits bbolt's freelist (an empty transaction that
    writes it), makes the data file durable as it is (fsync), opens a
    read transaction on that state (the pin) and starts a new log whose
    header holds the head revision and a copy of the file's first two
    pages, bbolt's two meta pages, as they are then; the new log is written
    beside the old one, synced, and renamed over it. The committer
    checkpoints when commits pause for a second, after a second of
    steady commits, when the log passes 64 MiB, and after each pruning step. Close
    syncs the file and removes the log: a store that was closed has none.
  - Open, finding a log, takes bbolt's lock on the data file, checks that
    the file is the log's (below), writes the log's meta pages back over
    the file's, and only then lets bbolt read
    the file; it redoes the log's records above the file's head in one
    bbolt transaction, checks, and checkpoints. A record that is short or
    fails its CRC, with nothing readable after it, ends the log: it is a
    torn tail, a record whose fsync never finished, so none of its
    revisions was acknowledged; Open drops it with a warning. One followed
    by a readable record (a record length, a matching CRC, revisions
    after the last good ones, found by scanning on past the bad record)
    is damage instead, a disk that lost or altered acknowledged data: Open
    refuses the log with a LogError naming its offset and the revisions
    after it, rather than drop them silently. Cutting the log at that
    offset (the error says how) opens the store without them.

Why a crash (of the process or of the machine) loses nothing acknowledged:
after a crash the log holds, intact, every record that was acknowledged
since its checkpoint C, because a group is answered only after its record
is fsynced, and the log on disk is always a complete one (a new log
replaces the old only by a rename after it is synced, and only once the
data file is synced at C, which a checkpoint does only after committing
the open bbolt transaction). That holds whether the acknowledged groups
since C were committed by bbolt or were still in its open transaction: a
crash loses the open transaction (it was only in memory), and recovery
redoes every record above C, not only those above what bbolt committed. Of
bbolt's unsynced writes since C any subset may have reached the disk, in
any order, torn or not. But none of them
touched a page of C's state: bbolt writes a transaction to pages that no
open read transaction can see, and the pin keeps C's state visible until
the next checkpoint is recorded (pages that later transactions both
allocate and free are reused; C's never). bbolt's meta pages are the
exception, rewritten in place by every commit, and those Open restores from
the log. So Open finds C exactly as it was synced, and redoing the records
yields the state of the last acknowledged group, with the same keys and
values (the records hold the writes themselves, not the transactions to
plan again). Recovery is itself a crash-safe step: until it checkpoints,
the pin (taken before anything is written) keeps C's pages intact and the
log is unchanged, so a crash during recovery starts it over.
TestStore_PowerLoss checks this by building data files whose pages each
come from the last checkpoint or from after it, at random (meta pages torn
too), with acknowledged groups still in bbolt's open transaction; it fails
if either the pin or the restored meta pages are left out.

The pin has its costs. Pages freed since the checkpoint that belonged to
C's state, and pages taken from the end of the file since (bbolt does not
record which transaction allocated those), are reused only after the next
checkpoint: the file grows by about a second of commits' pages before it
reuses them, and bbolt's bookkeeping of pending pages costs the committer
some CPU per commit. The freelist, which lists those pages too, would be
written whole by every commit, so it is written at checkpoints only; the
meta page of each commit in between says it has none, so a bbolt
transaction that rolls back (a pruning step that fails) rebuilds it by
reading the file. The committer therefore commits a group even when all
its transactions failed. And bbolt cannot remap the file
while a read transaction is open, so the store has bbolt map at least
16 GiB (address space, not memory; four times the file if that is more),
and leaves the log (syncs the file, removes the log, lets bbolt fsync every
commit itself) before a transaction could grow the file past half of it,
until the store is reopened. A group whose log fsync or bbolt commit
fails (other than for lack of space: see below) leaves the log and the file unable to agree on the next revision:
the store refuses commits from then on, and the next Open settles from the
log whether the group committed. Platforms other than Linux, 32-bit
ones, and builds with a bbolt whose file layout verso does not know (see
"bbolt's file layout") run without a log, bbolt fsyncing every commit. So does a bbolt
transaction that fails to write or commit after it took acknowledged
groups (an I/O error, say): it is rolled back, those groups are then only
in the log (and the head cache), so the store refuses commits, reads of
the file above what bbolt holds fail with the same error, and Writable
says so; the next Open redoes them from the log. A failure before the
transaction took an acknowledged group only fails that group.

Replacing a data file while its store was not closed leaves a log that
belongs to another file: Open refuses it rather than restore foreign meta
pages. The log records the data file's inode, and a checksum of the
checkpoint's root and freelist pages and of its buckets' root pages,
which no commit since may have rewritten (the first two alone can be the
same in two small stores of like histories), so a file copied over in place (the same inode) is refused
too; moving the log away opens the file as it is, without the commits
only the log held. A checkpoint that fails after renaming its new log
into place (a failed sync of the directory) stops the store like a
failed log does: which log a crash would leave is unknown, so appending
to either could lose acknowledged commits. CheckFile
recovers a file that has a log before it checks it, and reports a
damaged log (CheckLog) without changing it.

A full disk (ENOSPC, or a spent quota: EDQUOT) does not stop the store.
Commits refused for it return an error wrapping verso.ErrNoSpace, reads
go on, and commits succeed again by themselves once space is freed. The
log is written into blocks allocated ahead (zeros, 256 KiB then 4 MiB at
a time), so small groups are still logged, and acknowledged, on a full
disk: a file system that accepted the zeros has the blocks. Where space
runs out:

  - Growing the log or writing a record fails before anything of the
    record is synced: the group is refused and nothing else changes. Its
    writes are already in the open bbolt transaction with the
    acknowledged groups before it, and cannot be taken out alone, so that
    transaction is rolled back and the acknowledged groups are written
    into a new one from their log records (redoTx), which are durable.
    The record's place is zeroed again and the next record goes there.
  - bbolt's commit fails to grow or write the data file: bbolt rolls the
    transaction back with its file as before (the meta page is written
    last), and the acknowledged groups it held are written into a new
    transaction from the log, committed again a second later (reads of
    the file above what bbolt holds fail with ErrNoSpace meanwhile; the
    head cache still answers reads at the head).
  - A checkpoint cannot write its new log: the new file is removed before
    it replaces the old one, which stays in use; the next checkpoint
    tries again.
  - An fsync of the log fails. Whether the record reached the disk is
    then unknown, and after a failed fsync Linux may drop the dirty pages
    it could not write and report later fsyncs of the file as successful
    (so a retry proves nothing). The log is appended to no more: the
    group is refused, the next commit first checkpoints (commits bbolt,
    syncs the data file, starts a new log in a new file), and is refused
    with ErrNoSpace until that succeeds. The records before were synced
    by earlier fsyncs, so nothing acknowledged depends on the failed one;
    but until the checkpoint, a crash may let Open find the refused
    group's record intact and redo it, as with any commit whose fsync
    failed. A failed fsync of the data file at a checkpoint still stops
    the store: bbolt's pages could not be trusted after it.

Other I/O errors stop the store as described above.

# bbolt's file layout

Three things read bbolt's file itself rather than through its API: the
log (its header copies the two meta pages, and Open checks the
checkpoint's root, freelist and bucket root pages before writing them
back), the page checker (Damage, below) and the read-ahead of the tree
bucket's branch pages at open (prefetch.go: madvise MADV_WILLNEED on
each level before the loader walks it, for a page cache that no longer
holds the file). All three go through layout.go, the only file that
knows the layout (page header, meta page, branch and leaf elements,
bucket header, freelist); no other file computes an offset in bbolt's
file. layout.go names the bbolt versions it was checked against, and
Open compares them with the bbolt this binary was linked with (its build
information; go.mod's version where a binary has none, as test binaries,
which a test keeps equal to go.mod). Open checks the data file's meta
pages too: bbolt's magic, and its format version 2 (another is refused as
such, not as damage).

A bbolt not listed (a module that imports verso and raises bbolt, say)
never has its file misread. Open logs one warning naming it, and:

  - read-ahead at open and the page checker are off: the store opens
    and reads as without them, a cold page cache slower to load, and a
    damaged file less well contained (guard still turns panics and
    faults on the calling goroutine into errors; bbolt's own goroutines
    are not covered). Store.Check skips the page structure, and
    CheckFile refuses to check (bbolt's Tx.Check, which it runs, would
    read unchecked pages on a goroutine of its own), so backup and
    restore, which check the file, refuse too;
  - the store runs without the log, as on platforms that have none:
    bbolt syncs every commit itself (two fsyncs per group instead of
    one). The log is not optional where it runs: its recovery writes
    meta pages back, which is safe only once the pages it checks were
    read right. Running without it keeps every acknowledged commit
    durable at the cost of write speed;
  - a log left by a store that was not closed is refused, naming the
    log and the bbolt versions that read it: it may hold acknowledged
    commits the data file lacks, which only its recovery restores, so
    neither dropping it nor recovering it blindly is safe. Opening the
    store once with a verso built with a listed bbolt recovers it, and
    Close removes it.

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

# Damage

A data file damaged on disk (a lost page, a file cut short) must never
crash the process. bbolt panics on many kinds of damaged page, and reads
the file through a memory map, where a page beyond the end of a file cut
short faults (SIGBUS). So:

  - Open checks, with read(2) before bbolt maps the file, what it relies
    on (pages.go, through layout.go's decoders; off with a bbolt whose
    layout is unknown, see above): a valid meta page, a file that holds every page below
    its high-water mark, root and freelist pages below it, a freelist page
    that holds the ids it counts, and, where the meta page records no
    freelist (bbolt then walks every page, on a goroutine of its own),
    the structure of every page; and the branch pages of the meta and
    tree buckets, which it reads whole (no child beyond the high-water
    mark, none reached twice: a cursor would descend forever). It
    refuses an empty file: only a missing
    file makes a new store. A file with missing buckets is refused too.
  - Open, every read transaction (viewNow) and the commits of bbolt's
    transaction run inside guard, which sets debug.SetPanicOnFault on its
    goroutine and recovers: a panic or a fault becomes an error wrapping
    codec.ErrCorrupt. Such an error from a read stops the store as a failed
    log does: commits are refused, and Writable (the server's /readyz)
    says why, until the file is restored and the store reopened. Reads at
    head are served from memory and go on.
  - CheckFile checks the structure of every page with read(2) before it
    lets bbolt read the file (bbolt's Tx.Check reads on a goroutine of its
    own, where no recover reaches), and runs the rest inside guard. It
    opens the file read-only and needs no write access.

# Caveats

A transaction whose context is done when the committer reaches it is
skipped and its Commit returns the context's error. Once it is part of a
bbolt transaction it commits regardless of its context, and Commit waits
for that outcome rather than returning early: an error from Commit means
the transaction did not commit (short of a failed fsync of the log, after
which the outcome is unknown until the next checkpoint or Open).

While a group's revisions are being published, a Get at verso.Head may
return an entry of a revision a moment before Head reports it; it never
returns an entry of a revision that is not durable.

Walk reads every entry it will visit in one read transaction before it
calls fn, so a slow fn never holds a bbolt transaction open (which would
stall commits that need to grow the file), at the cost of holding the
walked entries in memory.

Check verifies the whole file against the head cache; the committer runs it
between groups once bbolt holds every published revision: it reads
everything, and commits wait for it. Tests run it after every test.

The whole tree at head lives in memory: the store suits configuration, not
bulk data.
*/
package bolt
