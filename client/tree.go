package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"

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

// Get reads the key at p, as of rev (verso.Head for the newest).
func (c *Client) Get(ctx context.Context, p verso.Path, rev verso.Revision) (*Value, error) {
	resp, err := c.do(ctx, http.MethodGet, c.treeURL(p, revQuery(rev)), nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
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
	resp, err := c.do(ctx, http.MethodGet, c.treeURL(p, revQuery(rev))+"/", nil, http.Header{"Accept": {"application/json"}})
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
	resp, err := c.do(ctx, http.MethodPut, c.treeURL(p, nil), bytes.NewReader(data), opts.header())
	if err != nil {
		return 0, false, err
	}
	resp.Body.Close()
	r, _ := strconv.ParseInt(resp.Header.Get("X-Verso-Revision"), 10, 64)
	return verso.Revision(r), resp.StatusCode == http.StatusCreated, nil
}

// Mkdir creates the namespace p.
func (c *Client) Mkdir(ctx context.Context, p verso.Path, opts *WriteOptions) error {
	resp, err := c.do(ctx, "MKCOL", c.treeURL(p, nil), nil, opts.header())
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Delete removes the key or namespace p (with everything below it).
func (c *Client) Delete(ctx context.Context, p verso.Path, opts *WriteOptions) error {
	resp, err := c.do(ctx, http.MethodDelete, c.treeURL(p, nil), nil, opts.header())
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
