package server

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/dav"
)

// maxXMLBody caps the XML bodies of PROPFIND, PROPPATCH and LOCK.
const maxXMLBody = 1 << 20

// liveProp returns the value of a live property of e, and whether e has it.
func (s *Server) liveProp(e *verso.Entry, local string) (string, bool) {
	switch local {
	case "resourcetype":
		if e.IsNamespace() {
			return "<D:collection/>", true
		}
		return "", true
	case "getcontentlength":
		if e.IsNamespace() {
			return "", false
		}
		return strconv.Itoa(len(e.Value)), true
	case "getcontenttype":
		if e.IsNamespace() {
			return "", false
		}
		ct := e.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		return xmlEscape(ct), true
	case "getetag":
		return xmlEscape(e.ETag()), true
	case "getlastmodified":
		if e.ModTime.IsZero() {
			return "", false
		}
		return e.ModTime.UTC().Format(http.TimeFormat), true
	case "displayname":
		if e.Path == verso.Root {
			return "", false
		}
		return xmlEscape(e.Path.Base()), true
	case "supportedlock":
		return "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>" +
			"<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>", true
	case "lockdiscovery":
		return s.lockDiscovery(e.Path), true
	}
	return "", false
}

// lockDiscovery renders the locks that cover p as DAV:activelock elements.
func (s *Server) lockDiscovery(p verso.Path) string {
	var b strings.Builder
	now := s.now()
	for _, l := range s.locks.Covering(p) {
		b.WriteString(dav.ActiveLockXML(l, s.href(l.Root, false), now))
	}
	return b.String()
}

func xmlEscape(v string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(v))
	return b.String()
}

// handlePropfind answers PROPFIND at Depth 0, 1 or infinity (the default)
// with a 207 multistatus, one response per entry, from one snapshot.
func (s *Server) handlePropfind(w http.ResponseWriter, r *http.Request, p verso.Path) error {
	depth := verso.Infinite
	switch d := r.Header.Get("Depth"); {
	case d == "0":
		depth = 0
	case d == "1":
		depth = 1
	case d == "" || strings.EqualFold(d, "infinity"):
	default:
		return errorf(http.StatusBadRequest, "Depth must be 0, 1 or infinity")
	}
	rev := verso.Head
	if r.URL.RawQuery != "" {
		var err error
		if rev, err = revisionParam(r); err != nil {
			return err
		}
	}
	req, err := dav.ReadPropfind(http.MaxBytesReader(nil, r.Body, maxXMLBody))
	if err != nil {
		return xmlBodyError(err)
	}
	// Check that p exists before the 207 starts, so a missing path is a
	// plain 404.
	if _, err := s.store.Get(r.Context(), p, rev); err != nil {
		return err
	}
	mw := dav.NewMultistatusWriter(w)
	hidden := s.hidden(r) // what the user may not read is left out (access.go)
	err = s.store.Walk(r.Context(), p, rev, depth, func(e *verso.Entry) error {
		if hidden(e.Path) {
			return nil
		}
		return mw.Propstats(s.href(e.Path, e.IsNamespace()), s.propstats(e, req))
	})
	if err != nil {
		// The status line has gone out; all that is left is to log it.
		s.log.Error("propfind walk", "path", p, "err", err)
	}
	return mw.Close()
}

// propstats answers one entry of a PROPFIND.
func (s *Server) propstats(e *verso.Entry, req dav.Propfind) []dav.Propstat {
	found := dav.Propstat{Status: http.StatusOK}
	missing := dav.Propstat{Status: http.StatusNotFound}
	switch {
	case req.PropName:
		for _, l := range dav.LiveProps {
			if _, ok := s.liveProp(e, l); ok {
				found.Props = append(found.Props, dav.Property{Name: xml.Name{Space: "DAV:", Local: l}})
			}
		}
		for _, n := range dav.DeadNames(e) {
			found.Props = append(found.Props, dav.Property{Name: n})
		}
	case req.AllProp:
		for _, l := range dav.LiveProps {
			if v, ok := s.liveProp(e, l); ok {
				found.Props = append(found.Props, dav.Property{Name: xml.Name{Space: "DAV:", Local: l}, XML: v})
			}
		}
		for _, n := range dav.DeadNames(e) {
			found.Props = append(found.Props, dav.Property{Name: n, XML: e.Props[dav.ClarkName(n)]})
		}
		// DAV:include needs nothing more: allprop already has every live
		// property verso knows.
	default:
		for _, n := range req.Props {
			if n.Space == "DAV:" {
				if v, ok := s.liveProp(e, n.Local); ok {
					found.Props = append(found.Props, dav.Property{Name: n, XML: v})
					continue
				}
			}
			if v, ok := e.Props[dav.ClarkName(n)]; ok {
				found.Props = append(found.Props, dav.Property{Name: n, XML: v})
				continue
			}
			missing.Props = append(missing.Props, dav.Property{Name: n})
		}
	}
	return []dav.Propstat{found, missing}
}

// xmlBodyError gives a request body that could not be read or parsed its
// status: 413 past the size cap or the cap on property names, 400
// otherwise.
func xmlBodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", maxXMLBody)
	}
	if errors.Is(err, dav.ErrTooManyProps) {
		return errorf(http.StatusRequestEntityTooLarge, "the body names more than %d properties; split the request", dav.MaxPropNames)
	}
	return withStatus(http.StatusBadRequest, fmt.Errorf("invalid XML body: %w", err))
}

// handleProppatch sets and removes dead properties, all in one revision or
// none: 207 with a status per property.
func (s *Server) handleProppatch(w http.ResponseWriter, r *http.Request, p verso.Path) error {
	cur, err := s.current(r, p)
	if err != nil {
		return err
	}
	if cur == nil {
		return &verso.PathError{Op: "proppatch", Path: p, Err: verso.ErrNotFound}
	}
	pre, err := s.preconditions(r, p, cur, lockWrite{path: p})
	if err != nil {
		return err
	}
	patches, err := dav.ReadProppatch(http.MaxBytesReader(nil, r.Body, maxXMLBody))
	if err != nil {
		return xmlBodyError(err)
	}
	href := s.href(p, cur.IsNamespace())
	protected := false
	for _, pp := range patches {
		if dav.IsLive(pp.Name) {
			protected = true
		}
	}
	if protected {
		// RFC 4918 9.2: all or nothing. The live properties fail with 403,
		// the rest with 424 (failed because of them).
		forbidden := dav.Propstat{Status: http.StatusForbidden, Description: "live properties cannot be changed"}
		dependent := dav.Propstat{Status: http.StatusFailedDependency}
		for _, pp := range patches {
			if dav.IsLive(pp.Name) {
				forbidden.Props = append(forbidden.Props, dav.Property{Name: pp.Name})
			} else {
				dependent.Props = append(dependent.Props, dav.Property{Name: pp.Name})
			}
		}
		mw := dav.NewMultistatusWriter(w)
		if err := mw.Propstats(href, []dav.Propstat{forbidden, dependent}); err != nil {
			return err
		}
		return mw.Close()
	}
	changes := make([]verso.PropChange, 0, len(patches))
	done := dav.Propstat{Status: http.StatusOK}
	for _, pp := range patches {
		changes = append(changes, verso.PropChange{Name: dav.ClarkName(pp.Name), Value: pp.Value, Remove: pp.Remove})
		done.Props = append(done.Props, dav.Property{Name: pp.Name})
	}
	if len(changes) > 0 {
		if _, err := s.commit(w, r, "PROPPATCH "+string(p), verso.Op{Kind: verso.OpProps, Path: p, Props: changes, If: pre.guard(cur)}); err != nil {
			return err
		}
	}
	mw := dav.NewMultistatusWriter(w)
	if err := mw.Propstats(href, []dav.Propstat{done}); err != nil {
		return err
	}
	return mw.Close()
}
