package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/verso-config/verso"
)

// LogPage is one page of the log.
type LogPage struct {
	Path    verso.Path      `json:"path"`
	Head    verso.Revision  `json:"head"`
	Commits []*verso.Commit `json:"commits"`
	// Next, when set, is the Before of the next (older) page.
	Next *verso.Revision `json:"next,omitempty"`
	// HistoryStart, when set, is where the server's retained history
	// starts: older revisions were pruned.
	HistoryStart *verso.Revision `json:"history_start,omitempty"`
}

// Log returns, newest first, the commits that changed p or anything below
// it, at or before before (verso.Head for the newest), at most limit of them
// (0: the server's default page).
func (c *Client) Log(ctx context.Context, p verso.Path, before verso.Revision, limit int) (*LogPage, error) {
	q := url.Values{"path": {string(p)}}
	if before != verso.Head {
		q.Set("before", strconv.FormatInt(int64(before), 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page LogPage
	return &page, c.getJSON(ctx, "log", q, &page)
}

// Revision returns the record of one revision (verso.Head: the newest).
func (c *Client) Revision(ctx context.Context, rev verso.Revision) (*verso.Commit, error) {
	var cm verso.Commit
	name := "HEAD"
	if rev != verso.Head {
		name = strconv.FormatInt(int64(rev), 10)
	}
	return &cm, c.getJSON(ctx, "revisions/"+name, nil, &cm)
}

// Diff returns what changed at or below p between revisions from and to
// (verso.Head for the newest), as a unified diff in the style of svn diff.
func (c *Client) Diff(ctx context.Context, p verso.Path, from, to verso.Revision) (string, error) {
	q := url.Values{"path": {string(p)}, "from": {strconv.FormatInt(int64(from), 10)}, "format": {"text"}}
	if to != verso.Head {
		q.Set("to", strconv.FormatInt(int64(to), 10))
	}
	resp, err := c.do(ctx, http.MethodGet, c.apiURL("diff", q), nil, http.Header{"Accept": {"text/plain"}})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// RevertResult says what a revert did.
type RevertResult struct {
	// Changed is false when there was nothing to revert (no new revision).
	Changed bool `json:"changed"`
	// Commit is the new revision's record.
	Commit *verso.Commit `json:"commit,omitempty"`
}

// Restore brings p, and everything below it, back to its state at
// revision to, in one new revision.
func (c *Client) Restore(ctx context.Context, p verso.Path, to verso.Revision, message string) (*RevertResult, error) {
	var res RevertResult
	req := map[string]any{"path": p, "to": to}
	if message != "" {
		req["message"] = message
	}
	return &res, c.postJSON(ctx, "revert", req, &res)
}

// Undo reverse-applies revision rev in one new revision. It fails with a
// conflict (errors.Is(err, verso.ErrConflict)) if a later revision changed
// the same paths.
func (c *Client) Undo(ctx context.Context, rev verso.Revision, message string) (*RevertResult, error) {
	var res RevertResult
	req := map[string]any{"undo": rev}
	if message != "" {
		req["message"] = message
	}
	return &res, c.postJSON(ctx, "revert", req, &res)
}
