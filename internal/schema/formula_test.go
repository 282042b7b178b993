package schema

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// formulaSchemas are schemas whose root is a formula of parts that can be
// split: Check must say what Validate says of every document.
var formulaSchemas = []string{
	`{"anyOf": [{"type": "object", "properties": {"a": {"type": "integer", "maximum": 5}}, "required": ["a"]},
	            {"properties": {"b": {"type": "string"}}, "required": ["b"], "additionalProperties": {"type": "array"}}]}`,
	`{"oneOf": [{"properties": {"a": {"type": "integer"}}}, {"properties": {"a": {"type": "string"}}}, {"required": ["c"]}]}`,
	`{"not": {"properties": {"a": {"const": 1}}, "required": ["a"]}, "maxProperties": 4}`,
	`{"if": {"properties": {"a": {"type": "integer"}}, "required": ["a"]}, "then": {"properties": {"b": {"type": "array"}}},
	  "else": {"patternProperties": {"^[bc]$": {"type": "string"}}}, "propertyNames": {"maxLength": 1}}`,
	`{"$defs": {"n": {"additionalProperties": {"type": ["integer", "array"]}}, "s": {"required": ["b"]}},
	  "anyOf": [{"$ref": "#/$defs/n"}, {"allOf": [{"$ref": "#/$defs/s"}, {"properties": {"b": {"minLength": 2}}}]}, false],
	  "properties": {"d": {"type": "object", "properties": {"a": {"type": "integer"}}}}}`,
	`{"anyOf": [true, {"required": ["zz"]}], "oneOf": [{"required": ["a"]}, {"required": ["b"]}, {"dependentRequired": {"c": ["d"]}}]}`,
	`{"$schema": "https://json-schema.org/draft/2019-09/schema", "anyOf": [{"properties": {"a": {"type": "integer"}}}], "not": {"minProperties": 5}}`,
	`{"dependentSchemas": {"a": {"required": ["b"], "properties": {"b": {"type": "string"}}}, "c": {"not": {"required": ["d"]}}},
	  "additionalProperties": {"type": ["integer", "string", "object"]}}`,
}

// TestCheck_SameAsValidate changes random documents a member at a time and
// checks, after each change, that Check with the State of the document
// before says what Validate says.
func TestCheck_SameAsValidate(t *testing.T) {
	values := []any{json.Number("1"), json.Number("7"), json.Number("2.5"), "x", "long string", true, nil,
		[]any{}, []any{"a"}, map[string]any{}, map[string]any{"a": json.Number("3")}, map[string]any{"a": "no"}}
	names := []string{"a", "b", "c", "d", "e", "zz"}
	r := rand.New(rand.NewPCG(1, 2))
	for i, src := range formulaSchemas {
		s, err := compile([]byte(src))
		if err != nil {
			t.Fatalf("schema %d: %v", i, err)
		}
		if !s.Incremental() || s.split != nil {
			t.Fatalf("schema %d is not a formula", i)
		}
		valid := 0
		for range 30 {
			doc := map[string]any{}
			var st *State
			for step := range 40 {
				var changed []string
				namesChanged := false
				for range 1 + r.IntN(2) {
					name := names[r.IntN(len(names))]
					_, had := doc[name]
					if r.IntN(4) == 0 {
						delete(doc, name)
						namesChanged = namesChanged || had
					} else {
						doc[name] = values[r.IntN(len(values))]
						namesChanged = namesChanged || !had
					}
					changed = append(changed, name)
				}
				var ok bool
				ok, st = s.Check(doc, st, changed, namesChanged)
				want := len(s.Validate(doc)) == 0
				if ok != want {
					b, _ := json.Marshal(doc)
					t.Fatalf("schema %d, step %d: Check(%s) = %v, Validate says %v", i, step, b, ok, want)
				}
				if ok {
					valid++
				}
			}
		}
		if valid == 0 || valid == 30*40 {
			t.Errorf("schema %d: %d of the documents valid: the test says little", i, valid)
		}
	}
}

// TestCheck_NotFormulas checks the schemas that are not formulas: those
// whose validity depends on more than the names and each member alone.
func TestCheck_NotFormulas(t *testing.T) {
	for _, src := range []string{
		`{"anyOf": [{"unevaluatedProperties": false}]}`,
		`{"anyOf": [{"const": {}}]}`,
		`{"anyOf": [{"contains": {"const": 1}}]}`,
		`{"$id": "urn:x", "anyOf": [{"required": ["a"]}]}`,
		`{"$schema": "http://json-schema.org/draft-07/schema#", "anyOf": [{"required": ["a"]}]}`,
		`{"anyOf": [{"$ref": "#"}]}`,
	} {
		s, err := compile([]byte(src))
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if s.Incremental() {
			t.Errorf("%s is taken as a formula", src)
		}
	}
}
