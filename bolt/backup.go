package bolt

import (
	"context"
	"fmt"
	"io"

	bbolt "go.etcd.io/bbolt"
)

// Backup writes a consistent snapshot of the whole data file to w, as of
// the newest durable revision, and returns the number of bytes written.
// Commits go on while it runs; the snapshot is a complete bbolt file,
// usable as a data file as it is (see CheckFile and `verso restore`).
//
// It reads the file in one bbolt read transaction that stays open until
// w has taken everything: a commit that must grow the file waits for it,
// so w should not be slower than it has to be. If ctx ends, Backup stops
// at the next write and returns the context's error.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return 0, err
	}
	var n int64
	err := s.view(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("back up %s: %w", s.path, err)
	}
	return n, nil
}

// ctxWriter is a Writer that fails once its context is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
