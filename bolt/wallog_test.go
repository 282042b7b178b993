package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/wal"
)

// loggedStore commits n revisions to a new store at path, each in its own
// log record, and leaves it as a crash would. It returns the offset and
// revisions of each record.
func loggedStore(t *testing.T, path string, n int) (offs []int, recs []wal.Record) {
	t.Helper()
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.walIdle, s.walMaxAge = time.Hour, time.Hour // no checkpoint: every commit stays in the log
	for i := range n {
		mustCommit(t, s, put(fmt.Sprintf("/k%d", i), strings.Repeat("v", 200)))
	}
	crash(t, s)
	b, err := os.ReadFile(walPath(path))
	if err != nil {
		t.Fatal(err)
	}
	_, off, err := wal.DecodeHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	for {
		m := int(binary.BigEndian.Uint32(b[off:]))
		if m == 0 {
			break
		}
		r, end := wal.ParseRecords(b[:off+8+m], off)
		if len(r) != 1 {
			t.Fatalf("log: no record at %d", off)
		}
		offs = append(offs, off)
		recs = append(recs, r[0])
		off = end
	}
	if len(recs) != n || recs[n-1].Last != verso.Revision(n) {
		t.Fatalf("log: %d records ending at r%d, want %d ending at r%d", len(recs), recs[len(recs)-1].Last, n, n)
	}
	return offs, recs
}

// damage flips 16 bytes of the log of the data file at path, at offset off.
func damageLog(t *testing.T, path string, off int) {
	t.Helper()
	f, err := os.OpenFile(walPath(path), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 16)
	if _, err := f.ReadAt(b, int64(off)); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] ^= 0x5a
	}
	if _, err := f.WriteAt(b, int64(off)); err != nil {
		t.Fatal(err)
	}
}

func headOf(t *testing.T, s *Store) verso.Revision {
	t.Helper()
	h, err := s.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestOpen_DamagedLog damages a record in the middle of the log: Open must
// refuse it, naming the log, the record's offset and the acknowledged
// revisions that would be lost, CheckFile must report it, and cutting the
// log at the record (as the error says) opens the store without them.
func TestOpen_DamagedLog(t *testing.T) {
	for _, where := range []string{"payload", "header"} {
		t.Run(where, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "verso.db")
			offs, recs := loggedStore(t, path, 40)
			bad := 20
			at := offs[bad] + 30
			if where == "header" {
				at = offs[bad]
			}
			damageLog(t, path, at)

			s, err := Open(path, nil)
			if err == nil {
				defer s.Close()
				t.Fatalf("Open with a damaged record in the middle of its log = nil error (head r%d), want one", headOf(t, s))
			}
			var le *LogError
			if !errors.As(err, &le) {
				t.Fatalf("Open: %v, want a *LogError", err)
			}
			if le.Offset != int64(offs[bad]) || le.First != recs[bad].First || le.Last != 40 {
				t.Errorf("LogError at %d for r%d-r%d, want at %d for r%d-r40", le.Offset, le.First, le.Last, offs[bad], recs[bad].First)
			}
			for _, want := range []string{walPath(path), fmt.Sprintf("byte %d", offs[bad]), fmt.Sprintf("r%d-r40", recs[bad].First), "backup", "truncate -s"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open error %q does not say %q", err, want)
				}
			}
			if err := CheckFile(path, 0); !errors.As(err, &le) {
				t.Errorf("CheckFile with a damaged log: %v, want a *LogError", err)
			}
			if err := CheckLog(path); !errors.As(err, &le) {
				t.Errorf("CheckLog with a damaged log: %v, want a *LogError", err)
			}

			// What the error proposes: cut the log at the record.
			if err := os.Truncate(walPath(path), le.Offset); err != nil {
				t.Fatal(err)
			}
			if err := CheckLog(path); err != nil {
				t.Errorf("CheckLog after cutting the log: %v", err)
			}
			s, err = Open(path, nil)
			if err != nil {
				t.Fatalf("Open after cutting the log: %v", err)
			}
			defer s.Close()
			if h := headOf(t, s); h != recs[bad].First-1 {
				t.Errorf("head after cutting the log = r%d, want r%d", h, recs[bad].First-1)
			}
			if err := s.Check(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestOpen_TornLog damages or cuts the last record of the log, as a crash
// during its write would: Open drops it alone, with a warning.
func TestOpen_TornLog(t *testing.T) {
	for _, how := range []string{"flipped", "cut", "header"} {
		t.Run(how, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "verso.db")
			offs, _ := loggedStore(t, path, 10)
			last := offs[len(offs)-1]
			switch how {
			case "flipped":
				damageLog(t, path, last+40)
			case "header":
				damageLog(t, path, last)
			case "cut":
				if err := os.Truncate(walPath(path), int64(last+100)); err != nil {
					t.Fatal(err)
				}
			}
			if err := CheckLog(path); err != nil {
				t.Errorf("CheckLog with a torn tail: %v", err)
			}
			var logged bytes.Buffer
			s, err := Open(path, &Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			if err != nil {
				t.Fatalf("Open with a torn last record: %v", err)
			}
			defer s.Close()
			if h := headOf(t, s); h != 9 {
				t.Errorf("head = r%d, want r9 (only the last record dropped)", h)
			}
			if !strings.Contains(logged.String(), "level=WARN") || !strings.Contains(logged.String(), fmt.Sprintf("offset=%d", last)) {
				t.Errorf("log of Open = %q, want a warning naming offset %d", logged.String(), last)
			}
		})
	}
}
