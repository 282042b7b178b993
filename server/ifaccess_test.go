package server_test

import (
	"context"
	"net/http"
	"regexp"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/auth"
)

// TestAccess_IfHeaderHidesUnreadable proves that the If header cannot be
// used to learn anything about a resource the caller may not read: a list
// tagged with such a resource evaluates exactly as one tagged with a path
// that does not exist, whatever its entity tag and its locks, for every
// method that evaluates the header. bob may write /team and read /pub, but
// may not read /secret, where /secret/k exists and alice holds a lock.
func TestAccess_IfHeaderHidesUnreadable(t *testing.T) {
	users, rules := accessFiles(t)
	authOpts := &auth.Options{Users: users, Rules: rules}
	dest := func(p string) []string { return []string{"Destination", "/config" + p} }
	methods := []struct {
		method, path, body string
		header             []string
		ok                 int // the answer when the If header holds
	}{
		{"PUT", "/team/k", "x", nil, http.StatusNoContent},
		{"COPY", "/team/k", "", dest("/team/c"), http.StatusCreated},
		{"MOVE", "/team/k", "", dest("/team/m"), http.StatusCreated},
		{"DELETE", "/team/k", "", nil, http.StatusNoContent},
		{"MKCOL", "/team/ns", "", nil, http.StatusCreated},
		{"PROPPATCH", "/team/k", proppatchBody, nil, http.StatusMultiStatus},
		{"LOCK", "/team/new", lockBody, nil, http.StatusCreated},
	}
	// The resources the If header names: one bob may read that exists, one
	// that does not, and two he may not read, one existing and one not,
	// both under alice's lock on /secret.
	resources := []struct {
		name, path string
		visible    bool // exists and is readable: conditions on it can hold
	}{
		{"readable", "/pub/k", true},
		{"missing", "/pub/none", false},
		{"unreadable", "/secret/k", false},
		{"unreadable missing", "/secret/none", false},
	}
	conditions := []struct {
		name string
		list func(etag, token string) string
		// visible and hidden say whether the list holds for a visible
		// resource, and for one that is missing or unreadable.
		visible, hidden bool
	}{
		{"etag", func(etag, _ string) string { return "([" + etag + "])" }, true, false},
		{"wrong etag", func(string, string) string { return `(["nope"])` }, false, false},
		{"not etag", func(etag, _ string) string { return "(Not [" + etag + "])" }, false, true},
		{"not wrong etag", func(string, string) string { return `(Not ["nope"])` }, true, true},
		{"token", func(_, token string) string { return "(<" + token + ">)" }, true, false},
		{"not token", func(_, token string) string { return "(Not <" + token + ">)" }, false, true},
	}
	tokens := regexp.MustCompile(`urn:uuid:[0-9a-fA-F-]+`)
	for _, m := range methods {
		for _, c := range conditions {
			t.Run(m.method+" "+c.name, func(t *testing.T) {
				type answer struct {
					status int
					body   string
				}
				answers := make(map[string]answer)
				for _, res := range resources {
					ts := newAccessServer(t, authOpts)
					// alice locks /pub/k, and /secret with everything in it.
					tokenOf := make(map[string]string)
					for _, l := range []struct{ path, depth string }{{"/pub/k", "0"}, {"/secret", "infinity"}} {
						got, body, h := ts.as(t, "alice", "LOCK", "/config"+l.path, lockBody, "Depth", l.depth)
						if got != http.StatusOK {
							t.Fatalf("alice's LOCK %s = %d %q", l.path, got, body)
						}
						tok := h.Get("Lock-Token")
						tokenOf[l.path] = tok[1 : len(tok)-1]
					}
					// The right entity tag and token are those of the
					// resource, or of /secret/k for one that does not exist.
					etag, token := ts.etag(t, "/secret/k"), tokenOf["/secret"]
					if res.visible {
						etag, token = ts.etag(t, res.path), tokenOf[res.path]
					}
					ifh := "<" + ts.URL + "/config" + res.path + "> " + c.list(etag, token)
					before := ts.head(t)
					header := append([]string{"If", ifh}, m.header...)
					got, body, _ := ts.as(t, "bob", m.method, "/config"+m.path, m.body, header...)
					want := http.StatusPreconditionFailed
					if res.visible && c.visible || !res.visible && c.hidden {
						want = m.ok
					}
					if got != want {
						t.Errorf("%s with If: %s = %d %q, want %d", m.method, ifh, got, body, want)
					}
					if got == http.StatusPreconditionFailed && ts.head(t) != before {
						t.Errorf("%s with If: %s failed but changed the store", m.method, ifh)
					}
					answers[res.name] = answer{got, tokens.ReplaceAllString(body, "urn:uuid:T")}
				}
				for _, name := range []string{"unreadable", "unreadable missing"} {
					if answers[name] != answers["missing"] {
						t.Errorf("the answer for an %s resource differs from that for a missing one:\n%s: %d %q\nmissing: %d %q",
							name, name, answers[name].status, answers[name].body, answers["missing"].status, answers["missing"].body)
					}
				}
			})
		}
	}
}

// etag returns the current entity tag of p, read from the store.
func (ts *testServer) etag(t *testing.T, p string) string {
	t.Helper()
	e, err := ts.store.Get(context.Background(), verso.MustPath(p), verso.Head)
	if err != nil {
		t.Fatalf("Get(%s): %v", p, err)
	}
	return e.ETag()
}
