package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Backup fetches a consistent snapshot of the whole store from the server
// (GET /api/v1/backup, which needs write access to the root) and writes it
// to w, returning the number of bytes written. A snapshot cut short (the
// server failed half-way, the connection broke) is an error, never a
// shorter file that looks complete.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := c.do(ctx, http.MethodGet, c.apiURL("backup", nil), nil, http.Header{"Accept": {"application/octet-stream"}})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("read backup: %w", err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("read backup: got %d of %d bytes", n, resp.ContentLength)
	}
	return n, nil
}
