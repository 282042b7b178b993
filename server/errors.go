package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	"github.com/verso-config/verso/internal/dav"
	"github.com/verso-config/verso/internal/httpops"
)

// statusError is an error that already knows its HTTP status. Handlers
// return it for protocol errors (a bad header, a method-specific status);
// everything else is mapped from the verso sentinels by statusOf.
type statusError struct {
	status int
	msg    string
	err    error // the cause, if any, for logs and errors.Is
}

func (e *statusError) Error() string { return e.msg }
func (e *statusError) Unwrap() error { return e.err }

// errorf returns a statusError with a formatted message.
func errorf(status int, format string, args ...any) error {
	return &statusError{status: status, msg: fmt.Sprintf(format, args...)}
}

// withStatus gives err a specific status, keeping its message and cause.
func withStatus(status int, err error) error {
	return &statusError{status: status, msg: err.Error(), err: err}
}

// statusOf maps an error to its HTTP status. It is the one place where
// verso's errors meet HTTP.
func statusOf(err error) int {
	var se *statusError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &se):
		return se.status
	case errors.Is(err, httpops.ErrBodyTimeout):
		return http.StatusRequestTimeout
	case errors.As(err, &mbe), errors.Is(err, verso.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, verso.ErrNotFound), errors.Is(err, verso.ErrNoRevision):
		return http.StatusNotFound
	case errors.Is(err, verso.ErrGone):
		return http.StatusGone
	case errors.Is(err, verso.ErrPrecondition):
		return http.StatusPreconditionFailed
	case errors.Is(err, verso.ErrNoParent), errors.Is(err, verso.ErrNotNamespace),
		errors.Is(err, verso.ErrConflict), errors.Is(err, verso.ErrExists):
		return http.StatusConflict
	case errors.Is(err, verso.ErrIsNamespace):
		return http.StatusMethodNotAllowed
	case errors.Is(err, verso.ErrSamePath), errors.Is(err, verso.ErrRoot):
		return http.StatusForbidden
	case errors.Is(err, verso.ErrSchema):
		return http.StatusUnprocessableEntity
	case errors.Is(err, verso.ErrInvalidPath), errors.Is(err, verso.ErrInvalidOp),
		errors.Is(err, verso.ErrEmptyTxn), errors.Is(err, verso.ErrInvalidSchema):
		return http.StatusBadRequest
	case errors.Is(err, dav.ErrLocked):
		return http.StatusLocked
	case errors.Is(err, dav.ErrNoSuchLock):
		return http.StatusConflict
	case errors.Is(err, verso.ErrNoSpace):
		return http.StatusInsufficientStorage
	case errors.Is(err, verso.ErrClosed), errors.Is(err, verso.ErrLocksChanged):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// corruptMessage is the message of a 500 for damage found in the store:
// the client learns that retrying will not help, the operator finds the
// cause in the log and on /readyz.
const corruptMessage = "the server's store is damaged: this request cannot be answered, and writes are stopped until its operator restores it (see /readyz)"

// noSpaceMessage is the message of a 507.
const noSpaceMessage = "the server's disk is full: nothing was changed; the write can be sent again once its operator frees space"

// writeError answers a request that failed. 4xx errors carry their message
// (one line of plain text); a 500 is logged with its cause and the client
// sees only that something went wrong on the server.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if writeSchemaError(w, r, err) { // 422 with the violations (schema.go)
		return
	}
	status := statusOf(err)
	msg := err.Error()
	// 501, 503 and 507 say what the client can do (a store without the
	// feature, a server busy or not ready, a full disk to be freed):
	// their message stays. A 507's details (file names) go to the log.
	if status == http.StatusInsufficientStorage {
		log.Warn("request refused: no space left", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = noSpaceMessage
	}
	if status >= 500 && status != http.StatusServiceUnavailable && status != http.StatusNotImplemented && status != http.StatusInsufficientStorage {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal server error (the server log has the details)"
		if errors.Is(err, codec.ErrCorrupt) {
			msg = corruptMessage
		}
	}
	msg = strings.ReplaceAll(msg, "\n", " ")
	h := w.Header()
	authHeaders(h, status, err) // a 401's challenge, a 429's Retry-After (access.go)
	if strings.HasPrefix(r.URL.Path, apiPrefix) {
		h.Set("X-Content-Type-Options", "nosniff")
		ej := errorJSON{Status: status, Error: msg}
		if status < 500 {
			ej.describe(err)
		}
		writeJSON(w, status, ej)
		return
	}
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusMethodNotAllowed && h.Get("Allow") == "" {
		h.Set("Allow", allowedMethods)
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, "%d %s: %s\n", status, http.StatusText(status), msg)
}

// errorJSON is the body of a failed API request. Op, Path and Paths say
// what the error concerns, when it concerns an operation of a transaction
// (its index), one path, or several (the paths of a conflict).
type errorJSON struct {
	Status int          `json:"status"`
	Error  string       `json:"error"`
	Op     *int         `json:"op,omitempty"`
	Path   verso.Path   `json:"path,omitempty"`
	Paths  []verso.Path `json:"paths,omitempty"`
}

// describe fills in Op, Path and Paths from the errors err wraps.
func (e *errorJSON) describe(err error) {
	var oe *verso.OpError
	var pe *verso.PathError
	var ce *verso.ConflictError
	if errors.As(err, &oe) {
		e.Op = &oe.Index
	}
	if errors.As(err, &pe) {
		e.Path = pe.Path
	}
	if errors.As(err, &ce) {
		e.Paths = ce.Paths
	}
}
