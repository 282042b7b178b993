package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso/bolt"
)

// replacedSuffix names the store a forced restore replaced, kept beside it.
const replacedSuffix = ".before-restore"

func newRestoreCommand(getenv func(string) string) *cobra.Command {
	var data string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore FILE --data DIR",
		Short: "Put a snapshot back as the store of a data directory",
		Long: `Restore makes the snapshot in FILE (from 'verso backup') the store of the data
directory DIR, for a verso that is stopped: it refuses a directory a running
verso holds.

It verifies FILE as 'verso check' would before anything else, copies it
into DIR, syncs it, opens it as a store, and only then moves it into place.
A DIR that already holds a store is refused unless --force is given; then
the store it held is kept as DIR/` + dbFile + replacedSuffix + `.`,
		Example: `  systemctl stop verso
  verso restore /var/backups/verso/verso-2026-11-26.db --data /var/lib/verso --force
  systemctl start verso`,
		Args: argsBetween(1, 1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("data") {
				if v := getenv("VERSO_DATA"); v != "" {
					data = v
				}
			}
			rev, err := restore(cmd.Context(), args[0], data, force)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Restored %s into %s at revision %d.\n", args[0], filepath.Join(data, dbFile), rev)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", DefaultConfig().Data, "`DIR` to restore into (env VERSO_DATA)")
	cmd.Flags().BoolVar(&force, "force", false, "replace the store DIR holds (it is kept as "+dbFile+replacedSuffix+")")
	return cmd
}

// restore puts the snapshot file into dir and returns its head revision.
func restore(ctx context.Context, file, dir string, force bool) (int64, error) {
	if err := bolt.CheckFile(file, 0); err != nil {
		return 0, fmt.Errorf("refusing to restore: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, fmt.Errorf("create data directory: %w", err)
	}
	unlock, err := lockDataDir(dir)
	if err != nil {
		return 0, err
	}
	defer unlock()
	db := filepath.Join(dir, dbFile)
	_, err = os.Stat(db)
	exists := err == nil
	if exists && !force {
		return 0, fmt.Errorf("%s already holds a store (%s); give --force to replace it (it is kept as %s)", dir, db, db+replacedSuffix)
	}

	tmp := db + ".restoring"
	// A restore cut off while it opened its copy leaves the copy and the
	// copy's log: copying over the same file would keep its inode, and
	// opening it would redo that log over the snapshot.
	for _, f := range []string{tmp, bolt.LogPath(tmp), bolt.LogPath(tmp) + ".tmp"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("remove what an earlier restore left: %w", err)
		}
	}
	if err := copyFile(tmp, file); err != nil {
		os.Remove(tmp)
		return 0, err
	}
	defer os.Remove(tmp) // gone once renamed
	s, err := bolt.Open(tmp, nil)
	if err != nil {
		return 0, fmt.Errorf("open the restored store: %w", err)
	}
	head, err := s.Head(ctx)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("open the restored store: %w", err)
	}
	if exists {
		if err := os.Rename(db, db+replacedSuffix); err != nil {
			return 0, fmt.Errorf("keep the replaced store: %w", err)
		}
	}
	// A store that was not closed left its log: it goes with its data
	// file (the restored file must not be opened with it).
	if err := os.Rename(bolt.LogPath(db), bolt.LogPath(db+replacedSuffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("keep the replaced store's log: %w", err)
	}
	if err := os.Rename(tmp, db); err != nil {
		return 0, fmt.Errorf("move the restored store into place: %w", err)
	}
	return int64(head), syncDir(dir)
}

// copyFile copies src to a new file dst (mode 0600) and syncs it.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}
