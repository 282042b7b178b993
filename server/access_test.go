package server_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/auth"
	"github.com/verso-config/verso/server"
)

// passwords of the users of accessUsers: alice's entry is bcrypt, bob's
// SHA1 and carol's apr1 (`openssl passwd -apr1 -salt verso123 carol-pw`).
var passwords = map[string]string{"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}

// accessRules: anyone reads, alice (admins) writes everywhere, bob writes
// /team except /team/locked, carol only reads /team, and /secret is
// alice's alone.
const accessRules = `[groups]
admins = alice

[/]
* = r
@admins = rw

[/team]
bob = rw
carol = r

[/team/locked]
bob = r

[/secret]
* =
@admins = rw
`

// accessFiles writes the users and rules files and returns their paths.
func accessFiles(t *testing.T) (users, rules string) {
	t.Helper()
	dir := t.TempDir()
	h, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte("bob-pw"))
	text := "alice:" + string(h) + "\nbob:{SHA}" + base64.StdEncoding.EncodeToString(sum[:]) +
		"\ncarol:$apr1$verso123$zUAGzevFU78/Ezrvgtnnh.\n"
	users, rules = filepath.Join(dir, "users"), filepath.Join(dir, "authz")
	if err := os.WriteFile(users, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rules, []byte(accessRules), 0o600); err != nil {
		t.Fatal(err)
	}
	return users, rules
}

// newAccessServer starts a server with the access files and a seeded tree:
// r1 makes everything, r2 changes only /secret/k, r3 only /pub/k.
func newAccessServer(t *testing.T, opts *auth.Options) *testServer {
	t.Helper()
	if opts == nil {
		users, rules := accessFiles(t)
		opts = &auth.Options{Users: users, Rules: rules}
	}
	a, err := auth.New(opts)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	ts := newTestServer(t, &server.Options{Auth: a})
	var ops []verso.Op
	for _, ns := range []string{"/pub", "/team", "/team/locked", "/secret", "/secret/sub"} {
		ops = append(ops, verso.Op{Kind: verso.OpMkcol, Path: verso.MustPath(ns)})
	}
	for _, k := range []string{"/pub/k", "/team/k", "/team/locked/k", "/secret/k", "/secret/sub/k"} {
		ops = append(ops, verso.Op{Kind: verso.OpPut, Path: verso.MustPath(k), Value: []byte("v1 " + k + "\n")})
	}
	seed := []*verso.Txn{
		{Author: "seed", Message: "seed", Ops: ops},
		{Author: "seed", Message: "PUT /secret/k", Ops: []verso.Op{{Kind: verso.OpPut, Path: "/secret/k", Value: []byte("v2\n")}}},
		{Author: "seed", Message: "PUT /pub/k", Ops: []verso.Op{{Kind: verso.OpPut, Path: "/pub/k", Value: []byte("v3\n")}}},
	}
	for _, txn := range seed {
		if _, err := ts.store.Commit(context.Background(), txn); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	return ts
}

// as sends a request as user ("" for anonymous) with the user's password.
func (ts *testServer) as(t *testing.T, user, method, path, body string, header ...string) (int, string, http.Header) {
	t.Helper()
	return ts.send(t, user, method, path, strings.NewReader(body), header...)
}

const lockBody = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`
const proppatchBody = `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:V="urn:verso"><D:set><D:prop><V:owner>x</V:owner></D:prop></D:set></D:propertyupdate>`

// TestAccess_Matrix proves each allowed and each denied case of the rules
// on every method of the tree, for each user, on a fresh server each.
func TestAccess_Matrix(t *testing.T) {
	users, rules := accessFiles(t)
	opts := &auth.Options{Users: users, Rules: rules}
	dest := func(p string) []string { return []string{"Destination", "/config" + p} }
	tests := []struct {
		user, method, path, body string
		header                   []string
		want                     int
	}{
		// Reads.
		{"", "GET", "/pub/k", "", nil, 200},
		{"", "HEAD", "/pub/k", "", nil, 200},
		{"", "GET", "/secret/k", "", nil, 401},
		{"", "HEAD", "/secret/k", "", nil, 401},
		{"", "GET", "/secret/nokey", "", nil, 401}, // existence is not told
		{"bob", "GET", "/secret/k", "", nil, 403},
		{"bob", "HEAD", "/secret/sub/k", "", nil, 403},
		{"carol", "GET", "/team/k", "", nil, 200},
		{"alice", "GET", "/secret/sub/k", "", nil, 200},
		{"", "GET", "/pub/k?rev=1", "", nil, 200},
		{"", "GET", "/secret/k?rev=1", "", nil, 401},
		{"bob", "GET", "/secret/k?rev=1", "", nil, 403},
		{"alice", "GET", "/secret/k?rev=1", "", nil, 200},
		{"", "GET", "/", "", nil, 200},
		{"", "OPTIONS", "/pub/k", "", nil, 200},
		{"", "PROPFIND", "/pub", "", []string{"Depth", "0"}, 207},
		{"", "PROPFIND", "/secret", "", []string{"Depth", "0"}, 401},
		{"carol", "PROPFIND", "/secret/sub", "", []string{"Depth", "1"}, 403},
		{"alice", "PROPFIND", "/secret", "", []string{"Depth", "infinity"}, 207},
		// PUT.
		{"", "PUT", "/pub/k", "x", nil, 401},
		{"", "PUT", "/pub/new", "x", nil, 401},
		{"bob", "PUT", "/team/k", "x", nil, 204},
		{"bob", "PUT", "/team/new", "x", nil, 201},
		{"bob", "PUT", "/pub/k", "x", nil, 403},
		{"bob", "PUT", "/team/locked/k", "x", nil, 403},
		{"bob", "PUT", "/secret/new", "x", nil, 403},
		{"carol", "PUT", "/team/k", "x", nil, 403},
		{"alice", "PUT", "/secret/k", "x", nil, 204},
		// DELETE: a namespace needs write on everything below it.
		{"", "DELETE", "/team/k", "", nil, 401},
		{"carol", "DELETE", "/team/k", "", nil, 403},
		{"bob", "DELETE", "/team/k", "", nil, 204},
		{"bob", "DELETE", "/team", "", nil, 403},
		{"bob", "DELETE", "/team/locked", "", nil, 403},
		{"alice", "DELETE", "/team", "", nil, 204},
		{"alice", "DELETE", "/secret", "", nil, 204},
		// MKCOL.
		{"", "MKCOL", "/pub/ns", "", nil, 401},
		{"carol", "MKCOL", "/team/ns", "", nil, 403},
		{"bob", "MKCOL", "/team/ns", "", nil, 201},
		{"bob", "MKCOL", "/ns", "", nil, 403},
		// PROPPATCH.
		{"", "PROPPATCH", "/team/k", proppatchBody, nil, 401},
		{"carol", "PROPPATCH", "/team/k", proppatchBody, nil, 403},
		{"bob", "PROPPATCH", "/team/k", proppatchBody, nil, 207},
		{"bob", "PROPPATCH", "/secret/k", proppatchBody, nil, 403},
		// LOCK and UNLOCK.
		{"", "LOCK", "/team/k", lockBody, nil, 401},
		{"carol", "LOCK", "/team/k", lockBody, nil, 403},
		{"bob", "LOCK", "/team/k", lockBody, nil, 200},
		{"bob", "LOCK", "/team/lockme", lockBody, nil, 201},
		{"bob", "LOCK", "/team", lockBody, []string{"Depth", "0"}, 200},
		{"bob", "LOCK", "/team", lockBody, []string{"Depth", "infinity"}, 403},
		{"", "UNLOCK", "/team/k", "", []string{"Lock-Token", "<urn:uuid:x>"}, 401},
		{"carol", "UNLOCK", "/team/k", "", []string{"Lock-Token", "<urn:uuid:x>"}, 403},
		// COPY: the source readable (all of it), the destination writable.
		{"", "COPY", "/pub/k", "", dest("/team/c"), 401},
		{"bob", "COPY", "/pub/k", "", dest("/team/c"), 201},
		{"bob", "COPY", "/pub/k", "", dest("/pub/c"), 403},
		{"bob", "COPY", "/secret/k", "", dest("/team/c"), 403},
		{"carol", "COPY", "/team/k", "", dest("/pub/c"), 403},
		{"carol", "COPY", "/pub/k", "", dest("/secret/c"), 403},
		{"alice", "COPY", "/secret", "", dest("/pub/s"), 201},
		{"bob", "COPY", "/team/k", "", dest("/team/locked/k"), 403}, // overwrite
		// MOVE: the source writable too.
		{"", "MOVE", "/team/k", "", dest("/team/m"), 401},
		{"bob", "MOVE", "/team/k", "", dest("/team/m"), 201},
		{"carol", "MOVE", "/team/k", "", dest("/team/m"), 403},
		{"bob", "MOVE", "/pub/k", "", dest("/team/m"), 403},
		{"bob", "MOVE", "/team/locked/k", "", dest("/team/m"), 403},
		{"bob", "MOVE", "/team/k", "", dest("/secret/m"), 403},
		{"alice", "MOVE", "/team", "", dest("/pub/team"), 201},
	}
	for _, tt := range tests {
		name := tt.user
		if name == "" {
			name = "anonymous"
		}
		t.Run(name+" "+tt.method+" "+tt.path, func(t *testing.T) {
			ts := newAccessServer(t, opts)
			before := ts.head(t)
			got, body, h := ts.as(t, tt.user, tt.method, "/config"+tt.path, tt.body, tt.header...)
			if got != tt.want {
				t.Fatalf("%s %s as %q = %d %q, want %d", tt.method, tt.path, tt.user, got, body, tt.want)
			}
			challenge := h.Get("WWW-Authenticate")
			if (got == 401) != (challenge == `Basic realm="verso", charset="UTF-8"`) {
				t.Errorf("%d with WWW-Authenticate %q; want the Basic challenge on 401 only", got, challenge)
			}
			if got >= 400 && ts.head(t) != before {
				t.Errorf("refused %s changed the store: head %d, want %d", tt.method, ts.head(t), before)
			}
			if got == 207 && tt.method == "PROPPATCH" && !strings.Contains(body, "200") {
				t.Errorf("PROPPATCH = %q, want the property set", body)
			}
		})
	}
}

func TestAccess_Defaults(t *testing.T) {
	users, _ := accessFiles(t)
	ts := newAccessServer(t, &auth.Options{Users: users})
	// With users and no rules: anyone reads, every write needs a user.
	if got, body, _ := ts.as(t, "", "GET", "/config/secret/k", ""); got != 200 {
		t.Errorf("anonymous GET = %d %q, want 200", got, body)
	}
	if got, _, h := ts.as(t, "", "PUT", "/config/pub/k", "x"); got != 401 || h.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous PUT = %d (challenge %q), want 401 with a challenge", got, h.Get("WWW-Authenticate"))
	}
	if got, body, _ := ts.as(t, "carol", "PUT", "/config/pub/k", "x"); got != 204 {
		t.Errorf("carol's PUT = %d %q, want 204", got, body)
	}
	// Wrong credentials are 401 even where anyone may read.
	if got, _, _ := ts.do(t, "GET", "/config/pub/k", nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("bob:wrong"))); got != 401 {
		t.Errorf("GET with a wrong password = %d, want 401", got)
	}
	// Health endpoints need no user.
	ts.must(t, 200, "GET", "/healthz", "")
}

func TestAccess_Author(t *testing.T) {
	ts := newAccessServer(t, nil)
	_, _, h := ts.as(t, "bob", "PUT", "/config/team/k", "x")
	rev, _ := strconv.Atoi(h.Get(server.HeaderRevision))
	c, err := ts.store.Revision(context.Background(), verso.Revision(rev))
	if err != nil {
		t.Fatalf("Revision(%d): %v", rev, err)
	}
	if c.Author != "bob" {
		t.Errorf("author of bob's PUT = %q, want bob", c.Author)
	}
	got, body, _ := ts.as(t, "alice", "POST", "/api/v1/revert", `{"undo": `+strconv.Itoa(rev)+`}`)
	if got != 200 {
		t.Fatalf("alice's undo = %d %q, want 200", got, body)
	}
	var out struct{ Commit verso.Commit }
	json.Unmarshal([]byte(body), &out)
	if out.Commit.Author != "alice" {
		t.Errorf("author of alice's revert = %q, want alice", out.Commit.Author)
	}
}

// hrefs returns the hrefs of a multistatus body.
func hrefs(body string) []string {
	var out []string
	for _, part := range strings.Split(body, "<D:href>")[1:] {
		out = append(out, part[:strings.Index(part, "</D:href>")])
	}
	return out
}

func TestAccess_PropfindHides(t *testing.T) {
	ts := newAccessServer(t, nil)
	for _, depth := range []string{"1", "infinity"} {
		for _, user := range []string{"", "bob", "alice"} {
			got, body, _ := ts.as(t, user, "PROPFIND", "/config/", "", "Depth", depth)
			if got != 207 {
				t.Fatalf("PROPFIND / Depth %s as %q = %d, want 207", depth, user, got)
			}
			hs := hrefs(body)
			secret := slices.ContainsFunc(hs, func(h string) bool { return strings.Contains(h, "secret") })
			if secret != (user == "alice") {
				t.Errorf("PROPFIND / Depth %s as %q: hrefs %q; /secret shown %t, want %t", depth, user, hs, secret, user == "alice")
			}
			if !slices.Contains(hs, "/config/pub/") || !slices.Contains(hs, "/config/team/") {
				t.Errorf("PROPFIND / Depth %s as %q: hrefs %q, want /config/pub/ and /config/team/", depth, user, hs)
			}
			if depth == "infinity" && !slices.Contains(hs, "/config/team/locked/k") {
				t.Errorf("PROPFIND / Depth infinity as %q: hrefs %q, want /config/team/locked/k", user, hs)
			}
		}
	}
	// Listings too, in every format.
	for _, accept := range []string{"", "application/json", "text/html"} {
		_, body, _ := ts.as(t, "bob", "GET", "/config/", "", "Accept", accept)
		if strings.Contains(body, "secret") || !strings.Contains(body, "team") {
			t.Errorf("GET / (Accept %q) as bob = %q, want team and no secret", accept, body)
		}
		_, body, _ = ts.as(t, "alice", "GET", "/config/?rev=1", "", "Accept", accept)
		if !strings.Contains(body, "secret") {
			t.Errorf("GET /?rev=1 (Accept %q) as alice = %q, want secret", accept, body)
		}
	}
}

type logAnswer struct {
	Commits []verso.Commit `json:"commits"`
	Next    *int           `json:"next"`
}

func TestAccess_LogHides(t *testing.T) {
	ts := newAccessServer(t, nil)
	get := func(user, query string) logAnswer {
		t.Helper()
		got, body, _ := ts.as(t, user, "GET", "/api/v1/log"+query, "")
		if got != 200 {
			t.Fatalf("log%s as %q = %d %q", query, user, got, body)
		}
		var out logAnswer
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	revs := func(l logAnswer) []verso.Revision {
		var out []verso.Revision
		for _, c := range l.Commits {
			out = append(out, c.Rev)
		}
		return out
	}
	if got := revs(get("alice", "")); !slices.Equal(got, []verso.Revision{3, 2, 1}) {
		t.Errorf("alice's log = %v, want [3 2 1]", got)
	}
	bob := get("bob", "")
	if got := revs(bob); !slices.Equal(got, []verso.Revision{3, 1}) {
		t.Errorf("bob's log = %v, want [3 1] (r2 touched only /secret)", got)
	}
	for _, c := range bob.Commits {
		for _, ch := range c.Changes {
			if strings.HasPrefix(string(ch.Path), "/secret") {
				t.Errorf("bob's log shows %s in r%d", ch.Path, c.Rev)
			}
		}
	}
	if len(bob.Commits) == 2 && (bob.Commits[1].Message != "" || bob.Commits[0].Message != "PUT /pub/k") {
		t.Errorf("bob's log messages %q, %q; want r3's and none for the partly hidden r1", bob.Commits[0].Message, bob.Commits[1].Message)
	}
	// Paging counts visible commits only.
	page := get("", "?limit=1&before=2")
	if got := revs(page); !slices.Equal(got, []verso.Revision{1}) || page.Next != nil {
		t.Errorf("anonymous log limit=1 before=2 = %v (next %v), want [1] and no next", got, page.Next)
	}
	if got := revs(get("", "?path=/secret")); len(got) != 0 {
		t.Errorf("anonymous log of /secret = %v, want nothing", got)
	}
	// revisions/N the same.
	if got, _, _ := ts.as(t, "bob", "GET", "/api/v1/revisions/2", ""); got != 403 {
		t.Errorf("bob's revisions/2 = %d, want 403", got)
	}
	if got, _, h := ts.as(t, "", "GET", "/api/v1/revisions/2", ""); got != 401 || h.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous revisions/2 = %d, want 401 with a challenge", got)
	}
	_, body, _ := ts.as(t, "bob", "GET", "/api/v1/revisions/1", "")
	if strings.Contains(body, "secret") {
		t.Errorf("bob's revisions/1 = %s, want no /secret", body)
	}
}

func TestAccess_DiffAndRevert(t *testing.T) {
	ts := newAccessServer(t, nil)
	for _, user := range []string{"", "bob"} {
		_, body, _ := ts.as(t, user, "GET", "/api/v1/diff?from=0", "")
		if strings.Contains(body, "secret") || !strings.Contains(body, "/pub/k") {
			t.Errorf("diff from 0 as %q = %s, want /pub/k and no /secret", user, body)
		}
		_, body, _ = ts.as(t, user, "GET", "/api/v1/diff?from=0&format=text", "")
		if strings.Contains(body, "secret") {
			t.Errorf("text diff from 0 as %q = %s, want no /secret", user, body)
		}
	}
	// bob may not undo r2 (it changed /secret) nor put /team back to r0
	// (which deletes /team/locked, read-only to him); alice may.
	before := ts.head(t)
	if got, body, _ := ts.as(t, "bob", "POST", "/api/v1/revert", `{"undo": 2}`); got != 403 || strings.Contains(body, "secret") {
		t.Errorf("bob's undo of r2 = %d %q, want 403 naming no hidden path", got, body)
	}
	if got, _, _ := ts.as(t, "", "POST", "/api/v1/revert", `{"undo": 3}`); got != 401 {
		t.Errorf("anonymous undo of r3 = %d, want 401", got)
	}
	if got, _, _ := ts.as(t, "bob", "POST", "/api/v1/revert", `{"path": "/team", "to": 0}`); got != 403 {
		t.Errorf("bob's revert of /team to r0 = %d, want 403", got)
	}
	if ts.head(t) != before {
		t.Fatalf("refused reverts changed the store")
	}
	ts.as(t, "bob", "PUT", "/config/team/k", "bob's")
	if got, body, _ := ts.as(t, "bob", "POST", "/api/v1/revert", `{"path": "/team/k", "to": 1}`); got != 200 {
		t.Errorf("bob's revert of /team/k = %d %q, want 200", got, body)
	}
	if got, body, _ := ts.as(t, "alice", "POST", "/api/v1/revert", `{"undo": 2}`); got != 200 {
		t.Errorf("alice's undo of r2 = %d %q, want 200", got, body)
	}
}

func TestAccess_RateLimit(t *testing.T) {
	users, rules := accessFiles(t)
	ts := newAccessServer(t, &auth.Options{Users: users, Rules: rules, FailureBurst: 2, FailureEvery: time.Hour})
	wrong := "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:guess"))
	for i := range 2 {
		if got, _, _ := ts.do(t, "GET", "/config/pub/k", nil, "Authorization", wrong); got != 401 {
			t.Fatalf("wrong password %d = %d, want 401", i+1, got)
		}
	}
	got, body, h := ts.as(t, "bob", "GET", "/config/pub/k", "")
	if got != 429 || h.Get("Retry-After") == "" {
		t.Errorf("right password after 2 failures = %d %q (Retry-After %q), want 429 with Retry-After", got, body, h.Get("Retry-After"))
	}
	if got, _, _ := ts.as(t, "", "GET", "/config/pub/k", ""); got != 200 {
		t.Errorf("anonymous GET from the slowed client = %d, want 200", got)
	}
}

func TestAccess_Reload(t *testing.T) {
	users, rules := accessFiles(t)
	a, err := auth.New(&auth.Options{Users: users, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, &server.Options{Auth: a})
	ts.must(t, 401, "MKCOL", "/config/ns", "")
	if err := os.WriteFile(rules, []byte("[/]\n* = rw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	ts.must(t, 201, "MKCOL", "/config/ns", "")
	if err := os.WriteFile(rules, []byte("[/]\n* = rw\n@nogroup = r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err == nil {
		t.Fatalf("Reload of a broken file succeeded")
	}
	ts.must(t, 201, "PUT", "/config/ns/k", "still open")
}

func TestAccess_AccessLogNamesUser(t *testing.T) {
	users, rules := accessFiles(t)
	a, err := auth.New(&auth.Options{Users: users, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	ts := newTestServer(t, &server.Options{Auth: a, AccessLog: &log})
	if got, body, _ := ts.as(t, "alice", "MKCOL", "/config/ns", ""); got != 201 {
		t.Fatalf("MKCOL as alice = %d %q", got, body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(log.String(), "MKCOL") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if line := log.String(); !strings.Contains(line, " - alice [") || strings.Contains(line, "alice-pw") {
		t.Errorf("access log = %q, want alice as the user and no password", line)
	}
}
