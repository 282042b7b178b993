package server_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// TestAccess_WatchHides proves the watch stream obeys the rules like the
// log: a path the user may not read is refused (401 anonymous, 403 a user),
// and a watch of the root replays only what the user may see, without the
// message of a commit it sees only part of.
func TestAccess_WatchHides(t *testing.T) {
	ts := newAccessServer(t, nil)
	if got, _, h := ts.as(t, "", "GET", "/api/v1/watch?path=/secret&from=0", ""); got != 401 || h.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous watch of /secret = %d, want 401 with a challenge", got)
	}
	if got, _, _ := ts.as(t, "bob", "GET", "/api/v1/watch?path=/secret&from=0", ""); got != 403 {
		t.Errorf("bob's watch of /secret = %d, want 403", got)
	}

	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/watch?path=/&from=0", nil)
	req.SetBasicAuth("bob", passwords["bob"])
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("bob's watch of / = %d, want 200", resp.StatusCode)
	}
	// The seed made r1 (everything), r2 (only /secret/k), r3 (/pub/k): bob
	// must get r1 without /secret and without its message, then r3.
	sc := bufio.NewScanner(resp.Body)
	var events []string
	for sc.Scan() && len(events) < 2 {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events = append(events, d)
		}
	}
	if len(events) != 2 {
		t.Fatalf("bob's watch gave %d events before the stream stalled, want 2", len(events))
	}
	if strings.Contains(events[0], "secret") || !strings.Contains(events[0], `"message":""`) || !strings.Contains(events[0], `"revision":1`) {
		t.Errorf("bob's first event = %s, want r1 without /secret and without its message", events[0])
	}
	if !strings.Contains(events[1], `"revision":3`) {
		t.Errorf("bob's second event = %s, want r3 (r2 touched only /secret)", events[1])
	}
}

// TestAccess_ExportHides proves an export leaves out what the user may not
// read, with everything below it, in every format.
func TestAccess_ExportHides(t *testing.T) {
	ts := newAccessServer(t, nil)
	for _, format := range []string{"json", "yaml", "env", "properties"} {
		got, body, _ := ts.as(t, "", "GET", "/config/?format="+format, "")
		if got != 200 || strings.Contains(strings.ToLower(body), "secret") || !strings.Contains(strings.ToLower(body), "pub") {
			t.Errorf("anonymous export as %s = %d %q, want /pub and no /secret", format, got, body)
		}
		got, body, _ = ts.as(t, "alice", "GET", "/config/?format="+format, "")
		if got != 200 || !strings.Contains(strings.ToLower(body), "secret") {
			t.Errorf("alice's export as %s = %d %q, want /secret in it", format, got, body)
		}
	}
	if got, _, _ := ts.as(t, "bob", "GET", "/config/secret/?format=json", ""); got != 403 {
		t.Errorf("bob's export of /secret = %d, want 403", got)
	}
}
