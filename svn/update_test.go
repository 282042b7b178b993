package svn

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
)

// updateHistory commits 20 namespaces of 20 keys (r1 to r20), then nine
// revisions of every kind of change (r21 to r29).
func updateHistory(t *testing.T) verso.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	put := func(p, v string) verso.Op {
		return verso.Op{Kind: verso.OpPut, Path: verso.MustPath(p), Value: []byte(v)}
	}
	var steps [][]verso.Op
	for i := range 20 {
		ops := []verso.Op{{Kind: verso.OpMkcol, Path: verso.MustPath(fmt.Sprintf("/ns%02d", i))}}
		for j := range 20 {
			ops = append(ops, put(fmt.Sprintf("/ns%02d/k%02d", i, j), fmt.Sprintf("value %d %d\n", i, j)))
		}
		steps = append(steps, ops)
	}
	prop := []verso.PropChange{{Name: "{" + nsSVNProp + "}eol-style", Value: "native"}}
	steps = append(steps,
		[]verso.Op{put("/ns03/k05", "changed\n"), put("/ns07/k00", "changed\n")},                                             // r21
		[]verso.Op{{Kind: verso.OpDelete, Path: "/ns05/k01"}, put("/ns05/new", "new\n")},                                     // r22
		[]verso.Op{{Kind: verso.OpDelete, Path: "/ns09"}},                                                                    // r23
		[]verso.Op{{Kind: verso.OpMkcol, Path: "/ns20"}, put("/ns20/a", "a\n"), put("/ns20/b", "b\n")},                       // r24
		[]verso.Op{{Kind: verso.OpCopy, From: "/ns02", Path: "/ns21", Depth: verso.Infinite}},                                // r25
		[]verso.Op{{Kind: verso.OpProps, Path: "/ns11", Props: prop}, {Kind: verso.OpProps, Path: "/ns12/k03", Props: prop}}, // r26
		[]verso.Op{put("/ns13/k00", "value 13 0\n")},                                                                         // r27: the same value
		[]verso.Op{{Kind: verso.OpMove, From: "/ns14", Path: "/ns22"}},                                                       // r28
		[]verso.Op{{Kind: verso.OpDelete, Path: "/ns15"}, {Kind: verso.OpMkcol, Path: "/ns15"}, put("/ns15/k00", "again\n")}, // r29
	)
	for _, ops := range steps {
		if _, err := st.Commit(t.Context(), &verso.Txn{Ops: ops}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// updateReportOf returns h's answer to an update report of body.
func updateReportOf(t *testing.T, h *Handler, body string) string {
	t.Helper()
	r := httptest.NewRequest("REPORT", "/config/!svn/me", strings.NewReader(`<S:update-report xmlns:S="svn:" send-all="true">`+
		`<S:src-path>/config</S:src-path>`+body+`</S:update-report>`))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r, "/!svn/me")
	if w.Code != http.StatusOK {
		t.Fatalf("update-report %s = %d %s", body, w.Code, w.Body)
	}
	return w.Body.String()
}

// TestUpdateChangedOnly checks that an update report looks only at what
// the history says changed between the working copy's revisions and the
// target, and answers exactly what comparing the whole trees answers (a
// store whose log fails makes the handler compare them), for updates
// forward, back, of mixed-revision working copies, of one namespace, and
// checkouts.
func TestUpdateChangedOnly(t *testing.T) {
	st := updateHistory(t)
	reports := map[string]string{
		"forward":  `<S:entry rev="20" depth="infinity"></S:entry>`,
		"partly":   `<S:target-revision>24</S:target-revision><S:entry rev="20" depth="infinity"></S:entry>`,
		"back":     `<S:target-revision>20</S:target-revision><S:entry rev="29" depth="infinity"></S:entry>`,
		"unknown":  `<S:depth>unknown</S:depth><S:entry rev="20" depth="infinity"></S:entry>`,
		"infinity": `<S:depth>infinity</S:depth><S:entry rev="22" depth="infinity"></S:entry>`,
		"mixed": `<S:target-revision>25</S:target-revision><S:entry rev="20" depth="infinity"></S:entry>` +
			`<S:entry rev="21">ns03</S:entry><S:entry rev="21">ns05/k01</S:entry><S:entry rev="29">ns06</S:entry>` +
			`<S:entry rev="29">ns15</S:entry><S:missing>ns04/k02</S:missing><S:entry rev="22" depth="files">ns08</S:entry>`,
		"namespace": `<S:update-target>ns05</S:update-target><S:entry rev="20" depth="infinity"></S:entry>`,
		"key":       `<S:update-target>ns03</S:update-target><S:entry rev="20" depth="infinity"></S:entry><S:entry rev="21">k05</S:entry>`,
		"checkout":  `<S:target-revision>25</S:target-revision><S:entry rev="25" depth="infinity" start-empty="true"></S:entry>`,
		"files":     `<S:depth>files</S:depth><S:entry rev="20" depth="infinity"></S:entry>`,
		"unchanged": `<S:entry rev="29" depth="infinity"></S:entry>`,
	}
	for name, body := range reports {
		t.Run(name, func(t *testing.T) {
			fast := &countingStore{Store: st}
			got := updateReportOf(t, New(fast, Options{Mount: "/config"}), body)
			whole := &countingStore{Store: st, noLog: true}
			want := updateReportOf(t, New(whole, Options{Mount: "/config"}), body)
			if got != want {
				t.Errorf("update from the history differs from the trees' comparison:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	// 22 namespaces of 20 keys: the forward update reads the states of
	// the 11 namespaces that changed and of the keys that did, not
	// every key.
	fast := &countingStore{Store: st}
	out := updateReportOf(t, New(fast, Options{Mount: "/config"}), reports["forward"])
	for _, w := range []string{`<S:delete-entry name="ns09"/>`, `<S:delete-entry name="k01"/>`, `<S:add-directory name="ns21"`, `<S:open-file name="k05" rev="20">`} {
		if !strings.Contains(out, w) {
			t.Errorf("forward update lacks %s:\n%s", w, out)
		}
	}
	if n := fast.gets.Load() + fast.walked.Load(); n > 200 {
		t.Errorf("forward update read %d states (Gets %d, walked %d), want at most 200: it looked at unchanged paths",
			n, fast.gets.Load(), fast.walked.Load())
	}
}
