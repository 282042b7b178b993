package ui_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/auth"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/server"
	"github.com/verso-config/verso/ui"
)

// The console's end-to-end tests drive a real Chromium (headless) against a
// real verso server: a bbolt store and a real listener. Screenshots of the
// main views go to $VERSO_CONSOLE_SHOTS when it is set (docs/console/).

var (
	browserOnce   sync.Once
	browserCtx    context.Context
	browserCancel context.CancelFunc
	browserErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if browserCancel != nil {
		browserCancel()
	}
	os.Exit(code)
}

// browser returns a new tab of one shared headless Chromium, or skips the
// test when Chromium is not installed.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium): the console's browser tests need it")
	}
	browserOnce.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU)
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(alloc)
		browserErr = chromedp.Do(ctx) // starts the browser
		browserCtx = ctx
		browserCancel = func() { cancel(); cancelAlloc() }
	})
	if browserErr != nil {
		t.Fatalf("start chromium: %v", browserErr)
	}
	ctx, cancel := chromedp.NewContext(browserCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// signIn makes every request of the tab carry user's Basic credentials, as
// a browser does once its user has answered the password prompt.
func signIn(t *testing.T, ctx context.Context, user string) {
	t.Helper()
	hdr := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+user+"-pw"))
	err := chromedp.Do(ctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": hdr}})
		return chromedp.Void{}, err
	})
	if err != nil {
		t.Fatalf("sign in as %s: %v", user, err)
	}
}

// answerPasswordPrompts makes the tab answer every Basic challenge as user,
// as its person would in the browser's password prompt.
func answerPasswordPrompts(t *testing.T, ctx context.Context, user string) {
	t.Helper()
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	challenged := chromedp.Events(ctx, fetch.AuthRequired)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			chromedp.Do(ctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
				_, err := cdp.Call(ctx, tg, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				return chromedp.Void{}, err
			})
		}
	}()
	go func() {
		for ev, err := range challenged {
			if err != nil {
				return
			}
			chromedp.Do(ctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
				_, err := cdp.Call(ctx, tg, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: ev.RequestID,
					AuthChallengeResponse: &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: user, Password: user + "-pw"}})
				return chromedp.Void{}, err
			})
		}
	}()
	yes := true
	err := chromedp.Do(ctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{HandleAuthRequests: &yes, Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}})
		return chromedp.Void{}, err
	})
	if err != nil {
		t.Fatalf("answer password prompts: %v", err)
	}
}

// watchCSP records the page's Content-Security-Policy violations in
// window.cspViolations, from the first script on.
func watchCSP(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Do(ctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.cspViolations = []; document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI))`})
		return chromedp.Void{}, err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// verso is a server under test.
type versoServer struct {
	*httptest.Server
	store *bolt.Store

	mu     sync.Mutex
	writes []*http.Request // the browser's requests other than GET and HEAD
}

// browserWrites returns the requests other than GET and HEAD that the
// browser sent.
func (v *versoServer) browserWrites() []*http.Request {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]*http.Request(nil), v.writes...)
}

func startVerso(t *testing.T, a *auth.Auth) *versoServer {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	srv := server.New(st, &server.Options{Auth: a, Console: ui.Handler("/config"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	v := &versoServer{store: st}
	v.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" && r.Method != "HEAD" && strings.Contains(r.UserAgent(), "Chrome") {
			v.mu.Lock()
			v.writes = append(v.writes, r.Clone(context.Background()))
			v.mu.Unlock()
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close() // ends watch streams
		v.Server.Close()
		st.Close()
	})
	return v
}

func (v *versoServer) commit(t *testing.T, author, msg string, ops ...verso.Op) verso.Revision {
	t.Helper()
	c, err := v.store.Commit(t.Context(), &verso.Txn{Author: author, Message: msg, Ops: ops})
	if err != nil {
		t.Fatalf("commit %q: %v", msg, err)
	}
	return c.Rev
}

func mkcol(p string) verso.Op { return verso.Op{Kind: verso.OpMkcol, Path: verso.MustPath(p)} }
func put(p, v string) verso.Op {
	ct := "text/plain; charset=utf-8"
	switch {
	case strings.HasSuffix(p, ".json"):
		ct = "application/json"
	case strings.HasSuffix(p, ".yaml"):
		ct = "application/yaml"
	}
	return verso.Op{Kind: verso.OpPut, Path: verso.MustPath(p), Value: []byte(v), ContentType: ct}
}

// request sends an HTTP request to the server behind the page's back.
func (v *versoServer) request(t *testing.T, user, method, path, body string, header ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, v.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Close = true // a connection of its own: tests cut the server's connections
	if user != "" {
		req.SetBasicAuth(user, user+"-pw")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (v *versoServer) value(t *testing.T, p string) string {
	t.Helper()
	code, body, _ := v.request(t, "", "GET", "/config"+p, "")
	if code != 200 {
		t.Fatalf("GET %s = %d %s", p, code, body)
	}
	return body
}

// eval runs JavaScript in the page and returns its value.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// do runs statements in the page (a click, a value set).
func do(t *testing.T, ctx context.Context, stmts string) {
	t.Helper()
	eval[bool](t, ctx, "(() => {"+stmts+"; return true})()")
}

// waitFor polls a JavaScript condition until it holds, or fails the test
// showing what the page says.
func waitFor(t *testing.T, ctx context.Context, cond, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool]("!!("+cond+")", chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(50*time.Millisecond)))
		// A page that navigates ends the poll: ask the next page.
		if err == nil || !(strings.Contains(err.Error(), "navigated") || strings.Contains(err.Error(), "context")) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + "\ndialog open: " + document.getElementById('confirm').open + "\ntoast: " + document.getElementById('toast').textContent + "\n" + document.body.innerText`))
		t.Fatalf("waiting for %s (%s): %v; the page:\n%s", what, cond, err, page)
	}
}

func open(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
}

// route shows a view of the open console by its link.
func route(t *testing.T, ctx context.Context, hash string) {
	t.Helper()
	do(t, ctx, fmt.Sprintf("document.getElementById('view').replaceChildren(); location.hash = %q", hash))
}

// shot saves a screenshot of the page (of the window, when the page is very
// long) as NAME.png in the directory $VERSO_CONSOLE_SHOTS, when it is set.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("VERSO_CONSOLE_SHOTS")
	if dir == "" {
		return
	}
	// Let the toast and the live marker settle; quality 100 is a PNG.
	time.Sleep(300 * time.Millisecond)
	shoot := chromedp.FullScreenshot(100)
	if eval[int](t, ctx, `document.documentElement.scrollHeight`) > 1600 {
		shoot = chromedp.CaptureScreenshot() // the window only, for a very long page
	}
	b, err := chromedp.Run(ctx, shoot)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

const appJSON = `{
  "name": "shop",
  "replicas": 3,
  "debug": false,
  "owner": null,
  "hosts": ["db1.internal", "db2.internal"]
}
`

const appYAML = `# the database
host: db1.internal
port: 5432
tls: true
pools:
  - name: main
    size: 20
`

// seed makes a small tree, a binary value, a value that looks like HTML, and
// a namespace of 10,000 keys.
func seed(t *testing.T, v *versoServer) {
	t.Helper()
	v.commit(t, "alice", "create the shop", mkcol("/shop"), mkcol("/shop/db"), put("/shop/app.json", appJSON),
		put("/shop/db/settings.yaml", appYAML), put("/shop/db/host", "db1.internal\n"),
		put("/shop/banner", `<script>document.title="owned"</script><b>sale</b>`),
		verso.Op{Kind: verso.OpPut, Path: "/shop/logo.bin", Value: []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 3, 0xff}, ContentType: "image/png"})
	ops := []verso.Op{mkcol("/fleet")}
	for i := range 10000 {
		ops = append(ops, put(fmt.Sprintf("/fleet/host-%05d", i), fmt.Sprintf("10.0.%d.%d\n", i/256, i%256)))
	}
	v.commit(t, "bob", "register the fleet", ops...)
	v.commit(t, "carol", "move the database", put("/shop/db/host", "db2.internal\n"))
}

func TestConsole_BrowseAndView(t *testing.T) {
	v := startVerso(t, nil)
	seed(t, v)
	ctx := browser(t, 1200, 800)
	watchCSP(t, ctx)
	open(t, ctx, v.URL+"/ui/")
	waitFor(t, ctx, `document.querySelector('tr[data-path="/shop"]')`, "the root listing")
	if got := eval[string](t, ctx, `document.querySelector('tr[data-path="/shop"]').innerText`); !strings.Contains(got, "carol") || !strings.Contains(got, "r3") {
		t.Errorf("/shop row = %q, want its last change r3 by carol", got)
	}
	waitFor(t, ctx, `document.getElementById('live').textContent.includes('live')`, "the live marker")
	shot(t, ctx, "tree")

	// 10,000 keys: a page of 200, the count, and the next page.
	route(t, ctx, "#/browse/fleet")
	waitFor(t, ctx, `document.getElementById('count') && document.getElementById('count').textContent === '1–200 of 10000'`, "the first page of /fleet")
	do(t, ctx, `document.getElementById('next').click()`)
	waitFor(t, ctx, `document.querySelector('tr[data-path="/fleet/host-00200"]') && document.getElementById('count').textContent === '201–400 of 10000'`, "the second page")
	shot(t, ctx, "tree-10000")
	do(t, ctx, `const f = document.getElementById('filter'); f.focus(); f.value = '09999'; f.dispatchEvent(new Event('input'))`)
	waitFor(t, ctx, `document.querySelectorAll('table.listing tbody tr').length === 1 && document.querySelector('tr[data-path="/fleet/host-09999"]')`, "the filtered page")
	if id := eval[string](t, ctx, `document.activeElement.id`); id != "filter" {
		t.Errorf("after filtering, the focus is on %q, want the filter still", id)
	}
	if h := eval[string](t, ctx, `location.hash`); h != "#/browse/fleet?match=09999" {
		t.Errorf("filtered listing's link = %q, want #/browse/fleet?match=09999", h)
	}

	// JSON and YAML values are highlighted, with line numbers.
	route(t, ctx, "#/key/shop/app.json")
	waitFor(t, ctx, `document.querySelectorAll('pre.code .line').length === 7`, "the JSON value, 7 lines")
	if got := eval[string](t, ctx, `[...document.querySelectorAll('pre.code .k')].map(e => e.textContent).join(',')`); got != `"name","replicas","debug","owner","hosts"` {
		t.Errorf("highlighted JSON keys = %s", got)
	}
	shot(t, ctx, "value-json")
	route(t, ctx, "#/key/shop/db/settings.yaml")
	waitFor(t, ctx, `document.querySelector('pre.code .c') && document.querySelector('pre.code .n')`, "the YAML value with a comment and a number")
	shot(t, ctx, "value-yaml")

	// A value that looks like HTML is text: no element comes of it.
	route(t, ctx, "#/key/shop/banner")
	waitFor(t, ctx, `document.querySelector('pre.code')`, "the banner value")
	if got := eval[string](t, ctx, `document.querySelector('pre.code').textContent`); !strings.Contains(got, `<script>document.title="owned"</script>`) {
		t.Errorf("banner shown as %q, want its text", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#view script, #view b').length`); n != 0 || eval[string](t, ctx, `document.title`) == "owned" {
		t.Errorf("the value became HTML: %d elements", n)
	}

	// A binary value: its size and SHA-256, and a download link.
	route(t, ctx, "#/key/shop/logo.bin")
	sum := sha256.Sum256([]byte{0x89, 'P', 'N', 'G', 0, 1, 2, 3, 0xff})
	waitFor(t, ctx, fmt.Sprintf(`document.getElementById('sha256') && document.getElementById('sha256').textContent === %q`, hex.EncodeToString(sum[:])), "the SHA-256 of the binary value")
	if got := eval[string](t, ctx, `document.querySelector('a[download]').getAttribute('href')`); got != "/config/shop/logo.bin" {
		t.Errorf("download link = %q", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#edit').length`); n != 0 {
		t.Errorf("a binary value offers a text editor")
	}
	shot(t, ctx, "value-binary")

	// Any past revision of a key, by its own link.
	route(t, ctx, "#/key/shop/db/host?rev=1")
	waitFor(t, ctx, `document.querySelector('pre.code') && document.querySelector('pre.code').textContent === 'db1.internal\n'`, "/shop/db/host as of r1")
	shot(t, ctx, "value-past")

	// History with a filter, and a diff side by side.
	route(t, ctx, "#/history/shop")
	waitFor(t, ctx, `document.querySelectorAll('li.commit').length === 2`, "the history of /shop")
	do(t, ctx, `const f = document.getElementById('log-filter'); f.value = 'carol'; f.dispatchEvent(new Event('input'))`)
	waitFor(t, ctx, `document.querySelectorAll('li.commit').length === 1`, "the filtered history")
	do(t, ctx, `const f = document.getElementById('log-filter'); f.value = ''; f.dispatchEvent(new Event('input'))`)
	shot(t, ctx, "history")
	do(t, ctx, `document.querySelector('li.commit[data-rev="1"] input[name=a]').click(); document.querySelector('li.commit[data-rev="3"] input[name=b]').click(); document.getElementById('compare').click()`)
	waitFor(t, ctx, `location.hash === '#/diff/shop?from=1&to=3' && document.querySelector('table.diff')`, "the diff r1..r3")
	do(t, ctx, `document.getElementById('mode-split').click()`)
	waitFor(t, ctx, `document.querySelector('table.split td.del') && document.querySelector('table.split td.add')`, "the side-by-side diff")
	if got := eval[string](t, ctx, `document.querySelector('ul.paths').innerText`); !strings.Contains(got, "/shop/db/host") {
		t.Errorf("changed paths = %q, want /shop/db/host", got)
	}
	shot(t, ctx, "diff-split")
	if got := eval[[]string](t, ctx, `window.cspViolations`); len(got) != 0 {
		t.Errorf("the console broke its own Content-Security-Policy: %q", got)
	}
}

func TestConsole_EditAndConflict(t *testing.T) {
	v := startVerso(t, nil)
	seed(t, v)
	ctx := browser(t, 1200, 800)
	open(t, ctx, v.URL+"/ui/#/key/shop/db/host")
	waitFor(t, ctx, `document.getElementById('edit')`, "the edit button")
	do(t, ctx, `document.getElementById('edit').click()`)
	waitFor(t, ctx, `document.getElementById('value') && document.getElementById('value').value === 'db2.internal\n'`, "the editor")
	do(t, ctx, `document.getElementById('value').value = 'db3.internal\n'; document.getElementById('message').value = 'the third database'; document.getElementById('save').click()`)
	waitFor(t, ctx, `location.hash === '#/key/shop/db/host' && document.querySelector('pre.code') && document.querySelector('pre.code').textContent === 'db3.internal\n'`, "the saved value")
	if got := v.value(t, "/shop/db/host"); got != "db3.internal\n" {
		t.Errorf("value after save = %q", got)
	}
	_, body, _ := v.request(t, "", "GET", "/api/v1/log?path=/shop/db/host&limit=1", "")
	if !strings.Contains(body, `"message": "the third database"`) {
		t.Errorf("log after save = %s, want the message given", body)
	}

	// Someone else changes the key while it is being edited: saving shows
	// their change, and re-applying writes ours over theirs knowingly.
	do(t, ctx, `document.getElementById('edit').click()`)
	waitFor(t, ctx, `document.getElementById('value') && document.getElementById('value').value === 'db3.internal\n'`, "the editor again")
	if code, body, _ := v.request(t, "", "PUT", "/config/shop/db/host", "db-other.internal\n", "X-Verso-Message", "failover"); code != 204 {
		t.Fatalf("PUT behind the page's back = %d %s", code, body)
	}
	do(t, ctx, `document.getElementById('value').value = 'db4.internal\n'; document.getElementById('save').click()`)
	waitFor(t, ctx, `document.getElementById('conflict') && document.querySelector('#conflict table.diff')`, "the conflict with their diff")
	got := eval[string](t, ctx, `document.getElementById('conflict').innerText`)
	if !strings.Contains(got, "+db-other.internal") || !strings.Contains(got, "-db3.internal") || !strings.Contains(got, "failover") {
		t.Errorf("conflict shows %q, want their change db3 -> db-other and its message", got)
	}
	if got := v.value(t, "/shop/db/host"); got != "db-other.internal\n" {
		t.Errorf("value after the refused save = %q, want theirs untouched", got)
	}
	shot(t, ctx, "conflict")
	do(t, ctx, `document.getElementById('reapply').click()`)
	waitFor(t, ctx, `location.hash === '#/key/shop/db/host' && document.querySelector('pre.code') && document.querySelector('pre.code').textContent === 'db4.internal\n'`, "the re-applied value")
	if got := v.value(t, "/shop/db/host"); got != "db4.internal\n" {
		t.Errorf("value after re-apply = %q, want ours", got)
	}

	// Create a namespace and a key in it; delete the key after confirming.
	route(t, ctx, "#/browse/shop")
	waitFor(t, ctx, `document.getElementById('new-ns')`, "the new namespace button")
	do(t, ctx, `document.getElementById('new-ns').click()`)
	waitFor(t, ctx, `document.getElementById('name')`, "the namespace form")
	do(t, ctx, `document.getElementById('name').value = 'cache'; document.getElementById('save').click()`)
	waitFor(t, ctx, `location.hash === '#/browse/shop/cache' && document.getElementById('new-key')`, "the new namespace")
	do(t, ctx, `document.getElementById('new-key').click()`)
	waitFor(t, ctx, `document.getElementById('name') && document.getElementById('value')`, "the key form")
	do(t, ctx, `document.getElementById('name').value = 'ttl'; document.getElementById('value').value = '60'; document.getElementById('save').click()`)
	waitFor(t, ctx, `location.hash === '#/key/shop/cache/ttl' && document.getElementById('delete')`, "the new key")
	if got := v.value(t, "/shop/cache/ttl"); got != "60" {
		t.Errorf("created key = %q", got)
	}
	do(t, ctx, `document.getElementById('delete').click()`)
	waitFor(t, ctx, `document.getElementById('confirm').open`, "the confirmation")
	shot(t, ctx, "delete-confirm")
	do(t, ctx, `document.getElementById('confirm-cancel').click()`)
	waitFor(t, ctx, `!document.getElementById('confirm').open`, "the dialog closed")
	if got := v.value(t, "/shop/cache/ttl"); got != "60" {
		t.Errorf("key after cancel = %q, want it kept", got)
	}
	do(t, ctx, `document.getElementById('delete').click()`)
	waitFor(t, ctx, `document.getElementById('confirm').open`, "the confirmation")
	do(t, ctx, `document.getElementById('confirm-ok').click()`)
	waitFor(t, ctx, `location.hash === '#/browse/shop/cache'`, "the namespace after the delete")
	if code, _, _ := v.request(t, "", "GET", "/config/shop/cache/ttl", ""); code != 404 {
		t.Errorf("GET of the deleted key = %d, want 404", code)
	}

	// The namespace goes too, after confirming.
	waitFor(t, ctx, `document.getElementById('delete') && document.getElementById('count')`, "the namespace's delete button")
	do(t, ctx, `document.getElementById('delete').click()`)
	waitFor(t, ctx, `document.getElementById('confirm').open`, "the confirmation")
	do(t, ctx, `document.getElementById('confirm-message').value = 'no more cache'; document.getElementById('confirm-ok').click()`)
	waitFor(t, ctx, `location.hash === '#/browse/shop' && document.querySelector('tr[data-path="/shop/db"]') && !document.querySelector('tr[data-path="/shop/cache"]')`, "/shop without /shop/cache")
	_, body, _ = v.request(t, "", "GET", "/api/v1/log?limit=1", "")
	if !strings.Contains(body, `"message": "no more cache"`) {
		t.Errorf("log after deleting the namespace = %s, want the message given", body)
	}

	// Every write said it came from the console, and every PUT and DELETE
	// was conditional.
	writes := v.browserWrites()
	var methods []string
	for _, r := range writes {
		methods = append(methods, r.Method)
	}
	// Save, the refused save, re-apply, the namespace, the key, its delete,
	// the namespace's delete.
	if got := strings.Join(methods, " "); got != "PUT PUT PUT MKCOL PUT DELETE POST" {
		t.Errorf("the browser's writes: %s", got)
	}
	for _, r := range writes {
		what := r.Method + " " + r.URL.Path
		if r.Header.Get("X-Verso-Console") != "1" {
			t.Errorf("%s has no X-Verso-Console: 1", what)
		}
		if (r.Method == "PUT" || r.Method == "DELETE") && r.Header.Get("If-Match") == "" && r.Header.Get("If-None-Match") != "*" {
			t.Errorf("%s is unconditional (no If-Match, no If-None-Match: *)", what)
		}
		if r.Method == "POST" && r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s has Content-Type %q, want application/json", what, r.Header.Get("Content-Type"))
		}
	}
}

func TestConsole_RevertPreview(t *testing.T) {
	v := startVerso(t, nil)
	seed(t, v) // r3 changed /shop/db/host from db1 to db2
	ctx := browser(t, 1200, 800)
	open(t, ctx, v.URL+"/ui/#/history/shop/db/host")
	waitFor(t, ctx, `document.querySelector('li.commit[data-rev="1"] .revert-to')`, "revert to r1")
	do(t, ctx, `document.querySelector('li.commit[data-rev="1"] .revert-to').click()`)
	waitFor(t, ctx, `document.querySelector('#preview table.diff')`, "the preview")
	got := eval[string](t, ctx, `document.getElementById('preview').innerText`)
	if !strings.Contains(got, "-db2.internal") || !strings.Contains(got, "+db1.internal") {
		t.Errorf("preview = %q, want db2 -> db1", got)
	}
	if got := v.value(t, "/shop/db/host"); got != "db2.internal\n" {
		t.Errorf("value during the preview = %q, want it unchanged", got)
	}
	shot(t, ctx, "revert-preview")

	// Someone changes the key after the preview: the revert is refused,
	// since committing it would also undo that change unseen.
	if code, body, _ := v.request(t, "", "PUT", "/config/shop/db/host", "db9.internal\n"); code != 204 {
		t.Fatalf("PUT behind the page's back = %d %s", code, body)
	}
	do(t, ctx, `document.getElementById('commit').click()`)
	waitFor(t, ctx, `document.getElementById('again')`, "the refusal of the stale revert")
	if got := v.value(t, "/shop/db/host"); got != "db9.internal\n" {
		t.Errorf("value after the stale revert = %q, want db9 untouched", got)
	}
	do(t, ctx, `document.getElementById('again').click()`)
	waitFor(t, ctx, `document.getElementById('preview') && document.getElementById('preview').innerText.includes('-db9.internal')`, "the new preview")
	do(t, ctx, `document.getElementById('message').value = 'back to db1'; document.getElementById('commit').click()`)
	waitFor(t, ctx, `location.hash === '#/rev/?r=5'`, "the revert's revision")
	if got := v.value(t, "/shop/db/host"); got != "db1.internal\n" {
		t.Errorf("value after the revert = %q, want db1", got)
	}

	// Undo r5 (the revert) in the same way.
	route(t, ctx, "#/undo/?r=5")
	waitFor(t, ctx, `document.querySelector('#preview table.diff')`, "the undo preview")
	if got := eval[string](t, ctx, `document.getElementById('preview').innerText`); !strings.Contains(got, "+db9.internal") {
		t.Errorf("undo preview = %q, want db1 -> db9", got)
	}
	do(t, ctx, `document.getElementById('commit').click()`)
	waitFor(t, ctx, `location.hash === '#/rev/?r=6'`, "the undo's revision")
	if got := v.value(t, "/shop/db/host"); got != "db9.internal\n" {
		t.Errorf("value after the undo = %q, want db9", got)
	}
}

func TestConsole_LiveUpdate(t *testing.T) {
	v := startVerso(t, nil)
	seed(t, v)
	ctx := browser(t, 1200, 800)
	open(t, ctx, v.URL+"/ui/#/browse/shop/db")
	waitFor(t, ctx, `document.querySelector('tr[data-path="/shop/db/host"]') && document.getElementById('live').className.includes('on')`, "the listing, live")
	if code, body, _ := v.request(t, "", "PUT", "/config/shop/db/port", "5432"); code != 201 {
		t.Fatalf("PUT = %d %s", code, body)
	}
	waitFor(t, ctx, `document.querySelector('tr.changed[data-path="/shop/db/port"]') && document.getElementById('live-note')`, "the new key, marked")
	shot(t, ctx, "live")

	// The connection drops; a change made before the page reconnects
	// still arrives (it resumes from the last revision it saw).
	v.CloseClientConnections()
	if code, body, _ := v.request(t, "", "PUT", "/config/shop/db/user", "shop"); code != 201 {
		t.Fatalf("PUT = %d %s", code, body)
	}
	waitFor(t, ctx, `document.querySelector('tr[data-path="/shop/db/user"]')`, "the change made while disconnected")
}

const accessRules = `[/]
* = r
alice = rw

[/pub]
bob = r

[/team]
bob = rw

[/secret]
* =
alice = rw
`

func accessServer(t *testing.T) *versoServer {
	t.Helper()
	dir := t.TempDir()
	var lines []string
	for _, u := range []string{"alice", "bob"} {
		h, err := bcrypt.GenerateFromPassword([]byte(u+"-pw"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, u+":"+string(h))
	}
	users, rules := filepath.Join(dir, "users"), filepath.Join(dir, "authz")
	os.WriteFile(users, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	os.WriteFile(rules, []byte(accessRules), 0o600)
	a, err := auth.New(&auth.Options{Users: users, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	v := startVerso(t, a)
	v.commit(t, "alice", "seed", mkcol("/pub"), mkcol("/team"), mkcol("/secret"), put("/pub/motd", "hello"),
		put("/team/k", "t"), put("/secret/password", "hunter2"))
	v.commit(t, "alice", "rotate", put("/secret/password", "hunter3"))
	return v
}

// An anonymous visitor signs in from the console: the browser asks for a
// user and password, and the console then offers what that user may do.
func TestConsole_SignIn(t *testing.T) {
	v := accessServer(t)
	ctx := browser(t, 1000, 700)
	open(t, ctx, v.URL+"/ui/#/browse/pub")
	waitFor(t, ctx, `document.getElementById('signin') && document.querySelector('tr[data-path="/pub/motd"]')`, "the sign-in link")
	if n := eval[int](t, ctx, `document.querySelectorAll('#new-key').length`); n != 0 {
		t.Errorf("an anonymous visitor sees %d new-key buttons", n)
	}
	answerPasswordPrompts(t, ctx, "alice")
	do(t, ctx, `document.getElementById('signin').click()`)
	waitFor(t, ctx, `location.pathname === '/ui/' && document.getElementById('who') && document.getElementById('who').textContent.includes('alice')`, "alice signed in")
	route(t, ctx, "#/browse/secret")
	waitFor(t, ctx, `document.querySelector('tr[data-path="/secret/password"]') && document.getElementById('new-key')`, "alice's /secret, with her controls")
}

func TestConsole_UnreadableStaysInvisible(t *testing.T) {
	v := accessServer(t)
	ctx := browser(t, 1200, 800)
	signIn(t, ctx, "bob")
	open(t, ctx, v.URL+"/ui/")
	waitFor(t, ctx, `document.querySelector('tr[data-path="/team"]') && document.getElementById('who').textContent.includes('bob')`, "bob's tree")
	route(t, ctx, "#/history/")
	waitFor(t, ctx, `document.querySelectorAll('li.commit').length === 1`, "bob's history: the commit that changed /secret only is left out")
	route(t, ctx, "#/diff/?from=0&to=2")
	waitFor(t, ctx, `document.querySelector('ul.paths')`, "the diff of everything")
	route(t, ctx, "#/browse/secret")
	waitFor(t, ctx, `document.querySelector('.error')`, "the refusal")
	// Nothing anywhere names what bob may not read.
	for _, hash := range []string{"#/browse/", "#/history/", "#/diff/?from=0&to=2"} {
		route(t, ctx, hash)
		waitFor(t, ctx, `document.querySelector('tr, li.commit, ul.paths')`, hash)
		if got := eval[string](t, ctx, `document.body.innerText`); strings.Contains(got, "secret") || strings.Contains(got, "hunter") {
			t.Errorf("%s shows an unreadable path or value to bob:\n%s", hash, got)
		}
	}
	route(t, ctx, "#/key/secret/password")
	waitFor(t, ctx, `document.querySelector('.error')`, "the refusal of the key")
	if got := eval[string](t, ctx, `document.body.innerText`); strings.Contains(got, "hunter") {
		t.Errorf("the refusal shows the value:\n%s", got)
	}
	// Controls only where bob may write: /team, not /pub.
	route(t, ctx, "#/browse/team")
	waitFor(t, ctx, `document.getElementById('new-key')`, "the new key button on /team")
	route(t, ctx, "#/browse/pub")
	waitFor(t, ctx, `document.querySelector('tr[data-path="/pub/motd"]')`, "/pub")
	if n := eval[int](t, ctx, `document.querySelectorAll('#new-key, #new-ns, #delete').length`); n != 0 {
		t.Errorf("/pub shows %d write controls to bob, who may only read it", n)
	}
	route(t, ctx, "#/key/pub/motd")
	waitFor(t, ctx, `document.querySelector('pre.code')`, "/pub/motd")
	if n := eval[int](t, ctx, `document.querySelectorAll('#edit, #delete').length`); n != 0 {
		t.Errorf("/pub/motd shows %d write controls to bob", n)
	}
	// The server refuses anyway.
	if code, _, _ := v.request(t, "bob", "PUT", "/config/pub/motd", "x"); code != 403 {
		t.Errorf("bob's PUT to /pub = %d, want 403", code)
	}
}

// A page on another origin submits a form to verso's revert: the browser
// sends it with the user's credentials, and verso must refuse it.
func TestConsole_ForgedCrossSitePost(t *testing.T) {
	v := accessServer(t)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		// text/plain lets a form send a body that reads as JSON.
		fmt.Fprintf(w, `<!doctype html><form id="f" method="POST" action="%s/api/v1/revert" enctype="text/plain">
<input name='{"undo": 2, "message": "' value='"}'></form><script>document.getElementById('f').submit()</script>`, v.URL)
	}))
	defer evil.Close()
	ctx := browser(t, 800, 600)
	signIn(t, ctx, "alice")
	open(t, ctx, evil.URL+"/")
	// The form went: the tab shows verso's answer to it.
	waitFor(t, ctx, fmt.Sprintf(`location.href.startsWith(%q)`, v.URL+"/api/v1/revert"), "verso's answer to the forged form")
	_, body, _ := v.request(t, "alice", "GET", "/config/secret/password", "")
	if body != "hunter3" {
		t.Errorf("/secret/password = %q after the forged revert, want hunter3 unchanged", body)
	}
	_, log, _ := v.request(t, "alice", "GET", "/api/v1/log?limit=5", "")
	if strings.Contains(log, "Undo") {
		t.Errorf("the log has an undo after the forged request:\n%s", log)
	}
}

// Without WebCrypto (plain HTTP beyond localhost is not a secure
// context), a binary value's SHA-256 comes from the server's diff.
func TestConsole_SHA256WithoutWebCrypto(t *testing.T) {
	v := startVerso(t, nil)
	seed(t, v)
	ctx := browser(t, 800, 600)
	err := chromedp.Do(ctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `Object.defineProperty(Crypto.prototype, 'subtle', {get: () => undefined})`})
		return chromedp.Void{}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	open(t, ctx, v.URL+"/ui/#/key/shop/logo.bin")
	sum := sha256.Sum256([]byte{0x89, 'P', 'N', 'G', 0, 1, 2, 3, 0xff})
	waitFor(t, ctx, fmt.Sprintf(`!crypto.subtle && document.getElementById('sha256') && document.getElementById('sha256').textContent === %q`, hex.EncodeToString(sum[:])), "the SHA-256 from the server")
}

// At 375 px wide (a phone) nothing is wider than the screen.
func TestConsole_Narrow(t *testing.T) {
	v := startVerso(t, nil)
	seed(t, v)
	ctx := browser(t, 375, 700)
	for _, hash := range []string{"#/browse/shop", "#/key/shop/app.json", "#/history/shop", "#/diff/shop?from=2&to=3&mode=split"} {
		open(t, ctx, v.URL+"/ui/"+hash)
		waitFor(t, ctx, `document.querySelector('tr[data-path], pre.code, li.commit, table.diff')`, hash)
		if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 375 {
			t.Errorf("%s is %d px wide at 375 px", hash, w)
		}
		shot(t, ctx, "narrow-"+strings.Split(strings.TrimPrefix(hash, "#/"), "/")[0])
	}
}
