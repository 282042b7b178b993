package server

import (
	"net/http"
	"time"

	"github.com/verso-config/verso"
)

// handleBackup answers GET /api/v1/backup: a consistent snapshot of the
// whole store, streamed as it is read, while commits go on. The body is a
// data file of the store's backend (for bolt, a bbolt file that `verso
// restore` puts in place). Only a user who may read everything and write
// the root may take it: a backup holds every key.
//
// A snapshot that fails half-way cuts the connection, so that a client
// never mistakes a truncated body for a complete one.
func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request) error {
	if err := s.authorizeTree(r, verso.Root, Read); err != nil {
		return err
	}
	if err := s.authorize(r, verso.Root, Write); err != nil {
		return err
	}
	b, ok := s.store.(backuper)
	if !ok {
		return errorf(http.StatusNotImplemented, "this store cannot be backed up over HTTP; use the backup tools of its backend")
	}
	ctx := r.Context()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="verso-`+time.Now().UTC().Format("20060102T150405Z")+`.db"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	cw := &countingWriter{w: w}
	if _, err := b.Backup(ctx, cw); err != nil {
		if cw.n == 0 {
			return err
		}
		s.log.Error("backup failed after it started; cutting the connection", "bytes", cw.n, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
