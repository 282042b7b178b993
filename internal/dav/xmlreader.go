package dav

import (
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ClarkName writes n in Clark notation, "{space}local"; the empty namespace
// gives "{}local". It is how verso stores dead property names.
func ClarkName(n xml.Name) string {
	return "{" + n.Space + "}" + n.Local
}

// ParseClark is the inverse of ClarkName. It refuses a string that is not
// "{space}local" with local a valid XML name without a colon, so a name that
// parses can always be written as an element.
func ParseClark(s string) (xml.Name, bool) {
	if !strings.HasPrefix(s, "{") {
		return xml.Name{}, false
	}
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return xml.Name{}, false
	}
	n := xml.Name{Space: s[1:end], Local: s[end+1:]}
	if !isNCName(n.Local) || !utf8.ValidString(n.Space) {
		return xml.Name{}, false
	}
	return n, true
}

// isNCName reports whether s is an XML name without a colon (XML 1.0 fifth
// edition, production 5, and XML Namespaces production 4).
func isNCName(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for i, r := range s {
		if !isNameStart(r) && (i == 0 || !isNameChar(r)) {
			return false
		}
	}
	return true
}

func isNameStart(r rune) bool {
	switch {
	case r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
		return true
	case r < 0xC0:
		return false
	}
	return r <= 0x2FF && r != 0xD7 && r != 0xF7 ||
		0x370 <= r && r <= 0x1FFF && r != 0x37E ||
		r == 0x200C || r == 0x200D ||
		0x2070 <= r && r <= 0x218F ||
		0x2C00 <= r && r <= 0x2FEF ||
		0x3001 <= r && r <= 0xD7FF ||
		0xF900 <= r && r <= 0xFDCF ||
		0xFDF0 <= r && r <= 0xFFFD ||
		0x10000 <= r && r <= 0xEFFFF
}

func isNameChar(r rune) bool {
	return r == '-' || r == '.' || '0' <= r && r <= '9' || r == 0xB7 ||
		0x300 <= r && r <= 0x36F || r == 0x203F || r == 0x2040
}

// xmlReader reads a request body as a stream of namespace-resolved tokens:
// StartElement (namespace declarations removed from Attr), EndElement and
// CharData. Comments, processing instructions and directives are dropped.
// Every error it returns, apart from those of the underlying reader, wraps
// ErrMalformed.
type xmlReader struct {
	d        *xml.Decoder
	body     *bodyReader
	bindings []nsBinding // in scope, innermost last
	marks    []int       // len(bindings) when each open element started
	// uris holds, by prefix, the namespaces bound to it in scope,
	// innermost last: lookup takes constant time however many prefixes
	// are declared.
	uris     map[string][]string
	open     []xml.Name // the open elements' names as written (prefix, local)
	seenRoot bool
	done     bool // the root element has ended
}

type nsBinding struct{ prefix, uri string }

func newXMLReader(r io.Reader) *xmlReader {
	br := &bodyReader{r: r}
	return &xmlReader{d: xml.NewDecoder(br), body: br}
}

// bodyReader remembers the error of the request body, so that it can be
// told apart from the decoder's own complaints.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (x *xmlReader) lookup(prefix string) (string, bool) {
	if us := x.uris[prefix]; len(us) > 0 {
		return us[len(us)-1], true
	}
	switch prefix {
	case "":
		return "", true
	case "xml":
		return xmlNS, true
	}
	return "", false
}

// root returns the document's root element, or io.EOF if the body holds no
// element at all.
func (x *xmlReader) root() (xml.StartElement, error) {
	for {
		t, err := x.next()
		if err != nil {
			return xml.StartElement{}, err
		}
		if s, ok := t.(xml.StartElement); ok {
			return s, nil
		}
	}
}

// finish checks that nothing but whitespace and comments follows the root.
func (x *xmlReader) finish() error {
	for {
		_, err := x.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// next returns the next token. It returns io.EOF only at the end of a body
// that is complete: the root has ended, or no element was ever started.
func (x *xmlReader) next() (xml.Token, error) {
	for {
		t, err := x.d.RawToken()
		if err != nil {
			switch {
			case x.body.err != nil:
				return nil, x.body.err
			case err == io.EOF && len(x.open) == 0:
				return nil, io.EOF
			case err == io.EOF:
				return nil, malformed("unexpected end of body inside <%s>", x.open[len(x.open)-1].Local)
			}
			// Syntax errors, and an encoding other than UTF-8.
			return nil, malformed("%v", err)
		}
		switch t := t.(type) {
		case xml.StartElement:
			return x.start(t)
		case xml.EndElement:
			return x.end(t)
		case xml.CharData:
			if len(x.open) == 0 {
				s := string(t)
				if !x.seenRoot {
					s = strings.TrimPrefix(s, "\uFEFF")
				}
				if strings.TrimSpace(s) != "" {
					return nil, malformed("text outside the root element")
				}
				continue
			}
			return t.Copy(), nil
		}
	}
}

func (x *xmlReader) start(t xml.StartElement) (xml.Token, error) {
	if x.done {
		return nil, malformed("more than one root element")
	}
	x.seenRoot = true
	x.marks = append(x.marks, len(x.bindings))
	x.open = append(x.open, t.Name)
	for _, a := range t.Attr {
		switch {
		case a.Name.Space == "xmlns":
			switch {
			case a.Value == "":
				return nil, malformed("prefix %q bound to the empty namespace name", a.Name.Local)
			case a.Name.Local == "xmlns":
				return nil, malformed("prefix xmlns cannot be declared")
			case a.Name.Local == "xml" && a.Value != xmlNS, a.Name.Local != "xml" && a.Value == xmlNS:
				return nil, malformed("prefix xml rebound")
			}
			x.bind(a.Name.Local, a.Value)
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			x.bind("", a.Value)
		}
	}
	name, err := x.resolve(t.Name, true)
	if err != nil {
		return nil, err
	}
	out := xml.StartElement{Name: name}
	var names map[xml.Name]bool // the attributes so far, past a few
	for _, a := range t.Attr {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue
		}
		n, err := x.resolve(a.Name, false)
		if err != nil {
			return nil, err
		}
		repeated := false
		if names == nil && len(out.Attr) < 8 {
			for _, b := range out.Attr {
				repeated = repeated || b.Name == n
			}
		} else {
			if names == nil {
				names = make(map[xml.Name]bool)
				for _, b := range out.Attr {
					names[b.Name] = true
				}
			}
			repeated = names[n]
			names[n] = true
		}
		if repeated {
			return nil, malformed("attribute %s repeated", ClarkName(n))
		}
		out.Attr = append(out.Attr, xml.Attr{Name: n, Value: a.Value})
	}
	return out, nil
}

// bind declares prefix for uri until the element being started ends.
func (x *xmlReader) bind(prefix, uri string) {
	x.bindings = append(x.bindings, nsBinding{prefix, uri})
	if x.uris == nil {
		x.uris = make(map[string][]string)
	}
	x.uris[prefix] = append(x.uris[prefix], uri)
}

// resolve turns a name as written into its namespace and local name; a
// local name that is not an XML name (encoding/xml lets "<x:0/>" through)
// is malformed. Unprefixed attributes are in no namespace; unprefixed elements are in the
// default one.
func (x *xmlReader) resolve(n xml.Name, element bool) (xml.Name, error) {
	if !isNCName(n.Local) {
		return xml.Name{}, malformed("invalid name %q", n.Space+":"+n.Local)
	}
	if n.Space == "" && !element {
		return xml.Name{Local: n.Local}, nil
	}
	if n.Space == "xmlns" {
		return xml.Name{}, malformed("element in the xmlns namespace")
	}
	uri, ok := x.lookup(n.Space)
	if !ok {
		return xml.Name{}, malformed("undeclared prefix %q", n.Space)
	}
	return xml.Name{Space: uri, Local: n.Local}, nil
}

func (x *xmlReader) end(t xml.EndElement) (xml.Token, error) {
	if len(x.open) == 0 {
		return nil, malformed("unexpected </%s>", t.Name.Local)
	}
	if open := x.open[len(x.open)-1]; open != t.Name {
		return nil, malformed("</%s> closes <%s>", t.Name.Local, open.Local)
	}
	name, err := x.resolve(t.Name, true)
	if err != nil {
		return nil, err
	}
	x.open = x.open[:len(x.open)-1]
	mark := x.marks[len(x.marks)-1]
	for _, b := range x.bindings[mark:] {
		us := x.uris[b.prefix]
		x.uris[b.prefix] = us[:len(us)-1]
	}
	x.bindings = x.bindings[:mark]
	x.marks = x.marks[:len(x.marks)-1]
	if len(x.open) == 0 {
		x.done = true
	}
	return xml.EndElement{Name: name}, nil
}

// skip consumes the rest of the element whose StartElement was just read.
func (x *xmlReader) skip() error {
	for depth := 0; ; {
		t, err := x.next()
		if err != nil {
			return err
		}
		switch t.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			if depth == 0 {
				return nil
			}
			depth--
		}
	}
}

// propNames is what names needs to collect one list of a PROPFIND (its
// DAV:prop or its DAV:include) in time linear in the names: the names in
// the list, and the distinct names of all the lists, which may number at
// most max.
type propNames struct {
	seen map[xml.Name]bool
	all  map[xml.Name]bool
	max  int
}

// names collects the names of the child elements of the element just
// started (DAV:prop or DAV:include in PROPFIND) into names, ignoring their
// content and repeats. More than pn.max distinct names in all the lists is
// ErrTooManyProps.
func (x *xmlReader) names(names []xml.Name, pn *propNames) ([]xml.Name, error) {
	if pn.seen == nil {
		pn.seen = make(map[xml.Name]bool)
	}
	for {
		t, err := x.next()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.EndElement:
			return names, nil
		case xml.StartElement:
			if err := x.skip(); err != nil {
				return nil, err
			}
			if pn.seen[t.Name] {
				continue
			}
			if !pn.all[t.Name] {
				if len(pn.all) == pn.max {
					return nil, ErrTooManyProps
				}
				pn.all[t.Name] = true
			}
			pn.seen[t.Name] = true
			names = append(names, t.Name)
		}
	}
}

// innerXML consumes the rest of the element just started and returns its
// content as canonical XML that stands alone: each element is written as
// <local xmlns="space"> ... </local>, attributes in a namespace get a prefix
// declared on their own element, text and attribute values are escaped, and
// comments and processing instructions are dropped.
func (x *xmlReader) innerXML() (string, error) {
	var b strings.Builder
	for depth := 0; ; {
		t, err := x.next()
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.StartElement:
			depth++
			writeCanonicalStart(&b, t)
		case xml.EndElement:
			if depth == 0 {
				return b.String(), nil
			}
			depth--
			b.WriteString("</")
			b.WriteString(elementQName(t.Name))
			b.WriteString(">")
		case xml.CharData:
			escapeText(&b, string(t))
		}
	}
}

// elementQName is the qualified name a canonical element is written with:
// the local name in the default namespace, except for the reserved xml
// namespace, which can only be written with its prefix.
func elementQName(n xml.Name) string {
	if n.Space == xmlNS {
		return "xml:" + n.Local
	}
	return n.Local
}

func writeCanonicalStart(b *strings.Builder, t xml.StartElement) {
	b.WriteString("<")
	b.WriteString(elementQName(t.Name))
	if t.Name.Space != xmlNS {
		b.WriteString(` xmlns="`)
		escapeAttr(b, t.Name.Space)
		b.WriteString(`"`)
	}
	var prefixes map[string]string // by namespace: "a0" for the first, "a1"...
	for _, a := range t.Attr {
		b.WriteString(" ")
		switch a.Name.Space {
		case "":
		case xmlNS:
			b.WriteString("xml:")
		default:
			prefix, ok := prefixes[a.Name.Space]
			if !ok {
				if prefixes == nil {
					prefixes = make(map[string]string)
				}
				prefix = "a" + strconv.Itoa(len(prefixes))
				prefixes[a.Name.Space] = prefix
				b.WriteString("xmlns:" + prefix + `="`)
				escapeAttr(b, a.Name.Space)
				b.WriteString(`" `)
			}
			b.WriteString(prefix + ":")
		}
		b.WriteString(a.Name.Local)
		b.WriteString(`="`)
		escapeAttr(b, a.Value)
		b.WriteString(`"`)
	}
	b.WriteString(">")
}

// escapeText escapes s for use as character data. Carriage returns are
// written as references so that they survive a parser's line-end
// normalisation.
func escapeText(b *strings.Builder, s string) {
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\r':
			b.WriteString("&#xD;")
		default:
			b.WriteRune(r)
		}
	}
}

// escapeAttr escapes s for use inside a double-quoted attribute value.
func escapeAttr(b *strings.Builder, s string) {
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\t':
			b.WriteString("&#x9;")
		case '\n':
			b.WriteString("&#xA;")
		case '\r':
			b.WriteString("&#xD;")
		default:
			b.WriteRune(r)
		}
	}
}
