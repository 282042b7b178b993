package bolt

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/wal"
	bbolt "go.etcd.io/bbolt"
)

// start recovers what the log holds, starts a new log (or, without one,
// has bbolt sync every commit) and loads the head cache.
func (s *Store) start(hdr *wal.Header, recs []wal.Record, useWAL bool) error {
	if hdr != nil {
		// The data file is at the log's checkpoint (its meta pages were
		// restored); pin it until the next checkpoint is recorded.
		if hdr.PageSize != s.pageSize {
			return fmt.Errorf("log: page size %d, data file %d: %w", hdr.PageSize, s.pageSize, errCorrupt)
		}
		pin, err := s.db.Begin(false)
		if err != nil {
			return err
		}
		s.pin = pin
		head, err := readHead(pin)
		if err != nil {
			return err
		}
		if head != hdr.Head {
			return fmt.Errorf("log: checkpoint at r%d, data file at r%d: %w", hdr.Head, head, errCorrupt)
		}
	}
	if err := s.init(); err != nil {
		return err
	}
	if hdr != nil {
		if err := s.recover(recs); err != nil {
			return err
		}
	}
	var err error
	if s.dbf, err = os.Open(s.path); err != nil {
		return err
	}
	switch {
	case useWAL:
		if err := s.checkpoint(); err != nil {
			return err
		}
		s.setLogged(true)
	case hdr != nil:
		// A log left by a platform that uses one: the data file holds
		// everything now.
		if err := s.db.Sync(); err != nil {
			return err
		}
		if err := wal.Remove(walPath(s.path)); err != nil {
			return err
		}
		s.pin.Rollback()
		s.pin = nil
	}
	if err := s.loadHead(); err != nil { // load.go
		return err
	}
	s.boltHead.Store(s.head.Load())
	return nil
}

// recover redoes the log records above the data file's head, all in one
// bbolt transaction (so that the pages of the checkpoint stay untouched
// until the next checkpoint is recorded, should recovery itself crash).
func (s *Store) recover(recs []wal.Record) error {
	var from, to verso.Revision
	err := s.db.Update(func(tx *bbolt.Tx) error {
		head, err := readHead(tx)
		if err != nil {
			return err
		}
		from = head
		for _, r := range recs {
			if r.Last <= head {
				continue // in the data file already
			}
			if r.First != head+1 || r.Last < r.First {
				return fmt.Errorf("log: record of r%d-r%d does not follow r%d: %w", r.First, r.Last, head, errCorrupt)
			}
			if err := redo(tx, r.Writes); err != nil {
				return fmt.Errorf("log: redo r%d-r%d: %w", r.First, r.Last, err)
			}
			head = r.Last
		}
		to = head
		if head == from {
			return errNoChange
		}
		return tx.Bucket(bucketMeta).Put(keyHead, revKey(head))
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	if err != nil {
		return err
	}
	s.log.Info("verso: redid commits from the log", "path", s.path, "from", from+1, "to", to)
	return nil
}

// errNoChange rolls back a bbolt transaction that has nothing to commit.
var errNoChange = errors.New("nothing to commit")

// checkpoint makes the data file durable as it is and starts a new log
// from it: bbolt's file is synced, a read transaction pins its state (so
// that bbolt reuses none of its pages until the next checkpoint), and the
// new log records that state's meta pages. Only the committer calls it,
// between bbolt transactions, and Open.
func (s *Store) checkpoint() error {
	if p := s.noSpace.Load(); p != nil && s.tx != nil && time.Now().Before(s.txRetry) {
		// bbolt could not commit for lack of space a moment ago: each
		// try rebuilds the transaction from the log (redoTx).
		return fmt.Errorf("checkpoint: %w", *p)
	}
	if err := s.commitTx(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	// Group commits leave bbolt's freelist unwritten (see setLogged):
	// the checkpoint's state has it, so that Open never has to rebuild it
	// by reading the whole file.
	logged := s.db.NoFreelistSync
	s.db.NoFreelistSync = false
	err := s.db.Update(func(*bbolt.Tx) error { return nil })
	s.db.NoFreelistSync = logged
	if err != nil {
		return fmt.Errorf("checkpoint: write freelist: %w", err)
	}
	// fsync, not fdatasync: bbolt grew the file without syncing its size.
	if err := s.dbf.Sync(); err != nil {
		err = fmt.Errorf("checkpoint: sync data file: %w", err)
		s.fail(err)
		return err
	}
	pin, err := s.db.Begin(false)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	h := &wal.Header{Version: wal.Version, PageSize: s.pageSize}
	if h.Head, err = readHead(pin); err == nil {
		h.Metas, err = readMetaPages(s.dbf, s.pageSize)
	}
	if err == nil {
		h.PagesCRC, err = checkpointPages(s.dbf, h.Metas, s.pageSize, wal.Version)
	}
	if err == nil {
		var fi os.FileInfo
		if fi, err = s.dbf.Stat(); err == nil {
			h.Inode = fileInode(fi)
		}
	}
	var w *wal.File
	if err == nil {
		w, err = wal.Create(walPath(s.path), h, s.installHook)
	}
	if err != nil {
		err = fmt.Errorf("checkpoint: %w", err)
		if errors.Is(err, wal.ErrUnsure) {
			// Appending to the old log could go to a file no longer
			// in the directory, and writing to bbolt could overwrite
			// pages of whichever checkpoint a crash would restore.
			s.fail(err)
		}
		pin.Rollback()
		return err
	}
	if s.wal != nil {
		w.NoSync = s.wal.NoSync
		s.wal.Close()
	}
	s.wal = w
	if s.pin != nil {
		s.pin.Rollback()
	}
	s.pin = pin
	s.lastCheckpoint = time.Now()
	return nil
}

// setLogged sets how bbolt commits: with the log, it syncs nothing, grows
// the file without syncing it and leaves its freelist unwritten (the
// freelist grows with the pages the pin keeps, and bbolt would write all of
// it every commit); checkpoints write and sync all of it.
func (s *Store) setLogged(on bool) {
	s.db.NoSync, s.db.NoGrowSync, s.db.NoFreelistSync = on, on, on
}

// leaveWAL makes the data file durable as it is, removes the log and
// has bbolt sync every commit from then on. Inside a write transaction
// (inTx), that transaction's commit writes the freelist; otherwise an
// empty one does.
func (s *Store) leaveWAL(inTx bool) error {
	if !inTx {
		if err := s.commitTx(); err != nil {
			return err
		}
	}
	s.db.NoFreelistSync = false
	if !inTx {
		if err := s.db.Update(func(*bbolt.Tx) error { return nil }); err != nil {
			s.db.NoFreelistSync = true
			return fmt.Errorf("write freelist: %w", err)
		}
	}
	if err := s.dbf.Sync(); err != nil {
		s.db.NoFreelistSync = true
		return fmt.Errorf("sync data file: %w", err)
	}
	if err := s.wal.Remove(); err != nil {
		s.db.NoFreelistSync = true
		return err
	}
	s.wal = nil
	if s.pin != nil {
		s.pin.Rollback()
		s.pin = nil
	}
	s.setLogged(false)
	return nil
}

// nearMapEnd says whether a transaction that adds about extra bytes might
// grow the file past half of what bbolt maps: before that, the log is
// left, since bbolt must not remap while the pin is open.
func (s *Store) nearMapEnd(tx *bbolt.Tx, extra int) bool {
	return tx.Size()+4*int64(extra)+64<<20 > s.mapSize/2
}

// init creates the buckets of a new file and checks the buckets and the
// format of an existing one. It writes nothing to an existing file: a
// missing bucket or format there is damage, not something to create, and
// a write would rewrite the pages on its way, damaged ones too.
func (s *Store) init() error {
	fresh := false
	err := s.db.View(func(tx *bbolt.Tx) error {
		if k, _ := tx.Cursor().First(); k == nil {
			fresh = true
			return nil
		}
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("bucket %q is missing: %w", name, errCorrupt)
			}
		}
		if v := tx.Bucket(bucketMeta).Get(keyFormat); len(v) != 8 || decodeRev(v) != formatVersion {
			return fmt.Errorf("data file format %x is not %d: %w", shown(v), formatVersion, errCorrupt)
		}
		return nil
	})
	if err != nil || !fresh {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %q: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyFormat, revKey(formatVersion)); err != nil {
			return fmt.Errorf("put format: %w", err)
		}
		return meta.Put(keyHead, revKey(0))
	})
}

// readHead returns the head revision recorded in tx.
func readHead(tx *bbolt.Tx) (verso.Revision, error) {
	v := tx.Bucket(bucketMeta).Get(keyHead)
	if len(v) != 8 {
		return 0, fmt.Errorf("head revision: %w", errCorrupt)
	}
	return decodeRev(v), nil
}
