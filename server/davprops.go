package server

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/verso-config/verso"
)

// maxXMLBody caps the XML bodies of PROPFIND, PROPPATCH and LOCK.
const maxXMLBody = 1 << 20

// liveProps are the properties verso computes; clients cannot set them.
var liveProps = []string{
	"resourcetype", "getcontentlength", "getcontenttype", "getetag",
	"getlastmodified", "displayname", "supportedlock", "lockdiscovery",
}

func isLive(n xml.Name) bool {
	if n.Space != "DAV:" {
		return false
	}
	for _, l := range liveProps {
		if n.Local == l {
			return true
		}
	}
	return false
}

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
	for _, l := range s.locks.covering(p) {
		b.WriteString(activeLockXML(l, s.href(l.Root, false), now))
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
	req, err := readPropfind(http.MaxBytesReader(nil, r.Body, maxXMLBody))
	if err != nil {
		return xmlBodyError(err)
	}
	// Check that p exists before the 207 starts, so a missing path is a
	// plain 404.
	if _, err := s.store.Get(r.Context(), p, rev); err != nil {
		return err
	}
	mw := newMultistatusWriter(w)
	hidden := s.hidden(r) // what the user may not read is left out (access.go)
	err = s.store.Walk(r.Context(), p, rev, depth, func(e *verso.Entry) error {
		if hidden(e.Path) {
			return nil
		}
		return mw.propstats(s.href(e.Path, e.IsNamespace()), s.propstats(e, req))
	})
	if err != nil {
		// The status line has gone out; all that is left is to log it.
		s.log.Error("propfind walk", "path", p, "err", err)
	}
	return mw.close()
}

// propstats answers one entry of a PROPFIND.
func (s *Server) propstats(e *verso.Entry, req propfindRequest) []propstat {
	found := propstat{Status: http.StatusOK}
	missing := propstat{Status: http.StatusNotFound}
	switch {
	case req.PropName:
		for _, l := range liveProps {
			if _, ok := s.liveProp(e, l); ok {
				found.Props = append(found.Props, property{Name: xml.Name{Space: "DAV:", Local: l}})
			}
		}
		for _, n := range deadNames(e) {
			found.Props = append(found.Props, property{Name: n})
		}
	case req.AllProp:
		for _, l := range liveProps {
			if v, ok := s.liveProp(e, l); ok {
				found.Props = append(found.Props, property{Name: xml.Name{Space: "DAV:", Local: l}, XML: v})
			}
		}
		for _, n := range deadNames(e) {
			found.Props = append(found.Props, property{Name: n, XML: e.Props[clarkName(n)]})
		}
		// DAV:include needs nothing more: allprop already has every live
		// property verso knows.
	default:
		for _, n := range req.Props {
			if n.Space == "DAV:" {
				if v, ok := s.liveProp(e, n.Local); ok {
					found.Props = append(found.Props, property{Name: n, XML: v})
					continue
				}
			}
			if v, ok := e.Props[clarkName(n)]; ok {
				found.Props = append(found.Props, property{Name: n, XML: v})
				continue
			}
			missing.Props = append(missing.Props, property{Name: n})
		}
	}
	return []propstat{found, missing}
}

// deadNames returns the names of e's dead properties, sorted.
func deadNames(e *verso.Entry) []xml.Name {
	names := make([]xml.Name, 0, len(e.Props))
	for k := range e.Props {
		if n, ok := parseClark(k); ok {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if names[i].Space != names[j].Space {
			return names[i].Space < names[j].Space
		}
		return names[i].Local < names[j].Local
	})
	return names
}

// xmlBodyError gives a request body that could not be read or parsed its
// status: 413 past the size cap or the cap on property names, 400
// otherwise.
func xmlBodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", maxXMLBody)
	}
	if errors.Is(err, errTooManyProps) {
		return errorf(http.StatusRequestEntityTooLarge, "the body names more than %d properties; split the request", maxPropNames)
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
	patches, err := readProppatch(http.MaxBytesReader(nil, r.Body, maxXMLBody))
	if err != nil {
		return xmlBodyError(err)
	}
	href := s.href(p, cur.IsNamespace())
	protected := false
	for _, pp := range patches {
		if isLive(pp.Name) {
			protected = true
		}
	}
	if protected {
		// RFC 4918 9.2: all or nothing. The live properties fail with 403,
		// the rest with 424 (failed because of them).
		forbidden := propstat{Status: http.StatusForbidden, Description: "live properties cannot be changed"}
		dependent := propstat{Status: http.StatusFailedDependency}
		for _, pp := range patches {
			if isLive(pp.Name) {
				forbidden.Props = append(forbidden.Props, property{Name: pp.Name})
			} else {
				dependent.Props = append(dependent.Props, property{Name: pp.Name})
			}
		}
		mw := newMultistatusWriter(w)
		if err := mw.propstats(href, []propstat{forbidden, dependent}); err != nil {
			return err
		}
		return mw.close()
	}
	changes := make([]verso.PropChange, 0, len(patches))
	done := propstat{Status: http.StatusOK}
	for _, pp := range patches {
		changes = append(changes, verso.PropChange{Name: clarkName(pp.Name), Value: pp.Value, Remove: pp.Remove})
		done.Props = append(done.Props, property{Name: pp.Name})
	}
	if len(changes) > 0 {
		if _, err := s.commit(w, r, "PROPPATCH "+string(p), verso.Op{Kind: verso.OpProps, Path: p, Props: changes, If: pre.guard(cur)}); err != nil {
			return err
		}
	}
	mw := newMultistatusWriter(w)
	if err := mw.propstats(href, []propstat{done}); err != nil {
		return err
	}
	return mw.close()
}
