package httpops

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// AccessLog writes one line per request in the Apache combined log format,
//
//	host - user [time] "METHOD URI PROTO" status bytes "referer" "user-agent"
//
// with the authenticated user (the author of the request's writes) in the
// user field, so that the log answers who read or changed
// which key, and when. Each line is written with one Write call.
type AccessLog struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// Entry is what the access log says of one request.
type Entry struct {
	RemoteAddr string // host:port of the client
	User       string // authenticated user; "" for anonymous
	Method     string
	URI        string // as sent: r.RequestURI
	Proto      string // "HTTP/1.1"
	Referer    string
	UserAgent  string
	Start      time.Time // when the request arrived
	Status     int
	Bytes      int64 // of the response body
}

// FromRequest fills in what r says about itself, and user. The user must be
// the one authentication verified, never a name the client merely claimed:
// without users configured, or on a 401 or 429, it is "", which the log
// writes "-", as Apache does.
func (e *Entry) FromRequest(r *http.Request, user string) {
	e.RemoteAddr, e.User, e.Method, e.URI, e.Proto = r.RemoteAddr, user, r.Method, r.RequestURI, r.Proto
	e.Referer, e.UserAgent = r.Referer(), r.UserAgent()
}

// NewAccessLog returns an access log that writes to w.
func NewAccessLog(w io.Writer) *AccessLog { return &AccessLog{w: w} }

// Log writes the line of one request.
func (l *AccessLog) Log(e *Entry) {
	host, _, err := net.SplitHostPort(e.RemoteAddr)
	if err != nil {
		host = e.RemoteAddr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf[:0]
	b = appendField(b, host)
	b = append(b, " - "...)
	b = appendField(b, e.User)
	b = append(b, " ["...)
	b = e.Start.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = appendQuoted(b, e.Method)
	b = append(b, ' ')
	b = appendQuoted(b, e.URI)
	b = append(b, ' ')
	b = appendQuoted(b, e.Proto)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	if e.Bytes > 0 {
		b = strconv.AppendInt(b, e.Bytes, 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, " \""...)
	b = appendQuoted(b, orDash(e.Referer))
	b = append(b, "\" \""...)
	b = appendQuoted(b, orDash(e.UserAgent))
	b = append(b, "\"\n"...)
	l.buf = b
	l.w.Write(b) // a failing log must not fail requests
}

// orDash returns s, or "-" for an empty header, as Apache writes it.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// appendField appends an unquoted field: "-" when empty, and escaped like
// a quoted one, with spaces escaped too, so a field never splits in two.
func appendField(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			b = append(b, `\x20`...)
			continue
		}
		b = appendEscaped(b, s[i])
	}
	return b
}

// appendQuoted appends s for use between double quotes, escaping as Apache
// does: '"' and '\' with a backslash, control and non-ASCII bytes as \xHH.
func appendQuoted(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b = appendEscaped(b, s[i])
	}
	return b
}

func appendEscaped(b []byte, c byte) []byte {
	const hex = "0123456789abcdef"
	switch {
	case c == '"' || c == '\\':
		return append(b, '\\', c)
	case c < 0x20 || c >= 0x7f:
		return append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
	}
	return append(b, c)
}
