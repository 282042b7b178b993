/*
Package verso is the vocabulary of verso, a versioned configuration service:
paths, revisions, entries, transactions, commits, the errors they can fail
with, and the Store interface that the storage backends implement.

# Basics

Configuration lives in a tree. Interior nodes are namespaces, leaves are keys
holding bytes. The whole tree has one revision number, like a Subversion
repository: revision 0 is empty, and every commit, however many paths it
touches, makes exactly one new revision recording its author, time, message
and changed paths. Every earlier revision can be read back.

A change is a Txn: a list of operations (put, delete, mkcol, copy, move,
props) with optional compare-and-set conditions, applied all together or not
at all:

	c, err := store.Commit(ctx, &verso.Txn{
		Author:  "alice",
		Message: "point the app at the new database",
		Ops: []verso.Op{
			{Kind: verso.OpPut, Path: verso.MustPath("/app/db/host"), Value: []byte("db2\n")},
			{Kind: verso.OpDelete, Path: verso.MustPath("/app/db/old-host")},
		},
	})

# Caveats

Paths from outside must go through ParsePath, which refuses rather than
repairs anything that is not clean. Entries returned by a Store are shared:
never modify them.

# Packages

The bolt package holds the embedded store (the default), storetest the
conformance suite every store passes, server the HTTP and WebDAV surface, and
cmd/verso the binary.
*/
package verso
