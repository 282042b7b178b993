package client

import (
	"context"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/verso-config/verso"
)

// LockOptions qualify a lock.
type LockOptions struct {
	// Owner says who holds the lock and why; lock discovery (a WebDAV
	// client's, svn info) shows it.
	Owner string
	// Timeout is how long the lock lasts unless refreshed; 0 takes the
	// server's default (one hour). The server caps it (at a week).
	Timeout time.Duration
	// Shallow locks a namespace alone (WebDAV Depth 0: its membership),
	// not everything below it.
	Shallow bool
}

// Lock takes an exclusive write lock on p (a key, or a namespace with
// everything below it) and returns its token: until Unlock, or until it
// times out, writes to what it protects need the token (Options.LockTokens
// of the client that writes). Locking a path that does not exist creates
// an empty key there. A path locked already is an *Error with Status 423.
func (c *Client) Lock(ctx context.Context, p verso.Path, opts *LockOptions) (string, error) {
	var o LockOptions
	if opts != nil {
		o = *opts
	}
	var body strings.Builder
	body.WriteString(`<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>`)
	if o.Owner != "" {
		body.WriteString("<D:owner>")
		xml.EscapeText(&body, []byte(o.Owner))
		body.WriteString("</D:owner>")
	}
	body.WriteString("</D:lockinfo>")
	h := http.Header{"Content-Type": {"application/xml; charset=utf-8"}, "Depth": {"infinity"}}
	if o.Shallow {
		h.Set("Depth", "0")
	}
	if o.Timeout > 0 {
		h.Set("Timeout", "Second-"+strconv.FormatInt(int64((o.Timeout+time.Second-1)/time.Second), 10))
	}
	resp, err := c.do(ctx, "LOCK", c.treeURL(p, false, nil), strings.NewReader(body.String()), h)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return strings.Trim(resp.Header.Get("Lock-Token"), "<>"), nil
}

// Unlock releases the lock of token, which must protect p. An unknown
// token, or one whose lock does not protect p, is an *Error with Status
// 409.
func (c *Client) Unlock(ctx context.Context, p verso.Path, token string) error {
	resp, err := c.do(ctx, "UNLOCK", c.treeURL(p, false, nil), nil, http.Header{"Lock-Token": {"<" + token + ">"}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// submitTokens is the If header that submits tokens with a write without
// making it conditional on them: one list per token, and a last one that
// always holds (RFC 4918, section 10.4.8), so that a write to a path no
// lock of tokens protects still goes ahead.
func submitTokens(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteString("(<" + t + ">) ")
	}
	b.WriteString("(Not <DAV:no-lock>)")
	return b.String()
}
