package bolt

import (
	"errors"
	"fmt"
	"os"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// CheckFile verifies the data file at path without opening it as a store:
// it opens the file read-only (changing nothing in it), runs bbolt's own
// check of its pages, then the checks of Store.Check that concern the file
// (revisions, history, tree and index agree). It is for a stopped store
// and for a backup before it is restored; a store in use by another
// process is refused after timeout (0 means 1s).
//
// A file left with a log (its store was not closed, see "Durability" in
// the package documentation) is first recovered from the log as Open
// would, which writes to it.
//
// It returns nil, or an error joining every problem found.
func CheckFile(path string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = time.Second
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("check %s: not a regular file", path)
	}
	if err := CheckLog(path); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if _, err := os.Stat(walPath(path)); err == nil {
		// Its store was not closed: first bring the file up to date
		// from the log, as Open would.
		s, err := Open(path, &Options{Timeout: timeout})
		if err != nil {
			return fmt.Errorf("check %s: %w", path, err)
		}
		if err := s.Close(); err != nil {
			return fmt.Errorf("check %s: %w", path, err)
		}
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("check %s: data file is in use by another process: %w", path, err)
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer db.Close()
	c := &checker{}
	err = db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			c.addf("bbolt: %v", err)
		}
		c.check(tx)
		return nil
	})
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if err := c.err(); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	return nil
}
