package svn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/verso-config/verso"
)

// Subversion's error codes that answers carry (svn_error_codes.h); the
// client prints them as "svn: E160013: ...".
const (
	errNotFound       = 160013 // SVN_ERR_FS_NOT_FOUND
	errNoSuchRevision = 160006 // SVN_ERR_FS_NO_SUCH_REVISION
	errMalformed      = 130003 // SVN_ERR_XML_MALFORMED
	errUnsupported    = 200007 // SVN_ERR_UNSUPPORTED_FEATURE
	errNotAuthorized  = 170001 // SVN_ERR_RA_NOT_AUTHORIZED
	errUnreadable     = 220001 // SVN_ERR_AUTHZ_UNREADABLE
	errGeneral        = 200000 // SVN_ERR_BASE
	errBadRequest     = 175002 // SVN_ERR_RA_DAV_REQUEST_FAILED
)

// Error is an answer that failed: its HTTP status, svn error code and
// message, sent as mod_dav_svn sends errors (a DAV:error body the client
// prints).
type Error struct {
	Status int
	Code   int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// badRequest is a 400 for input the client should not have sent.
func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: errBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// asError maps an error of the store or of this package to an *Error.
func asError(err error) *Error {
	var e *Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &mbe):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: errBadRequest, Msg: "request body too large"}
	case errors.Is(err, verso.ErrNotFound):
		var pe *verso.PathError
		if errors.As(err, &pe) {
			return &Error{Status: http.StatusNotFound, Code: errNotFound, Msg: fmt.Sprintf("'%s' path not found", pe.Path)}
		}
		return &Error{Status: http.StatusNotFound, Code: errNotFound, Msg: "path not found"}
	case errors.Is(err, verso.ErrNoRevision):
		return &Error{Status: http.StatusNotFound, Code: errNoSuchRevision, Msg: "no such revision"}
	case errors.Is(err, verso.ErrGone):
		return &Error{Status: http.StatusGone, Code: errNoSuchRevision, Msg: "that revision's history was pruned (see --keep-versions, --keep-for)"}
	case errors.Is(err, verso.ErrInvalidPath):
		return &Error{Status: http.StatusBadRequest, Code: errBadRequest, Msg: err.Error()}
	case errors.Is(err, verso.ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Code: errGeneral, Msg: "service unavailable, retry later"}
	}
	return &Error{Status: http.StatusInternalServerError, Code: errGeneral, Msg: "internal server error"}
}

// writeError answers r with err.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := asError(err)
	if e.Status >= 500 && e.Status != http.StatusNotImplemented {
		h.o.Logger.Error("svn request failed", "method", r.Method, "uri", r.URL.RequestURI(), "err", err)
	}
	hd := w.Header()
	if e.Status == http.StatusUnauthorized {
		hd.Set("WWW-Authenticate", `Basic realm="`+h.o.Realm+`", charset="UTF-8"`)
	}
	hd.Set("Content-Type", `text/xml; charset="utf-8"`)
	w.WriteHeader(e.Status)
	if r.Method == http.MethodHead {
		return
	}
	b := newXW()
	b.raw(xmlHeader)
	b.raw(`<D:error xmlns:D="DAV:" xmlns:m="http://apache.org/dav/xmlns" xmlns:C="svn:">` + "\n<C:error/>\n")
	b.raw(`<m:human-readable errcode="` + strconv.Itoa(e.Code) + `">` + "\n")
	b.text(e.Msg)
	b.raw("\n</m:human-readable>\n</D:error>\n")
	w.Write(b.bytes())
}
