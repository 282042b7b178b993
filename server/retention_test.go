package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/verso-config/verso"
)

// TestRetention checks what clients see of pruned history: 410 for a
// read, a revision or a log below the start, and the start in the log.
func TestRetention(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, 201, "PUT", "/config/k", "v1") // r1
	ts.must(t, 204, "PUT", "/config/k", "v2") // r2
	ts.must(t, 204, "PUT", "/config/k", "v3") // r3

	var log struct {
		HistoryStart *verso.Revision `json:"history_start"`
		Commits      []verso.Commit  `json:"commits"`
	}
	ts.getJSON(t, 200, "/api/v1/log?path=/k", &log)
	if log.HistoryStart == nil || *log.HistoryStart != 0 {
		t.Errorf("GET /api/v1/log before pruning: history_start = %v, want 0", log.HistoryStart)
	}

	pr, ok := ts.store.(verso.Pruner)
	if !ok {
		t.Skipf("%T does not implement verso.Pruner", ts.store)
	}
	ctx := context.Background()
	// Every revision is a day older than KeepFor: history starts at r3.
	if _, err := pr.Prune(ctx, verso.Retention{KeepFor: time.Hour}, time.Now().Add(25*time.Hour)); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if body, _ := ts.must(t, 200, "GET", "/config/k?rev=3", ""); body != "v3" {
		t.Errorf("GET /config/k?rev=3 = %q, want v3", body)
	}
	ts.must(t, 200, "GET", "/config/k", "")
	ts.must(t, 410, "GET", "/config/k?rev=2", "")
	ts.must(t, 410, "GET", "/config/?rev=1", "")
	ts.must(t, 410, "GET", "/api/v1/revisions/1", "")
	ts.must(t, 410, "GET", "/api/v1/log?path=/k&before=2", "")

	log.HistoryStart = nil
	ts.getJSON(t, 200, "/api/v1/log?path=/k", &log)
	if log.HistoryStart == nil || *log.HistoryStart != 3 {
		t.Errorf("GET /api/v1/log after pruning: history_start = %v, want 3", log.HistoryStart)
	}
	if len(log.Commits) != 1 || log.Commits[0].Rev != 3 {
		t.Errorf("GET /api/v1/log after pruning: commits %+v, want r3 only", log.Commits)
	}
	ts.must(t, 204, "PUT", "/config/k", "v4") // commits go on
}
