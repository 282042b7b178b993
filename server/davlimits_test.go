package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// propNamesBody returns a PROPFIND body asking for the properties x:p0 to
// x:p(n-1), each named twice.
func propNamesBody(n int) string {
	var b strings.Builder
	b.WriteString(`<D:propfind xmlns:D="DAV:" xmlns:x="urn:x"><D:prop>`)
	for range 2 {
		for i := range n {
			b.WriteString(`<x:p` + strconv.Itoa(i) + `/>`)
		}
	}
	b.WriteString(`</D:prop></D:propfind>`)
	return b.String()
}

// proppatchBody returns a PROPPATCH body setting x:p0 to x:p(n-1).
func proppatchNamesBody(n int) string {
	var b strings.Builder
	b.WriteString(`<D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:set><D:prop>`)
	for i := range n {
		b.WriteString(`<x:p` + strconv.Itoa(i) + `>v</x:p` + strconv.Itoa(i) + `>`)
	}
	b.WriteString(`</D:prop></D:set></D:propertyupdate>`)
	return b.String()
}

// TestDAV_PropertyNameCap: a PROPFIND may ask for 1,000 distinct
// properties (repeats do not count) and a PROPPATCH may set 1,000; one
// more is 413 with a message that says why, and changes nothing.
func TestDAV_PropertyNameCap(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "PUT", "/config/k", "v")

	body, _ := ts.must(t, http.StatusMultiStatus, "PROPFIND", "/config/k", propNamesBody(1000), "Depth", "0")
	if got := strings.Count(body, `xmlns:ns1="urn:x"`); got != 1000 {
		t.Errorf("PROPFIND of 1000 names answers %d of them", got)
	}
	got, body, _ := ts.do(t, "PROPFIND", "/config/k", strings.NewReader(propNamesBody(1001)), "Depth", "0")
	if got != http.StatusRequestEntityTooLarge || !strings.Contains(body, "more than 1000 properties") {
		t.Errorf("PROPFIND of 1001 names = %d %q, want 413 saying the body names more than 1000 properties", got, short(body))
	}

	before := ts.head(t)
	got, body, _ = ts.do(t, "PROPPATCH", "/config/k", strings.NewReader(proppatchNamesBody(1001)))
	if got != http.StatusRequestEntityTooLarge || !strings.Contains(body, "more than 1000 properties") {
		t.Errorf("PROPPATCH of 1001 names = %d %q, want 413 saying the body names more than 1000 properties", got, short(body))
	}
	if ts.head(t) != before {
		t.Errorf("refused PROPPATCH changed the store")
	}
	ts.must(t, http.StatusMultiStatus, "PROPPATCH", "/config/k", proppatchNamesBody(1000))
	body, _ = ts.must(t, http.StatusMultiStatus, "PROPFIND", "/config/k", propNamesBody(1000), "Depth", "0")
	if got := strings.Count(body, ">v</ns1:p"); got != 1000 {
		t.Errorf("PROPFIND after setting 1000 properties finds %d of them", got)
	}
}

// short returns the start of a long answer, for failure messages.
func short(body string) string {
	if len(body) > 300 {
		return body[:300] + "..."
	}
	return body
}
