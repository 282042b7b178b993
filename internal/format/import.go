package format

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxYAMLNodes caps the nodes a YAML document may hold once its aliases
// are expanded, so that aliases cannot make a small document a huge one.
const MaxYAMLNodes = 1 << 20

// The media types imported values get.
const (
	TextType   = "text/plain; charset=utf-8"
	JSONType   = "application/json"
	BinaryType = "application/octet-stream"
)

// InvalidError is a document that cannot be imported: not well-formed, not
// one document, or holding a name twice. Its message says where.
type InvalidError struct{ msg string }

func (e *InvalidError) Error() string { return e.msg }

func invalid(format string, args ...any) error {
	return &InvalidError{msg: fmt.Sprintf(format, args...)}
}

// PointerEscape escapes a name for a JSON pointer (RFC 6901).
func PointerEscape(name string) string {
	return strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
}

// Kind says what a document node is: an object becomes a namespace, a
// scalar or an array a key.
type Kind int

// The kinds of node.
const (
	Object Kind = iota + 1
	Scalar
	Array
)

// Node is one value of an imported document.
type Node struct {
	Kind        Kind
	Fields      []Field // of an object, in document order
	Value       []byte  // a scalar as text, or an array as JSON text
	ContentType string  // the content type its key gets
	Line        int     // line in a YAML document; 0 for JSON
}

// Field is one name of an object and its value.
type Field struct {
	Name string
	Node *Node
}

// Where names the node's line for error messages, when it has one.
func (n *Node) Where() string {
	if n.Line > 0 {
		return fmt.Sprintf(" (line %d)", n.Line)
	}
	return ""
}

// ParseJSON reads a JSON document, keeping object fields in order and
// refusing duplicate names.
func ParseJSON(b []byte) (*Node, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := parseJSONValue(dec, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("invalid JSON: more than one value (at byte %d)", dec.InputOffset())
	}
	return n, nil
}

func parseJSONValue(dec *json.Decoder, ptr string) (*Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonSyntax(dec, ptr, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			var items []any
			for dec.More() {
				var v any
				if err := dec.Decode(&v); err != nil {
					return nil, jsonSyntax(dec, ptr, err)
				}
				items = append(items, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, jsonSyntax(dec, ptr, err)
			}
			return arrayNode(items, 0)
		}
		n := &Node{Kind: Object}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, jsonSyntax(dec, ptr, err)
			}
			name := kt.(string)
			fptr := ptr + "/" + PointerEscape(name)
			if seen[name] {
				return nil, invalid("invalid JSON: duplicate name at %s", fptr)
			}
			seen[name] = true
			child, err := parseJSONValue(dec, fptr)
			if err != nil {
				return nil, err
			}
			n.Fields = append(n.Fields, Field{Name: name, Node: child})
		}
		if _, err := dec.Token(); err != nil {
			return nil, jsonSyntax(dec, ptr, err)
		}
		return n, nil
	case string:
		return &Node{Kind: Scalar, Value: []byte(t), ContentType: TextType}, nil
	case json.Number:
		return &Node{Kind: Scalar, Value: []byte(t), ContentType: TextType}, nil
	case bool:
		return &Node{Kind: Scalar, Value: []byte(strconv.FormatBool(t)), ContentType: TextType}, nil
	default: // null
		return &Node{Kind: Scalar, Value: []byte{}, ContentType: TextType}, nil
	}
}

// jsonSyntax describes a JSON error with where it happened.
func jsonSyntax(dec *json.Decoder, ptr string, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if ptr == "" {
		ptr = "the top"
	}
	return invalid("invalid JSON at byte %d (in %s): %v", dec.InputOffset(), ptr, err)
}

// arrayNode is a key holding the JSON text of an array.
func arrayNode(items []any, line int) (*Node, error) {
	if items == nil {
		items = []any{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(items); err != nil {
		return nil, err
	}
	return &Node{Kind: Array, Value: bytes.TrimSuffix(b.Bytes(), []byte("\n")), ContentType: JSONType, Line: line}, nil
}

// ParseYAML reads one YAML document. Scalars keep the text they were
// written with (1.10 stays 1.10); aliases and merge keys (<<) are resolved;
// duplicate names are refused.
func ParseYAML(b []byte) (*Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if err == io.EOF {
			return nil, invalid("invalid YAML: the document is empty")
		}
		return nil, invalid("invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, invalid("invalid YAML: more than one document (the second at line %d)", extra.Line)
	}
	budget := MaxYAMLNodes
	n := &root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	return yamlValue(n, "", &budget)
}

func yamlValue(n *yaml.Node, ptr string, budget *int) (*Node, error) {
	if *budget--; *budget < 0 {
		return nil, invalid("invalid YAML: more than %d nodes once aliases are expanded", MaxYAMLNodes)
	}
	at := ptr
	if at == "" {
		at = "the top"
	}
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(n.Alias, ptr, budget)
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return &Node{Kind: Scalar, Value: []byte{}, ContentType: TextType, Line: n.Line}, nil
		case "!!binary":
			v, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), ""))
			if err != nil {
				return nil, invalid("invalid YAML at %s (line %d): !!binary value is not base64", at, n.Line)
			}
			return &Node{Kind: Scalar, Value: v, ContentType: BinaryType, Line: n.Line}, nil
		}
		return &Node{Kind: Scalar, Value: []byte(n.Value), ContentType: TextType, Line: n.Line}, nil
	case yaml.SequenceNode:
		var items []any
		if err := n.Decode(&items); err != nil {
			return nil, invalid("invalid YAML at %s (line %d): %v", at, n.Line, err)
		}
		for i := range items {
			items[i] = jsonable(items[i])
		}
		d, err := arrayNode(items, n.Line)
		if err != nil {
			return nil, invalid("invalid YAML at %s (line %d): the list cannot be written as JSON: %v", at, n.Line, err)
		}
		return d, nil
	case yaml.MappingNode:
		d := &Node{Kind: Object, Line: n.Line}
		seen := map[string]bool{}
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return nil, invalid("invalid YAML at %s (line %d): a name must be a scalar", at, k.Line)
			}
			if k.ShortTag() == "!!merge" {
				merges = append(merges, v)
				continue
			}
			fptr := ptr + "/" + PointerEscape(k.Value)
			if seen[k.Value] {
				return nil, invalid("invalid YAML: duplicate name at %s (line %d)", fptr, k.Line)
			}
			seen[k.Value] = true
			child, err := yamlValue(v, fptr, budget)
			if err != nil {
				return nil, err
			}
			d.Fields = append(d.Fields, Field{Name: k.Value, Node: child})
		}
		// Merged mappings add the names not given explicitly; of several,
		// the first to give a name wins, as YAML's merge key says.
		for _, m := range merges {
			if m.Kind == yaml.AliasNode {
				m = m.Alias
			}
			srcs := []*yaml.Node{m}
			if m.Kind == yaml.SequenceNode {
				srcs = m.Content
			}
			for _, src := range srcs {
				md, err := yamlValue(src, ptr, budget)
				if err != nil {
					return nil, err
				}
				if md.Kind != Object {
					return nil, invalid("invalid YAML at %s (line %d): << merges mappings only", at, m.Line)
				}
				for _, f := range md.Fields {
					if !seen[f.Name] {
						seen[f.Name] = true
						d.Fields = append(d.Fields, f)
					}
				}
			}
		}
		return d, nil
	}
	return nil, invalid("invalid YAML at %s (line %d): unexpected node", at, n.Line)
}

// jsonable turns what the YAML decoder returns into values encoding/json
// can write: mappings with names that are not strings get them as text.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = jsonable(x)
		}
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = jsonable(x)
		}
		return m
	case []any:
		for i, x := range t {
			t[i] = jsonable(x)
		}
	}
	return v
}
