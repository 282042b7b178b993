package storetest

import (
	"testing"

	"github.com/verso-config/verso"
)

// testEntries checks the metadata of entries as commits change them:
// Version, CreateRev, ModRev, TreeRev, ModBy, ModTime, properties.
func testEntries(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	props := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	ns := func(path string, create, mod, tree verso.Revision, version int64, by string, pr map[string]string) *verso.Entry {
		return &verso.Entry{Path: p(path), Kind: verso.KindNamespace, CreateRev: create, ModRev: mod, TreeRev: tree, Version: version, ModBy: by, Props: pr}
	}
	key := func(path, value, ct string, create, mod verso.Revision, version int64, by string, pr map[string]string) *verso.Entry {
		return &verso.Entry{Path: p(path), Kind: verso.KindKey, Value: []byte(value), ContentType: ct, CreateRev: create, ModRev: mod, TreeRev: mod, Version: version, ModBy: by, Props: pr}
	}
	put := func(path, value, ct string) verso.Op {
		return verso.Op{Kind: verso.OpPut, Path: p(path), Value: []byte(value), ContentType: ct}
	}
	as := func(author string, ops ...verso.Op) *verso.Txn {
		return &verso.Txn{Author: author, Message: "entries", Ops: ops}
	}

	steps := []struct {
		name string
		tx   *verso.Txn
		want []*verso.Entry // entries after the step; paths not listed are not checked
		gone []string       // paths that must not exist after the step
	}{
		{"Create", as("alice", opMkcol("/ns"), put("/ns/k", "v1", "text/plain")), []*verso.Entry{
			ns("/", 0, 0, 1, 0, "", nil),
			ns("/ns", 1, 1, 1, 1, "alice", nil),
			key("/ns/k", "v1", "text/plain", 1, 1, 1, "alice", nil),
		}, nil},
		{"PropsOnKey", as("bob", opProps("/ns/k", setProp("{urn:x}a", "1"))), []*verso.Entry{
			ns("/", 0, 0, 2, 0, "", nil),
			ns("/ns", 1, 1, 2, 1, "alice", nil),
			key("/ns/k", "v1", "text/plain", 1, 2, 2, "bob", props("{urn:x}a", "1")),
		}, nil},
		{"PutKeepsProps", as("carol", put("/ns/k", `{"v":2}`, "application/json")), []*verso.Entry{
			ns("/ns", 1, 1, 3, 1, "alice", nil),
			key("/ns/k", `{"v":2}`, "application/json", 1, 3, 3, "carol", props("{urn:x}a", "1")),
		}, nil},
		{"PutSameBytes", as("", put("/ns/k", `{"v":2}`, "application/json")), []*verso.Entry{
			key("/ns/k", `{"v":2}`, "application/json", 1, 4, 4, "", props("{urn:x}a", "1")),
		}, nil},
		{"PropsOnNamespace", as("dave", opProps("/ns", setProp("{urn:x}n", "ns"), removeProp("{urn:x}absent"))), []*verso.Entry{
			ns("/", 0, 0, 5, 0, "", nil),
			ns("/ns", 1, 5, 5, 2, "dave", props("{urn:x}n", "ns")),
			key("/ns/k", `{"v":2}`, "application/json", 1, 4, 4, "", props("{urn:x}a", "1")),
		}, nil},
		{"PropsInOrder", as("erin", opProps("/ns/k", removeProp("{urn:x}a"), setProp("{urn:x}b", "1"), setProp("{urn:x}b", "<x:y>2</x:y>"))), []*verso.Entry{
			key("/ns/k", `{"v":2}`, "application/json", 1, 6, 5, "erin", props("{urn:x}b", "<x:y>2</x:y>")),
		}, nil},
		{"DeepChangeMovesTreeRevOnly", as("frank", opMkcol("/ns/sub"), put("/ns/sub/deep", "d", "text/plain")), []*verso.Entry{
			ns("/", 0, 0, 7, 0, "", nil),
			ns("/ns", 1, 5, 7, 2, "dave", props("{urn:x}n", "ns")),
			ns("/ns/sub", 7, 7, 7, 1, "frank", nil),
			key("/ns/sub/deep", "d", "text/plain", 7, 7, 1, "frank", nil),
		}, nil},
		{"ChangeBelowSub", as("gina", put("/ns/sub/deep", "d2", "text/plain")), []*verso.Entry{
			ns("/", 0, 0, 8, 0, "", nil),
			ns("/ns", 1, 5, 8, 2, "dave", props("{urn:x}n", "ns")),
			ns("/ns/sub", 7, 7, 8, 1, "frank", nil),
			key("/ns/k", `{"v":2}`, "application/json", 1, 6, 5, "erin", props("{urn:x}b", "<x:y>2</x:y>")),
		}, nil},
		{"CopyIsNewWithProps", as("hank", opCopy("/ns", "/cp")), []*verso.Entry{
			ns("/cp", 9, 9, 9, 1, "hank", props("{urn:x}n", "ns")),
			key("/cp/k", `{"v":2}`, "application/json", 9, 9, 1, "hank", props("{urn:x}b", "<x:y>2</x:y>")),
			ns("/cp/sub", 9, 9, 9, 1, "hank", nil),
			key("/cp/sub/deep", "d2", "text/plain", 9, 9, 1, "hank", nil),
			ns("/ns", 1, 5, 8, 2, "dave", props("{urn:x}n", "ns")),
		}, nil},
		{"CopyDepth0", as("ivy", verso.Op{Kind: verso.OpCopy, From: p("/ns"), Path: p("/shallow"), Depth: 0}), []*verso.Entry{
			ns("/shallow", 10, 10, 10, 1, "ivy", props("{urn:x}n", "ns")),
		}, []string{"/shallow/k", "/shallow/sub"}},
		{"CopyOverwriteReplaces", as("jack", overwrite(opCopy("/ns/k", "/cp/sub"))), []*verso.Entry{
			ns("/cp", 9, 9, 11, 1, "hank", props("{urn:x}n", "ns")),
			key("/cp/sub", `{"v":2}`, "application/json", 11, 11, 1, "jack", props("{urn:x}b", "<x:y>2</x:y>")),
		}, []string{"/cp/sub/deep"}},
		{"MoveIsNewAtDestination", as("kate", opMove("/cp/k", "/shallow/k")), []*verso.Entry{
			ns("/cp", 9, 9, 12, 1, "hank", props("{urn:x}n", "ns")),
			ns("/shallow", 10, 10, 12, 1, "ivy", props("{urn:x}n", "ns")),
			key("/shallow/k", `{"v":2}`, "application/json", 12, 12, 1, "kate", props("{urn:x}b", "<x:y>2</x:y>")),
		}, []string{"/cp/k"}},
		{"MoveOverwriteReplaces", as("liam", overwrite(opMove("/ns/sub", "/shallow/k"))), []*verso.Entry{
			ns("/shallow/k", 13, 13, 13, 1, "liam", nil),
			key("/shallow/k/deep", "d2", "text/plain", 13, 13, 1, "liam", nil),
			ns("/ns", 1, 5, 13, 2, "dave", props("{urn:x}n", "ns")),
		}, []string{"/ns/sub", "/ns/sub/deep"}},
		{"PropsOnRoot", as("mia", opProps("/", setProp("{urn:x}r", "1"))), []*verso.Entry{
			ns("/", 0, 14, 14, 0, "mia", props("{urn:x}r", "1")),
		}, nil},
		{"DeleteMovesTreeRev", as("noah", opDelete("/shallow/k/deep")), []*verso.Entry{
			ns("/", 0, 14, 15, 0, "mia", props("{urn:x}r", "1")),
			ns("/shallow", 10, 10, 15, 1, "ivy", props("{urn:x}n", "ns")),
			ns("/shallow/k", 13, 13, 15, 1, "liam", nil),
		}, []string{"/shallow/k/deep"}},
		{"SeveralChangesOneVersion", as("olga",
			put("/ns/k", "a", "text/plain"), opProps("/ns/k", setProp("{urn:x}c", "1")), put("/ns/k", "b", "text/plain"),
			put("/ns/new", "1", "text/plain"), opProps("/ns/new", setProp("{urn:x}c", "1")), put("/ns/new", "2", "text/plain"),
		), []*verso.Entry{
			ns("/ns", 1, 5, 16, 2, "dave", props("{urn:x}n", "ns")),
			key("/ns/k", "b", "text/plain", 1, 16, 6, "olga", props("{urn:x}b", "<x:y>2</x:y>", "{urn:x}c", "1")),
			key("/ns/new", "2", "text/plain", 16, 16, 1, "olga", props("{urn:x}c", "1")),
		}, nil},
		{"DeleteAndRecreateIsNew", as("pia", opDelete("/ns/k"), put("/ns/k", "c", "text/plain")), []*verso.Entry{
			key("/ns/k", "c", "text/plain", 17, 17, 1, "pia", nil),
		}, nil},
	}
	for i, st := range steps {
		rev := verso.Revision(i + 1)
		t.Run(st.name, func(t *testing.T) {
			c := mustCommit(t, s, st.tx)
			if c.Rev != rev {
				t.Fatalf("Commit(%s) = r%d, want r%d", describe(st.tx), c.Rev, rev)
			}
			for _, want := range st.want {
				for _, r := range []verso.Revision{verso.Head, rev} {
					got, err := s.Get(t.Context(), want.Path, r)
					if err != nil {
						t.Errorf("Get(%q, %s) after %s error: %v", want.Path, revString(r), describe(st.tx), err)
						continue
					}
					if diff := diffEntry(want, got); diff != "" {
						t.Errorf("Get(%q, %s) after %s mismatch (-want +got):\n%s", want.Path, revString(r), describe(st.tx), diff)
					}
					checkModTime(t, s, got)
				}
			}
			for _, path := range st.gone {
				wantNotFound(t, s, path, verso.Head)
			}
		})
		if t.Failed() {
			return
		}
	}
}
