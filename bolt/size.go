package bolt

import (
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/verso-config/verso"
)

// Size returns the size of the data file in bytes as the newest revision
// sees it (bbolt grows the file in steps, so it is at least the size of
// the data), or 0 once the store is closed. It is what the server reports
// as verso_store_size_bytes.
func (s *Store) Size() int64 {
	if s.queue.Closed() {
		return 0
	}
	var n int64
	s.view(func(tx *bbolt.Tx) error {
		n = tx.Size()
		return nil
	})
	return n
}

// errReadOnly says the data file was opened read-only.
var errReadOnly = errors.New("data file is open read-only")

// Writable returns nil if the store accepts commits: it is open, its
// committer is running, and the file is not open read-only. It is cheap
// (no disk access), for readiness checks.
func (s *Store) Writable() error {
	if s.queue.Closed() {
		return verso.ErrClosed
	}
	select {
	case <-s.done:
		return fmt.Errorf("%s: committer stopped: %w", s.path, verso.ErrClosed)
	default:
	}
	if err := s.failure(); err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	if s.db.IsReadOnly() {
		return fmt.Errorf("%s: %w", s.path, errReadOnly)
	}
	return nil
}
