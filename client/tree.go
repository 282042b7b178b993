package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/verso-config/verso"
)

// Value is a key's value as read from the server.
type Value struct {
	Data        []byte
	ContentType string
	// Revision is the revision at which the key last changed.
	Revision verso.Revision
	// ETag identifies this version of the key, for PutOptions.IfMatch.
	ETag string
}

// Get reads the key at p, as of rev (verso.Head for the newest). A
// namespace at p is an *Error (409) saying so, not its listing.
func (c *Client) Get(ctx context.Context, p verso.Path, rev verso.Revision) (*Value, error) {
	resp, err := c.do(ctx, http.MethodGet, c.treeURL(p, false, revQuery(rev)), nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// The server lists a namespace under a weak ETag; a key's is strong.
	if strings.HasPrefix(resp.Header.Get("ETag"), "W/") {
		return nil, &Error{Status: http.StatusConflict, Message: string(p) + " is a namespace, not a key"}
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	r, _ := strconv.ParseInt(resp.Header.Get("X-Verso-Revision"), 10, 64)
	return &Value{Data: b, ContentType: resp.Header.Get("Content-Type"), Revision: verso.Revision(r), ETag: resp.Header.Get("ETag")}, nil
}

func revQuery(rev verso.Revision) url.Values {
	if rev == verso.Head {
		return nil
	}
	return url.Values{"rev": {strconv.FormatInt(int64(rev), 10)}}
}

// Entry is one child in a namespace listing.
type Entry struct {
	Name        string         `json:"name"`
	Kind        verso.Kind     `json:"kind"`
	Size        int            `json:"size"`
	ContentType string         `json:"content_type,omitempty"`
	Revision    verso.Revision `json:"revision"`
}

// List returns the children of the namespace p as of rev.
func (c *Client) List(ctx context.Context, p verso.Path, rev verso.Revision) ([]Entry, error) {
	resp, err := c.do(ctx, http.MethodGet, c.treeURL(p, true, revQuery(rev)), nil, http.Header{"Accept": {"application/json"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		return nil, &Error{Status: http.StatusConflict, Message: string(p) + " is a key, not a namespace"}
	}
	var l struct {
		Entries []Entry `json:"entries"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		return nil, err
	}
	return l.Entries, nil
}

// WriteOptions qualify a write. The zero value is a plain write.
type WriteOptions struct {
	// Message is the commit message; empty lets the server generate one.
	Message string
	// IfMatch makes the write conditional on the key's ETag (compare and
	// set); "*" requires only that it exists.
	IfMatch string
	// IfNoneMatch "*" creates the key only if it does not exist.
	IfNoneMatch string
	// ContentType of a put; empty lets the server detect it.
	ContentType string
}

func (o *WriteOptions) header() http.Header {
	h := http.Header{}
	if o == nil {
		return h
	}
	if o.Message != "" {
		h.Set("X-Verso-Message", url.PathEscape(o.Message))
	}
	if o.IfMatch != "" {
		h.Set("If-Match", o.IfMatch)
	}
	if o.IfNoneMatch != "" {
		h.Set("If-None-Match", o.IfNoneMatch)
	}
	if o.ContentType != "" {
		h.Set("Content-Type", o.ContentType)
	}
	return h
}

// Put writes data to the key at p and returns the revision it made and
// whether the key was created.
func (c *Client) Put(ctx context.Context, p verso.Path, data []byte, opts *WriteOptions) (verso.Revision, bool, error) {
	resp, err := c.do(ctx, http.MethodPut, c.treeURL(p, false, nil), bytes.NewReader(data), opts.header())
	if err != nil {
		return 0, false, err
	}
	resp.Body.Close()
	rev, err := c.committed(ctx, resp)
	return rev, resp.StatusCode == http.StatusCreated, err
}

// Mkdir creates the namespace p and returns the revision it made.
func (c *Client) Mkdir(ctx context.Context, p verso.Path, opts *WriteOptions) (verso.Revision, error) {
	resp, err := c.do(ctx, "MKCOL", c.treeURL(p, false, nil), nil, opts.header())
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return c.committed(ctx, resp)
}

// Delete removes the key or namespace p (with everything below it) and
// returns the revision it made.
func (c *Client) Delete(ctx context.Context, p verso.Path, opts *WriteOptions) (verso.Revision, error) {
	resp, err := c.do(ctx, http.MethodDelete, c.treeURL(p, false, nil), nil, opts.header())
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return c.committed(ctx, resp)
}

// committed returns the revision a successful write made, from its
// X-Verso-Revision header. A server that does not send the header is asked
// for its head instead; that is only a guess, since another write may have
// landed in between.
func (c *Client) committed(ctx context.Context, resp *http.Response) (verso.Revision, error) {
	if r, err := strconv.ParseInt(resp.Header.Get("X-Verso-Revision"), 10, 64); err == nil && r > 0 {
		return verso.Revision(r), nil
	}
	cm, err := c.Revision(ctx, verso.Head)
	if err != nil {
		return 0, err
	}
	return cm.Rev, nil
}
