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

// Namespace schemas: the JSON Schema a namespace's content must validate
// against (see docs/schema.md). A write the schema refuses is an *Error
// with status 422 whose Violations list why.

// Schema returns the schema of namespace ns as of revision rev (verso.Head
// for the newest). A namespace without one is an *Error matching
// verso.ErrNotFound.
func (c *Client) Schema(ctx context.Context, ns verso.Path, rev verso.Revision) ([]byte, error) {
	q := url.Values{"path": {string(ns)}}
	if rev != verso.Head {
		q.Set("rev", strconv.FormatInt(int64(rev), 10))
	}
	resp, err := c.do(ctx, http.MethodGet, c.apiURL("schema", q), nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// SetSchema sets (or replaces) the schema of namespace ns in one revision,
// which it returns. A schema that does not compile is a 400 *Error; one
// that the namespace's content does not validate against, a 422 with the
// Violations.
func (c *Client) SetSchema(ctx context.Context, ns verso.Path, schema []byte, opts *WriteOptions) (verso.Revision, error) {
	return c.schemaWrite(ctx, http.MethodPut, ns, schema, opts)
}

// DeleteSchema removes the schema of namespace ns in one revision, which it
// returns.
func (c *Client) DeleteSchema(ctx context.Context, ns verso.Path, opts *WriteOptions) (verso.Revision, error) {
	return c.schemaWrite(ctx, http.MethodDelete, ns, nil, opts)
}

func (c *Client) schemaWrite(ctx context.Context, method string, ns verso.Path, body []byte, opts *WriteOptions) (verso.Revision, error) {
	h := opts.header()
	h.Set("Content-Type", "application/schema+json")
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	resp, err := c.do(ctx, method, c.apiURL("schema", url.Values{"path": {string(ns)}}), r, h)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var cm verso.Commit
	if err := json.NewDecoder(resp.Body).Decode(&cm); err != nil {
		return 0, err
	}
	return cm.Rev, nil
}

// DryRun is the answer of a transaction or import sent as a dry run: what
// it would change, and whether the namespaces it touches would validate
// against their schemas. Nothing was written.
type DryRun struct {
	// Head is the revision it was planned against.
	Head       verso.Revision    `json:"head"`
	Valid      bool              `json:"valid"`
	Violations []verso.Violation `json:"violations"`
	Changes    []verso.Change    `json:"changes"`
}

// DryRun sends t as a dry run: the server plans it by the rules of a
// commit and writes nothing. A transaction that fails for another reason
// than a schema (a condition, a missing parent) is the *Error its commit
// would have been.
func (c *Client) DryRun(ctx context.Context, t *Txn) (*DryRun, error) {
	req := struct {
		Message string         `json:"message,omitempty"`
		Base    verso.Revision `json:"base,omitempty"`
		Ops     []txnOp        `json:"ops"`
	}{t.Message, t.Base, t.ops}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, http.MethodPost, c.apiURL("txn", url.Values{"dry_run": {"true"}}), bytes.NewReader(b), http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var d DryRun
	return &d, json.NewDecoder(resp.Body).Decode(&d)
}

// ImportDryRun sends an import as a dry run (see Import and DryRun).
func (c *Client) ImportDryRun(ctx context.Context, p verso.Path, doc []byte, opts *ImportOptions) (*DryRun, error) {
	var d DryRun
	return &d, c.postImport(ctx, p, doc, opts, true, &d)
}
