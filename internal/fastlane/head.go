package fastlane

import (
	"fmt"
	"maps"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/verso-config/verso"
)

// The response heads of a key's GET, HEAD and PUT, for both lanes: the
// server's handlers (net/http) copy them into the ResponseWriter's header
// with SetKeyHeader and SetPutHeader, and the fast lane appends them as
// bytes with appendKeyHead and appendPutHead. Both walk the same field
// lists, so a header added to one lane is in the other.

// HeaderRevision is the header that tells the client the revision an
// answer is of: a key's last change for a read, the new revision for a
// write.
const HeaderRevision = "X-Verso-Revision"

// keyFields are the names of the headers of the answer to a GET or HEAD
// of a key, sorted as net/http writes them (before Date, which it adds);
// keyField makes their values. Content-Length is first: SetKeyHeader leaves
// it out on request.
var keyFields = [...]string{"Content-Length", "Content-Type", "Etag", "Last-Modified", "X-Content-Type-Options", HeaderRevision}

// keyField appends the value of keyFields[i] for the key e; a value that
// is a string already is returned as text instead, with b unchanged.
// (A switch, not a table of functions: through a function value e would
// escape, and the lane would allocate an entry per answer.)
func keyField(b []byte, i int, e *verso.Entry) (_ []byte, text string) {
	switch i {
	case 0:
		return strconv.AppendInt(b, int64(len(e.Value)), 10), ""
	case 1:
		return b, ContentType(e)
	case 2:
		return appendETag(b, e.ModRev), ""
	case 3:
		return appendHTTPDate(b, e.ModTime), ""
	case 4:
		return b, "nosniff"
	default:
		return strconv.AppendInt(b, int64(e.ModRev), 10), ""
	}
}

// putFields are the names of the headers of the answer to a PUT of a key;
// putField makes their values from the commit's revision.
var putFields = [...]string{"Etag", HeaderRevision}

func putField(b []byte, i int, rev verso.Revision) []byte {
	if i == 0 {
		return appendETag(b, rev)
	}
	return strconv.AppendInt(b, int64(rev), 10)
}

// ContentType is the Content-Type of a key's answer: its own, or
// application/octet-stream.
func ContentType(e *verso.Entry) string {
	if e.ContentType == "" {
		return "application/octet-stream"
	}
	return e.ContentType
}

// SetKeyHeader sets in h the headers of the answer to a GET or HEAD of the
// key e, with Content-Length if withLength (without it for an answer that
// http.ServeContent writes, which sets its own).
func SetKeyHeader(h http.Header, e *verso.Entry, withLength bool) {
	var buf [64]byte
	for i, name := range keyFields {
		if i == 0 && !withLength {
			continue
		}
		b, text := keyField(buf[:0], i, e)
		if text == "" {
			text = string(b)
		}
		h[name] = []string{text}
	}
}

// SetPutHeader sets in h the headers of the answer to a PUT that committed
// revision rev.
func SetPutHeader(h http.Header, rev verso.Revision) {
	var buf [32]byte
	for i, name := range putFields {
		h[name] = []string{string(putField(buf[:0], i, rev))}
	}
}

// appendKeyHead appends the head of a 200 answer to a GET or HEAD of the
// key e: the bytes net/http writes for SetKeyHeader's headers (status
// line, the headers sorted by name, then Date), or false if net/http would
// write others (a Content-Type it would have to rewrite).
func appendKeyHead(b []byte, e *verso.Entry) ([]byte, bool) {
	ct := ContentType(e)
	for i := 0; i < len(ct); i++ {
		if c := ct[i]; c < ' ' || c == 0x7f {
			return b, false
		}
	}
	b = append(b, "HTTP/1.1 200 OK\r\n"...)
	for i, name := range keyFields {
		b = append(b, name...)
		b = append(b, ": "...)
		var text string
		b, text = keyField(b, i, e)
		b = append(b, text...)
		b = append(b, "\r\n"...)
	}
	return appendEnd(b), true
}

// appendPutHead appends the head of the answer to a PUT that committed
// revision rev: 201 if it created the key, else 204. Net/http adds
// Content-Length: 0 to a 201 without a body, after Date.
func appendPutHead(b []byte, rev verso.Revision, created bool) []byte {
	if created {
		b = append(b, "HTTP/1.1 201 Created\r\n"...)
	} else {
		b = append(b, "HTTP/1.1 204 No Content\r\n"...)
	}
	for i, name := range putFields {
		b = append(b, name...)
		b = append(b, ": "...)
		b = putField(b, i, rev)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Date: "...)
	b = append(b, httpDate()...)
	if created {
		b = append(b, "\r\nContent-Length: 0"...)
	}
	return append(b, "\r\n\r\n"...)
}

// chunkingAt is how much of a body net/http holds before it writes the
// head (bufferBeforeChunkingSize): a body it holds whole when the handler
// returns is sent with its Content-Length, a longer one chunked.
const chunkingAt = 2048

// appendAnswer appends a whole answer a, as net/http writes the answer of
// a handler that set a.Header, called WriteHeader(a.Status), wrote a.Body
// in one Write and returned (chunkWriter.writeHeader): the status line,
// the header sorted by name, a line a value (newlines made spaces,
// trimmed), then Date, Content-Length and a detected Content-Type where
// net/http adds them, and the body; a body longer than chunkingAt as one
// chunk. a.Header must not hold what net/http treats apart (Connection,
// Content-Encoding, Content-Length, Date, Trailer, Transfer-Encoding).
func appendAnswer(b []byte, a *Answer) []byte {
	b = append(b, "HTTP/1.1 "...)
	if text := http.StatusText(a.Status); text != "" {
		b = strconv.AppendInt(b, int64(a.Status), 10)
		b = append(b, ' ')
		b = append(b, text...)
		b = append(b, "\r\n"...)
	} else {
		b = fmt.Appendf(b, "%03d status code %d\r\n", a.Status, a.Status)
	}
	for _, name := range slices.Sorted(maps.Keys(a.Header)) {
		for _, v := range a.Header[name] {
			b = append(b, name...)
			b = append(b, ": "...)
			b = append(b, textproto.TrimString(headerNewlineToSpace.Replace(v))...)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "Date: "...)
	b = append(b, httpDate()...)
	b = append(b, "\r\n"...)
	withBody := a.Status >= 200 && a.Status != http.StatusNoContent && a.Status != http.StatusNotModified
	chunked := withBody && len(a.Body) > chunkingAt
	if withBody && !chunked {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(a.Body)), 10)
		b = append(b, "\r\n"...)
	}
	if _, typed := a.Header["Content-Type"]; withBody && !typed && len(a.Body) > 0 {
		b = append(b, "Content-Type: "...)
		b = append(b, http.DetectContentType(a.Body)...)
		b = append(b, "\r\n"...)
	}
	if chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n\r\n"...)
		b = strconv.AppendInt(b, int64(len(a.Body)), 16)
		b = append(b, "\r\n"...)
		b = append(b, a.Body...)
		return append(b, "\r\n0\r\n\r\n"...)
	}
	b = append(b, "\r\n"...)
	if withBody {
		b = append(b, a.Body...)
	}
	return b
}

var headerNewlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")

// appendEnd appends Date and the end of the head.
func appendEnd(b []byte) []byte {
	b = append(b, "Date: "...)
	b = append(b, httpDate()...)
	return append(b, "\r\n\r\n"...)
}

// appendETag appends the ETag of revision rev (verso.Entry.ETag).
func appendETag(b []byte, rev verso.Revision) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, int64(rev), 10)
	return append(b, '"')
}

// appendHTTPDate appends t as http.TimeFormat formats it, in a fraction of
// the time time.Format takes (random keys have different times).
func appendHTTPDate(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 1000 || year > 9999 {
		return t.AppendFormat(b, http.TimeFormat)
	}
	hour, min, sec := t.Clock()
	two := func(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }
	b = append(b, t.Weekday().String()[:3]...)
	b = append(b, ", "...)
	b = two(b, day)
	b = append(b, ' ')
	b = append(b, month.String()[:3]...)
	b = append(b, ' ')
	b = two(b, year/100)
	b = two(b, year%100)
	b = append(b, ' ')
	b = two(b, hour)
	b = append(b, ':')
	b = two(b, min)
	b = append(b, ':')
	b = two(b, sec)
	return append(b, " GMT"...)
}

// dateCache holds the Date header of the current second.
type dateCache struct {
	sec int64
	b   []byte
}

var currentDate atomic.Pointer[dateCache]

// httpDate returns the current time as the Date header wants it.
func httpDate() []byte {
	now := time.Now()
	sec := now.Unix()
	if d := currentDate.Load(); d != nil && d.sec == sec {
		return d.b
	}
	d := &dateCache{sec: sec, b: appendHTTPDate(nil, now)}
	currentDate.Store(d)
	return d.b
}
