// Package client is the Go client of verso's HTTP API: the tree under the
// mount point (read, write, list, export and import) and the JSON API
// (transactions, log, revisions, diff, revert, backup and watch). The verso
// command-line tool talks to servers only through it.
//
// Errors from the server come back as *Error, which errors.Is matches
// against the verso sentinels (a 404 is verso.ErrNotFound, a 412
// verso.ErrPrecondition, and so on).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/verso-config/verso"
)

// Options configure a Client. The zero value (or nil) gives the defaults.
type Options struct {
	// Mount is the URL path of the tree on the server; default "/config".
	Mount string
	// User and Password are sent with HTTP Basic authentication when User
	// is not empty.
	User, Password string
	// HTTPClient makes the requests; default http.DefaultClient.
	HTTPClient *http.Client
	// LockTokens are the tokens of locks the caller holds (Lock, a WebDAV
	// client's LOCK, svn lock). Every write submits them, so that what
	// those locks protect may be written; a write to what they do not
	// protect is not affected.
	LockTokens []string
}

// Client talks to one verso server.
type Client struct {
	base  *url.URL
	mount string
	opts  Options
	http  *http.Client
}

// New returns a client of the server at baseURL ("http://127.0.0.1:8080").
func New(baseURL string, opts *Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: server URL %q must be like http://HOST:PORT", baseURL)
	}
	c := &Client{base: u}
	if opts != nil {
		c.opts = *opts
	}
	c.mount = strings.TrimSuffix(c.opts.Mount, "/")
	if c.opts.Mount == "" {
		c.mount = "/config"
	}
	c.http = c.opts.HTTPClient
	if c.http == nil {
		c.http = http.DefaultClient
	}
	return c, nil
}

// Error is a request the server refused or failed.
type Error struct {
	Status  int    // the HTTP status
	Message string // the server's explanation
	// Op is the index of the operation of a transaction the error
	// concerns (nil when none), Path the path it concerns, Paths those of
	// a conflict (the paths changed after the transaction's base).
	Op    *int
	Path  verso.Path
	Paths []verso.Path
	// Violations list, for a write a namespace's schema refused (422),
	// each value that fails it.
	Violations []verso.Violation
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	if len(e.Violations) > 0 {
		// One a line, as the command line prints them.
		var b strings.Builder
		b.WriteString(e.Message)
		for _, v := range e.Violations {
			b.WriteString("\n  " + v.String())
		}
		return b.String()
	}
	return e.Message
}

// Is lets errors.Is match an *Error against the verso sentinel its status
// stands for.
func (e *Error) Is(target error) bool {
	switch e.Status {
	case http.StatusNotFound:
		return target == verso.ErrNotFound
	case http.StatusGone:
		return target == verso.ErrGone
	case http.StatusPreconditionFailed:
		return target == verso.ErrPrecondition
	case http.StatusConflict:
		return target == verso.ErrConflict
	case http.StatusRequestEntityTooLarge:
		return target == verso.ErrTooLarge
	case http.StatusUnprocessableEntity:
		return target == verso.ErrSchema && len(e.Violations) > 0
	}
	return false
}

// treeURL returns the URL of p in the tree; slash adds the trailing "/"
// that names a namespace (the root always has it).
func (c *Client) treeURL(p verso.Path, slash bool, query url.Values) string {
	u := *c.base
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(u.Path, "/"))
	b.WriteString(c.mount)
	for _, seg := range strings.Split(strings.TrimPrefix(string(p), "/"), "/") {
		if seg != "" {
			b.WriteString("/" + url.PathEscape(seg))
		}
	}
	u.Path, u.RawPath = "", ""
	u.Opaque = ""
	s := u.String() + b.String()
	if p == verso.Root || slash {
		s += "/"
	}
	if len(query) > 0 {
		s += "?" + query.Encode()
	}
	return s
}

// apiURL returns the URL of a JSON API endpoint.
func (c *Client) apiURL(endpoint string, query url.Values) string {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/" + endpoint
	u.RawQuery = query.Encode()
	return u.String()
}

// do sends a request and returns the response if its status is 2xx or 304;
// otherwise it returns an *Error with the server's message.
func (c *Client) do(ctx context.Context, method, url string, body io.Reader, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if len(c.opts.LockTokens) > 0 && method != http.MethodGet && method != http.MethodHead && req.Header.Get("If") == "" {
		req.Header.Set("If", submitTokens(c.opts.LockTokens))
	}
	if c.opts.User != "" {
		req.SetBasicAuth(c.opts.User, c.opts.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusNotModified {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Status: resp.StatusCode, Message: serverMessage(resp, b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		e.details(b)
	}
	return nil, e
}

// serverMessage extracts the explanation from an error response: the JSON
// API's "error" field, or the plain-text line of the tree.
func serverMessage(resp *http.Response, b []byte) string {
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return e.Error
		}
	}
	msg := strings.TrimSpace(string(b))
	// The tree's errors read "404 Not Found: reason"; keep the reason.
	if i := strings.Index(msg, ": "); i > 0 && strings.HasPrefix(msg, strconv.Itoa(resp.StatusCode)) {
		msg = msg[i+2:]
	}
	return msg
}

// getJSON fetches an API endpoint into v.
func (c *Client) getJSON(ctx context.Context, endpoint string, query url.Values, v any) error {
	resp, err := c.do(ctx, http.MethodGet, c.apiURL(endpoint, query), nil, http.Header{"Accept": {"application/json"}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// postJSON sends in to an API endpoint and decodes the answer into out.
func (c *Client) postJSON(ctx context.Context, endpoint string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, http.MethodPost, c.apiURL(endpoint, nil), bytes.NewReader(b), http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}
