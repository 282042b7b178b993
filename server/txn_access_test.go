package server_test

import (
	"testing"
)

// TestAccess_TxnAndImportTrees proves that transactions and imports need
// the same rights on whole trees as WebDAV: deleting or moving a namespace
// needs write below it, copying one needs read below it.
func TestAccess_TxnAndImportTrees(t *testing.T) {
	ts := newAccessServer(t, nil)
	head := ts.head(t)
	for _, tt := range []struct {
		user, method, path, body string
		want                     int
	}{
		// bob writes /team but only reads /team/locked.
		{"bob", "POST", "/api/v1/txn", `{"ops": [{"op": "delete", "path": "/team"}]}`, 403},
		{"bob", "POST", "/api/v1/txn", `{"ops": [{"op": "move", "from": "/team", "path": "/team2"}]}`, 403},
		// bob may not read /secret, so may not copy it somewhere he reads.
		{"bob", "POST", "/api/v1/txn", `{"ops": [{"op": "copy", "from": "/secret", "path": "/team/s"}]}`, 403},
		// carol only reads /team: a copy into it is refused.
		{"carol", "POST", "/api/v1/txn", `{"ops": [{"op": "copy", "from": "/pub", "path": "/team/p"}]}`, 403},
		// A sync import of /team as bob would delete /team/locked.
		{"bob", "POST", "/config/team?sync=1", `{"k": "v"}`, 403},
		{"", "POST", "/api/v1/txn", `{"ops": [{"op": "put", "path": "/pub/x", "value": "v"}]}`, 401},
		{"bob", "GET", "/api/v1/backup", ``, 403},
		{"", "GET", "/api/v1/backup", ``, 401},
	} {
		got, body, _ := ts.as(t, tt.user, tt.method, tt.path, tt.body, "Content-Type", "application/json")
		if got != tt.want {
			t.Errorf("%s %s %s as %q = %d %q, want %d", tt.method, tt.path, tt.body, tt.user, got, body, tt.want)
		}
	}
	if got := ts.head(t); got != head {
		t.Errorf("head moved from %d to %d on refused requests", head, got)
	}
	// What bob may do still works.
	if got, body, _ := ts.as(t, "bob", "POST", "/api/v1/txn", `{"ops": [{"op": "copy", "from": "/team/k", "path": "/team/k2"}]}`, "Content-Type", "application/json"); got != 200 {
		t.Errorf("bob's copy within /team = %d %q, want 200", got, body)
	}
}
