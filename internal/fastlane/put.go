package fastlane

import (
	"net/http"
	"time"

	"github.com/verso-config/verso"
)

// The lane's PUT: the plainest write, a whole body of known length to a
// key that anonymous clients may write, with no condition and no message
// of the client's (what bench/loadgen and most scripts send). net/http's
// per-request work costs several times what the store's committer does
// per write. The lane reads the request; what a PUT does (its checks in
// the PUT handler's order, and the commit) is the Server's Put, and the
// answer's head is appendPutHead's, as the handler's is SetPutHeader's.
//
// Anything the Server's Put is not sure of goes to net/http before
// anything is done: the request, body included, is still in the read
// buffer, unconsumed. A write the Server refuses (a schema, a missing
// namespace, the value limit) is answered here with the answer the PUT
// handler gives (PutResult.Refused), so that net/http does not plan the
// same commit a second time only to be refused again.

// put answers a PUT of p whose head is b[:n] (see answer): it returns the
// bytes taken (head and body), 0 to hand the request to net/http, or
// needBody.
func (fc *conn) put(b []byte, n int, req *request, p verso.Path) int {
	f := fc.f
	if !f.puts || p == verso.Root {
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
	if !f.srv.AnonymousMay(p, true) {
		return 0
	}
	// The answer must go out before the commit's wait, and a connection
	// limiter must not take the connection for an idle one meanwhile.
	if !fc.flush() {
		return 0
	}
	fc.active()
	value := make([]byte, req.contentLength)
	copy(value, b[n:total])
	res, ok := f.srv.Put(PutRequest{Path: p, Value: value, ContentType: string(req.contentType), Host: string(req.host)})
	if !ok {
		return 0 // nothing changed: net/http answers it, as it would have
	}
	fc.n++
	if a := res.Refused; a != nil {
		fc.wbuf = appendAnswer(fc.wbuf, a)
		count, latency := f.srv.Metrics(http.MethodPut, a.Status)
		count.Inc()
		latency.Observe(time.Since(start).Seconds())
		return int(total)
	}
	fc.wbuf = appendPutHead(fc.wbuf, res.Rev, res.Created)
	if res.Created {
		f.createdCount.Inc()
		f.createdLatency.Observe(time.Since(start).Seconds())
	} else {
		f.replacedCount.Inc()
		f.replacedLatency.Observe(time.Since(start).Seconds())
	}
	return int(total)
}

// active tells hs.ConnState (a connection limiter) that the connection is
// serving a request, as net/http does once it has read a request's head,
// so that it is not taken for an idle one while a write waits for its
// commit.
func (fc *conn) active() {
	if hook := fc.f.hs.ConnState; hook != nil {
		hook(fc.c, http.StateActive)
		fc.idleSent = time.Time{} // tell it again when the connection is idle
	}
}
