package server_test

import (
	"net/http"
	"testing"

	"github.com/verso-config/verso/server"
)

// TestServer_ConsistentRead checks that ?consistent and the
// X-Verso-Consistent header read the key at head; a store without a
// ConsistentReader (bolt) answers with its plain Get. The cluster store's
// own tests read across servers through them.
func TestServer_ConsistentRead(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "PUT", "/config/k", "v1")
	ts.must(t, http.StatusNoContent, "PUT", "/config/k", "v2")
	for _, c := range []struct {
		path   string
		header []string
	}{
		{"/config/k?consistent", nil},
		{"/config/k?consistent=1", nil},
		{"/config/k", []string{server.HeaderConsistent, "1"}},
	} {
		body, h := ts.must(t, http.StatusOK, "GET", c.path, "", c.header...)
		if body != "v2" || h.Get("ETag") != `"2"` {
			t.Errorf("GET %s %v = %q, ETag %s; want %q, ETag \"2\"", c.path, c.header, body, h.Get("ETag"), "v2")
		}
	}
	ts.must(t, http.StatusNotFound, "GET", "/config/missing?consistent", "")
	// A revision wins over ?consistent: history is the same everywhere.
	if body, _ := ts.must(t, http.StatusOK, "GET", "/config/k?rev=1&consistent", ""); body != "v1" {
		t.Errorf("GET /config/k?rev=1&consistent = %q, want %q", body, "v1")
	}
}
