package bolt

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// CheckFile verifies the data file at path without opening it as a store:
// it opens the file read-only (changing nothing in it), checks the
// structure of its pages (reading them with read(2), so that a damaged or
// truncated file cannot fault), runs bbolt's own check of its pages, then
// the checks of Store.Check that concern the file (revisions, history,
// tree and index agree). It is for a stopped store and for a backup
// before it is restored; a store in use by another process is refused
// after timeout (0 means 1s). It needs no write access to the file or its
// directory.
//
// A file left with a log (its store was not closed, see "Durability" in
// the package documentation) is first recovered from the log as Open
// would, which writes to it; where the file cannot be written (a
// read-only copy), CheckFile says so and checks nothing.
//
// It returns nil, or an error joining every problem found. Damage it
// finds wraps codec.ErrCorrupt; it never panics, whatever the file holds.
func CheckFile(path string, timeout time.Duration) error {
	if err := checkFile(path, timeout); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	return nil
}

func checkFile(path string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = time.Second
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	if fi.Size() == 0 {
		return fmt.Errorf("the data file is empty (0 bytes): %w", errCorrupt)
	}
	if lay := currentLayout(); !lay.known {
		// Without the page checker, bbolt's own check could end the
		// process on a damaged file.
		return fmt.Errorf("cannot check: checking a file safely reads bbolt's file layout, which verso does not know for %v: check it with a verso built with bbolt %s",
			lay, strings.Join(layoutVersions, " or "))
	}
	if err := CheckLog(path); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if _, err := os.Stat(walPath(path)); err == nil {
		// Its store was not closed: first bring the file up to date
		// from the log, as Open would, if the file can be written.
		if err := writable(path); err != nil {
			return fmt.Errorf("its store was not closed: the log %s may hold commits the data file lacks, and recovering them writes to the data file, which cannot be written here (%v): check a writable copy of the data file and its log, or start verso on it",
				walPath(path), err)
		}
		s, err := Open(path, &Options{Timeout: timeout})
		if err != nil {
			return err
		}
		if err := s.Close(); err != nil {
			return err
		}
	}
	// bbolt reads the meta pages through its memory map: they must lie
	// in the file (and a bbolt.Open that panics would keep the file
	// locked and mapped).
	if err := func() error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = readFileMeta(f, fi.Size())
		return err
	}(); err != nil {
		return errors.Join(err, errDamaged)
	}
	var db *bbolt.DB
	err = guard(func() (err error) {
		db, err = bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: timeout})
		return err
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("data file is in use by another process: %w", err)
	}
	if err != nil {
		return err
	}
	// Where bbolt rebuilt the freelist and met damage, the goroutine it
	// rebuilt it on is left reading the memory map: closing the file
	// would end the process. The walker below reports all such damage
	// first; should it miss some, the file stays open.
	rebuildFailed := false
	defer func() {
		if !rebuildFailed {
			db.Close()
		}
	}()

	// Every page bbolt can reach must lie in the file before bbolt reads
	// them: its Tx.Check reads on a goroutine of its own, where a fault
	// or a panic would end the process.
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	fi, err = f.Stat()
	if err == nil {
		if problems := checkPages(f, fi.Size()); len(problems) > 0 {
			problems = append(problems, errDamaged)
			err = errors.Join(problems...)
		}
	}
	f.Close()
	if err != nil {
		return err
	}
	c := &checker{}
	err = guard(func() error {
		return db.View(func(tx *bbolt.Tx) error {
			for err := range tx.Check() {
				c.addf("bbolt: %v", err)
				rebuildFailed = rebuildFailed || strings.Contains(err.Error(), "freepages:")
			}
			c.check(tx)
			return nil
		})
	})
	if err != nil {
		c.addf("%v", err)
	}
	return c.err()
}

// errDamaged ends the problems of a file bbolt cannot read safely.
var errDamaged = fmt.Errorf("bbolt cannot read the file safely: restore it from a backup: %w", errCorrupt)

// writable returns nil if the file at path can be opened for writing.
func writable(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return err
		}
		return nil // let Open report it
	}
	return f.Close()
}
