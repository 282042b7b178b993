package schema

import (
	"bytes"
	"maps"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// A schema whose root cannot be split (see splitRoot) because it combines
// schemas with anyOf, oneOf, not or if may still be a boolean formula over
// parts that can: the root's validity is then that formula of the parts'
// validities, and a part's validity is that of the names of the document
// (against the part's names schema) and of each member alone (against the
// part's member schemas). A State keeps, for one document, whether the
// names pass each part and which members fail it, so that a commit that
// changes a few members of a large document validates only those (and the
// names, when some come or go) against each part, whatever the document's
// validity was before.

// op is what a formula node does with its children.
type op int

const (
	opPart  op = iota // a part: Schema.parts[node.part]
	opAll             // every child holds
	opAny             // a child holds
	opOne             // exactly one child holds
	opNot             // the child does not hold
	opIf              // kids[0] ? kids[1] : kids[2], a nil child holding
	opTrue            // the schema true
	opFalse           // the schema false
	opDep             // the child holds, or the document has no member name
)

type node struct {
	op   op
	kids []*node
	part int
	name string // of opDep
}

// part is a schema object of the formula without its applicators (allOf,
// anyOf, oneOf, not, if, then, else, $ref, dependentSchemas), which are the
// formula's nodes.
type part struct {
	names *jsonschema.Schema // the part with every member schema true
	own   *jsonschema.Schema // the compiled schema object the part is of
}

// Limits of the formulas built: beyond them, the whole document is
// validated at each commit.
const (
	maxFormulaDepth = 16
	maxParts        = 32
)

// combinators are the keywords that are nodes of a formula rather than
// keywords of its parts.
var combinators = map[string]bool{
	"allOf": true, "anyOf": true, "oneOf": true, "not": true, "if": true, "then": true, "else": true, "$ref": true,
	"dependentSchemas": true,
}

// formulaBuilder builds a schema's formula.
type formulaBuilder struct {
	root  map[string]any
	parts []part
}

// buildFormula returns the formula of a schema (v its document, s its
// compiled root), or nil if it has none: a draft before 2019-09, dynamic
// references or embedded resources ($id), a reference that is not a
// pointer inside the document, a part that cannot be split, or beyond the
// limits.
func buildFormula(v any, doc []byte, s *jsonschema.Schema) (*node, []part) {
	root, ok := v.(map[string]any)
	if !ok || bytes.Contains(doc, []byte("$dynamicRef")) || bytes.Contains(doc, []byte("$recursiveRef")) || bytes.Contains(doc, []byte(`"$id"`)) {
		return nil, nil
	}
	if sch, _ := root["$schema"].(string); sch != "" && !strings.Contains(sch, "2019-09") && !strings.Contains(sch, "2020-12") {
		return nil, nil
	}
	b := &formulaBuilder{root: root}
	n, ok := b.build(root, s, 0)
	if !ok {
		return nil, nil
	}
	return n, b.parts
}

func (b *formulaBuilder) build(v any, s *jsonschema.Schema, depth int) (*node, bool) {
	if depth > maxFormulaDepth || s == nil {
		return nil, false
	}
	switch v := v.(type) {
	case bool:
		if v {
			return &node{op: opTrue}, true
		}
		return &node{op: opFalse}, true
	case map[string]any:
		isRoot := depth == 0
		all := &node{op: opAll}
		own := make(map[string]any, len(v))
		for k, x := range v {
			if !combinators[k] {
				own[k] = x
			}
		}
		if hasConstraints(own) {
			names, ok := namesOf(b.root, own, isRoot, 0)
			if !ok || len(b.parts) >= maxParts {
				return nil, false
			}
			for _, k := range []string{"$schema", "$defs", "definitions"} {
				if x, ok := b.root[k]; ok {
					names[k] = x
				}
			}
			c := jsonschema.NewCompiler()
			c.DefaultDraft(jsonschema.Draft2020)
			c.UseLoader(noRemote{})
			if c.AddResource(base, names) != nil {
				return nil, false
			}
			ns, err := c.Compile(base)
			if err != nil {
				return nil, false
			}
			b.parts = append(b.parts, part{names: ns, own: s})
			all.kids = append(all.kids, &node{op: opPart, part: len(b.parts) - 1})
		}
		list := func(k string, compiled []*jsonschema.Schema) ([]*node, bool) {
			l, ok := v[k].([]any)
			if !ok || len(l) != len(compiled) {
				return nil, false
			}
			out := make([]*node, len(l))
			for i, x := range l {
				if out[i], ok = b.build(x, compiled[i], depth+1); !ok {
					return nil, false
				}
			}
			return out, true
		}
		if _, ok := v["allOf"]; ok {
			kids, ok := list("allOf", s.AllOf)
			if !ok {
				return nil, false
			}
			all.kids = append(all.kids, kids...)
		}
		for _, k := range []string{"anyOf", "oneOf"} {
			if _, ok := v[k]; !ok {
				continue
			}
			compiled := s.AnyOf
			o := opAny
			if k == "oneOf" {
				compiled, o = s.OneOf, opOne
			}
			kids, ok := list(k, compiled)
			if !ok {
				return nil, false
			}
			all.kids = append(all.kids, &node{op: o, kids: kids})
		}
		if x, ok := v["$ref"]; ok {
			ref, _ := x.(string)
			target, ok := resolveLocalAny(b.root, ref)
			if !ok {
				return nil, false
			}
			n, ok := b.build(target, s.Ref, depth+1)
			if !ok {
				return nil, false
			}
			all.kids = append(all.kids, n)
		}
		if x, ok := v["not"]; ok {
			n, ok := b.build(x, s.Not, depth+1)
			if !ok {
				return nil, false
			}
			all.kids = append(all.kids, &node{op: opNot, kids: []*node{n}})
		}
		if x, ok := v["dependentSchemas"]; ok {
			m, ok := x.(map[string]any)
			if !ok || len(m) != len(s.DependentSchemas) {
				return nil, false
			}
			for _, name := range slices.Sorted(maps.Keys(m)) {
				n, ok := b.build(m[name], s.DependentSchemas[name], depth+1)
				if !ok {
					return nil, false
				}
				all.kids = append(all.kids, &node{op: opDep, name: name, kids: []*node{n}})
			}
		}
		if x, ok := v["if"]; ok {
			cond, ok := b.build(x, s.If, depth+1)
			if !ok {
				return nil, false
			}
			n := &node{op: opIf, kids: []*node{cond, nil, nil}}
			for i, k := range []string{"then", "else"} {
				y, ok := v[k]
				if !ok {
					continue
				}
				sub := s.Then
				if k == "else" {
					sub = s.Else
				}
				if n.kids[i+1], ok = b.build(y, sub, depth+1); !ok {
					return nil, false
				}
			}
			all.kids = append(all.kids, n)
		}
		if len(all.kids) == 1 {
			return all.kids[0], true
		}
		return all, true
	}
	return nil, false
}

// annotations are the keywords of a schema object that constrain nothing.
var annotations = map[string]bool{
	"$schema": true, "$defs": true, "definitions": true, "$comment": true, "$anchor": true,
	"title": true, "description": true, "default": true, "examples": true, "deprecated": true,
	"readOnly": true, "writeOnly": true,
}

// hasConstraints reports whether a schema object holds a keyword other
// than annotations.
func hasConstraints(m map[string]any) bool {
	for k := range m {
		if !annotations[k] {
			return true
		}
	}
	return false
}

// resolveLocalAny returns the schema (an object or a boolean) a "#/..."
// pointer names inside root.
func resolveLocalAny(root map[string]any, ref string) (any, bool) {
	i := strings.LastIndex(ref, "/")
	if i < 0 || !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	if m, ok := resolveLocal(root, ref); ok {
		return m, true
	}
	parent, ok := resolveLocal(root, ref[:i])
	if !ok || ref[:i] == "#" {
		return nil, false
	}
	tok := strings.ReplaceAll(strings.ReplaceAll(ref[i+1:], "~1", "/"), "~0", "~")
	x, ok := parent[tok].(bool)
	return x, ok
}

// State is what incremental checks of one document against one schema
// keep between commits. It belongs to the document: a check updates it in
// place, as the document's members are changed in place.
type State struct {
	s       *Schema
	namesOK []bool
	fails   []map[string]struct{} // by part, the members that fail it
}

// Incremental reports whether the schema's checks can keep a State (see
// Check): its root is a formula of parts that can be split.
func (s *Schema) Incremental() bool { return s.formula != nil }

// Check reports whether doc is valid against s, as Validate would. st is
// the State of the document as it was before, or nil; changed names the
// members that may differ since (and names whether the set of names may
// differ). Check returns the State of doc, which is st updated when st is
// one of s. For a schema that is not Incremental, Check is Validate.
func (s *Schema) Check(doc map[string]any, st *State, changed []string, names bool) (bool, *State) {
	if s.formula == nil {
		return len(s.Validate(doc)) == 0, nil
	}
	if st == nil || st.s != s {
		st = &State{s: s, namesOK: make([]bool, len(s.parts)), fails: make([]map[string]struct{}, len(s.parts))}
		for i := range s.parts {
			st.fails[i] = make(map[string]struct{})
		}
		changed = changed[:0:0]
		for name := range doc {
			changed = append(changed, name)
		}
		names = true
	}
	if names {
		keys := make(map[string]any, len(doc))
		for k := range doc {
			keys[k] = nil
		}
		for i, p := range s.parts {
			st.namesOK[i] = p.names.Validate(keys) == nil
		}
	}
	for _, name := range changed {
		v, present := doc[name]
		for i, p := range s.parts {
			if present && !memberValid(p.own, name, v) {
				st.fails[i][name] = struct{}{}
			} else {
				delete(st.fails[i], name)
			}
		}
	}
	return s.eval(s.formula, doc, st), st
}

// memberValid reports whether the member name, holding v, is valid against
// the member schemas of the schema object p alone: its properties entry,
// those of its patternProperties that match, or else additionalProperties.
func memberValid(p *jsonschema.Schema, name string, v any) bool {
	matched := false
	if x, ok := p.Properties[name]; ok {
		if x.Validate(v) != nil {
			return false
		}
		matched = true
	}
	for re, x := range p.PatternProperties {
		if re.MatchString(name) {
			if x.Validate(v) != nil {
				return false
			}
			matched = true
		}
	}
	if a, ok := p.AdditionalProperties.(*jsonschema.Schema); ok && !matched {
		return a.Validate(v) == nil
	}
	return true
}

func (s *Schema) eval(n *node, doc map[string]any, st *State) bool {
	if n == nil {
		return true
	}
	switch n.op {
	case opPart:
		return st.namesOK[n.part] && len(st.fails[n.part]) == 0
	case opAll:
		for _, k := range n.kids {
			if !s.eval(k, doc, st) {
				return false
			}
		}
		return true
	case opAny:
		for _, k := range n.kids {
			if s.eval(k, doc, st) {
				return true
			}
		}
		return false
	case opOne:
		held := 0
		for _, k := range n.kids {
			if s.eval(k, doc, st) {
				held++
			}
		}
		return held == 1
	case opNot:
		return !s.eval(n.kids[0], doc, st)
	case opIf:
		if s.eval(n.kids[0], doc, st) {
			return s.eval(n.kids[1], doc, st)
		}
		return s.eval(n.kids[2], doc, st)
	case opTrue:
		return true
	case opDep:
		if _, ok := doc[n.name]; !ok {
			return true
		}
		return s.eval(n.kids[0], doc, st)
	}
	return false
}
