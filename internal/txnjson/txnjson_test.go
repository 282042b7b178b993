package txnjson

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

func TestDecode(t *testing.T) {
	body := `{"base": 3, "ops": [
		{"op": "put", "path": "/ns/a", "value": "{}"},
		{"op": "put", "path": "ns/b/", "value_base64": "aGk=", "content_type": "text/x", "if": {"etag": "\"7\""}},
		{"op": "copy", "from": "/ns/a", "path": "/ns/c", "depth": "0", "overwrite": true},
		{"op": "move", "from": "/ns/x", "path": "/ns/y"},
		{"op": "check", "path": "/ns", "if": {"tree_revision": 2}},
		{"op": "delete", "path": "/ns/z", "if": {"exists": true}}]}`
	var asked []int
	got, err := Decode(strings.NewReader(body), Options{MaxValue: 16, MaxMessage: 10,
		Authorize: func(i int, op verso.Op) error { asked = append(asked, i); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	want := &verso.Txn{Base: 3, Message: "TXN 6 operations", Ops: []verso.Op{
		{Kind: verso.OpPut, Path: "/ns/a", Value: []byte("{}"), ContentType: "text/plain; charset=utf-8"},
		{Kind: verso.OpPut, Path: "/ns/b", Value: []byte("hi"), ContentType: "text/x", If: verso.Cond{ModRev: 7}},
		{Kind: verso.OpCopy, From: "/ns/a", Path: "/ns/c", Depth: 0, Overwrite: true},
		{Kind: verso.OpMove, From: "/ns/x", Path: "/ns/y", Depth: verso.Infinite},
		{Kind: verso.OpCheck, Path: "/ns", If: verso.Cond{TreeRev: 2}},
		{Kind: verso.OpDelete, Path: "/ns/z", If: verso.Cond{Exists: true}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{0, 1, 2, 3, 4, 5}, asked); diff != "" {
		t.Errorf("Authorize asked about (-want +got):\n%s", diff)
	}
}

// TestDecode_Errors checks which errors refuse the body as a whole (and
// with which status) and which name an operation.
func TestDecode_Errors(t *testing.T) {
	var many strings.Builder
	many.WriteString(`{"ops": [`)
	for i := range MaxOps { // and /b: one too many
		fmt.Fprintf(&many, `{"op": "delete", "path": "/k%d"},`, i)
	}
	many.WriteString(`{"op": "delete", "path": "/b"}]}`)
	for _, tt := range []struct {
		name, body string
		status     int // of a *BodyError; 0: an operation's error
		op         int
		is         error
	}{
		{"not an object", `[]`, http.StatusBadRequest, 0, nil},
		{"cut short", `{"ops": [`, http.StatusBadRequest, 0, nil},
		{"message too long", `{"message": "12345678901", "ops": [{"op": "delete", "path": "/a"}]}`, http.StatusBadRequest, 0, nil},
		{"too many ops", many.String(), http.StatusRequestEntityTooLarge, 0, nil},
		{"no ops", `{"ops": []}`, http.StatusBadRequest, 0, nil},
		{"value too large", `{"ops": [{"op": "delete", "path": "/a"}, {"op": "put", "path": "/b", "value": "12345678901234567"}]}`, 0, 1, verso.ErrTooLarge},
		{"duplicate path", `{"ops": [{"op": "delete", "path": "/a"}, {"op": "delete", "path": "/a"}]}`, 0, 1, verso.ErrInvalidOp},
		{"malformed op", `{"ops": [{"op": "delete", "path": "/a"}, {"op": "delete", "path": }]}`, 0, 1, verso.ErrInvalidOp},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.body), Options{MaxValue: 16, MaxMessage: 10})
			var be *BodyError
			var oe *verso.OpError
			switch {
			case tt.status != 0 && (!errors.As(err, &be) || be.Status != tt.status):
				t.Errorf("Decode = %v, want a BodyError with status %d", err, tt.status)
			case tt.status == 0 && (!errors.As(err, &oe) || oe.Index != tt.op || !errors.Is(err, tt.is)):
				t.Errorf("Decode = %v, want operation %d's error, wrapping %v", err, tt.op, tt.is)
			}
		})
	}
	refused := errors.New("may not")
	var asked []int
	_, err := Decode(strings.NewReader(`{"ops": [{"op": "delete", "path": "/a"}, {"op": "delete", "path": "/b"}, {"op": "bad"}]}`),
		Options{MaxValue: 16, MaxMessage: 10, Authorize: func(i int, op verso.Op) error {
			asked = append(asked, i)
			if op.Path == "/b" {
				return refused
			}
			return nil
		}})
	if err != refused || !cmp.Equal(asked, []int{0, 1}) {
		t.Errorf("Decode with operation 1 refused = %v after asking about %v, want its refusal after 0 and 1", err, asked)
	}
}
