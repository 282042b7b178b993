// Package server is verso's HTTP surface. It depends only on the
// verso.Store interface, never on a backend. What it serves, and where to
// look:
//
//   - The tree under the mount point (by default /config): the plain HTTP
//     contract (get.go, with export.go for ?format= and import.go for
//     documents sent to a namespace) and WebDAV (dav.go for the methods,
//     davprops.go for PROPFIND and PROPPATCH, davlock.go for LOCK and
//     UNLOCK, conditions.go for If and the other preconditions). The
//     protocol pieces that need no Server are package internal/dav's; the
//     export and import formats are package internal/format's.
//   - The JSON API under /api/v1 (api.go routes it): transactions (txn.go;
//     package internal/txnjson reads their bodies),
//     log, revisions and diff (history.go), revert, backup (backup.go) and
//     watch streams and long-polls (watch.go: their requests; the waiting
//     connections and the fan-out of commits are package internal/watchhub's).
//   - Access rules for every request (access.go), the access log,
//     Prometheus metrics at /metrics, the health endpoints and the cap on
//     concurrent requests (metrics.go, server.go), and linearizable reads
//     (consistent.go). The plumbing that needs no Server, the metrics
//     themselves, the access log's lines, the cap on client connections
//     (Listener) and the deadlines of request bodies, is package
//     internal/httpops's.
//   - The fast lane's side here (front.go): the six methods through which
//     package internal/fastlane, which answers the commonest reads and
//     writes before net/http, asks this server.
//   - The Subversion client's requests are routed to package svn (svn.go),
//     the web console's to package ui, namespace schemas are served by
//     schema.go, and browse.go lists namespaces page by page for the
//     console.
//
// # Errors
//
// Handlers return errors; one function, writeError, turns them into
// statuses (see errors.go). Nothing else writes an error status.
package server
