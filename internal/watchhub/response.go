package watchhub

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Response is an http.ResponseWriter for a request whose connection was
// taken over: it collects the answer, which Bytes gives whole, to be
// written before the connection closes (Connection: close).
type Response struct {
	head   bool // the request was HEAD: no body
	header http.Header
	status int
	body   bytes.Buffer
}

// NewResponse returns an empty answer; head says the request was HEAD.
func NewResponse(head bool) *Response {
	return &Response{head: head, header: http.Header{}}
}

// Header returns the header of the answer.
func (w *Response) Header() http.Header { return w.header }

// WriteHeader sets the status; only the first call counts.
func (w *Response) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// Write adds b to the body.
func (w *Response) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// Status returns the status of the answer (200 if none was set).
func (w *Response) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// BodyLen returns the length of the body written so far.
func (w *Response) BodyLen() int { return w.body.Len() }

// Flush does nothing: the answer goes out whole.
func (w *Response) Flush() {}

// Bytes returns the whole answer as it goes on the connection.
func (w *Response) Bytes() []byte {
	w.WriteHeader(http.StatusOK)
	h := w.header
	h.Del("Transfer-Encoding")
	h.Set("Connection", "close")
	if h.Get("Date") == "" {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	body := w.body.Bytes()
	bodyless := w.status == http.StatusNoContent || w.status == http.StatusNotModified || w.status < 200
	if !bodyless && h.Get("Content-Length") == "" {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	if w.head || bodyless {
		body = nil
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	h.Write(&out)
	out.WriteString("\r\n")
	out.Write(body)
	return out.Bytes()
}
