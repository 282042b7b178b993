package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/internal/svndump"
)

func newLoadCommand(getenv func(string) string) *cobra.Command {
	var data string
	maxValue := ByteSize(1 << 20)
	cmd := &cobra.Command{
		Use:   "load [FILE] --data DIR",
		Short: "Make a store from a Subversion dump (svnadmin dump), or add to one",
		Long: `Load reads an svnadmin dump stream (format 2 or 3, with or without --deltas)
from FILE, or standard input, into the store in the data directory DIR, for
a verso that is stopped. Each svn revision becomes the verso revision of
the same number, with its svn:author, svn:date and svn:log; copies, moves,
deletes and properties (as dead properties) are kept.

Without a store in DIR, load makes a new one from a whole dump (one that
starts at revision 0 or 1). Onto a store that ends at revision N (made by
an earlier load, say), it adds an incremental dump that starts at revision
N+1: svnadmin dump -r N+1:HEAD --incremental. Any other dump is refused,
and the store left as it was.

What verso cannot keep is listed on standard error, never dropped silently:
a file larger than --max-value-size, a binary property value, a revision
property other than svn:author, svn:date and svn:log, the repository UUID.
A stream that cannot be read stops the load with the revision and byte
offset where it broke, and leaves no store behind (or the store as it was:
load adds to a copy, which replaces it at the end). On a terminal, load
shows its progress.`,
		Example: `  svnadmin dump /srv/svn/config | verso load --data /var/lib/verso
  svnadmin dump -r 1001:HEAD --incremental /srv/svn/config | verso load --data /var/lib/verso
  verso load config.dump --data /var/lib/verso --max-value-size 4MiB`,
		Args: argsBetween(0, 1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("data") {
				if v := getenv("VERSO_DATA"); v != "" {
					data = v
				}
			}
			in := cmd.InOrStdin()
			name := "standard input"
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in, name = f, args[0]
			}
			var tty bool
			if f, ok := cmd.ErrOrStderr().(*os.File); ok {
				tty = term.IsTerminal(int(f.Fd()))
			}
			base, head, notes, uuid, err := loadDump(cmd.Context(), in, data, int64(maxValue), cmd.ErrOrStderr(), tty)
			if err != nil {
				return err
			}
			if base == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "Loaded %s into %s: %d revisions", name, filepath.Join(data, dbFile), head)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Loaded %s onto %s: revisions %d to %d", name, filepath.Join(data, dbFile), base+1, head)
			}
			switch {
			case notes == 1:
				fmt.Fprintf(cmd.OutOrStdout(), ", 1 thing not kept (listed above)")
			case notes > 1:
				fmt.Fprintf(cmd.OutOrStdout(), ", %d things not kept (listed above)", notes)
			}
			fmt.Fprintln(cmd.OutOrStdout(), ".")
			if uuid != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "Serve it with --svn-uuid %s (VERSO_SVN_UUID) on every server, and svn working copies of the repository go on working.\n", uuid)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", DefaultConfig().Data, "`DIR` of the store to make or add to (env VERSO_DATA)")
	cmd.Flags().Var(&maxValue, "max-value-size", "largest file text kept: a `SIZE` in bytes or with a unit (give the server's)")
	return cmd
}

// loadDump loads the stream into the store in dir, a new one if there is
// none, and returns the head the store had (0 for a new one) and has, and
// the number of things it reported as not kept. A load that stops leaves
// the store as it was (or none).
func loadDump(ctx context.Context, in io.Reader, dir string, maxValue int64, stderr io.Writer, tty bool) (base, head verso.Revision, notes int, uuid string, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, 0, 0, "", fmt.Errorf("create data directory: %w", err)
	}
	unlock, err := lockDataDir(dir)
	if err != nil {
		return 0, 0, 0, "", err
	}
	defer unlock()
	db := filepath.Join(dir, dbFile)
	_, serr := os.Stat(db)
	existing := serr == nil
	tmp := db + ".loading"
	clean := func() {
		for _, f := range []string{tmp, bolt.LogPath(tmp), bolt.LogPath(tmp) + ".tmp"} {
			if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(stderr, "verso load: remove %s: %v\n", f, err)
			}
		}
	}
	clean() // what an earlier load cut off left
	if existing {
		// load into a copy, which replaces the store only once the whole
		// dump is in it
		if base, err = copyStore(ctx, db, tmp); err != nil {
			clean()
			return 0, 0, 0, "", err
		}
	}
	var now atomic.Pointer[time.Time]
	t0 := time.Unix(0, 0)
	now.Store(&t0)
	s, err := bolt.Open(tmp, &bolt.Options{Clock: func() time.Time { return *now.Load() }, MaxBatch: 1})
	if err != nil {
		clean()
		return 0, 0, 0, "", err
	}
	var last time.Time
	o := svndump.LoadOptions{
		SetTime:      func(t time.Time) { now.Store(&t) },
		UUID:         func(u string) { uuid = u },
		MaxValueSize: maxValue,
		Report: func(msg string) {
			notes++
			if tty {
				fmt.Fprint(stderr, "\r\033[K")
			}
			fmt.Fprintf(stderr, "verso load: not kept: %s\n", msg)
		},
	}
	if tty {
		o.Progress = func(rev verso.Revision, off int64) {
			if time.Since(last) > 100*time.Millisecond {
				last = time.Now()
				fmt.Fprintf(stderr, "\r\033[Kloaded revision %d (%.1f MB read)", rev, float64(off)/1e6)
			}
		}
	}
	head, err = svndump.Load(ctx, s, bufio.NewReaderSize(in, 1<<20), o)
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		clean()
		if existing {
			return 0, 0, notes, "", fmt.Errorf("load stopped, the store is as it was: %w", err)
		}
		return 0, 0, notes, "", fmt.Errorf("load stopped, no store made: %w", err)
	}
	if err := os.Rename(tmp, db); err != nil {
		clean()
		return 0, 0, notes, "", fmt.Errorf("move the loaded store into place: %w", err)
	}
	os.Remove(bolt.LogPath(tmp))
	return base, head, notes, uuid, syncDir(dir)
}

// copyStore copies the store at db, which no verso serves, to the new
// file tmp, and returns its head.
func copyStore(ctx context.Context, db, tmp string) (verso.Revision, error) {
	s, err := bolt.Open(db, nil)
	if err != nil {
		return 0, fmt.Errorf("open the store to load onto: %w", err)
	}
	defer s.Close()
	head, err := s.Head(ctx)
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	if _, err := s.Backup(ctx, f); err != nil {
		f.Close()
		return 0, fmt.Errorf("copy the store to load onto: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return head, s.Close()
}

func newDumpCommand(getenv func(string) string) *cobra.Command {
	var data, uuid string
	cmd := &cobra.Command{
		Use:   "dump [SNAPSHOT] [--data DIR]",
		Short: "Write the history as a Subversion dump (for svnadmin load)",
		Long: `Dump writes the whole history of a store to standard output as an svnadmin
dump stream (format 2) that 'svnadmin load' accepts: every revision with its
author, date and message, copies and moves with their sources, properties.

It reads the store of the data directory DIR of a verso that is stopped, or
a snapshot file made by 'verso backup' (which a running verso makes).`,
		Example: `  verso dump --data /var/lib/verso > config.dump
  verso backup snap.db && verso dump snap.db | svnadmin load /srv/svn/config`,
		Args: argsBetween(0, 1, "SNAPSHOT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("data") {
				if v := getenv("VERSO_DATA"); v != "" {
					data = v
				}
			}
			file := filepath.Join(data, dbFile)
			if len(args) == 1 {
				file = args[0]
			}
			if _, err := os.Stat(file); err != nil {
				return fmt.Errorf("no store to dump: %w", err)
			}
			s, err := bolt.Open(file, nil)
			if err != nil {
				return fmt.Errorf("open %s (a running verso holds its store: dump a 'verso backup' snapshot instead): %w", file, err)
			}
			defer s.Close()
			var tty bool
			if f, ok := cmd.ErrOrStderr().(*os.File); ok {
				tty = term.IsTerminal(int(f.Fd()))
			}
			var progress func(verso.Revision)
			if tty {
				progress = func(rev verso.Revision) { fmt.Fprintf(cmd.ErrOrStderr(), "\r\033[Kdumped revision %d", rev) }
				defer fmt.Fprint(cmd.ErrOrStderr(), "\r\033[K")
			}
			return svndump.Dump(cmd.Context(), s, cmd.OutOrStdout(), uuid, progress)
		},
	}
	cmd.Flags().StringVar(&data, "data", DefaultConfig().Data, "`DIR` holding the store (env VERSO_DATA)")
	cmd.Flags().StringVar(&uuid, "uuid", "", "repository `UUID` the stream names (default none: svnadmin load keeps the target's)")
	return cmd
}
