package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso/bolt"
)

func newCheckCommand(getenv func(string) string) *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "check --data DIR",
		Short: "Verify a stopped store offline",
		Long: `Check verifies the store in the data directory DIR without changing it: the
pages of the bbolt file, then verso's own invariants (revisions 1..head
without gaps, each with its commit record; the history holds exactly the
changes the records list; the current tree equals the tree rebuilt from the
history; every path has a namespace as its parent; the log index holds
exactly the changed paths and the namespaces above them).

A store that was not stopped cleanly (after a crash) has a write-ahead log
beside its data file: check first brings the data file up to date from it,
as starting verso would, and removes the log. A log damaged in its middle
(a record that cannot be read, followed by readable ones) is reported
instead, with the byte offset and the revisions it would lose, and the
store is left as it is (see "A damaged write-ahead log" in
docs/OPERATIONS.md).

The store must be stopped: check refuses a data directory a running verso
holds. Check writes nothing but that recovery: it works on a read-only
directory or file system (a store whose log needs recovering is reported
there, not checked). A damaged file is reported as problems, never a crash. It exits 0 and prints one line when everything agrees, and exits 1
listing each problem otherwise (the first hundred).`,
		Example: `  verso check --data /var/lib/verso`,
		Args:    argsBetween(0, 0, "no arguments (the store is --data DIR)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("data") {
				if v := getenv("VERSO_DATA"); v != "" {
					data = v
				}
			}
			db, unlock, err := openDataDir(data)
			if err != nil && readOnly(err) {
				// A read-only copy: the data file's own lock, which
				// check takes shared, still refuses a running verso.
				db, unlock, err = filepath.Join(data, dbFile), func() {}, nil
			}
			if err != nil {
				return err
			}
			defer unlock()
			if err := bolt.CheckFile(db, 0); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", db)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", DefaultConfig().Data, "`DIR` holding the store (env VERSO_DATA)")
	return cmd
}

// readOnly says whether err is a refusal to write: a read-only file,
// directory or file system.
func readOnly(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)
}

// openDataDir takes the lock of the data directory dir, which must hold a
// store, for an offline command, and returns the path of the data file.
// A running verso holding dir is an error.
func openDataDir(dir string) (db string, unlock func(), err error) {
	db = filepath.Join(dir, dbFile)
	if _, err := os.Stat(db); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil, fmt.Errorf("no store in %s: %s does not exist", dir, db)
		}
		return "", nil, err
	}
	unlock, err = lockDataDir(dir)
	if err != nil {
		return "", nil, err
	}
	return db, unlock, nil
}
