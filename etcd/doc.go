/*
Package etcd is verso's cluster store: a verso.Store kept in an etcd
cluster, so that any number of stateless verso servers share one tree with
one line of revisions. docs/CLUSTER.md says how to run it and what each
kind of read guarantees.

# Basics

	s, err := etcd.Open(ctx, &etcd.Options{
		Endpoints: []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379", "http://10.0.0.3:2379"},
	})
	if err != nil {
		return err
	}
	defer s.Close()

Every key lives under Options.Prefix (default "/verso/"):

  - rev: the head revision, in decimal. Every commit rewrites it, so its
    etcd mod revision names the newest commit.
  - c/<rev>: the commit record of each revision (20-digit zero-padded
    decimal), in JSON.
  - t/<path>: the tree at head, one entry per path, in the entry encoding
    of package internal/codec, the bolt store's. Namespaces carry their
    current TreeRev.
  - h/<path> 0x00 <rev>: every state every path has had: the entry as that
    revision left it, or a tombstone if it deleted the path.
  - i/<path> 0x00 <rev>: one empty key for each path a revision changed and
    each namespace above it (the root: every revision). Log of p is a
    backward range read of p's keys.
  - start: where history starts (see Retention below), in decimal; absent
    until pruning by age drops a revision.
  - prune, pruned: the guard key every pruning step rewrites, and how far
    pruning by count has trimmed.
  - ~j/<lease>/<n>: the journals of verso.Journals (journal.go), short-lived
    records outside the tree and its history (an svn commit's open
    transaction), each journal attached to its own etcd lease. They sort
    after every key of the tree, and the watch that follows the tree stops
    before them.
  - ~l/v, ~l/r/<token>: the lock table of verso.LockTable (locks.go), the
    WebDAV locks every server shares: a key whose mod revision is the
    table's version, and one record per lock, bound to an etcd lease when
    the lock has a timeout. Outside the tree and its history too, and
    followed by a watch of its own.

History lives in h/, i/ and c/, not in etcd's own revisions, so etcd may
compact (and should: see docs/CLUSTER.md) without verso losing any.

# Commits

A single committer goroutine per Store writes. It takes the waiting
transactions (up to Options.MaxBatch), plans each against the tree in
memory at the head it knows, each against the state the ones before it
leave (every operation validated and every change computed, nothing
written: package internal/plan, the bolt store's planner too), and sends
all of them as ONE etcd transaction: If the mod revision of rev is still
the one the tree in memory was read at, Then put every key of every plan
and rev = the last revision. Each verso transaction still gets its own
revision; an invalid one gets its own error and consumes none. A group
stops before the etcd transaction would exceed Options.MaxTxnOps or
Options.MaxTxnBytes.

The comparison holds only if no commit, through any server, came after the
state the plans were made against; so plans are exact, each revision is
handed out once, and revisions have no gaps. When it fails, the committer
waits until the watch has delivered the newer commit (or reads the tree
again) and plans the group again, up to 100 times. The failures a group
planned (a failed precondition, a missing parent) are answered only once a
transaction with the same comparison has succeeded: that proves the state
they were read from was the head, so a lagging copy never fails a write
that would succeed.

When etcd does not answer (a timeout, a member lost), the transaction may
or may not have applied. The committer sends the very same transaction
again until etcd answers: the comparison lets at most one copy apply, and
each commit record carries the id of its group, so a failed comparison
whose first record is the group's own means an earlier copy applied.
After 30 seconds without an answer the callers get an error saying the
outcome is unknown.

# Reads

The tree at head is held in memory as a copy-on-write B-tree, one
immutable snapshot per revision. Open loads it with one range read, and
a watch on the prefix, from the etcd revision after the load, applies each
etcd revision's changes in order. A commit made through this Store is
applied to the snapshot as soon as etcd acknowledges it, before Commit
returns: a client reads its own writes through the same server. If etcd
has compacted the revisions the watch needs, the store reads the tree
again.

Get at verso.Head and Walk at verso.Head read the snapshot only. Head and
Wait follow it too: commits made through other servers reach them as soon
as the watch delivers them. GetConsistent (verso.ConsistentReader) reads
the head revision with a quorum read, waits until the snapshot has it, and
answers from it: a linearizable read.

Get and Walk at an older revision read h/ and i/ in one etcd transaction,
so each sees one revision; a Get of an entry that has not changed since
the revision asked for is answered from memory. A Walk at an old revision
reads the whole history of the subtree it walks.

# Retention

Store implements verso.Pruner and verso.HistoryStarter with the bolt
store's rules (docs/STORE.md, bolt/prune.go): by age it raises the start
key, after which a read below it is verso.ErrGone on every server, then
retires the revisions below it; by count it replaces each path's older
states by one gone marker. It works in small etcd transactions, each
guarded by the prune key so that pruning steps of all servers run one at
a time, none ever planned against a history another step has changed;
commits are not held up (see prune.go for why they need not be). Any
number of servers may prune the same tree at once.
*/
package etcd
