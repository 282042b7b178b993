// Package svndump reads and writes svnadmin dump streams (Subversion's
// notes/dump-load-format.txt), the way history moves between verso and a
// Subversion repository: Load commits each revision of a stream (format 2
// or 3, with or without deltas, whole or incremental) to a verso.Store as
// the revision of the same number, and Dump writes a store's history as a
// stream `svnadmin load` accepts. `verso load` and `verso dump` are built
// on it. It goes through the verso.Store interface alone and maps svn's
// properties, dates and copies onto verso's as the protocol (package svn)
// does, through package svnfs.
package svndump
