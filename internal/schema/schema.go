// Package schema compiles the JSON Schemas that namespaces carry and
// validates namespace documents against them. It knows nothing of stores:
// package plan builds each namespace's document from the state it plans
// against and calls Validate inside the commit.
//
// The document of a namespace is a JSON object: each key is a member whose
// value is the key's value read as JSON where it parses and as a string
// otherwise (one trailing newline dropped first, as echo adds one); each
// namespace below is a member holding its own document. The schema key
// itself (verso.SchemaKey) is not part of any document.
package schema

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Limits that keep a hostile schema from taking the server down. Regular
// expressions are Go's (RE2: linear time in the input, no backtracking).
const (
	// MaxSize is the largest schema document accepted, in bytes.
	MaxSize = 256 << 10
	// MaxEvaluations bounds, for any one value of a document, how many
	// subschemas apply to it at its own location through $ref, allOf,
	// anyOf, oneOf, not, if/then/else and dependentSchemas (counted with
	// their multiplicity). A schema above it is refused when it is set:
	// nesting anyOf in anyOf through $refs would otherwise cost 2^depth
	// evaluations per value.
	MaxEvaluations = 10000
	// MaxPaths bounds the ways through a schema's applicators from its
	// root to its subschemas, summed over them (a recursion counted once):
	// what may apply to the values of a document, however they nest.
	// anyOf of 100 alternatives that each apply, to a member, anyOf of
	// 100 more, three levels down, is 1,000,000.
	MaxPaths = 100000
)

// ErrInvalid says a schema document does not compile: it is not JSON, not
// a valid schema of its draft, refers to a remote resource, or exceeds a
// limit above.
var ErrInvalid = errors.New("invalid schema")

// Schema is a compiled schema.
type Schema struct {
	s *jsonschema.Schema
	// split is set when the schema's root is a plain object schema (see
	// splitRoot): then a document's validity is that of its set of names
	// (names, against a copy of the root whose member schemas are all
	// true) and that of each member alone, which lets a commit that
	// changes a few members of a valid document check only those.
	split *split
	// formula is set, when split is not, for a root that is a boolean
	// formula of schema objects that can be split, its parts (see
	// formula.go): then a State lets a commit validate only the members
	// that changed, whatever the document's validity was before.
	formula *node
	parts   []part
}

type split struct {
	names *jsonschema.Schema
}

// base is the location schemas are compiled at; relative $refs resolve
// inside the document itself.
const base = "urn:verso:schema"

// noRemote refuses every load: a schema may refer only inside itself (and
// to the standard metaschemas, which the validator carries).
type noRemote struct{}

func (noRemote) Load(url string) (any, error) {
	return nil, fmt.Errorf("remote $ref %q refused: a schema may refer only inside itself", url)
}

var compiled = struct {
	sync.Mutex
	m map[[32]byte]*Schema
}{m: make(map[[32]byte]*Schema)}

// maxCompiled bounds the compiled schemas kept; past it the cache starts
// over.
const maxCompiled = 512

// Compile compiles a schema document (draft 2020-12 unless its $schema
// names draft 07 or another draft). Compiled schemas are cached by
// content. An error wraps ErrInvalid and carries the validator's message.
func Compile(doc []byte) (*Schema, error) {
	sum := sha256.Sum256(doc)
	compiled.Lock()
	s := compiled.m[sum]
	compiled.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := compile(doc)
	if err != nil {
		return nil, err
	}
	compiled.Lock()
	if len(compiled.m) >= maxCompiled {
		clear(compiled.m)
	}
	compiled.m[sum] = s
	compiled.Unlock()
	return s, nil
}

func compile(doc []byte) (*Schema, error) {
	if len(doc) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, above the limit of %d", ErrInvalid, len(doc), MaxSize)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrInvalid, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noRemote{})
	if err := c.AddResource(base, v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	s, err := c.Compile(base)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.ReplaceAll(err.Error(), base, "schema"))
	}
	if n := evaluations(s, map[*jsonschema.Schema]int{}); n > MaxEvaluations {
		return nil, fmt.Errorf("%w: up to %d subschemas would apply to one value through $ref, allOf, anyOf, oneOf, not and if (the limit is %d)", ErrInvalid, n, MaxEvaluations)
	}
	if err := branching(s); err != nil {
		return nil, err
	}
	out := &Schema{s: s}
	if names := splitRoot(v, doc); names != nil {
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.UseLoader(noRemote{})
		if c.AddResource(base, names) == nil {
			if ns, err := c.Compile(base); err == nil {
				out.split = &split{names: ns}
			}
		}
	}
	if out.split == nil {
		out.formula, out.parts = buildFormula(v, doc, s)
	}
	return out, nil
}

// splitKeywords are the keywords a root may hold for the schema to be
// split: those that constrain the names of an object or each member on
// its own, annotations, and allOf and $ref whose schemas are of the same
// kind.
var splitKeywords = map[string]bool{
	"$schema": true, "$id": true, "$defs": true, "definitions": true, "$comment": true, "$anchor": true,
	"title": true, "description": true, "default": true, "examples": true, "deprecated": true,
	"readOnly": true, "writeOnly": true,
	"type": true, "required": true, "minProperties": true, "maxProperties": true, "propertyNames": true,
	"dependentRequired": true, "properties": true, "patternProperties": true, "additionalProperties": true,
	"allOf": true, "$ref": true,
}

// rootOnly are the keywords of splitKeywords that only the root may hold:
// a part of it holding them would change how references resolve.
var rootOnly = map[string]bool{"$schema": true, "$id": true, "$defs": true, "definitions": true, "$anchor": true}

// splitRoot returns the names schema of a root that can be split: the root
// with every member schema (of properties, patternProperties and a
// non-boolean additionalProperties) replaced by true, in it and in the
// schemas its allOf and $ref (to a place inside the document) apply to the
// whole document, which are inlined. It returns nil for any other root,
// for a draft before 2019-09 whose root has a $ref (its siblings are
// ignored there), and for a schema that uses dynamic references, whose
// meaning depends on the path of evaluation.
func splitRoot(v any, doc []byte) map[string]any {
	root, ok := v.(map[string]any)
	if !ok || bytes.Contains(doc, []byte("$dynamicRef")) || bytes.Contains(doc, []byte("$recursiveRef")) {
		return nil
	}
	if sch, _ := root["$schema"].(string); sch != "" && !strings.Contains(sch, "2019-09") && !strings.Contains(sch, "2020-12") {
		if _, ok := root["$ref"]; ok {
			return nil
		}
	}
	names, ok := namesOf(root, root, true, 0)
	if !ok {
		return nil
	}
	for _, k := range []string{"$schema", "$id", "$defs", "definitions"} {
		if x, ok := root[k]; ok {
			names[k] = x
		}
	}
	return names
}

// namesOf returns the names schema of part (see splitRoot), or false if it
// cannot be split.
func namesOf(root, part map[string]any, isRoot bool, depth int) (map[string]any, bool) {
	if depth > 16 {
		return nil, false
	}
	out := make(map[string]any, len(part))
	var all []any
	for k, x := range part {
		if !splitKeywords[k] || (rootOnly[k] && !isRoot) {
			return nil, false
		}
		switch k {
		case "$schema", "$id", "$defs", "definitions", "$anchor":
		case "properties", "patternProperties":
			m, ok := x.(map[string]any)
			if !ok {
				return nil, false
			}
			t := make(map[string]any, len(m))
			for name := range m {
				t[name] = true
			}
			out[k] = t
		case "additionalProperties":
			if _, ok := x.(bool); ok {
				out[k] = x
			} else {
				out[k] = true
			}
		case "allOf":
			l, ok := x.([]any)
			if !ok {
				return nil, false
			}
			for _, y := range l {
				m, ok := y.(map[string]any)
				if !ok {
					return nil, false
				}
				n, ok := namesOf(root, m, false, depth+1)
				if !ok {
					return nil, false
				}
				all = append(all, n)
			}
		case "$ref":
			ref, _ := x.(string)
			m, ok := resolveLocal(root, ref)
			if !ok {
				return nil, false
			}
			n, ok := namesOf(root, m, false, depth+1)
			if !ok {
				return nil, false
			}
			all = append(all, n)
		default:
			out[k] = x
		}
	}
	if len(all) > 0 {
		out["allOf"] = all
	}
	return out, true
}

// resolveLocal returns the schema object a "#/..." pointer names inside
// root.
func resolveLocal(root map[string]any, ref string) (map[string]any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok || strings.Contains(tok, "%") {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	m, ok := cur.(map[string]any)
	return m, ok
}

// evaluations returns how many subschemas apply to a value at its own
// location when s does, saturating above MaxEvaluations. memo holds the
// schemas done (and -1 for those in progress: a cycle at one location is
// one the validator itself stops).
func evaluations(s *jsonschema.Schema, memo map[*jsonschema.Schema]int) int {
	if s == nil {
		return 0
	}
	if n, ok := memo[s]; ok {
		return max(n, 0)
	}
	memo[s] = -1
	n := 1
	add := func(c *jsonschema.Schema) {
		n = min(n+evaluations(c, memo), MaxEvaluations+1)
	}
	add(s.Ref)
	add(s.RecursiveRef)
	if s.DynamicRef != nil {
		add(s.DynamicRef.Ref)
	}
	add(s.Not)
	add(s.If)
	add(s.Then)
	add(s.Else)
	for _, l := range [][]*jsonschema.Schema{s.AllOf, s.AnyOf, s.OneOf} {
		for _, c := range l {
			add(c)
		}
	}
	for _, c := range s.DependentSchemas {
		add(c)
	}
	for _, d := range s.Dependencies {
		if c, ok := d.(*jsonschema.Schema); ok {
			add(c)
		}
	}
	memo[s] = n
	return n
}

// A Violation is one way a document fails its schema.
type Violation struct {
	// Pointer is the JSON pointer of the failing value in the document
	// ("" for the document itself).
	Pointer []string
	// Keyword is the schema keyword that failed ("minimum", "required").
	Keyword string
	// Message says what is wrong, for a person.
	Message string
}

var printer = message.NewPrinter(language.English)

// Validate checks doc (a document as Member and the namespace builders
// make it) and returns its violations, none when it is valid.
func (s *Schema) Validate(doc any) []Violation {
	return violations(s.s.Validate(doc), nil)
}

// violations flattens the error of a validation into its violations, with
// prefix in front of each pointer.
func violations(err error, prefix []string) []Violation {
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{Pointer: prefix, Message: err.Error()}}
	}
	var out []Violation
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if isWrapper(e.ErrorKind) && len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		out = append(out, Violation{
			Pointer: append(slices.Clip(prefix), e.InstanceLocation...),
			Keyword: strings.Join(e.ErrorKind.KeywordPath(), "/"),
			Message: ungroup(e.ErrorKind.LocalizedString(printer)),
		})
	}
	walk(ve)
	return out
}

// ValidateChanged checks a document of which only the members named in
// changed may differ from a document that was valid against s; names says
// whether the set of member names differs too. It returns the violations
// Validate would, looking at the changed members alone when the schema can
// be split, and at the whole document otherwise.
func (s *Schema) ValidateChanged(doc map[string]any, changed []string, names bool) []Violation {
	if s.split == nil {
		return s.Validate(doc)
	}
	var out []Violation
	if names {
		keys := make(map[string]any, len(doc))
		for k := range doc {
			keys[k] = nil
		}
		out = violations(s.split.names.Validate(keys), nil)
	}
	for _, name := range changed {
		v, ok := doc[name]
		if !ok {
			continue
		}
		for _, sub := range s.memberSchemas(name) {
			out = append(out, violations(sub.Validate(v), []string{name})...)
		}
	}
	return out
}

// memberSchemas returns the schemas that apply to the member name of a
// document of a split schema: in the root and in each schema its allOf and
// $ref apply to the whole document, its properties entry, those of the
// patternProperties that match it, or else additionalProperties when it
// is a schema.
func (s *Schema) memberSchemas(name string) []*jsonschema.Schema {
	var out []*jsonschema.Schema
	var walk func(p *jsonschema.Schema)
	walk = func(p *jsonschema.Schema) {
		matched := false
		if x, ok := p.Properties[name]; ok {
			out = append(out, x)
			matched = true
		}
		for re, x := range p.PatternProperties {
			if re.MatchString(name) {
				out = append(out, x)
				matched = true
			}
		}
		if a, ok := p.AdditionalProperties.(*jsonschema.Schema); ok && !matched {
			out = append(out, a)
		}
		if p.Ref != nil {
			walk(p.Ref)
		}
		for _, x := range p.AllOf {
			walk(x)
		}
	}
	walk(s.s)
	return out
}

// ungroup removes the thousands separators the validator's printer puts in
// numbers ("got 70,000"), outside quoted text: configuration values are
// written without them.
func ungroup(msg string) string {
	if !strings.Contains(msg, ",") {
		return msg
	}
	isDigit := func(i int) bool { return i >= 0 && i < len(msg) && msg[i] >= '0' && msg[i] <= '9' }
	var b strings.Builder
	quoted := false
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\'' {
			quoted = !quoted
		}
		if c == ',' && !quoted && isDigit(i-1) && isDigit(i+1) && isDigit(i+2) && isDigit(i+3) && !isDigit(i+4) {
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// isWrapper reports whether an error of kind k only gathers its causes.
func isWrapper(k jsonschema.ErrorKind) bool {
	switch k.(type) {
	case *kind.Schema, *kind.Group, *kind.Reference, *kind.AllOf:
		return true
	}
	return false
}

// Member returns the document member of a key holding value: the value
// read as JSON where it parses, as a string otherwise, after dropping one
// trailing newline. It is the one place this rule is written: the plan
// validates documents built with it, and typed exports (?parse=json) show
// values through it (docs/schema.md, "The document that is validated").
func Member(value []byte) any {
	v := value
	if n := len(v); n > 0 && v[n-1] == '\n' {
		v = v[:n-1]
	}
	if len(v) > 0 && maybeJSON(v[0]) {
		if x, err := jsonschema.UnmarshalJSON(bytes.NewReader(v)); err == nil {
			return x
		}
	}
	return string(v)
}

// maybeJSON reports whether a JSON value may start with b: a JSON
// character or whitespace, which JSON allows around a value (" 42" is the
// number 42).
func maybeJSON(b byte) bool {
	switch {
	case b == '{', b == '[', b == '"', b == '-', b >= '0' && b <= '9', b == 't', b == 'f', b == 'n', b == ' ', b == '\t', b == '\r', b == '\n':
		return true
	}
	return false
}

// Pointer renders a JSON pointer from its tokens.
func Pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}
