package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso/bolt"
)

func newBackupCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var force bool
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Save a snapshot of a running server's store",
		Long: `Backup asks a running server for a consistent snapshot of its whole store
(GET /api/v1/backup) while it goes on serving and committing, and saves it
in FILE. The user (--user, VERSO_USER and VERSO_PASSWORD) must be allowed to
write the root namespace.

The snapshot is written next to FILE first, synced, verified as 'verso check'
would, and only then renamed to FILE, so FILE is either a complete, checked
snapshot or not there. An existing FILE is kept unless --force is given.
'verso restore FILE --data DIR' puts it back.`,
		Example: `  verso backup /var/backups/verso/verso-$(date +%F).db
  VERSO_USER=admin VERSO_PASSWORD=... verso backup snap.db --server https://verso.example.com`,
		Args: argsBetween(1, 1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			if _, err := os.Stat(file); err == nil && !force {
				return fmt.Errorf("%s exists; remove it or give --force to replace it", file)
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*.tmp")
			if err != nil {
				return fmt.Errorf("create backup file: %w", err)
			}
			defer os.Remove(tmp.Name()) // gone once renamed
			n, err := c.Backup(cmd.Context(), tmp)
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return c.explain(err)
			}
			if err := bolt.CheckFile(tmp.Name(), 0); err != nil {
				return fmt.Errorf("the snapshot from %s does not verify: %w", c.url, err)
			}
			if err := os.Rename(tmp.Name(), file); err != nil {
				return fmt.Errorf("save backup: %w", err)
			}
			if err := syncDir(filepath.Dir(file)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Saved a %d-byte snapshot of %s in %s.\n", n, c.url, file)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	flags.bind(cmd)
	return cmd
}

// syncDir makes the entries of directory dir (a file just renamed into
// it) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
