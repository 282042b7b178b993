package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestTxn_TreeRevision checks "tree_revision": a namespace is deleted only
// if nothing at or below it changed after the revision given, so that a
// key someone else added deep below it after the client looked is not
// deleted unseen; the refusal is 412 naming the operation, the path and
// the revision of the change.
func TestTxn_TreeRevision(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "MKCOL", "/config/ns", "")         // r1
	ts.must(t, http.StatusCreated, "MKCOL", "/config/ns/folder", "")  // r2
	ts.must(t, http.StatusCreated, "PUT", "/config/ns/folder/a", "1") // r3
	ts.must(t, http.StatusCreated, "PUT", "/config/ns/other", "1")    // r4
	// A client reads the tree at r4; then someone adds a key deep below.

	ts.must(t, http.StatusCreated, "MKCOL", "/config/ns/folder/deep", "")      // r5
	ts.must(t, http.StatusCreated, "PUT", "/config/ns/folder/deep/newkey", "") // r6
	head := ts.head(t)

	e := ts.failTxn(t, http.StatusPreconditionFailed, `{"ops": [
		{"op": "put", "path": "/ns/other", "value": "2"},
		{"op": "delete", "path": "/ns/folder", "if": {"tree_revision": 4}}]}`)
	if e.Op == nil || *e.Op != 1 || e.Path != "/ns/folder" {
		t.Errorf("412 body = %+v, want op 1, path /ns/folder", e)
	}
	for _, want := range []string{"operation 1 (delete)", "/ns/folder", "precondition failed", "changed in revision 6, after revision 4"} {
		if !strings.Contains(e.Error, want) {
			t.Errorf("412 error %q does not say %q", e.Error, want)
		}
	}
	if got := ts.head(t); got != head {
		t.Errorf("head = %d after a refused transaction, want %d", got, head)
	}
	if v := ts.value(t, "/ns/folder/deep/newkey"); v != "" {
		t.Errorf("/ns/folder/deep/newkey = %q, want it still there, empty", v)
	}
	if v := ts.value(t, "/ns/other"); v != "1" {
		t.Errorf("/ns/other = %q after a refused transaction, want 1", v)
	}

	// A deletion below the folder counts as a change too.
	ts.must(t, http.StatusNoContent, "DELETE", "/config/ns/folder/deep", "") // r7
	ts.failTxn(t, http.StatusPreconditionFailed, `{"ops": [{"op": "delete", "path": "/ns/folder", "if": {"tree_revision": 6}}]}`)
	// A change beside it does not.
	ts.must(t, http.StatusNoContent, "PUT", "/config/ns/other", "3") // r8
	ts.failTxn(t, http.StatusPreconditionFailed, `{"ops": [{"op": "check", "path": "/ns", "if": {"tree_revision": 7}}]}`)

	// Given the revision it was read at (or its TreeRev), the deletion goes through.
	c := ts.mustTxn(t, `{"ops": [{"op": "delete", "path": "/ns/folder", "if": {"tree_revision": 7}}]}`)
	if c.Rev != 9 {
		t.Errorf("delete committed r%d, want r9", c.Rev)
	}
}
