package dav

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Property is one property of a PROPFIND or PROPPATCH answer. XML is the
// element's content, written verbatim: it must already be escaped and
// canonical (a stored dead property value, or XML built by the server).
type Property struct {
	Name xml.Name
	XML  string
}

// Propstat is a group of properties that share a status.
type Propstat struct {
	Status      int
	Props       []Property
	Description string
}

// writeProperty writes p as an element that means the same in any context:
// DAV: properties with the D prefix of the enclosing multistatus, the empty
// namespace as <local xmlns="">, any other namespace with a prefix declared
// on the element itself.
func writeProperty(b *strings.Builder, p Property) {
	var qname string
	switch p.Name.Space {
	case davNS:
		qname = "D:" + p.Name.Local
		b.WriteString("<" + qname)
	case "":
		qname = p.Name.Local
		b.WriteString("<" + qname + ` xmlns=""`)
	case xmlNS:
		qname = "xml:" + p.Name.Local
		b.WriteString("<" + qname)
	default:
		qname = "ns1:" + p.Name.Local
		b.WriteString("<" + qname + ` xmlns:ns1="`)
		escapeAttr(b, p.Name.Space)
		b.WriteString(`"`)
	}
	if p.XML == "" {
		b.WriteString("/>")
		return
	}
	b.WriteString(">")
	b.WriteString(p.XML)
	b.WriteString("</" + qname + ">")
}

// statusLine renders a status as RFC 4918 wants it in DAV:status.
func statusLine(code int) string {
	return strings.TrimSpace(fmt.Sprintf("HTTP/1.1 %d %s", code, http.StatusText(code)))
}

// MultistatusWriter writes a 207 Multi-Status response one DAV:response at
// a time. Nothing reaches the client before the first response, so a
// handler that fails before then can still send a plain error status.
type MultistatusWriter struct {
	w       http.ResponseWriter
	started bool
}

func NewMultistatusWriter(w http.ResponseWriter) *MultistatusWriter {
	return &MultistatusWriter{w: w}
}

// Wrote reports whether the 207 status and document start have been sent.
func (m *MultistatusWriter) Wrote() bool { return m.started }

func (m *MultistatusWriter) begin() error {
	if m.started {
		return nil
	}
	m.started = true
	m.w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	m.w.WriteHeader(http.StatusMultiStatus)
	_, err := io.WriteString(m.w, xml.Header+`<D:multistatus xmlns:D="DAV:">`)
	return err
}

func (m *MultistatusWriter) write(s string) error {
	if err := m.begin(); err != nil {
		return err
	}
	_, err := io.WriteString(m.w, s)
	return err
}

// Propstats writes one DAV:response for href (already URL-escaped; it is
// XML-escaped here) with one DAV:propstat per group that holds properties.
// If no group holds any, a single 200 propstat with an empty DAV:prop keeps
// the response valid.
func (m *MultistatusWriter) Propstats(href string, ps []Propstat) error {
	var b strings.Builder
	b.WriteString("<D:response><D:href>")
	escapeText(&b, href)
	b.WriteString("</D:href>")
	n := 0
	for _, p := range ps {
		if len(p.Props) > 0 {
			writePropstat(&b, p)
			n++
		}
	}
	if n == 0 {
		writePropstat(&b, Propstat{Status: http.StatusOK})
	}
	b.WriteString("</D:response>")
	return m.write(b.String())
}

func writePropstat(b *strings.Builder, p Propstat) {
	b.WriteString("<D:propstat><D:prop>")
	for _, prop := range p.Props {
		writeProperty(b, prop)
	}
	b.WriteString("</D:prop><D:status>")
	b.WriteString(statusLine(p.Status))
	b.WriteString("</D:status>")
	if p.Description != "" {
		b.WriteString("<D:responsedescription>")
		escapeText(b, p.Description)
		b.WriteString("</D:responsedescription>")
	}
	b.WriteString("</D:propstat>")
}

// Status writes one DAV:response for href that carries only a status (and
// an optional description), as DELETE, COPY and MOVE report a member that
// failed.
func (m *MultistatusWriter) Status(href string, status int, description string) error {
	var b strings.Builder
	b.WriteString("<D:response><D:href>")
	escapeText(&b, href)
	b.WriteString("</D:href><D:status>")
	b.WriteString(statusLine(status))
	b.WriteString("</D:status>")
	if description != "" {
		b.WriteString("<D:responsedescription>")
		escapeText(&b, description)
		b.WriteString("</D:responsedescription>")
	}
	b.WriteString("</D:response>")
	return m.write(b.String())
}

// Close ends the document. If no response was written it writes an empty
// multistatus, which is still a valid 207 answer.
func (m *MultistatusWriter) Close() error {
	return m.write("</D:multistatus>\n")
}
