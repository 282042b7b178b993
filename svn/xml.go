package svn

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/verso-config/verso/internal/svndiff"
	"github.com/verso-config/verso/internal/svnfs"
)

const xmlHeader = `<?xml version="1.0" encoding="utf-8"?>` + "\n"

// xw builds an XML answer.
type xw struct{ buf bytes.Buffer }

func newXW() *xw { return &xw{} }

func (x *xw) raw(s string) { x.buf.WriteString(s) }

// text writes s as character data.
func (x *xw) text(s string) { xml.EscapeText(&x.buf, []byte(s)) }

// elem writes <name>text</name>.
func (x *xw) elem(name, s string) {
	x.raw("<" + name + ">")
	x.text(s)
	x.raw("</" + name + ">")
}

func (x *xw) bytes() []byte { return x.buf.Bytes() }

// attr returns s escaped for an attribute value in double quotes.
func attr(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&#34;")
}

// valueElem writes <name>value</name>, base64 encoded with an encoding
// attribute (named encAttr) when value is not XML-safe.
func (x *xw) valueElem(name, nameAttrs, encAttr, value string) {
	if svnfs.XMLSafe(value) {
		x.raw("<" + name + nameAttrs + ">")
		x.text(value)
	} else {
		x.raw("<" + name + nameAttrs + " " + encAttr + `="base64">`)
		x.raw(base64.StdEncoding.EncodeToString([]byte(value)))
	}
	x.raw("</" + name + ">")
}

// element is one child of a request's root element: its name, attributes
// and text (the character data of it and everything inside it).
type element struct {
	Name xml.Name
	Attr []xml.Attr
	Text string
	// Kids names the elements right inside it (a PROPFIND's properties).
	Kids []xml.Name
}

// attr returns the value of the attribute named local, and whether it is
// there.
func (e *element) attr(local string) (string, bool) {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// document is a request body: the root element and its children. Every
// body of the protocol's read side is this flat.
type document struct {
	Name     xml.Name
	Attr     []xml.Attr
	Children []element
}

// errEmptyBody is the error of a body with no root element.
var errEmptyBody = errors.New("empty body")

// parseDocument reads a request body: its root element and the elements
// right inside it (the caller caps its size).
func parseDocument(r io.Reader) (*document, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	var doc *document
	depth := 0
	var cur *element
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch depth {
			case 1:
				if doc != nil {
					return nil, errors.New("more than one root element")
				}
				doc = &document{Name: t.Name, Attr: t.Copy().Attr}
			case 2:
				doc.Children = append(doc.Children, element{Name: t.Name, Attr: t.Copy().Attr})
				cur = &doc.Children[len(doc.Children)-1]
				text.Reset()
			case 3:
				if cur != nil {
					cur.Kids = append(cur.Kids, t.Name)
				}
			}
			if depth > 16 {
				return nil, errors.New("elements nested too deep")
			}
		case xml.EndElement:
			if depth == 2 && cur != nil {
				cur.Text = text.String()
				cur = nil
			}
			depth--
		case xml.CharData:
			if depth >= 2 {
				text.Write(t)
			}
		}
	}
	if doc == nil {
		return nil, errEmptyBody
	}
	return doc, nil
}

// readDocument reads r's body as a document, or returns a 4xx error.
func (h *Handler) readDocument(w http.ResponseWriter, r *http.Request) (*document, error) {
	doc, err := parseDocument(http.MaxBytesReader(w, r.Body, h.o.MaxBody))
	return doc, bodyError(err)
}

// readOptionalDocument is readDocument for a body that may be empty
// (OPTIONS, PROPFIND): then it returns nil and no error.
func (h *Handler) readOptionalDocument(w http.ResponseWriter, r *http.Request) (*document, error) {
	doc, err := parseDocument(http.MaxBytesReader(w, r.Body, h.o.MaxBody))
	if errors.Is(err, errEmptyBody) {
		return nil, nil
	}
	return doc, bodyError(err)
}

// bodyError gives an error of parseDocument its answer: 413 past the size
// cap, 400 otherwise.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if err == nil || errors.As(err, &mbe) {
		return err
	}
	return &Error{Status: http.StatusBadRequest, Code: errMalformed,
		Msg: "the request body is not well-formed XML: " + err.Error()}
}

// writeTxdelta writes data's svndiff, base64 encoded, in lines.
func writeTxdelta(w io.Writer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(svndiff.Full(data))
	for len(enc) > 76 {
		io.WriteString(w, enc[:76])
		io.WriteString(w, "\n")
		enc = enc[76:]
	}
	io.WriteString(w, enc)
}
