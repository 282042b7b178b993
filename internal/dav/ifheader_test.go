package dav

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

const (
	ifTestToken = "urn:uuid:0b7e4e5a-1f0c-4b7e-9d3e-3f6b8a1c2d4e"
	ifTestETag  = `"5"`
)

func TestParseIfHeader(t *testing.T) {
	tok := func(s string) IfCondition { return IfCondition{Token: s} }
	notTok := func(s string) IfCondition { return IfCondition{Not: true, Token: s} }
	etag := func(s string) IfCondition { return IfCondition{ETag: s} }
	notETag := func(s string) IfCondition { return IfCondition{Not: true, ETag: s} }
	list := func(cs ...IfCondition) IfList { return IfList{Conditions: cs} }
	tagged := func(tag string, cs ...IfCondition) IfList { return IfList{Tag: tag, Conditions: cs} }

	tests := []struct {
		name string
		in   string
		want IfHeader
	}{
		{"one token", "(<" + ifTestToken + ">)", IfHeader{[]IfList{list(tok(ifTestToken))}}},
		{
			"litmus cond_put",
			"(<" + ifTestToken + "> [" + ifTestETag + "])",
			IfHeader{[]IfList{list(tok(ifTestToken), etag(ifTestETag))}},
		},
		{
			"litmus fail_cond_put",
			"(<DAV:no-lock> [" + ifTestETag + "])",
			IfHeader{[]IfList{list(tok("DAV:no-lock"), etag(ifTestETag))}},
		},
		{
			"litmus cond_put_with_not",
			"(<" + ifTestToken + ">) (Not <DAV:no-lock>)",
			IfHeader{[]IfList{list(tok(ifTestToken)), list(notTok("DAV:no-lock"))}},
		},
		{
			"litmus cond_put_corrupt_token",
			"(<" + ifTestToken + "x>) (Not <DAV:no-lock>)",
			IfHeader{[]IfList{list(tok(ifTestToken + "x")), list(notTok("DAV:no-lock"))}},
		},
		{
			"litmus complex_cond_put",
			"(<" + ifTestToken + "> [" + ifTestETag + "]) (Not <DAV:no-lock> [" + ifTestETag + "])",
			IfHeader{[]IfList{list(tok(ifTestToken), etag(ifTestETag)), list(notTok("DAV:no-lock"), etag(ifTestETag))}},
		},
		{"no-lock alone", "(<DAV:no-lock>)", IfHeader{[]IfList{list(tok("DAV:no-lock"))}}},
		{"weak entity tag", `([W/"x"])`, IfHeader{[]IfList{list(etag(`W/"x"`))}}},
		{"not entity tag", `(Not ["x"])`, IfHeader{[]IfList{list(notETag(`"x"`))}}},
		{"not in any case, no space", `(NOT<urn:x>not["y"])`, IfHeader{[]IfList{list(notTok("urn:x"), notETag(`"y"`))}}},
		{"entity tag with spaces inside the brackets", `([ "a b" ])`, IfHeader{[]IfList{list(etag(`"a b"`))}}},
		{"empty entity tag", `([""])`, IfHeader{[]IfList{list(etag(`""`))}}},
		{"white space everywhere", " \t( <urn:a>\t[\"e\"] )\r\n ( Not <urn:b> ) ", IfHeader{[]IfList{list(tok("urn:a"), etag(`"e"`)), list(notTok("urn:b"))}}},
		{
			"tagged lists",
			`<http://example.com/config/a> (<urn:a>) (Not <urn:b>) </config/b> (["x"])`,
			IfHeader{[]IfList{
				tagged("http://example.com/config/a", tok("urn:a")),
				tagged("http://example.com/config/a", notTok("urn:b")),
				tagged("/config/b", etag(`"x"`)),
			}},
		},
		{
			// RFC 4918 section 10.4.7.
			"RFC example with two tags",
			`<http://www.example.com/resource1> (<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2> [W/"A weak tag"]) (["strong tag"])` +
				` <http://www.example.com/resource2> (<urn:uuid:58f202ac-22cf-11d1-b12d-002035b29092> ["another strong tag"])`,
			IfHeader{[]IfList{
				tagged("http://www.example.com/resource1", tok("urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2"), etag(`W/"A weak tag"`)),
				tagged("http://www.example.com/resource1", etag(`"strong tag"`)),
				tagged("http://www.example.com/resource2", tok("urn:uuid:58f202ac-22cf-11d1-b12d-002035b29092"), etag(`"another strong tag"`)),
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIfHeader(tt.in)
			if err != nil {
				t.Fatalf("ParseIfHeader(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseIfHeader(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseIfHeader_Errors(t *testing.T) {
	for _, in := range []string{
		"",
		"   ",
		"()",
		"( )",
		"(",
		"(<urn:a>",
		"<urn:a>",
		"(<urn:a>) <http://x/>",
		"<http://x/> (<urn:a>) <http://y/>",
		"<http://x/> <http://y/> (<urn:a>)",
		"(<urn:a>) <http://x/> (<urn:b>)", // untagged then tagged
		"(<>)",
		"(<urn:a b>)",
		"(<urn:a)",
		"(urn:a)",
		"([x])",
		`(["x)`,
		`(["x"`,
		`(["x" "y"])`,
		`(W/"x")`,
		"(Not)",
		"(Not Not <urn:a>)",
		"(<urn:a>) junk",
		"(<urn:a>))",
		"[\"x\"]",
		"Not (<urn:a>)",
	} {
		if h, err := ParseIfHeader(in); !errors.Is(err, ErrIfSyntax) {
			t.Errorf("ParseIfHeader(%q) = %+v, %v; want an error wrapping ErrIfSyntax", in, h, err)
		}
	}
}

func TestIfHeader_Tokens(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"(<" + ifTestToken + "> [" + ifTestETag + "])", []string{ifTestToken}},
		{"(<DAV:no-lock>)", nil},
		{"(<" + ifTestToken + "x>) (Not <DAV:no-lock>)", []string{ifTestToken + "x"}},
		{"(Not <urn:a>) (<urn:b> <urn:a>) (<urn:c>)", []string{"urn:a", "urn:b", "urn:c"}},
		{"</x> (<urn:a>) </y> (<urn:b>) (<urn:a>)", []string{"urn:a", "urn:b"}},
		{`(["x"])`, nil},
	}
	for _, tt := range tests {
		h, err := ParseIfHeader(tt.in)
		if err != nil {
			t.Fatalf("ParseIfHeader(%q): %v", tt.in, err)
		}
		if diff := cmp.Diff(tt.want, h.Tokens()); diff != "" {
			t.Errorf("ParseIfHeader(%q).tokens() mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

// resourceFixture is the state eval sees in these tests: /lockme exists
// with entity tag "5" and holds the test Lock, /notlocked exists unlocked
// with entity tag "7", everything else is missing.
type resourceFixture struct {
	tokens map[verso.Path][]string
	calls  map[verso.Path]int
}

func newResourceFixture(locked bool) *resourceFixture {
	f := &resourceFixture{tokens: map[verso.Path][]string{}, calls: map[verso.Path]int{}}
	if locked {
		f.tokens["/lockme"] = []string{"urn:uuid:other-shared-lock", ifTestToken}
	}
	return f
}

func (f *resourceFixture) state(p verso.Path) (string, []string, bool) {
	f.calls[p]++
	switch p {
	case "/lockme":
		return ifTestETag, f.tokens[p], true
	case "/notlocked":
		return `"7"`, f.tokens[p], true
	}
	return "", f.tokens[p], false
}

// ifTestResolve maps URLs of the test host under /config to paths.
func ifTestResolve(tag string) (verso.Path, bool) {
	rest, ok := strings.CutPrefix(tag, "http://localhost/config")
	if !ok {
		if rest, ok = strings.CutPrefix(tag, "/config"); !ok {
			return "", false
		}
	}
	p, err := verso.ParsePath(rest)
	return p, err == nil
}

func TestIfHeader_Eval(t *testing.T) {
	const corrupt = `"6"` // litmus fail_complex_cond_put bumps a character
	tests := []struct {
		name   string
		header string
		path   string
		locked bool
		want   bool
	}{
		// litmus locks, with the lock held on /lockme.
		{"cond_put", "(<" + ifTestToken + "> [" + ifTestETag + "])", "/lockme", true, true},
		{"fail_cond_put", "(<DAV:no-lock> [" + ifTestETag + "])", "/lockme", true, false},
		{"cond_put_with_not", "(<" + ifTestToken + ">) (Not <DAV:no-lock>)", "/lockme", true, true},
		// The header holds through its second list; the handler then
		// refuses the write with 423 because the corrupt token is no lock's.
		{"cond_put_corrupt_token", "(<" + ifTestToken + "x>) (Not <DAV:no-lock>)", "/lockme", true, true},
		{"complex_cond_put", "(<" + ifTestToken + "> [" + ifTestETag + "]) (Not <DAV:no-lock> [" + ifTestETag + "])", "/lockme", true, true},
		{"fail_complex_cond_put", "(<" + ifTestToken + "> [" + corrupt + "]) (Not <DAV:no-lock> [" + corrupt + "])", "/lockme", true, false},
		// litmus fail_cond_put_unlocked: the lock is gone.
		{"fail_cond_put_unlocked", "(<" + ifTestToken + "> [" + ifTestETag + "])", "/lockme", false, false},
		{"unlocked, Not no-lock", "(Not <DAV:no-lock>)", "/lockme", false, true},

		{"token alone", "(<" + ifTestToken + ">)", "/lockme", true, true},
		{"other shared token", "(<urn:uuid:other-shared-lock>)", "/lockme", true, true},
		{"Not token held", "(Not <" + ifTestToken + ">)", "/lockme", true, false},
		{"no-lock", "(<DAV:no-lock>)", "/lockme", true, false},
		{"entity tag", "([" + ifTestETag + "])", "/lockme", false, true},
		{"wrong entity tag", `(["6"])`, "/lockme", false, false},
		{"Not entity tag", "(Not [" + ifTestETag + "])", "/lockme", false, false},
		{"weak entity tag never matches strongly", `([W/"5"])`, "/lockme", false, false},
		{"entity tag without quotes does not match", `([""])`, "/lockme", false, false},
		{"missing resource has no entity tag", "([" + ifTestETag + "])", "/missing", false, false},
		{"Not entity tag on a missing resource", "(Not [" + ifTestETag + "])", "/missing", false, true},
		{"second list holds", `(["6"]) ([` + ifTestETag + `])`, "/lockme", false, true},

		// Tagged lists are about their own resource.
		{"tag names the locked resource", "<http://localhost/config/lockme> (<" + ifTestToken + ">)", "/notlocked", true, true},
		{"tag as an absolute path", "</config/lockme> ([" + ifTestETag + "])", "/notlocked", true, true},
		{"tag names another resource", "<http://localhost/config/notlocked> (<" + ifTestToken + ">)", "/lockme", true, false},
		{"tag on another host", "<http://elsewhere/config/lockme> (Not <DAV:no-lock>)", "/lockme", true, false},
		{"unresolvable tag, then one that holds", "<http://elsewhere/x> (Not <DAV:no-lock>) </config/notlocked> ([\"7\"])", "/lockme", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseIfHeader(tt.header)
			if err != nil {
				t.Fatalf("ParseIfHeader(%q): %v", tt.header, err)
			}
			f := newResourceFixture(tt.locked)
			got := h.Eval(verso.MustPath(tt.path), ifTestResolve, f.state)
			if got != tt.want {
				t.Errorf("If: %s on %s (locked %v) = %v, want %v", tt.header, tt.path, tt.locked, got, tt.want)
			}
			for p, n := range f.calls {
				if n > 1 {
					t.Errorf("state(%s) asked %d times, want once", p, n)
				}
			}
		})
	}
}

func TestIfHeader_EvalNilResolve(t *testing.T) {
	h, err := ParseIfHeader("</config/lockme> (Not <DAV:no-lock>)")
	if err != nil {
		t.Fatal(err)
	}
	if h.Eval("/lockme", nil, newResourceFixture(false).state) {
		t.Error("tagged list held without a resolver")
	}
}

// TestIfHeader_AlwaysHolds: only an untagged list of nothing but
// "Not <DAV:no-lock>" makes a header hold whatever the state.
func TestIfHeader_AlwaysHolds(t *testing.T) {
	for _, c := range []struct {
		h    string
		want bool
	}{
		{"(<urn:uuid:a>) (Not <DAV:no-lock>)", true},
		{"(Not <DAV:no-lock>)", true},
		{`(["x"]) (Not <DAV:no-lock> Not <DAV:no-lock>)`, true},
		{"(<urn:uuid:a>)", false},
		{"(Not <urn:uuid:a>)", false},
		{"(<DAV:no-lock>)", false},
		{`(Not <DAV:no-lock> ["x"])`, false},
		{"</config/k> (Not <DAV:no-lock>)", false}, // a tag that may not resolve
	} {
		h, err := ParseIfHeader(c.h)
		if err != nil {
			t.Fatalf("ParseIfHeader(%q): %v", c.h, err)
		}
		if got := h.AlwaysHolds(); got != c.want {
			t.Errorf("AlwaysHolds(%q) = %v, want %v", c.h, got, c.want)
		}
	}
}
