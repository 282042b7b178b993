package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestMember(t *testing.T) {
	for in, want := range map[string]any{
		"8080\n":       json.Number("8080"),
		"8080":         json.Number("8080"),
		"1.10\n":       json.Number("1.10"),
		"true\n":       true,
		"null":         nil,
		`["a","b"]`:    []any{"a", "b"},
		`"quoted"`:     "quoted",
		"hello\n":      "hello",
		"hello\n\n":    "hello\n",
		"":             "",
		"\n":           "",
		"{not json}":   "{not json}",
		"12 monkeys\n": "12 monkeys",
	} {
		if got := Member([]byte(in)); !reflect.DeepEqual(got, want) {
			t.Errorf("Member(%q) = %#v, want %#v", in, got, want)
		}
	}
}

func TestCompile_Refused(t *testing.T) {
	// anyOf of two refs to the next level, 20 levels deep: 2^20
	// evaluations of every value.
	var defs []string
	for i := range 20 {
		defs = append(defs, fmt.Sprintf(`"d%d": {"anyOf": [{"$ref": "#/$defs/d%d"}, {"$ref": "#/$defs/d%d", "minimum": 1}]}`, i, i+1, i+1))
	}
	defs = append(defs, `"d20": {"type": "integer"}`)
	hostile := `{"$defs": {` + strings.Join(defs, ",") + `}, "$ref": "#/$defs/d0"}`
	for name, doc := range map[string]string{
		"not JSON":      `{"type": `,
		"bad keyword":   `{"type": "objekt"}`,
		"remote ref":    `{"$ref": "https://example.com/s.json"}`,
		"file ref":      `{"$ref": "file:///etc/passwd"}`,
		"bad pattern":   `{"pattern": "("}`,
		"exponential":   hostile,
		"too large":     `{"description": "` + strings.Repeat("x", MaxSize) + `"}`,
		"remote schema": `{"$schema": "https://example.com/meta"}`,
	} {
		if _, err := Compile([]byte(doc)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Compile error %v, want ErrInvalid", name, err)
		}
	}
	// Recursion through members is fine: it follows the document.
	if _, err := Compile([]byte(`{"$defs": {"tree": {"type": "object", "additionalProperties": {"$ref": "#/$defs/tree"}}}, "$ref": "#/$defs/tree"}`)); err != nil {
		t.Errorf("recursive schema: %v", err)
	}
}

func TestValidateChanged(t *testing.T) {
	s, err := Compile([]byte(`{"required": ["port"], "properties": {"port": {"maximum": 10}}, "additionalProperties": {"type": "string"}}`))
	if err != nil || s.split == nil {
		t.Fatalf("Compile: %v, split %v", err, s.split)
	}
	doc := map[string]any{"port": json.Number("11"), "name": json.Number("5")}
	if got := s.ValidateChanged(doc, []string{"port"}, false); len(got) != 1 || got[0].Keyword != "maximum" || Pointer(got[0].Pointer) != "/port" {
		t.Errorf("ValidateChanged(port) = %+v", got)
	}
	if got := s.ValidateChanged(map[string]any{"name": "x"}, []string{"port"}, true); len(got) != 1 || got[0].Keyword != "required" {
		t.Errorf("ValidateChanged(port removed) = %+v", got)
	}
	if got := s.Validate(doc); len(got) != 2 {
		t.Errorf("Validate = %+v", got)
	}
}

func TestUngroup(t *testing.T) {
	for in, want := range map[string]string{
		"maximum: got 70,000, want 65,535":  "maximum: got 70000, want 65535",
		"got 1,234,567":                     "got 1234567",
		"value must be 'a,100' or 'b,2000'": "value must be 'a,100' or 'b,2000'",
		"a, b, 12,5":                        "a, b, 12,5",
	} {
		if got := ungroup(in); got != want {
			t.Errorf("ungroup(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplit(t *testing.T) {
	for doc, want := range map[string]bool{
		`{"properties": {"a": {"type": "integer"}}, "required": ["a"]}`:                                               true,
		`{"$defs": {"b": {"required": ["a"]}}, "allOf": [{"$ref": "#/$defs/b"}, {"maxProperties": 3}]}`:               true,
		`{"$defs": {"b": {"required": ["a"]}}, "$ref": "#/$defs/b", "additionalProperties": false}`:                   true,
		`{"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"b": {}}, "$ref": "#/definitions/b"}`: false,
		`{"anyOf": [{"required": ["a"]}]}`:                                 false,
		`{"allOf": [{"$id": "https://example.com/x", "required": ["a"]}]}`: false,
		`{"unevaluatedProperties": false}`:                                 false,
		`{"if": {"required": ["a"]}, "then": {"required": ["b"]}}`:         false,
	} {
		s, err := Compile([]byte(doc))
		if err != nil {
			t.Errorf("Compile(%s): %v", doc, err)
			continue
		}
		if got := s.split != nil; got != want {
			t.Errorf("Compile(%s) split = %v, want %v", doc, got, want)
		}
	}
}

func TestCompile_Branching(t *testing.T) {
	for doc, ok := range map[string]bool{
		// A tree of objects, a binary tree, a list of trees: linear.
		`{"$defs": {"t": {"type": "object", "additionalProperties": {"$ref": "#/$defs/t"}}}, "$ref": "#/$defs/t"}`:               true,
		`{"$defs": {"t": {"properties": {"l": {"$ref": "#/$defs/t"}, "r": {"$ref": "#/$defs/t"}}}}, "$ref": "#/$defs/t"}`:        true,
		`{"$defs": {"t": {"items": {"$ref": "#/$defs/t"}, "additionalProperties": {"$ref": "#/$defs/t"}}}, "$ref": "#/$defs/t"}`: true,
		`{"$defs": {"t": {"anyOf": [{"type": "string"}, {"properties": {"a": {"$ref": "#/$defs/t"}}}]}}, "$ref": "#/$defs/t"}`:   true,
		// Each level applies the recursion twice to one value: 2^depth.
		`{"$defs": {"t": {"anyOf": [{"properties": {"a": {"$ref": "#/$defs/t"}}}, {"properties": {"a": {"$ref": "#/$defs/t"}}}]}}, "$ref": "#/$defs/t"}`: false,
		`{"$defs": {"t": {"properties": {"a": {"$ref": "#/$defs/t"}}, "patternProperties": {"^a": {"$ref": "#/$defs/t"}}}}, "$ref": "#/$defs/t"}`:        false,
		`{"$defs": {"t": {"items": {"$ref": "#/$defs/t"}, "contains": {"$ref": "#/$defs/t"}}}, "$ref": "#/$defs/t"}`:                                     false,
	} {
		_, err := Compile([]byte(doc))
		if (err == nil) != ok {
			t.Errorf("Compile(%s) error %v, want ok %v", doc, err, ok)
		}
	}
}

func TestCompile_Paths(t *testing.T) {
	// Three levels of 100 alternatives, each descending into a member:
	// 100^3 ways, though each value sees only 101 at its own location.
	var defs []string
	for lvl := range 3 {
		var alts []string
		for range 100 {
			alts = append(alts, fmt.Sprintf(`{"$ref": "#/$defs/b%d"}`, lvl))
		}
		defs = append(defs, fmt.Sprintf(`"l%d": {"anyOf": [%s]}`, lvl, strings.Join(alts, ",")),
			fmt.Sprintf(`"b%d": {"properties": {"a": {"$ref": "#/$defs/l%d"}}}`, lvl, lvl+1))
	}
	defs = append(defs, `"l3": {"type": "integer"}`)
	doc := `{"$defs": {` + strings.Join(defs, ",") + `}, "$ref": "#/$defs/l0"}`
	if _, err := Compile([]byte(doc)); !errors.Is(err, ErrInvalid) {
		t.Errorf("Compile(100^3 ways) error %v, want ErrInvalid", err)
	}
	// A definition used in many places is fine.
	var props []string
	for i := range 200 {
		props = append(props, fmt.Sprintf(`"p%d": {"$ref": "#/$defs/port"}`, i))
	}
	doc = `{"$defs": {"port": {"type": "integer", "minimum": 1}}, "properties": {` + strings.Join(props, ",") + `}}`
	if _, err := Compile([]byte(doc)); err != nil {
		t.Errorf("Compile(200 uses of a definition): %v", err)
	}
}
