package fastlane

import (
	"bytes"
	"net/http"
)

// The states of a request head in the read buffer.
const (
	headIncomplete = iota
	headComplete
	headOther // not for the fast lane: hand it over as it is
)

// scanHead finds the end of the request head at the start of b: it returns
// the head's length when it is complete. A head that could not be a fast
// lane request is headOther as soon as that is clear, so that net/http
// takes it without waiting for the rest.
func scanHead(b []byte) (int, int) {
	if len(b) >= 5 && string(b[:4]) != "GET " && string(b[:5]) != "HEAD " && string(b[:4]) != "PUT " {
		return 0, headOther
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0, headIncomplete
		}
		j += i
		if j == 0 || b[j-1] != '\r' {
			return 0, headOther // a bare LF: net/http accepts it, and decides
		}
		if j == i+1 {
			return j + 1, headComplete
		}
		i = j + 1
	}
}

// request is what parseRequest finds in a fast-lane request's head.
type request struct {
	method string
	target []byte
	// A PUT's Content-Length (always given), and its Content-Type as
	// Header.Get would return it ("" when absent).
	contentLength int64
	contentType   []byte
	host          []byte // the Host header's value, as net/http's Request.Host
}

// The request headers the fast lane answers with, by what they may carry.
// A request with any other header goes to net/http: only a header listed
// here is known not to change the answer of a plain GET, HEAD or PUT of a
// key (the server's handlers, and net/http, read none of them for such a
// request, or read them as the fast lane does). Before adding a header,
// check that, and add a case to the differential tests.
const (
	hdrIgnored       = iota + 1 // the answer does not depend on it
	hdrHost                     // Host: exactly one, of host bytes
	hdrConnection               // Connection: keep-alive only
	hdrContentLength            // a PUT's, one, in plain decimal
	hdrContentType              // a PUT's, at most one
)

var allowedHeaders = map[string]int{
	"host":            hdrHost,
	"connection":      hdrConnection,
	"user-agent":      hdrIgnored,
	"accept":          hdrIgnored, // read for namespaces only, which go to net/http
	"accept-encoding": hdrIgnored, // verso compresses nothing
	"accept-language": hdrIgnored,
	"cache-control":   hdrIgnored,
	"pragma":          hdrIgnored,
	"content-length":  hdrContentLength,
	"content-type":    hdrContentType,
}

// headerKind returns how allowedHeaders lists name (any case), 0 if not.
func headerKind(name []byte) int {
	var lower [16]byte // longer than any allowed name: not allowed
	if len(name) > len(lower) {
		return 0
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return allowedHeaders[string(lower[:len(name)])] // no allocation: a map index by a converted slice
}

// parseRequest checks a complete request head: it says what it found when
// the request is one the fast lane answers: a GET or HEAD, or a PUT with
// a body of known length, of HTTP/1.1, whose target is a path, whose
// headers are all in allowedHeaders and hold what net/http would take as
// the fast lane does. Anything else is net/http's.
func parseRequest(head []byte) (req request, ok bool) {
	// scanHead made sure that every line ends in CRLF; a CR elsewhere is
	// refused with the other control characters.
	eol := bytes.IndexByte(head, '\n')
	line := head[:eol-1]
	switch {
	case bytes.HasPrefix(line, []byte("GET /")):
		req.method, line = http.MethodGet, line[4:]
	case bytes.HasPrefix(line, []byte("HEAD /")):
		req.method, line = http.MethodHead, line[5:]
	case bytes.HasPrefix(line, []byte("PUT /")):
		req.method, line = http.MethodPut, line[4:]
	default:
		return req, false
	}
	put := req.method == http.MethodPut
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 || string(line[sp+1:]) != "HTTP/1.1" {
		return req, false
	}
	req.target = line[:sp]
	for _, c := range req.target {
		if !pathByte[c] {
			return req, false // a query, a fragment, a space, non-ASCII...
		}
	}
	hosts, lengths, types := 0, 0, 0
	rest := head[eol+1 : len(head)-2]
	for len(rest) > 0 {
		eol := bytes.IndexByte(rest, '\n')
		line := rest[:eol-1]
		rest = rest[eol+1:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return req, false
		}
		name := line[:colon]
		value := bytes.Trim(line[colon+1:], " \t")
		for _, c := range value {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return req, false
			}
		}
		switch headerKind(name) {
		case hdrIgnored:
		case hdrHost:
			hosts++
			req.host = value
			for _, c := range value {
				if !hostByte[c] {
					return req, false
				}
			}
		case hdrConnection:
			if !equalFold(value, "keep-alive") {
				return req, false
			}
		case hdrContentLength:
			if !put {
				return req, false
			}
			lengths++
			n, ok := parseLength(value)
			if !ok {
				return req, false
			}
			req.contentLength = n
		case hdrContentType:
			types++
			req.contentType = value
		default:
			return req, false
		}
	}
	if put && (lengths != 1 || types > 1) {
		return req, false // no length (chunked, or none), or more than one
	}
	return req, hosts == 1
}

// parseLength parses a Content-Length in the one spelling that leaves
// nothing to interpret: decimal digits, without a leading zero unless it
// is 0, and short enough not to overflow.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// equalFold reports whether b is s in any case; s is lower-case ASCII.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(s) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// Byte classes of the request head.
var pathByte, hostByte [256]bool

func init() {
	for c := 0; c < 256; c++ {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		pathByte[c] = alnum || bytes.IndexByte([]byte("-._~!$&'()*+,;=:@/%"), byte(c)) >= 0
		hostByte[c] = alnum || bytes.IndexByte([]byte("-._:[]"), byte(c)) >= 0
	}
}
