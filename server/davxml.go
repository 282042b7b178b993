package server

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The XML side of WebDAV: reading PROPFIND, PROPPATCH and LOCK bodies, and
// writing 207 Multi-Status responses.
//
// Request bodies are read with a namespace-aware reader of verso's own (on
// top of xml.Decoder.RawToken) rather than xml.Decoder.Token, because
// encoding/xml quietly accepts what WebDAV clients must be told is wrong: an
// undeclared prefix, or a prefix bound to the empty namespace name
// (<bar:foo xmlns:bar=""/>, which XML Namespaces 1.0 forbids).

const (
	davNS = "DAV:"
	// xmlNS is the namespace the prefix "xml" is bound to by definition.
	xmlNS = "http://www.w3.org/XML/1998/namespace"
)

// errMalformed marks a request body that is not well-formed XML or not the
// WebDAV document the method expects; the handler answers 400. Errors that
// do not wrap it come from the body reader itself (for example an
// *http.MaxBytesError) and are passed through unchanged.
var errMalformed = errors.New("malformed request body")

// maxPropNames is the most property names one PROPFIND may ask for (in
// DAV:prop, or DAV:include, counting each name once) and the most
// properties one PROPPATCH may set or remove. Real clients ask for a few
// dozen; the cap keeps the cost of one request bounded (docs/HTTP.md).
const maxPropNames = 1000

// errTooManyProps marks a body that names more than maxPropNames
// properties; the handler answers 413. It wraps errMalformed, since it too
// is a refusal of what the client sent.
var errTooManyProps = fmt.Errorf("%w: more than %d properties in one request", errMalformed, maxPropNames)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// propfindRequest is a parsed PROPFIND body: exactly one of AllProp,
// PropName or Props (which may be empty) is meaningful; Include lists the
// extra properties asked for beside allprop.
type propfindRequest struct {
	AllProp  bool
	PropName bool
	Props    []xml.Name
	Include  []xml.Name
}

// readPropfind parses a PROPFIND body. A body without any element (empty,
// or only whitespace) asks for allprop, as RFC 4918 section 9.1 says.
// Malformed XML, a root other than DAV:propfind, an invalid namespace
// declaration or a propfind that does not ask for exactly one of allprop,
// propname and prop is an error wrapping errMalformed; more than
// maxPropNames distinct names is errTooManyProps.
func readPropfind(r io.Reader) (propfindRequest, error) {
	return readPropfindMax(r, maxPropNames)
}

// readPropfindMax is readPropfind with at most max distinct names.
func readPropfindMax(r io.Reader, max int) (propfindRequest, error) {
	x := newXMLReader(r)
	root, err := x.root()
	if err == io.EOF {
		return propfindRequest{AllProp: true}, nil
	}
	if err != nil {
		return propfindRequest{}, err
	}
	if root.Name != (xml.Name{Space: davNS, Local: "propfind"}) {
		return propfindRequest{}, malformed("root element is %s, not {DAV:}propfind", clarkName(root.Name))
	}
	var pf propfindRequest
	var hasProp, hasInclude bool
	props := propNames{all: make(map[xml.Name]bool), max: max}
	include := propNames{all: props.all, max: max}
	for {
		t, err := x.next()
		if err != nil {
			return propfindRequest{}, err
		}
		if _, ok := t.(xml.EndElement); ok {
			break
		}
		start, ok := t.(xml.StartElement)
		if !ok {
			continue
		}
		if start.Name.Space != davNS {
			// Elements of other vocabularies extend the request; RFC 4918
			// section 17 says to ignore what is not understood.
			if err := x.skip(); err != nil {
				return propfindRequest{}, err
			}
			continue
		}
		switch start.Name.Local {
		case "allprop":
			pf.AllProp = true
			err = x.skip()
		case "propname":
			pf.PropName = true
			err = x.skip()
		case "prop":
			hasProp = true
			pf.Props, err = x.names(pf.Props, &props)
		case "include":
			hasInclude = true
			pf.Include, err = x.names(pf.Include, &include)
		default:
			err = x.skip()
		}
		if err != nil {
			return propfindRequest{}, err
		}
	}
	if err := x.finish(); err != nil {
		return propfindRequest{}, err
	}
	kinds := 0
	for _, b := range []bool{pf.AllProp, pf.PropName, hasProp} {
		if b {
			kinds++
		}
	}
	switch {
	case kinds == 0:
		return propfindRequest{}, malformed("propfind without allprop, propname or prop")
	case kinds > 1:
		return propfindRequest{}, malformed("propfind with more than one of allprop, propname and prop")
	case hasInclude && !pf.AllProp:
		return propfindRequest{}, malformed("include without allprop")
	}
	return pf, nil
}

// propPatch is one instruction of a PROPPATCH. Value is the content of the
// property element as canonical XML that stands alone: every element in it
// declares its own namespace (xmlns="..." or xmlns=""), attributes in a
// namespace carry their prefix declaration, and text is escaped. It can be
// stored and later written verbatim between the property's tags.
type propPatch struct {
	Remove bool
	Name   xml.Name
	Value  string
}

// readProppatch parses a PROPPATCH body into its instructions in document
// order, across all set and remove blocks (RFC 4918 section 9.2 makes the
// order significant). Malformed XML, a root other than
// DAV:propertyupdate or a body without any property is an error wrapping
// errMalformed; more than maxPropNames instructions is errTooManyProps.
func readProppatch(r io.Reader) ([]propPatch, error) {
	x := newXMLReader(r)
	root, err := x.root()
	if err == io.EOF {
		return nil, malformed("empty body")
	}
	if err != nil {
		return nil, err
	}
	if root.Name != (xml.Name{Space: davNS, Local: "propertyupdate"}) {
		return nil, malformed("root element is %s, not {DAV:}propertyupdate", clarkName(root.Name))
	}
	var patches []propPatch
	for {
		t, err := x.next()
		if err != nil {
			return nil, err
		}
		if _, ok := t.(xml.EndElement); ok {
			break
		}
		start, ok := t.(xml.StartElement)
		if !ok {
			continue
		}
		if start.Name.Space != davNS || (start.Name.Local != "set" && start.Name.Local != "remove") {
			if err := x.skip(); err != nil {
				return nil, err
			}
			continue
		}
		remove := start.Name.Local == "remove"
		if patches, err = x.instruction(patches, remove); err != nil {
			return nil, err
		}
	}
	if err := x.finish(); err != nil {
		return nil, err
	}
	if len(patches) == 0 {
		return nil, malformed("propertyupdate without properties")
	}
	return patches, nil
}

// instruction reads the content of one DAV:set or DAV:remove element.
func (x *xmlReader) instruction(patches []propPatch, remove bool) ([]propPatch, error) {
	for {
		t, err := x.next()
		if err != nil {
			return nil, err
		}
		if _, ok := t.(xml.EndElement); ok {
			return patches, nil
		}
		start, ok := t.(xml.StartElement)
		if !ok {
			continue
		}
		if start.Name != (xml.Name{Space: davNS, Local: "prop"}) {
			if err := x.skip(); err != nil {
				return nil, err
			}
			continue
		}
		for {
			t, err := x.next()
			if err != nil {
				return nil, err
			}
			if _, ok := t.(xml.EndElement); ok {
				break
			}
			prop, ok := t.(xml.StartElement)
			if !ok {
				continue
			}
			p := propPatch{Remove: remove, Name: prop.Name}
			if remove {
				err = x.skip()
			} else {
				p.Value, err = x.innerXML()
			}
			if err != nil {
				return nil, err
			}
			if len(patches) == maxPropNames {
				return nil, errTooManyProps
			}
			patches = append(patches, p)
		}
	}
}

// lockInfo is a parsed LOCK body. Owner is the canonical content of
// DAV:owner (see propPatch.Value), "" when there is none.
type lockInfo struct {
	Shared bool
	Owner  string
}

// readLockInfo parses a LOCK body. A body without any element asks to
// refresh a lock: it returns empty true. Otherwise the root must be
// DAV:lockinfo with a lockscope of exclusive or shared and a locktype of
// write; anything else is an error wrapping errMalformed.
func readLockInfo(r io.Reader) (li lockInfo, empty bool, err error) {
	x := newXMLReader(r)
	root, err := x.root()
	if err == io.EOF {
		return lockInfo{}, true, nil
	}
	if err != nil {
		return lockInfo{}, false, err
	}
	if root.Name != (xml.Name{Space: davNS, Local: "lockinfo"}) {
		return lockInfo{}, false, malformed("root element is %s, not {DAV:}lockinfo", clarkName(root.Name))
	}
	var scope, typ string
	for {
		t, err := x.next()
		if err != nil {
			return lockInfo{}, false, err
		}
		if _, ok := t.(xml.EndElement); ok {
			break
		}
		start, ok := t.(xml.StartElement)
		if !ok {
			continue
		}
		switch start.Name {
		case xml.Name{Space: davNS, Local: "lockscope"}:
			scope, err = x.choice()
		case xml.Name{Space: davNS, Local: "locktype"}:
			typ, err = x.choice()
		case xml.Name{Space: davNS, Local: "owner"}:
			li.Owner, err = x.innerXML()
		default:
			err = x.skip()
		}
		if err != nil {
			return lockInfo{}, false, err
		}
	}
	if err := x.finish(); err != nil {
		return lockInfo{}, false, err
	}
	switch scope {
	case "{DAV:}exclusive":
	case "{DAV:}shared":
		li.Shared = true
	case "":
		return lockInfo{}, false, malformed("lockinfo without lockscope")
	default:
		return lockInfo{}, false, malformed("unknown lockscope %s", scope)
	}
	switch typ {
	case "{DAV:}write":
	case "":
		return lockInfo{}, false, malformed("lockinfo without locktype")
	default:
		return lockInfo{}, false, malformed("unknown locktype %s", typ)
	}
	return li, false, nil
}

// choice reads an element that holds exactly one empty element naming a
// value (DAV:lockscope, DAV:locktype) and returns that element's Clark name.
func (x *xmlReader) choice() (string, error) {
	var got string
	for {
		t, err := x.next()
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.EndElement:
			if got == "" {
				return "", malformed("empty %s", clarkName(t.Name))
			}
			return got, nil
		case xml.StartElement:
			if got != "" {
				return "", malformed("more than one value in %s", clarkName(t.Name))
			}
			got = clarkName(t.Name)
			if err := x.skip(); err != nil {
				return "", err
			}
		}
	}
}

// clarkName writes n in Clark notation, "{space}local"; the empty namespace
// gives "{}local". It is how verso stores dead property names.
func clarkName(n xml.Name) string {
	return "{" + n.Space + "}" + n.Local
}

// parseClark is the inverse of clarkName. It refuses a string that is not
// "{space}local" with local a valid XML name without a colon, so a name that
// parses can always be written as an element.
func parseClark(s string) (xml.Name, bool) {
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
// errMalformed.
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
			return nil, malformed("attribute %s repeated", clarkName(n))
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
// errTooManyProps.
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
					return nil, errTooManyProps
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

// property is one property of a PROPFIND or PROPPATCH answer. XML is the
// element's content, written verbatim: it must already be escaped and
// canonical (a stored dead property value, or XML built by the server).
type property struct {
	Name xml.Name
	XML  string
}

// propstat is a group of properties that share a status.
type propstat struct {
	Status      int
	Props       []property
	Description string
}

// writeProperty writes p as an element that means the same in any context:
// DAV: properties with the D prefix of the enclosing multistatus, the empty
// namespace as <local xmlns="">, any other namespace with a prefix declared
// on the element itself.
func writeProperty(b *strings.Builder, p property) {
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

// multistatusWriter writes a 207 Multi-Status response one DAV:response at
// a time. Nothing reaches the client before the first response, so a
// handler that fails before then can still send a plain error status.
type multistatusWriter struct {
	w       http.ResponseWriter
	started bool
}

func newMultistatusWriter(w http.ResponseWriter) *multistatusWriter {
	return &multistatusWriter{w: w}
}

// wrote reports whether the 207 status and document start have been sent.
func (m *multistatusWriter) wrote() bool { return m.started }

func (m *multistatusWriter) begin() error {
	if m.started {
		return nil
	}
	m.started = true
	m.w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	m.w.WriteHeader(http.StatusMultiStatus)
	_, err := io.WriteString(m.w, xml.Header+`<D:multistatus xmlns:D="DAV:">`)
	return err
}

func (m *multistatusWriter) write(s string) error {
	if err := m.begin(); err != nil {
		return err
	}
	_, err := io.WriteString(m.w, s)
	return err
}

// propstats writes one DAV:response for href (already URL-escaped; it is
// XML-escaped here) with one DAV:propstat per group that holds properties.
// If no group holds any, a single 200 propstat with an empty DAV:prop keeps
// the response valid.
func (m *multistatusWriter) propstats(href string, ps []propstat) error {
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
		writePropstat(&b, propstat{Status: http.StatusOK})
	}
	b.WriteString("</D:response>")
	return m.write(b.String())
}

func writePropstat(b *strings.Builder, p propstat) {
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

// status writes one DAV:response for href that carries only a status (and
// an optional description), as DELETE, COPY and MOVE report a member that
// failed.
func (m *multistatusWriter) status(href string, status int, description string) error {
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

// close ends the document. If no response was written it writes an empty
// multistatus, which is still a valid 207 answer.
func (m *multistatusWriter) close() error {
	return m.write("</D:multistatus>\n")
}
