package dav

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
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

// ErrMalformed marks a request body that is not well-formed XML or not the
// WebDAV document the method expects; the handler answers 400. Errors that
// do not wrap it come from the body reader itself (for example an
// *http.MaxBytesError) and are passed through unchanged.
var ErrMalformed = errors.New("malformed request body")

// MaxPropNames is the most property names one PROPFIND may ask for (in
// DAV:prop, or DAV:include, counting each name once) and the most
// properties one PROPPATCH may set or remove. Real clients ask for a few
// dozen; the cap keeps the cost of one request bounded (docs/HTTP.md).
const MaxPropNames = 1000

// ErrTooManyProps marks a body that names more than MaxPropNames
// properties; the handler answers 413. It wraps ErrMalformed, since it too
// is a refusal of what the client sent.
var ErrTooManyProps = fmt.Errorf("%w: more than %d properties in one request", ErrMalformed, MaxPropNames)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Propfind is a parsed PROPFIND body: exactly one of AllProp,
// PropName or Props (which may be empty) is meaningful; Include lists the
// extra properties asked for beside allprop.
type Propfind struct {
	AllProp  bool
	PropName bool
	Props    []xml.Name
	Include  []xml.Name
}

// ReadPropfind parses a PROPFIND body. A body without any element (empty,
// or only whitespace) asks for allprop, as RFC 4918 section 9.1 says.
// Malformed XML, a root other than DAV:propfind, an invalid namespace
// declaration or a propfind that does not ask for exactly one of allprop,
// propname and prop is an error wrapping ErrMalformed; more than
// MaxPropNames distinct names is ErrTooManyProps.
func ReadPropfind(r io.Reader) (Propfind, error) {
	return readPropfindMax(r, MaxPropNames)
}

// readPropfindMax is ReadPropfind with at most max distinct names.
func readPropfindMax(r io.Reader, max int) (Propfind, error) {
	x := newXMLReader(r)
	root, err := x.root()
	if err == io.EOF {
		return Propfind{AllProp: true}, nil
	}
	if err != nil {
		return Propfind{}, err
	}
	if root.Name != (xml.Name{Space: davNS, Local: "propfind"}) {
		return Propfind{}, malformed("root element is %s, not {DAV:}propfind", ClarkName(root.Name))
	}
	var pf Propfind
	var hasProp, hasInclude bool
	props := propNames{all: make(map[xml.Name]bool), max: max}
	include := propNames{all: props.all, max: max}
	for {
		t, err := x.next()
		if err != nil {
			return Propfind{}, err
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
				return Propfind{}, err
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
			return Propfind{}, err
		}
	}
	if err := x.finish(); err != nil {
		return Propfind{}, err
	}
	kinds := 0
	for _, b := range []bool{pf.AllProp, pf.PropName, hasProp} {
		if b {
			kinds++
		}
	}
	switch {
	case kinds == 0:
		return Propfind{}, malformed("propfind without allprop, propname or prop")
	case kinds > 1:
		return Propfind{}, malformed("propfind with more than one of allprop, propname and prop")
	case hasInclude && !pf.AllProp:
		return Propfind{}, malformed("include without allprop")
	}
	return pf, nil
}

// PropPatch is one instruction of a PROPPATCH. Value is the content of the
// property element as canonical XML that stands alone: every element in it
// declares its own namespace (xmlns="..." or xmlns=""), attributes in a
// namespace carry their prefix declaration, and text is escaped. It can be
// stored and later written verbatim between the property's tags.
type PropPatch struct {
	Remove bool
	Name   xml.Name
	Value  string
}

// ReadProppatch parses a PROPPATCH body into its instructions in document
// order, across all set and remove blocks (RFC 4918 section 9.2 makes the
// order significant). Malformed XML, a root other than
// DAV:propertyupdate or a body without any property is an error wrapping
// ErrMalformed; more than MaxPropNames instructions is ErrTooManyProps.
func ReadProppatch(r io.Reader) ([]PropPatch, error) {
	x := newXMLReader(r)
	root, err := x.root()
	if err == io.EOF {
		return nil, malformed("empty body")
	}
	if err != nil {
		return nil, err
	}
	if root.Name != (xml.Name{Space: davNS, Local: "propertyupdate"}) {
		return nil, malformed("root element is %s, not {DAV:}propertyupdate", ClarkName(root.Name))
	}
	var patches []PropPatch
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
func (x *xmlReader) instruction(patches []PropPatch, remove bool) ([]PropPatch, error) {
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
			p := PropPatch{Remove: remove, Name: prop.Name}
			if remove {
				err = x.skip()
			} else {
				p.Value, err = x.innerXML()
			}
			if err != nil {
				return nil, err
			}
			if len(patches) == MaxPropNames {
				return nil, ErrTooManyProps
			}
			patches = append(patches, p)
		}
	}
}

// LockInfo is a parsed LOCK body. Owner is the canonical content of
// DAV:owner (see PropPatch.Value), "" when there is none.
type LockInfo struct {
	Shared bool
	Owner  string
}

// ReadLockInfo parses a LOCK body. A body without any element asks to
// refresh a lock: it returns empty true. Otherwise the root must be
// DAV:lockinfo with a lockscope of exclusive or shared and a locktype of
// write; anything else is an error wrapping ErrMalformed.
func ReadLockInfo(r io.Reader) (li LockInfo, empty bool, err error) {
	x := newXMLReader(r)
	root, err := x.root()
	if err == io.EOF {
		return LockInfo{}, true, nil
	}
	if err != nil {
		return LockInfo{}, false, err
	}
	if root.Name != (xml.Name{Space: davNS, Local: "lockinfo"}) {
		return LockInfo{}, false, malformed("root element is %s, not {DAV:}lockinfo", ClarkName(root.Name))
	}
	var scope, typ string
	for {
		t, err := x.next()
		if err != nil {
			return LockInfo{}, false, err
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
			return LockInfo{}, false, err
		}
	}
	if err := x.finish(); err != nil {
		return LockInfo{}, false, err
	}
	switch scope {
	case "{DAV:}exclusive":
	case "{DAV:}shared":
		li.Shared = true
	case "":
		return LockInfo{}, false, malformed("lockinfo without lockscope")
	default:
		return LockInfo{}, false, malformed("unknown lockscope %s", scope)
	}
	switch typ {
	case "{DAV:}write":
	case "":
		return LockInfo{}, false, malformed("lockinfo without locktype")
	default:
		return LockInfo{}, false, malformed("unknown locktype %s", typ)
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
				return "", malformed("empty %s", ClarkName(t.Name))
			}
			return got, nil
		case xml.StartElement:
			if got != "" {
				return "", malformed("more than one value in %s", ClarkName(t.Name))
			}
			got = ClarkName(t.Name)
			if err := x.skip(); err != nil {
				return "", err
			}
		}
	}
}
