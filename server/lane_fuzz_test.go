package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/server"
)

// fuzzSide starts a server on a new store holding seedTxns, behind a
// front (lane) or net/http alone, with short timeouts so that an input
// that leaves a request unfinished costs little.
func fuzzSide(f *testing.F, lane bool) string {
	st, err := bolt.Open(filepath.Join(f.TempDir(), "verso.db"), &bolt.Options{Clock: fixedClock})
	if err != nil {
		f.Fatal(err)
	}
	for _, txn := range seedTxns() {
		if _, err := st.Commit(context.Background(), txn); err != nil {
			f.Fatal(err)
		}
	}
	srv := server.New(st, &server.Options{Clock: fixedClock, BodyTimeout: 300 * time.Millisecond})
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	var front *server.Front
	if lane {
		front = server.NewFront(srv, hs)
		go front.Serve(ln)
	} else {
		go hs.Serve(ln)
	}
	f.Cleanup(func() {
		if front != nil {
			front.Close()
		} else {
			hs.Close()
		}
		srv.Close()
		st.Close()
	})
	return ln.Addr().String()
}

// fuzzExchange sends in, then a last request that closes the connection,
// and returns all that came back, or false if the answers did not end
// (an input whose framing swallowed the last request, held by a timeout).
func fuzzExchange(t *testing.T, addr string, in []byte) ([]byte, bool) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	go func() {
		c.Write(in)
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: end\r\nConnection: close\r\n\r\n")
	}()
	out, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return out, false
	}
	return out, true
}

// fuzzMutating are the methods and routes whose answers differ between
// two servers however they serve them (lock tokens, metrics, timings,
// waits), or whose writes the fuzzer could make without bound.
var fuzzMutating = regexp.MustCompile(`LOCK|MOVE|COPY|DELETE|MKCOL|POST|PROPPATCH|/api|/metrics|wait=|watch`)

// FuzzLane sends the same request bytes (methods, headers, pipelining,
// odd framing) to a server behind the fast lane and to one served by
// net/http alone, over stores alike: the answers must be the same bytes
// but for Date (the lane answers as net/http would, or hands the request
// over). PUTs write both stores alike.
func FuzzLane(f *testing.F) {
	for _, c := range differentialCases("/config") {
		var raw []byte
		for _, ex := range c.exs {
			raw = append(raw, ex.raw...)
		}
		if !fuzzMutating.Match(raw) && len(raw) < 8<<10 {
			f.Add(raw)
		}
	}
	f.Add([]byte("PUT /config/app/new HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /config/app/new HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("PUT /config/app/name HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Type: text/x\r\n\r\nabc"))
	f.Add([]byte("GET /config/app/name HTTP/1.1\r\nHost: x\r\nUser-Agent: u\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n\r\n"))
	// Refused by the commit, answered by the lane: a missing namespace, a key as the parent.
	f.Add([]byte("PUT /config/nope/k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nxGET /config/app/name HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("PUT /config/app/name/k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx"))
	lane, plain := fuzzSide(f, true), fuzzSide(f, false)
	f.Fuzz(func(t *testing.T, in []byte) {
		if fuzzMutating.Match(in) || len(in) > 16<<10 {
			t.Skip()
		}
		a, aok := fuzzExchange(t, plain, in)
		b, bok := fuzzExchange(t, lane, in)
		if !aok || !bok {
			return // held by a timeout: the two ends are timing's, not the lane's
		}
		a, b = dateLine.ReplaceAll(a, nil), dateLine.ReplaceAll(b, nil)
		if !bytes.Equal(a, b) {
			t.Errorf("for %q:\nnet/http answered %q\nthe lane answered %q", in, a, b)
		}
	})
}
