package server

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/verso-config/verso"
)

func TestAppendHTTPDate(t *testing.T) {
	times := []time.Time{
		time.Unix(0, 0), time.Date(2026, 11, 26, 12, 36, 33, 999, time.UTC),
		time.Date(999, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(12000, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2026, 3, 1, 9, 5, 7, 0, time.FixedZone("x", 5*3600)),
	}
	for range 1000 {
		times = append(times, time.Unix(rand.Int64N(1<<36), rand.Int64N(1e9)))
	}
	for _, tm := range times {
		if got, want := string(appendHTTPDate(nil, tm)), tm.UTC().Format(http.TimeFormat); got != want {
			t.Errorf("appendHTTPDate(%v) = %q, want %q", tm, got, want)
		}
	}
}

func TestCleanPath(t *testing.T) {
	for _, s := range []string{"/a", "/a/b", "/a/", "//a", "/a//b", "/./a", "/a/..", "/a/.b", "/a b", "/é", "", "/", "/" + string(make([]byte, 300))} {
		if !cleanPath(s) {
			continue
		}
		if p, err := verso.ParsePath(s); err != nil || string(p) != s {
			t.Errorf("cleanPath(%q) = true, but ParsePath gives %q, %v", s, p, err)
		}
	}
}
