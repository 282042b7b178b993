package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/verso-config/verso"
)

// ExportOptions qualify an export. The zero value exports as JSON at the
// head.
type ExportOptions struct {
	// Format is json (the default), yaml, env or properties.
	Format string
	// Rev is the revision to export; 0 or verso.Head for the newest.
	Rev verso.Revision
	// ParseJSON reads values as typed data, as namespace schemas do
	// (JSON where it parses, a string otherwise, one trailing newline
	// ignored; JSON and YAML only).
	ParseJSON bool
}

// Export is a namespace as one document.
type Export struct {
	Data        []byte
	ContentType string
	// Revision is the last revision that changed the namespace, as of the
	// revision exported.
	Revision verso.Revision
	ETag     string
}

// Export reads the namespace p, and everything below it, as one document
// (see "Export and import" in docs/HTTP.md).
func (c *Client) Export(ctx context.Context, p verso.Path, opts *ExportOptions) (*Export, error) {
	var o ExportOptions
	if opts != nil {
		o = *opts
	}
	if o.Format == "" {
		o.Format = "json"
	}
	q := url.Values{"format": {o.Format}}
	if o.Rev > 0 {
		q.Set("rev", strconv.FormatInt(int64(o.Rev), 10))
	}
	if o.ParseJSON {
		q.Set("parse", "json")
	}
	resp, err := c.do(ctx, http.MethodGet, c.treeURL(p, true, q), nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	r, _ := strconv.ParseInt(resp.Header.Get("X-Verso-Revision"), 10, 64)
	return &Export{Data: b, ContentType: resp.Header.Get("Content-Type"), Revision: verso.Revision(r), ETag: resp.Header.Get("ETag")}, nil
}

// ImportOptions qualify an import.
type ImportOptions struct {
	// Format of the document: json or yaml.
	Format string
	// Sync also deletes what is below the namespace and not in the
	// document, in the same revision.
	Sync bool
	// Message is the commit message; empty lets the server write
	// "IMPORT /ns".
	Message string
}

// ImportResult says what an import did.
type ImportResult struct {
	// Changed is false when the tree already held the document: no
	// revision was made, and Revision is the head.
	Changed  bool           `json:"changed"`
	Revision verso.Revision `json:"revision"`
	Added    int            `json:"added"`
	Modified int            `json:"modified"`
	Deleted  int            `json:"deleted"`
}

// Import writes a JSON or YAML document to the namespace p in one
// revision: objects become namespaces, other values keys (see "Export and
// import" in docs/HTTP.md). A missing p is created.
func (c *Client) Import(ctx context.Context, p verso.Path, doc []byte, opts *ImportOptions) (*ImportResult, error) {
	var res ImportResult
	return &res, c.postImport(ctx, p, doc, opts, false, &res)
}

// postImport posts doc to the namespace p as opts say, a dry run or not,
// and decodes the answer into out.
func (c *Client) postImport(ctx context.Context, p verso.Path, doc []byte, opts *ImportOptions, dryRun bool, out any) error {
	var o ImportOptions
	if opts != nil {
		o = *opts
	}
	h := (&WriteOptions{Message: o.Message}).header()
	h.Set("Content-Type", "application/json")
	if o.Format == "yaml" {
		h.Set("Content-Type", "application/yaml")
	}
	q := url.Values{}
	if o.Sync {
		q.Set("sync", "1")
	}
	if dryRun {
		q.Set("dry_run", "true")
	}
	resp, err := c.do(ctx, http.MethodPost, c.treeURL(p, true, q), bytes.NewReader(doc), h)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// WaitNamespace waits until the namespace p changes after revision index,
// or wait passes, and returns the last revision that changed it (index
// itself when nothing did). It uses the server's long-poll
// (?index=&wait=); a server without it answers at once.
func (c *Client) WaitNamespace(ctx context.Context, p verso.Path, index verso.Revision, wait time.Duration) (verso.Revision, error) {
	q := url.Values{}
	if index > 0 {
		q.Set("index", strconv.FormatInt(int64(index), 10))
		q.Set("wait", strconv.Itoa(int(wait/time.Second))+"s")
	}
	resp, err := c.do(ctx, http.MethodHead, c.treeURL(p, true, q), nil, nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	r, err := strconv.ParseInt(resp.Header.Get("X-Verso-Revision"), 10, 64)
	if err != nil {
		return 0, &Error{Status: http.StatusBadGateway, Message: "the server sent no X-Verso-Revision"}
	}
	return verso.Revision(r), nil
}
