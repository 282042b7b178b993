package svn

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/svnfs"
)

// davCapabilities is what OPTIONS announces in its DAV headers: WebDAV
// and DeltaV classes, then the svn capabilities verso implements.
var davCapabilities = []string{
	"1,2",
	"version-control,checkout,working-resource",
	"merge,baseline,activity,version-controlled-collection",
	"http://subversion.tigris.org/xmlns/dav/svn/depth",
	"http://subversion.tigris.org/xmlns/dav/svn/log-revprops",
	"http://subversion.tigris.org/xmlns/dav/svn/inherited-props",
	"http://subversion.tigris.org/xmlns/dav/svn/inline-props",
	"http://subversion.tigris.org/xmlns/dav/svn/list",
}

// options answers the handshake every svn command starts with: the
// repository root, UUID and youngest revision, and the protocol v2 stubs.
func (h *Handler) options(w http.ResponseWriter, r *http.Request, res resource) error {
	if res.kind == kindNode {
		if err := h.mustRead(r, res.path); err != nil {
			return err
		}
	}
	doc, err := h.readOptionalDocument(w, r)
	if err != nil {
		return err
	}
	head, err := h.head(r.Context())
	if err != nil {
		return err
	}
	hd := w.Header()
	for _, c := range davCapabilities {
		hd.Add("DAV", c)
	}
	m := h.o.Mount
	hd.Set("MS-Author-Via", "DAV")
	hd.Set("Allow", "OPTIONS,GET,HEAD,PROPFIND,REPORT,POST,PUT,MKCOL,DELETE,PROPPATCH,COPY,MERGE")
	hd.Set("SVN-Supported-Posts", "create-txn, create-txn-with-props")
	hd.Set("SVN-Youngest-Rev", strconv.FormatInt(int64(head), 10))
	hd.Set("SVN-Repository-UUID", h.UUID(r.Context()))
	hd.Set("SVN-Repository-Root", m)
	hd.Set("SVN-Repository-MergeInfo", "no")
	hd.Set("SVN-Allow-Bulk-Updates", "Prefer")
	hd.Set("SVN-Me-Resource", m+"/!svn/me")
	hd.Set("SVN-Rev-Root-Stub", m+"/!svn/rvr")
	hd.Set("SVN-Rev-Stub", m+"/!svn/rev")
	hd.Set("SVN-Txn-Root-Stub", m+"/!svn/txr")
	hd.Set("SVN-Txn-Stub", m+"/!svn/txn")
	hd.Set("Content-Type", `text/xml; charset="utf-8"`)
	b := newXW()
	b.raw(xmlHeader + `<D:options-response xmlns:D="DAV:">` + "\n")
	if doc != nil {
		for _, c := range doc.Children {
			if c.Name.Space == nsDAV && c.Name.Local == "activity-collection-set" {
				b.raw(`<D:activity-collection-set><D:href>` + m + `/!svn/act/</D:href></D:activity-collection-set>`)
			}
		}
	}
	b.raw("</D:options-response>\n")
	w.Write(b.bytes())
	return nil
}

// propRequest is what a PROPFIND asks for.
type propRequest struct {
	all   bool
	names bool
	props []xml.Name
}

func parsePropfind(doc *document) (propRequest, error) {
	var q propRequest
	if doc == nil {
		q.all = true
		return q, nil
	}
	if doc.Name.Space != nsDAV || doc.Name.Local != "propfind" {
		return q, badRequest("PROPFIND body is <%s>, not DAV:propfind", doc.Name.Local)
	}
	for _, c := range doc.Children {
		if c.Name.Space != nsDAV {
			continue
		}
		switch c.Name.Local {
		case "allprop":
			q.all = true
		case "propname":
			q.names = true
		case "prop":
			q.props = append(q.props, c.Kids...)
		}
	}
	if !q.all && !q.names && len(q.props) == 0 {
		return q, badRequest("PROPFIND asks for no property")
	}
	return q, nil
}

// prop is one property of an answer: its element and its XML content.
type prop struct {
	name   xml.Name
	xml    string
	base64 bool // xml is the value base64-encoded
}

// propfind answers a PROPFIND of a node, a revision or the baselines.
func (h *Handler) propfind(w http.ResponseWriter, r *http.Request, res resource) error {
	doc, err := h.readOptionalDocument(w, r)
	if err != nil {
		return err
	}
	q, err := parsePropfind(doc)
	if err != nil {
		return err
	}
	depth := 0
	switch r.Header.Get("Depth") {
	case "", "0":
	case "1":
		depth = 1
	default:
		return badRequest("PROPFIND with Depth %q: svn resources answer Depth 0 or 1", r.Header.Get("Depth"))
	}
	ctx := r.Context()
	cs := newCommits(h.store)
	var responses []propResponse
	switch res.kind {
	case kindNode:
		if err := h.mustRead(r, res.path); err != nil {
			return err
		}
		rev, err := h.revAt(ctx, res.rev)
		if err != nil {
			return err
		}
		err = h.store.Walk(ctx, res.path, rev, depth, func(e *verso.Entry) error {
			if e.Path != res.path && !h.canRead(r, e.Path) {
				return nil
			}
			n, err := cs.nodeOf(ctx, e, rev)
			if err != nil {
				return err
			}
			href := h.href("rvr", res.rev, e.Path)
			if res.public {
				href = h.publicHref(e.Path)
			} else if strings.HasPrefix(res.uri, "/!svn/bc/") {
				href = h.href("bc", res.rev, e.Path)
			} else if strings.HasPrefix(res.uri, "/!svn/ver/") {
				href = h.href("ver", res.rev, e.Path)
			}
			responses = append(responses, h.nodeProps(r, n, href, q))
			return nil
		})
		if err != nil {
			return err
		}
		if depth == 0 {
			h.lockDiscovery(w, r, res.path) // svn reads a lock's owner and date from headers
		}
	case kindRev:
		rev, err := h.revAt(ctx, res.rev)
		if err != nil {
			return err
		}
		responses = append(responses, h.revProps(r, cs, rev, q))
	case kindVCC, kindBln, kindMe:
		head, err := h.head(ctx)
		if err != nil {
			return err
		}
		rev := head
		if res.kind == kindBln {
			if rev, err = h.revAt(ctx, res.rev); err != nil {
				return err
			}
		} else if l := r.Header.Get("Label"); l != "" {
			n, err := strconv.ParseInt(l, 10, 64)
			if err != nil {
				return badRequest("invalid Label %q", l)
			}
			if rev, err = h.revAt(ctx, verso.Revision(n)); err != nil {
				return err
			}
		}
		responses = append(responses, h.baselineProps(r, res, rev, q))
	default:
		return errNoCommit
	}
	writeMultistatus(w, responses)
	return nil
}

// propResponse is one response of a multistatus.
type propResponse struct {
	href    string
	found   []prop
	missing []xml.Name
}

// pick sorts all, the properties a resource has, into what q asked for.
func pick(href string, all []prop, q propRequest) propResponse {
	out := propResponse{href: href}
	switch {
	case q.all:
		out.found = all
	case q.names:
		for _, p := range all {
			out.found = append(out.found, prop{name: p.name})
		}
	default:
		for _, n := range q.props {
			found := false
			for _, p := range all {
				if p.name == n {
					out.found = append(out.found, p)
					found = true
					break
				}
			}
			if !found {
				out.missing = append(out.missing, n)
			}
		}
	}
	return out
}

// nodeProps returns the properties of a node: DAV's and svn's live ones,
// then its svn properties.
func (h *Handler) nodeProps(r *http.Request, n *node, href string, q propRequest) propResponse {
	p := n.Path
	dav := func(local, x string) prop { return prop{name: xml.Name{Space: nsDAV, Local: local}, xml: x} }
	sv := func(local, x string) prop { return prop{name: xml.Name{Space: nsSVNDAV, Local: local}, xml: x} }
	esc := func(s string) string { b := newXW(); b.text(s); return string(b.bytes()) }
	var all []prop
	if n.IsNamespace() {
		all = append(all, dav("resourcetype", "<D:collection/>"))
	} else {
		ct := n.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		all = append(all, dav("resourcetype", ""),
			dav("getcontentlength", strconv.Itoa(len(n.Value))),
			dav("getcontenttype", esc(ct)))
	}
	all = append(all, dav("getetag", esc(fmt.Sprintf(`"%d/%s"`, n.cr, p))))
	if !n.date.IsZero() {
		all = append(all, dav("creationdate", svnfs.Time(n.date)),
			dav("getlastmodified", n.date.UTC().Format(http.TimeFormat)))
	}
	all = append(all,
		dav("checked-in", "<D:href>"+esc(h.href("ver", n.cr, p))+"</D:href>"),
		dav("version-controlled-configuration", "<D:href>"+esc(h.o.Mount)+"/!svn/vcc/default</D:href>"),
		dav("version-name", strconv.FormatInt(int64(n.cr), 10)))
	if n.author != "" {
		all = append(all, dav("creator-displayname", esc(n.author)))
	}
	all = append(all, dav("auto-version", "DAV:checkout-checkin"),
		sv("baseline-relative-path", esc(strings.TrimPrefix(string(p), "/"))))
	if !n.IsNamespace() {
		all = append(all, sv("md5-checksum", svnfs.MD5Hex(n.Value)), sv("sha1-checksum", svnfs.SHA1Hex(n.Value)))
	}
	props := svnfs.Props(n.Entry)
	all = append(all, sv("repository-uuid", h.UUID(r.Context())),
		sv("deadprop-count", strconv.Itoa(len(props))),
		dav("lockdiscovery", h.lockDiscovery(nil, r, p)),
		dav("supportedlock", ""))
	for _, name := range svnfs.SortedKeys(props) {
		ns, local := wireName(name)
		v := props[name]
		if svnfs.XMLSafe(v) {
			all = append(all, prop{name: xml.Name{Space: ns, Local: local}, xml: esc(v)})
		} else {
			all = append(all, prop{xml.Name{Space: ns, Local: local}, base64Of(v), true})
		}
	}
	return pick(href, all, q)
}

// revProps returns a revision's properties: svn:author, svn:date, svn:log.
func (h *Handler) revProps(r *http.Request, cs *commits, rev verso.Revision, q propRequest) propResponse {
	var all []prop
	cm, _ := cs.get(r.Context(), rev)
	if cm != nil {
		cm = h.visibleCommit(r, cm)
	}
	if cm != nil {
		esc := func(s string) string { b := newXW(); b.text(s); return string(b.bytes()) }
		if cm.Author != "" {
			all = append(all, prop{name: xml.Name{Space: nsSVNProp, Local: "author"}, xml: esc(cm.Author)})
		}
		all = append(all, prop{name: xml.Name{Space: nsSVNProp, Local: "date"}, xml: svnfs.Time(cm.Time)})
		if cm.Message != "" || len(cm.Changes) == 0 {
			all = append(all, prop{name: xml.Name{Space: nsSVNProp, Local: "log"}, xml: esc(cm.Message)})
		}
	}
	return pick(h.o.Mount+"/!svn/rev/"+strconv.FormatInt(int64(rev), 10), all, q)
}

// baselineProps answers the version-controlled configuration and
// baselines, which protocol v1 clients walk to find a revision's tree.
func (h *Handler) baselineProps(r *http.Request, res resource, rev verso.Revision, q propRequest) propResponse {
	m := h.o.Mount
	rs := strconv.FormatInt(int64(rev), 10)
	dav := func(local, x string) prop { return prop{name: xml.Name{Space: nsDAV, Local: local}, xml: x} }
	href := m + "/!svn/vcc/default"
	if res.kind == kindBln {
		href = m + "/!svn/bln/" + rs
	}
	all := []prop{
		dav("checked-in", "<D:href>"+m+"/!svn/bln/"+rs+"</D:href>"),
		dav("baseline-collection", "<D:href>"+m+"/!svn/bc/"+rs+"/</D:href>"),
		dav("version-name", rs),
		{name: xml.Name{Space: nsSVNDAV, Local: "repository-uuid"}, xml: h.UUID(r.Context())},
	}
	return pick(href, all, q)
}

// writeMultistatus writes a 207 answer.
func writeMultistatus(w http.ResponseWriter, rs []propResponse) {
	b := newXW()
	b.raw(xmlHeader + `<D:multistatus xmlns:D="DAV:" xmlns:S="` + nsSVNProp + `" xmlns:C="` + nsCustom + `" xmlns:V="` + nsSVNDAV + `">` + "\n")
	for _, r := range rs {
		b.raw("<D:response>\n<D:href>")
		b.text(r.href)
		b.raw("</D:href>\n")
		if len(r.found) > 0 {
			b.raw("<D:propstat>\n<D:prop>\n")
			for _, p := range r.found {
				writeProp(b, p)
			}
			b.raw("</D:prop>\n<D:status>HTTP/1.1 200 OK</D:status>\n</D:propstat>\n")
		}
		if len(r.missing) > 0 {
			b.raw("<D:propstat>\n<D:prop>\n")
			for _, n := range r.missing {
				writeProp(b, prop{name: n})
			}
			b.raw("</D:prop>\n<D:status>HTTP/1.1 404 Not Found</D:status>\n</D:propstat>\n")
		}
		b.raw("</D:response>\n")
	}
	b.raw("</D:multistatus>\n")
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusMultiStatus)
	w.Write(b.bytes())
}

// writeProp writes one property element, with a prefix for the known
// namespaces and a declaration for others.
func writeProp(b *xw, p prop) {
	local := p.name.Local
	var tag, decl string
	switch p.name.Space {
	case nsDAV:
		tag = "D:" + local
	case nsSVNProp:
		tag = "S:" + local
	case nsCustom:
		tag = "C:" + local
	case nsSVNDAV:
		tag = "V:" + local
	default:
		tag, decl = "g:"+local, ` xmlns:g="`+attr(p.name.Space)+`"`
		if p.name.Space == "" {
			tag, decl = local, ` xmlns=""`
		}
	}
	if p.base64 {
		decl += ` V:encoding="base64"`
	}
	if p.xml == "" {
		b.raw("<" + tag + decl + "/>\n")
		return
	}
	b.raw("<" + tag + decl + ">" + p.xml + "</" + tag + ">\n")
}

// get answers a GET of a file at a revision (cat, and base texts the
// client fetches for diff), or a plain listing of a directory.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, res resource) error {
	if res.kind != kindNode {
		return &Error{Status: http.StatusMethodNotAllowed, Code: errUnsupported, Msg: "GET of " + res.uri + " is not supported"}
	}
	if err := h.mustRead(r, res.path); err != nil {
		return err
	}
	rev, err := h.revAt(r.Context(), res.rev)
	if err != nil {
		return err
	}
	e, err := h.store.Get(r.Context(), res.path, rev)
	if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("ETag", fmt.Sprintf(`"%d/%s"`, e.TreeRev, e.Path))
	if e.IsNamespace() {
		var b strings.Builder
		h.store.Walk(r.Context(), res.path, rev, 1, func(c *verso.Entry) error {
			if c.Path != e.Path && h.canRead(r, c.Path) {
				b.WriteString(c.Path.Base())
				if c.IsNamespace() {
					b.WriteString("/")
				}
				b.WriteString("\n")
			}
			return nil
		})
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		if r.Method != http.MethodHead {
			w.Write([]byte(b.String()))
		}
		return nil
	}
	ct := e.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	hd.Set("Content-Type", ct)
	hd.Set("Content-Length", strconv.Itoa(len(e.Value)))
	hd.Set("X-Content-Type-Options", "nosniff")
	if res.rev != verso.Head {
		hd.Set("Cache-Control", "max-age=604800") // a revision's file never changes
	}
	if r.Method != http.MethodHead {
		w.Write(e.Value)
	}
	return nil
}
