package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/schema"
)

// The export formats, by the names ?format= gives them.
const (
	JSON       = "json"
	YAML       = "yaml"
	Env        = "env"
	Properties = "properties"
)

// ContentTypes is the Content-Type of each export format.
var ContentTypes = map[string]string{
	JSON:       "application/json",
	YAML:       "application/yaml",
	Env:        "text/plain; charset=utf-8",
	Properties: "text/x-java-properties; charset=utf-8",
}

// Key is one key of an export: its path, its path below the exported
// namespace as segments, and its value.
type Key struct {
	Path  verso.Path
	Rel   []string
	Value []byte
}

// Tree is what an export holds: every key and namespace below the exported
// one, in the store's Walk order (pre-order, names in byte order).
type Tree struct {
	Keys       []Key
	Namespaces [][]string // relative paths of the namespaces below the root, empty ones included
}

// UnfitError is a tree the format cannot carry: a value that is not text,
// or two keys that come out under one name. Describe names the keys as the
// caller shows paths to its users; Error names them as verso paths.
type UnfitError struct {
	Paths  []verso.Path
	format string // with one %s per path
	args   []any  // after the paths
}

func (e *UnfitError) Error() string {
	return e.Describe(func(p verso.Path) string { return string(p) })
}

// Describe is the error's message with each path written by name.
func (e *UnfitError) Describe(name func(verso.Path) string) string {
	args := make([]any, 0, len(e.Paths)+len(e.args))
	for _, p := range e.Paths {
		args = append(args, name(p))
	}
	return fmt.Sprintf(e.format, append(args, e.args...)...)
}

func unfit(paths []verso.Path, format string, args ...any) error {
	return &UnfitError{Paths: paths, format: format, args: args}
}

// Encode renders t in format f (one of JSON, YAML, Env and Properties);
// with parseJSON (JSON and YAML only), values are read as namespace schemas
// read them (see structure). A value that is not UTF-8 text is an *UnfitError: none of the
// formats can carry bytes without a convention the reader would have to
// know.
func Encode(t *Tree, f string, parseJSON bool) ([]byte, error) {
	for _, k := range t.Keys {
		if !utf8.Valid(k.Value) {
			return nil, unfit([]verso.Path{k.Path}, "%s holds a value that is not UTF-8 text; it cannot be exported as %s (read it with GET)", f)
		}
	}
	switch f {
	case JSON:
		return encodeJSON(t.structure(parseJSON))
	case YAML:
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(yamlNumbers(t.structure(parseJSON))); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	case Env:
		return t.env()
	case Properties:
		return t.properties()
	}
	return nil, fmt.Errorf("unknown export format %q", f)
}

// encodeJSON writes v as indented JSON without HTML escaping (a value
// "a<b" stays "a<b").
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// structure returns t as nested maps: a namespace is a map, a key its value
// as a string, or with parseJSON the member the key is in its namespace's
// document (schema.Member: the value read as JSON where it parses, as a
// string otherwise, one trailing newline dropped; numbers kept as written),
// so that a typed export is what namespace schemas validate. A schema key
// stays its text: it is no member of a document, and so an import of the
// export writes it back as it was.
func (t *Tree) structure(parseJSON bool) map[string]any {
	root := map[string]any{}
	dir := func(rel []string) map[string]any {
		m := root
		for _, name := range rel {
			next, ok := m[name].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[name] = next
			}
			m = next
		}
		return m
	}
	for _, ns := range t.Namespaces {
		dir(ns)
	}
	for _, k := range t.Keys {
		var v any = string(k.Value)
		if parseJSON && !k.Path.IsSchema() {
			v = schema.Member(k.Value)
		}
		dir(k.Rel[:len(k.Rel)-1])[k.Rel[len(k.Rel)-1]] = v
	}
	return root
}

// yamlNumbers replaces the JSON numbers of v by YAML number nodes that
// keep the text as written (1.10 stays 1.10, not 1.1).
func yamlNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = yamlNumbers(x)
		}
	case []any:
		for i, x := range t {
			t[i] = yamlNumbers(x)
		}
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(string(t), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(t)}
	}
	return v
}

// env renders t as NAME='value' lines for sh's "." and systemd's
// EnvironmentFile: names are the path below the namespace joined with "_",
// upper-cased, every character other than A-Z, 0-9 and _ made "_", and "_"
// put before a leading digit; values are single-quoted, a quote inside
// ending the quoting, escaped, and starting it again. Two keys that come out as one name, or a value holding a
// NUL (which no environment can carry), are refused (*UnfitError).
func (t *Tree) env() ([]byte, error) {
	var b bytes.Buffer
	seen := map[string]verso.Path{}
	for _, k := range t.Keys {
		name := envName(k.Rel)
		if other, dup := seen[name]; dup {
			return nil, unfit([]verso.Path{other, k.Path}, "%s and %s both export as %s; rename one of them", name)
		}
		seen[name] = k.Path
		if bytes.IndexByte(k.Value, 0) >= 0 {
			return nil, unfit([]verso.Path{k.Path}, "%s holds a NUL byte, which an environment variable cannot")
		}
		b.WriteString(name)
		b.WriteString("='")
		b.WriteString(strings.ReplaceAll(string(k.Value), "'", `'\''`))
		b.WriteString("'\n")
	}
	return b.Bytes(), nil
}

// envName is the environment variable name of a key at rel.
func envName(rel []string) string {
	var b strings.Builder
	for i, seg := range rel {
		if i > 0 {
			b.WriteByte('_')
		}
		for _, c := range seg {
			switch {
			case c >= 'a' && c <= 'z':
				b.WriteRune(c - 'a' + 'A')
			case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
				b.WriteRune(c)
			default:
				b.WriteByte('_')
			}
		}
	}
	name := b.String()
	if name[0] >= '0' && name[0] <= '9' {
		name = "_" + name
	}
	return name
}

// properties renders t as Java properties: key=value lines, the key the
// path below the namespace joined with ".", escaped as
// java.util.Properties.store escapes (\ = : # ! and spaces in keys,
// a leading space in values, \t \n \r \f, everything outside printable
// ASCII as \uXXXX), so the output is plain ASCII. Two keys that come out as
// one name ("a.b" and "a/b") are refused (*UnfitError).
func (t *Tree) properties() ([]byte, error) {
	var b bytes.Buffer
	seen := map[string]verso.Path{}
	for _, k := range t.Keys {
		name := strings.Join(k.Rel, ".")
		if other, dup := seen[name]; dup {
			return nil, unfit([]verso.Path{other, k.Path}, "%s and %s both export as %q; rename one of them", name)
		}
		seen[name] = k.Path
		propertiesEscape(&b, name, true)
		b.WriteByte('=')
		propertiesEscape(&b, string(k.Value), false)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// propertiesEscape writes s escaped for a properties file, as Java's
// Properties.saveConvert does: spaces escaped everywhere in a key, only
// leading in a value.
func propertiesEscape(b *bytes.Buffer, s string, key bool) {
	for i, c := range s {
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case ' ':
			if key || i == 0 {
				b.WriteByte('\\')
			}
			b.WriteByte(' ')
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		case '=', ':', '#', '!':
			b.WriteByte('\\')
			b.WriteRune(c)
		default:
			if c < 0x20 || c > 0x7e {
				for _, u := range utf16.Encode([]rune{c}) {
					fmt.Fprintf(b, `\u%04X`, u)
				}
				continue
			}
			b.WriteRune(c)
		}
	}
}
