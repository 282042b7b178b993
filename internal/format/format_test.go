package format

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/schema"
)

func tree(kv ...string) *Tree {
	t := &Tree{}
	for i := 0; i+1 < len(kv); i += 2 {
		rel := strings.Split(kv[i], "/")
		t.Keys = append(t.Keys, Key{Path: verso.Path("/ns/" + kv[i]), Rel: rel, Value: []byte(kv[i+1])})
	}
	return t
}

func TestEncode(t *testing.T) {
	for _, tt := range []struct {
		name, format string
		parseJSON    bool
		tree         *Tree
		want         string
	}{
		{"json nests", JSON, false, tree("a/b", "1", "c", "x<y"), "{\n  \"a\": {\n    \"b\": \"1\"\n  },\n  \"c\": \"x<y\"\n}\n"},
		{"json parses", JSON, true, tree("n", "1.10", "s", "text"), "{\n  \"n\": 1.10,\n  \"s\": \"text\"\n}\n"},
		{"yaml keeps numbers as written", YAML, true, tree("v", "1.10"), "v: 1.10\n"},
		{"yaml empty namespace", YAML, false, &Tree{Namespaces: [][]string{{"e"}}}, "e: {}\n"},
		{"env", Env, false, tree("db/host-name", "it's", "9x", "v"), "DB_HOST_NAME='it'\\''s'\n_9X='v'\n"},
		{"properties", Properties, false, tree("a b/c", " x=y\tü"), "a\\ b.c=\\ x\\=y\\t\\u00FC\n"},
	} {
		got, err := Encode(tt.tree, tt.format, tt.parseJSON)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestEncode_Unfit(t *testing.T) {
	for _, tt := range []struct {
		name, format string
		tree         *Tree
		want         string // the message, paths written as <path>
	}{
		{"not text", YAML, tree("k", "\xff"), "</ns/k> holds a value that is not UTF-8 text; it cannot be exported as yaml (read it with GET)"},
		{"env names clash", Env, tree("a-b", "1", "a_b", "2"), "</ns/a-b> and </ns/a_b> both export as A_B; rename one of them"},
		{"env NUL", Env, tree("k", "a\x00b"), "</ns/k> holds a NUL byte, which an environment variable cannot"},
		{"properties names clash", Properties, tree("a.b", "1", "a/b", "2"), `</ns/a.b> and </ns/a/b> both export as "a.b"; rename one of them`},
	} {
		_, err := Encode(tt.tree, tt.format, false)
		var ue *UnfitError
		if !errors.As(err, &ue) {
			t.Errorf("%s: error %v, want an *UnfitError", tt.name, err)
			continue
		}
		if got := ue.Describe(func(p verso.Path) string { return "<" + string(p) + ">" }); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		name, doc string
		yaml      bool
		want      string // name=kind:value, depth first
	}{
		{"json order and types", `{"z": 1.10, "a": {"b": [1, "x"]}, "n": null, "t": true}`, false,
			"z=scalar:1.10 a=object: a/b=array:[1,\"x\"] n=scalar: t=scalar:true"},
		{"yaml text as written", "z: 1.10\na:\n  b: [1, x]\n", true, "z=scalar:1.10 a=object: a/b=array:[1,\"x\"]"},
		{"yaml merge", "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n", true,
			"base=object: base/x=scalar:1 base/y=scalar:2 m=object: m/y=scalar:3 m/x=scalar:1"},
		{"yaml binary", "k: !!binary aGk=\n", true, "k=scalar:hi"},
	} {
		var n *Node
		var err error
		if tt.yaml {
			n, err = ParseYAML([]byte(tt.doc))
		} else {
			n, err = ParseJSON([]byte(tt.doc))
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var got []string
		var walk func(prefix string, n *Node)
		walk = func(prefix string, n *Node) {
			for _, f := range n.Fields {
				kind := map[Kind]string{Object: "object", Scalar: "scalar", Array: "array"}[f.Node.Kind]
				got = append(got, prefix+f.Name+"="+kind+":"+string(f.Node.Value))
				walk(prefix+f.Name+"/", f.Node)
			}
		}
		walk("", n)
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, g, tt.want)
		}
	}
}

func TestParse_Invalid(t *testing.T) {
	// Mappings of ten aliases to the mapping before: 10^7 nodes expanded.
	bomb := "a: &a {k0: x, k1: x, k2: x, k3: x, k4: x, k5: x, k6: x, k7: x, k8: x, k9: x}\n"
	for i := 'b'; i <= 'h'; i++ {
		var fields []string
		for k := range 10 {
			fields = append(fields, "k"+strconv.Itoa(k)+": *"+string(i-1))
		}
		bomb += string(i) + ": &" + string(i) + " {" + strings.Join(fields, ", ") + "}\n"
	}
	for _, tt := range []struct {
		name, doc string
		yaml      bool
		want      string
	}{
		{"json duplicate", `{"a": {"b": 1, "b": 2}}`, false, "invalid JSON: duplicate name at /a/b"},
		{"json two values", `{} {}`, false, "invalid JSON: more than one value"},
		{"json truncated", `{"a": `, false, "invalid JSON at byte"},
		{"yaml duplicate", "a: 1\na: 2\n", true, "invalid YAML: duplicate name at /a (line 2)"},
		{"yaml empty", "", true, "invalid YAML: the document is empty"},
		{"yaml two documents", "a: 1\n---\nb: 2\n", true, "invalid YAML: more than one document"},
		{"yaml bad binary", "k: !!binary '%%'\n", true, "!!binary value is not base64"},
		{"yaml alias bomb", bomb + "top: *h\n", true, "nodes once aliases are expanded"},
	} {
		var err error
		if tt.yaml {
			_, err = ParseYAML([]byte(tt.doc))
		} else {
			_, err = ParseJSON([]byte(tt.doc))
		}
		var ie *InvalidError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want an *InvalidError containing %q", tt.name, err, tt.want)
		}
	}
}

// TestTypedRoundTrip checks what a typed export (parseJSON), imported
// back, writes: each key's member of its namespace's document
// (schema.Member) is the same, so a schema validates the import as it
// validated the export; the bytes are the member's JSON text, or its
// string, so whitespace around JSON and one trailing newline go. A schema
// key comes back as it was. (An untyped export is the one that gives back
// the same bytes.)
func TestTypedRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		value, want string
		sameDoc     bool // the member is the same after
	}{
		{"8080", "8080", true},
		{"8080\n", "8080", true},
		{" 42 ", "42", true},
		{"1.10", "1.10", true},
		{"true\n", "true", true},
		{"billing", "billing", true},
		{"billing\n", "billing", true},
		{"two\nlines\n", "two\nlines", true},
		{"it's \"quoted\"\n", "it's \"quoted\"", true},
		{`["a", "b"]` + "\n", `["a","b"]`, true},
		{`"quoted"`, "quoted", true},
		{"", "", true},
		{"\n", "", true},
		// A JSON string holding JSON text, and null, come back as
		// their text and as the empty value, as any import writes them;
		// a string member ending in a newline loses one more.
		{"two\nlines\n\n", "two\nlines\n", false},
		{`"8080"`, "8080", false},
		{"null", "", false},
	} {
		for _, f := range []string{JSON, YAML} {
			tr := &Tree{Keys: []Key{
				{Path: "/ns/k", Rel: []string{"k"}, Value: []byte(tt.value)},
				{Path: "/ns/.schema", Rel: []string{".schema"}, Value: []byte("{\"type\": \"object\"}\n")},
			}}
			out, err := Encode(tr, f, true)
			if err != nil {
				t.Fatalf("%q as %s: %v", tt.value, f, err)
			}
			var n *Node
			if f == JSON {
				n, err = ParseJSON(out)
			} else {
				n, err = ParseYAML(out)
			}
			if err != nil || len(n.Fields) != 2 {
				t.Fatalf("%q as %s: %s: %v", tt.value, f, out, err)
			}
			got := n.Fields[1].Node.Value
			if n.Fields[1].Name != "k" || string(got) != tt.want {
				t.Errorf("%q as %s came back as %q, want %q", tt.value, f, got, tt.want)
			}
			if same := reflect.DeepEqual(schema.Member(got), schema.Member([]byte(tt.value))); same != tt.sameDoc {
				t.Errorf("%q as %s: the member is the same after: %v, want %v", tt.value, f, same, tt.sameDoc)
			}
			if sch := n.Fields[0]; sch.Name != ".schema" || sch.Node.Kind != Scalar || string(sch.Node.Value) != "{\"type\": \"object\"}\n" {
				t.Errorf("the schema key as %s came back as %+v", f, sch.Node)
			}
		}
	}
}
