package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/verso-config/verso"
)

// The fast lane's PUT: the plainest write, a whole body of known length to
// a key that anonymous clients may write, with no condition, no lock in the
// way and no message of the client's (what bench/loadgen and most scripts
// send). net/http's per-request work and the handler's cost several times
// what the store's committer does per write; put does what handlePut would
// do for such a request, and writes the answer handlePut would give.
//
// Anything put is not sure of goes to net/http before anything is done:
// the request, body included, is still in the read buffer, unconsumed. A
// commit that fails changes nothing (docs/STORE.md), so when the store
// refuses the write (a missing parent namespace, a closed store...) the
// request is handed over as it came, and net/http answers it as it would
// have, a moment later.

// fastPuts holds what the fast lane needs for PUTs, set up by NewFront.
type fastPuts struct {
	on bool // the store is one whose head reads are exact (see newFastPuts)

	created, replaced               prometheus.Counter
	createdLatency, replacedLatency prometheus.Observer
}

// newFastPuts readies the fast lane's PUTs for f. They are taken only for
// a store that reads entries at head from memory (headEntries) and has no
// separate consistent read: handlePut checks the current entry through
// getConsistent, which for such a store is that same read.
func newFastPuts(f *Front) fastPuts {
	ops := f.s.ops
	_, consistent := f.s.store.(verso.ConsistentReader)
	return fastPuts{
		on:              f.heads != nil && !consistent,
		created:         ops.httpRequests.WithLabelValues(http.MethodPut, "201"),
		replaced:        ops.httpRequests.WithLabelValues(http.MethodPut, "204"),
		createdLatency:  ops.httpDuration.WithLabelValues(http.MethodPut, "201"),
		replacedLatency: ops.httpDuration.WithLabelValues(http.MethodPut, "204"),
	}
}

// anonymousCanWrite reports whether a request without credentials may
// write p: what authorize(r, p, Write) says for a request with no
// Authorization header (see anonymousCanRead).
func (s *Server) anonymousCanWrite(p verso.Path) bool {
	return s.auth.Allowed("", p, Write.rights())
}

// put answers a PUT of p whose head is b[:n] (see answer): it returns the
// bytes taken (head and body), 0 to hand the request to net/http, or
// needBody.
func (fc *fastConn) put(b []byte, n int, req *fastHead, p verso.Path) int {
	f := fc.f
	s := f.s
	if !f.puts.on || p == verso.Root || req.contentLength > s.max {
		return 0
	}
	total := int64(n) + req.contentLength
	if total > int64(len(fc.rbuf)) {
		return 0
	}
	if int64(len(b)) < total {
		return needBody
	}
	start := time.Now()
	if !s.anonymousCanWrite(p) {
		return 0
	}
	// handlePut's checks, in its order: an import or a PUT on a namespace
	// (405) are net/http's; so is anything a lock protects, since a
	// request without an If header submits no token.
	cur, exists := f.heads.HeadEntry(p)
	if exists && cur.Kind != verso.KindKey {
		return 0
	}
	if s.locks.Confirm(p, false, !exists, nil) != nil {
		return 0
	}
	ops := s.ops
	if ops.requests != nil {
		select {
		case ops.requests <- struct{}{}:
			defer func() { <-ops.requests }()
		default:
			return 0 // net/http answers 503, or serves it if a slot is free by then
		}
	}
	// The answer must go out before the commit's wait, and a connection
	// limiter must not take the connection for an idle one meanwhile.
	if !fc.flush() {
		return 0
	}
	fc.active()
	value := make([]byte, req.contentLength)
	copy(value, b[n:total])
	ct := string(req.contentType)
	if ct == "" || strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		ct = http.DetectContentType(value)
	}
	ops.httpInFlight.Inc()
	c, err := s.store.Commit(context.Background(), &verso.Txn{
		Message: "PUT " + string(p),
		Ops:     []verso.Op{{Kind: verso.OpPut, Path: p, Value: value, ContentType: ct}},
	})
	ops.httpInFlight.Dec()
	if err != nil {
		return 0 // nothing changed: net/http answers it, as it would have
	}
	created := len(c.Changes) > 0 && c.Changes[0].Action == verso.Added
	// The same bytes net/http writes for handlePut's answer: its status
	// line, the handler's headers sorted by name, then Date, then the
	// Content-Length net/http adds to a 201 without a body.
	w := fc.wbuf
	if created {
		w = append(w, "HTTP/1.1 201 Created\r\nEtag: \""...)
	} else {
		w = append(w, "HTTP/1.1 204 No Content\r\nEtag: \""...)
	}
	w = strconv.AppendInt(w, int64(c.Rev), 10)
	w = append(w, "\"\r\nX-Verso-Revision: "...)
	w = strconv.AppendInt(w, int64(c.Rev), 10)
	w = append(w, "\r\nDate: "...)
	w = append(w, httpDate()...)
	if created {
		w = append(w, "\r\nContent-Length: 0"...)
	}
	w = append(w, "\r\n\r\n"...)
	fc.wbuf = w
	fc.n++
	ops.commits.Inc()
	if created {
		f.puts.created.Inc()
		f.puts.createdLatency.Observe(time.Since(start).Seconds())
	} else {
		f.puts.replaced.Inc()
		f.puts.replacedLatency.Observe(time.Since(start).Seconds())
	}
	return int(total)
}

// active tells hs.ConnState (a connection limiter) that the connection is
// serving a request, as net/http does once it has read a request's head,
// so that it is not taken for an idle one while a write waits for its
// commit.
func (fc *fastConn) active() {
	if hook := fc.f.hs.ConnState; hook != nil {
		hook(fc.c, http.StateActive)
		fc.idleSent = time.Time{} // tell it again when the connection is idle
	}
}
