package dav

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// litmusNS is the namespace litmus' props tests put their properties in.
const litmusNS = "http://example.com/neon/litmus/"

const xmlDecl = `<?xml version="1.0" encoding="utf-8" ?>`

func TestReadPropfind(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Propfind
	}{
		{"empty body", "", Propfind{AllProp: true}},
		{"only white space", " \r\n\t", Propfind{AllProp: true}},
		{"allprop", xmlDecl + `<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`, Propfind{AllProp: true}},
		{"propname default namespace", `<propfind xmlns="DAV:"><propname/></propfind>`, Propfind{PropName: true}},
		{
			"named properties",
			`<D:propfind xmlns:D="DAV:"><D:prop>` +
				`<D:getetag/><D:resourcetype></D:resourcetype>` +
				`<x:color xmlns:x="urn:x"/><size xmlns="urn:y"/><bare xmlns=""/>` +
				`</D:prop></D:propfind>`,
			Propfind{Props: []xml.Name{
				{Space: "DAV:", Local: "getetag"}, {Space: "DAV:", Local: "resourcetype"},
				{Space: "urn:x", Local: "color"}, {Space: "urn:y", Local: "size"}, {Local: "bare"},
			}},
		},
		{
			// propwformed and the neon property requests.
			"litmus propwformed",
			xmlDecl + `<propfind xmlns='DAV:'><prop><valnspace xmlns='` + litmusNS + `'/></prop></propfind>`,
			Propfind{Props: []xml.Name{{Space: litmusNS, Local: "valnspace"}}},
		},
		{
			"prop in no namespace under a default namespace",
			`<propfind xmlns="DAV:"><prop><nonamespace xmlns=""/></prop></propfind>`,
			Propfind{Props: []xml.Name{{Local: "nonamespace"}}},
		},
		{
			"repeats are dropped, content ignored",
			`<propfind xmlns="DAV:"><prop><getetag>junk<x/></getetag><getetag/></prop></propfind>`,
			Propfind{Props: []xml.Name{{Space: "DAV:", Local: "getetag"}}},
		},
		{"empty prop", `<propfind xmlns="DAV:"><prop/></propfind>`, Propfind{}},
		{
			"allprop with include",
			`<propfind xmlns="DAV:"><allprop/><include><supportedlock/><x:y xmlns:x="urn:x"/></include></propfind>`,
			Propfind{AllProp: true, Include: []xml.Name{{Space: "DAV:", Local: "supportedlock"}, {Space: "urn:x", Local: "y"}}},
		},
		{
			// litmus propextended: unknown DAV: elements are ignored.
			"extended propfind",
			xmlDecl + `<propfind xmlns="DAV:"><foobar/><allprop/></propfind>`,
			Propfind{AllProp: true},
		},
		{
			"foreign elements ignored",
			`<propfind xmlns="DAV:"><x:hint xmlns:x="urn:x"><x:deep/></x:hint><propname/></propfind>`,
			Propfind{PropName: true},
		},
		{
			"comments and processing instructions",
			`<?xml version="1.0"?><!-- hello --><propfind xmlns="DAV:"><?pi x?><!-- c --><allprop/></propfind><!-- bye -->` + "\n",
			Propfind{AllProp: true},
		},
		{
			"byte order mark",
			"\uFEFF" + `<propfind xmlns="DAV:"><allprop/></propfind>`,
			Propfind{AllProp: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadPropfind(strings.NewReader(tt.body))
			if err != nil {
				t.Fatalf("ReadPropfind(%q): %v", tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadPropfind(%q) mismatch (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

func TestReadPropfind_Errors(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"litmus propfind_invalid", "<foo>"},
		{"litmus propfind_invalid2", `<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>`},
		{"undeclared prefix", `<D:propfind xmlns:D="DAV:"><D:prop><x:foo/></D:prop></D:propfind>`},
		{"undeclared root prefix", `<D:propfind><D:allprop/></D:propfind>`},
		{"xmlns prefix declared", `<propfind xmlns="DAV:" xmlns:xmlns="urn:x"><allprop/></propfind>`},
		{"xml prefix rebound", `<propfind xmlns="DAV:" xmlns:xml="urn:x"><allprop/></propfind>`},
		{"xml namespace bound to another prefix", `<propfind xmlns="DAV:" xmlns:p="http://www.w3.org/XML/1998/namespace"><allprop/></propfind>`},
		{"element in xmlns namespace", `<propfind xmlns="DAV:"><xmlns:foo/><allprop/></propfind>`},
		{"wrong root", `<D:propertyupdate xmlns:D="DAV:"/>`},
		{"propfind in no namespace", `<propfind><allprop/></propfind>`},
		{"propfind in another namespace", `<propfind xmlns="urn:x"><allprop/></propfind>`},
		{"mismatched end tag", `<propfind xmlns="DAV:"><allprop></prop></propfind>`},
		{"end tag with another prefix", `<D:propfind xmlns:D="DAV:" xmlns:E="DAV:"><D:allprop/></E:propfind>`},
		{"truncated", `<propfind xmlns="DAV:"><allprop/>`},
		{"text after the root", `<propfind xmlns="DAV:"><allprop/></propfind>junk`},
		{"text before the root", `junk<propfind xmlns="DAV:"><allprop/></propfind>`},
		{"two roots", `<propfind xmlns="DAV:"><allprop/></propfind><propfind xmlns="DAV:"><allprop/></propfind>`},
		{"nothing asked", `<propfind xmlns="DAV:"/>`},
		// a:prop is not DAV:prop once a is rebound, so nothing is asked.
		{"prefix rebound in a child", `<a:propfind xmlns:a="DAV:"><a:prop xmlns:a="urn:other"><a:x/></a:prop></a:propfind>`},
		{"allprop and prop", `<propfind xmlns="DAV:"><allprop/><prop><getetag/></prop></propfind>`},
		{"propname and allprop", `<propfind xmlns="DAV:"><propname/><allprop/></propfind>`},
		{"include without allprop", `<propfind xmlns="DAV:"><propname/><include><getetag/></include></propfind>`},
		{"repeated attribute", `<propfind xmlns="DAV:" xmlns:a="urn:x" xmlns:b="urn:x" a:z="1" b:z="2"><allprop/></propfind>`},
		{"bad entity", `<propfind xmlns="DAV:"><prop><x xmlns="">&bogus;</x></prop></propfind>`},
		{"unsupported encoding", `<?xml version="1.0" encoding="ISO-8859-1"?><propfind xmlns="DAV:"><allprop/></propfind>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadPropfind(strings.NewReader(tt.body))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ReadPropfind(%q) = %+v, %v; want an error wrapping ErrMalformed", tt.body, got, err)
			}
		})
	}
}

// A failure of the body itself is passed through, so the handler can tell
// a body that is too large (413) from one that is malformed (400).
func TestReadBodies_ReaderError(t *testing.T) {
	filler := strings.Repeat(`<x:filler xmlns:x="urn:x"/>`, 100)
	tests := []struct {
		name string
		body string
		read func(io.Reader) error
	}{
		{
			"ReadPropfind",
			`<propfind xmlns="DAV:">` + filler + `<allprop/></propfind>`,
			func(r io.Reader) error { _, err := ReadPropfind(r); return err },
		},
		{
			"ReadProppatch",
			`<propertyupdate xmlns="DAV:">` + filler + `<set><prop><a xmlns="">1</a></prop></set></propertyupdate>`,
			func(r io.Reader) error { _, err := ReadProppatch(r); return err },
		},
		{
			"ReadLockInfo",
			`<lockinfo xmlns="DAV:">` + filler + `<lockscope><shared/></lockscope><locktype><write/></locktype></lockinfo>`,
			func(r io.Reader) error { _, _, err := ReadLockInfo(r); return err },
		},
	}
	for _, tt := range tests {
		name := tt.name
		t.Run(name, func(t *testing.T) {
			if err := tt.read(strings.NewReader(tt.body)); err != nil {
				t.Fatalf("%s(whole body): %v", name, err)
			}
			r := http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader(tt.body)), 200)
			err := tt.read(r)
			var mbe *http.MaxBytesError
			if !errors.As(err, &mbe) {
				t.Fatalf("%s(too large body) error = %v, want *http.MaxBytesError", name, err)
			}
			if errors.Is(err, ErrMalformed) {
				t.Errorf("%s(too large body) error = %v, must not wrap ErrMalformed", name, err)
			}
		})
	}
}

// neonProppatch is the body neon's ne_proppatch sends (litmus propset,
// propdeletes, propreplace, propmanyns).
func neonProppatch(ops ...string) string {
	return xmlDecl + "\n" + `<D:propertyupdate xmlns:D="DAV:">` + strings.Join(ops, "") + `</D:propertyupdate>` + "\n"
}

func TestReadProppatch(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []PropPatch
	}{
		{
			"litmus propset",
			neonProppatch(
				`<D:set><D:prop><prop0 xmlns="`+litmusNS+`">value0</prop0></D:prop></D:set>`,
				`<D:set><D:prop><prop1 xmlns="`+litmusNS+`">value1</prop1></D:prop></D:set>`,
			),
			[]PropPatch{
				{Name: xml.Name{Space: litmusNS, Local: "prop0"}, Value: "value0"},
				{Name: xml.Name{Space: litmusNS, Local: "prop1"}, Value: "value1"},
			},
		},
		{
			"litmus propdeletes",
			neonProppatch(`<D:remove><D:prop><prop0 xmlns="` + litmusNS + `"/></D:prop></D:remove>`),
			[]PropPatch{{Remove: true, Name: xml.Name{Space: litmusNS, Local: "prop0"}}},
		},
		{
			"litmus propnullns",
			xmlDecl + `<propertyupdate xmlns="DAV:"><set><prop><nonamespace xmlns="">randomvalue</nonamespace></prop></set></propertyupdate>`,
			[]PropPatch{{Name: xml.Name{Local: "nonamespace"}, Value: "randomvalue"}},
		},
		{
			"litmus prophighunicode",
			xmlDecl + `<propertyupdate xmlns='DAV:'><set><prop><high-unicode xmlns='` + litmusNS + `'>&#65536;</high-unicode></prop></set></propertyupdate>`,
			[]PropPatch{{Name: xml.Name{Space: litmusNS, Local: "high-unicode"}, Value: "\U00010000"}},
		},
		{
			"litmus propremoveset keeps document order",
			xmlDecl + `<propertyupdate xmlns='DAV:'>` +
				`<remove><prop><removeset xmlns='` + litmusNS + `'/></prop></remove>` +
				`<set><prop><removeset xmlns='` + litmusNS + `'>x</removeset></prop></set>` +
				`<set><prop><removeset xmlns='` + litmusNS + `'>y</removeset></prop></set>` +
				`</propertyupdate>`,
			[]PropPatch{
				{Remove: true, Name: xml.Name{Space: litmusNS, Local: "removeset"}},
				{Name: xml.Name{Space: litmusNS, Local: "removeset"}, Value: "x"},
				{Name: xml.Name{Space: litmusNS, Local: "removeset"}, Value: "y"},
			},
		},
		{
			"litmus propsetremove",
			xmlDecl + `<propertyupdate xmlns='DAV:'>` +
				`<set><prop><removeset xmlns='` + litmusNS + `'>x</removeset></prop></set>` +
				`<remove><prop><removeset xmlns='` + litmusNS + `'/></prop></remove>` +
				`</propertyupdate>`,
			[]PropPatch{
				{Name: xml.Name{Space: litmusNS, Local: "removeset"}, Value: "x"},
				{Remove: true, Name: xml.Name{Space: litmusNS, Local: "removeset"}},
			},
		},
		{
			"litmus propvalnspace",
			xmlDecl + `<propertyupdate xmlns='DAV:'><set><prop>` +
				`<t:valnspace xmlns:t='` + litmusNS + `'><foo xmlns='http://bar'/></t:valnspace>` +
				`</prop></set></propertyupdate>`,
			[]PropPatch{{Name: xml.Name{Space: litmusNS, Local: "valnspace"}, Value: `<foo xmlns="http://bar"></foo>`}},
		},
		{
			"several properties in one prop, several namespaces",
			`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>` +
				`<a:somename xmlns:a="http://example.com/alpha">manynsvalue</a:somename>` +
				`<b:somename xmlns:b="http://example.com/beta">manynsvalue</b:somename>` +
				`</D:prop></D:set></D:propertyupdate>`,
			[]PropPatch{
				{Name: xml.Name{Space: "http://example.com/alpha", Local: "somename"}, Value: "manynsvalue"},
				{Name: xml.Name{Space: "http://example.com/beta", Local: "somename"}, Value: "manynsvalue"},
			},
		},
		{
			"value elements inherit prefixes and the default namespace",
			`<D:propertyupdate xmlns:D="DAV:" xmlns:t="urn:t" xmlns="urn:default"><D:set><D:prop>` +
				`<t:v><t:child>x</t:child><plain>y</plain><none xmlns="">z<deeper/></none></t:v>` +
				`</D:prop></D:set></D:propertyupdate>`,
			[]PropPatch{{
				Name: xml.Name{Space: "urn:t", Local: "v"},
				Value: `<child xmlns="urn:t">x</child><plain xmlns="urn:default">y</plain>` +
					`<none xmlns="">z<deeper xmlns=""></deeper></none>`,
			}},
		},
		{
			"attributes",
			`<D:propertyupdate xmlns:D="DAV:" xmlns:q="urn:q"><D:set><D:prop>` +
				`<v xmlns="urn:v"><e plain="1" q:one="&quot;2&quot;" q:two="3" xml:lang="en" r:x="&lt;" xmlns:r="urn:r"/></v>` +
				`</D:prop></D:set></D:propertyupdate>`,
			[]PropPatch{{
				Name:  xml.Name{Space: "urn:v", Local: "v"},
				Value: `<e xmlns="urn:v" plain="1" xmlns:a0="urn:q" a0:one="&quot;2&quot;" a0:two="3" xml:lang="en" xmlns:a1="urn:r" a1:x="&lt;"></e>`,
			}},
		},
		{
			"text is escaped, CDATA becomes text, comments go",
			`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>` +
				`<v xmlns="urn:v">a &amp; b &lt; c &gt; d<![CDATA[<raw & stuff>]]><!-- gone -->&#13;"'</v>` +
				`</D:prop></D:set></D:propertyupdate>`,
			[]PropPatch{{
				Name:  xml.Name{Space: "urn:v", Local: "v"},
				Value: `a &amp; b &lt; c &gt; d&lt;raw &amp; stuff&gt;&#xD;"'`,
			}},
		},
		{
			"white space in values is kept",
			"<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><v xmlns=\"urn:v\">  two\n lines  </v></D:prop></D:set></D:propertyupdate>",
			[]PropPatch{{Name: xml.Name{Space: "urn:v", Local: "v"}, Value: "  two\n lines  "}},
		},
		{
			"remove ignores the content",
			`<D:propertyupdate xmlns:D="DAV:"><D:remove><D:prop><v xmlns="urn:v">ignored<x/></v></D:prop></D:remove></D:propertyupdate>`,
			[]PropPatch{{Remove: true, Name: xml.Name{Space: "urn:v", Local: "v"}}},
		},
		{
			"unknown elements are skipped",
			`<D:propertyupdate xmlns:D="DAV:"><x:ext xmlns:x="urn:x"><D:set><D:prop><a xmlns=""/></D:prop></D:set></x:ext>` +
				`<D:set><D:other/><D:prop><b xmlns="">1</b></D:prop></D:set></D:propertyupdate>`,
			[]PropPatch{{Name: xml.Name{Local: "b"}, Value: "1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadProppatch(strings.NewReader(tt.body))
			if err != nil {
				t.Fatalf("ReadProppatch(%q): %v", tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadProppatch mismatch (-want +got):\n%s", diff)
			}
			// A stored value stands alone: parsed again in a context with
			// other namespace declarations it means, and reads as, the same.
			for _, p := range got {
				if p.Remove {
					continue
				}
				again := reparseValue(t, p.Value)
				if again != p.Value {
					t.Errorf("value %q re-read as %q", p.Value, again)
				}
			}
		})
	}
}

// reparseValue reads value as the content of a property inside a document
// that binds the default namespace and common prefixes, and returns its
// canonical form.
func reparseValue(t *testing.T, value string) string {
	t.Helper()
	body := `<D:propertyupdate xmlns:D="DAV:" xmlns="urn:trap" xmlns:a0="urn:trap0"><D:set><D:prop>` +
		`<p xmlns="">` + value + `</p></D:prop></D:set></D:propertyupdate>`
	got, err := ReadProppatch(strings.NewReader(body))
	if err != nil {
		t.Fatalf("re-read value %q: %v", value, err)
	}
	return got[0].Value
}

func TestReadProppatch_Errors(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"empty body", ""},
		{"not XML", "<propertyupdate"},
		{"wrong root", `<propfind xmlns="DAV:"><allprop/></propfind>`},
		{"no properties", `<propertyupdate xmlns="DAV:"><set><prop/></set></propertyupdate>`},
		{"no instructions", `<propertyupdate xmlns="DAV:"/>`},
		{"empty-namespace prefix in a value", `<propertyupdate xmlns="DAV:"><set><prop><v xmlns="urn:v"><b:x xmlns:b=""/></v></prop></set></propertyupdate>`},
		{"undeclared prefix in a value", `<propertyupdate xmlns="DAV:"><set><prop><v xmlns="urn:v"><b:x/></v></prop></set></propertyupdate>`},
		{"undeclared attribute prefix", `<propertyupdate xmlns="DAV:"><set><prop><v xmlns="urn:v" b:x="1"/></prop></set></propertyupdate>`},
		{"unclosed value", `<propertyupdate xmlns="DAV:"><set><prop><v xmlns="urn:v"><x></v></prop></set></propertyupdate>`},
		{"truncated", `<propertyupdate xmlns="DAV:"><set><prop><v xmlns="urn:v">abc`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadProppatch(strings.NewReader(tt.body))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ReadProppatch(%q) = %+v, %v; want an error wrapping ErrMalformed", tt.body, got, err)
			}
		})
	}
}

func TestReadLockInfo(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		want      LockInfo
		wantEmpty bool
	}{
		{"empty body is a refresh", "", LockInfo{}, true},
		{"white space is a refresh", "\r\n", LockInfo{}, true},
		{
			// The body neon's ne_lock sends for litmus.
			"litmus exclusive",
			xmlDecl + "\n" + `<lockinfo xmlns='DAV:'>` + "\n" +
				` <lockscope><exclusive/></lockscope>` + "\n" +
				`<locktype><write/></locktype><owner>litmus test suite</owner>` + "\n" +
				`</lockinfo>` + "\n",
			LockInfo{Owner: "litmus test suite"}, false,
		},
		{
			"shared without owner",
			`<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`,
			LockInfo{Shared: true}, false,
		},
		{
			"owner with an href",
			`<D:lockinfo xmlns:D="DAV:"><D:locktype><D:write/></D:locktype><D:lockscope><D:exclusive/></D:lockscope>` +
				`<D:owner><D:href>http://example.com/~anna</D:href></D:owner></D:lockinfo>`,
			LockInfo{Owner: `<href xmlns="DAV:">http://example.com/~anna</href>`}, false,
		},
		{
			"owner text is escaped",
			`<lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope><locktype><write/></locktype><owner>a &amp; b &lt;c&gt;</owner></lockinfo>`,
			LockInfo{Owner: "a &amp; b &lt;c&gt;"}, false,
		},
		{
			"unknown elements ignored",
			`<lockinfo xmlns="DAV:"><x:y xmlns:x="urn:x"/><lockscope><shared/></lockscope><locktype><write/></locktype></lockinfo>`,
			LockInfo{Shared: true}, false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, empty, err := ReadLockInfo(strings.NewReader(tt.body))
			if err != nil {
				t.Fatalf("ReadLockInfo(%q): %v", tt.body, err)
			}
			if empty != tt.wantEmpty {
				t.Errorf("ReadLockInfo(%q) empty = %v, want %v", tt.body, empty, tt.wantEmpty)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadLockInfo(%q) mismatch (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

func TestReadLockInfo_Errors(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"malformed", `<lockinfo xmlns="DAV:"><lockscope>`},
		{"wrong root", `<lockscope xmlns="DAV:"><exclusive/></lockscope>`},
		{"no lockscope", `<lockinfo xmlns="DAV:"><locktype><write/></locktype></lockinfo>`},
		{"no locktype", `<lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope></lockinfo>`},
		{"empty lockscope", `<lockinfo xmlns="DAV:"><lockscope/><locktype><write/></locktype></lockinfo>`},
		{"unknown lockscope", `<lockinfo xmlns="DAV:"><lockscope><private/></lockscope><locktype><write/></locktype></lockinfo>`},
		{"two lockscopes", `<lockinfo xmlns="DAV:"><lockscope><shared/><exclusive/></lockscope><locktype><write/></locktype></lockinfo>`},
		{"unknown locktype", `<lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope><locktype><read/></locktype></lockinfo>`},
		{"locktype in another namespace", `<lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope><locktype><write xmlns="urn:x"/></locktype></lockinfo>`},
		{"bad namespace in owner", `<lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope><locktype><write/></locktype><owner><b:x xmlns:b=""/></owner></lockinfo>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, empty, err := ReadLockInfo(strings.NewReader(tt.body))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ReadLockInfo(%q) = %+v, %v, %v; want an error wrapping ErrMalformed", tt.body, got, empty, err)
			}
		})
	}
}

func TestClarkName(t *testing.T) {
	tests := []struct {
		name xml.Name
		want string
	}{
		{xml.Name{Space: "DAV:", Local: "getetag"}, "{DAV:}getetag"},
		{xml.Name{Space: litmusNS, Local: "prop0"}, "{" + litmusNS + "}prop0"},
		{xml.Name{Local: "nonamespace"}, "{}nonamespace"},
		{xml.Name{Space: "urn:x", Local: "héllo.wörld-1"}, "{urn:x}héllo.wörld-1"},
	}
	for _, tt := range tests {
		got := ClarkName(tt.name)
		if got != tt.want {
			t.Errorf("ClarkName(%v) = %q, want %q", tt.name, got, tt.want)
		}
		back, ok := ParseClark(got)
		if !ok || back != tt.name {
			t.Errorf("ParseClark(%q) = %v, %v; want %v, true", got, back, ok, tt.name)
		}
	}
}

func TestParseClark_Invalid(t *testing.T) {
	for _, s := range []string{
		"", "getetag", "{DAV:getetag", "{DAV:}", "{}", "{DAV:}1abc", "{DAV:}a:b",
		"{DAV:}a b", "{DAV:}<x>", "{DAV:}-x", "{urn:x}\xff", "\xff{x}y",
	} {
		if n, ok := ParseClark(s); ok {
			t.Errorf("ParseClark(%q) = %v, true; want false", s, n)
		}
	}
}

// The parsed form of a multistatus document, for checking what the writer
// produced.
type msDoc struct {
	XMLName   xml.Name     `xml:"DAV: multistatus"`
	Responses []msResponse `xml:"DAV: response"`
}

type msResponse struct {
	Hrefs       []string     `xml:"DAV: href"`
	Status      string       `xml:"DAV: status"`
	Propstats   []msPropstat `xml:"DAV: propstat"`
	Description string       `xml:"DAV: responsedescription"`
}

type msPropstat struct {
	Props       msProp `xml:"DAV: prop"`
	Status      string `xml:"DAV: status"`
	Description string `xml:"DAV: responsedescription"`
}

type msProp struct {
	Any []msAny `xml:",any"`
}

type msAny struct {
	XMLName xml.Name
	Inner   string `xml:",innerxml"`
}

func parseMultistatus(t *testing.T, body string) msDoc {
	t.Helper()
	var doc msDoc
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("multistatus is not well-formed: %v\n%s", err, body)
	}
	// encoding/xml is lenient; verso's own reader is strict about
	// namespaces, so the document must pass it too.
	x := newXMLReader(strings.NewReader(body))
	if _, err := x.root(); err != nil {
		t.Fatalf("multistatus root: %v\n%s", err, body)
	}
	if err := x.skip(); err != nil {
		t.Fatalf("multistatus: %v\n%s", err, body)
	}
	if err := x.finish(); err != nil {
		t.Fatalf("multistatus trailer: %v\n%s", err, body)
	}
	return doc
}

func TestMultistatusWriter(t *testing.T) {
	rec := httptest.NewRecorder()
	m := NewMultistatusWriter(rec)
	if m.Wrote() {
		t.Fatal("wrote() = true before anything was written")
	}
	err := m.Propstats("/config/app/db%20host?x&y", []Propstat{
		{Status: http.StatusOK, Props: []Property{
			{Name: xml.Name{Space: "DAV:", Local: "getetag"}, XML: `"5"`},
			{Name: xml.Name{Space: "DAV:", Local: "resourcetype"}, XML: `<D:collection/>`},
			{Name: xml.Name{Local: "nonamespace"}, XML: "randomvalue"},
			{Name: xml.Name{Space: litmusNS, Local: "valnspace"}, XML: `<foo xmlns="http://bar"></foo>`},
			{Name: xml.Name{Space: "urn:a&b", Local: "amp"}, XML: "x &amp; y"},
		}},
		{Status: http.StatusNotFound, Props: []Property{
			{Name: xml.Name{Space: "urn:x", Local: "missing"}},
			{Name: xml.Name{Local: "gone"}},
		}, Description: "no such <property>"},
		{Status: http.StatusForbidden}, // empty: left out
	})
	if err != nil {
		t.Fatalf("propstats: %v", err)
	}
	if !m.Wrote() {
		t.Error("wrote() = false after a response")
	}
	if err := m.Status("/config/locked", http.StatusLocked, "locked by someone"); err != nil {
		t.Fatalf("status: %v", err)
	}
	if err := m.Status("/config/failed", http.StatusFailedDependency, ""); err != nil {
		t.Fatalf("status: %v", err)
	}
	if err := m.Propstats("/config/empty", nil); err != nil {
		t.Fatalf("propstats: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	if rec.Code != http.StatusMultiStatus {
		t.Errorf("status = %d, want 207", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/xml; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	body := rec.Body.String()
	if !strings.HasPrefix(body, `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("body does not start with the XML declaration: %q", body)
	}
	got := parseMultistatus(t, body)
	want := msDoc{
		XMLName: xml.Name{Space: "DAV:", Local: "multistatus"},
		Responses: []msResponse{
			{
				Hrefs: []string{"/config/app/db%20host?x&y"},
				Propstats: []msPropstat{
					{
						Props: msProp{Any: []msAny{
							{XMLName: xml.Name{Space: "DAV:", Local: "getetag"}, Inner: `"5"`},
							{XMLName: xml.Name{Space: "DAV:", Local: "resourcetype"}, Inner: `<D:collection/>`},
							{XMLName: xml.Name{Local: "nonamespace"}, Inner: "randomvalue"},
							{XMLName: xml.Name{Space: litmusNS, Local: "valnspace"}, Inner: `<foo xmlns="http://bar"></foo>`},
							{XMLName: xml.Name{Space: "urn:a&b", Local: "amp"}, Inner: "x &amp; y"},
						}},
						Status: "HTTP/1.1 200 OK",
					},
					{
						Props: msProp{Any: []msAny{
							{XMLName: xml.Name{Space: "urn:x", Local: "missing"}},
							{XMLName: xml.Name{Local: "gone"}},
						}},
						Status:      "HTTP/1.1 404 Not Found",
						Description: "no such <property>",
					},
				},
			},
			{Hrefs: []string{"/config/locked"}, Status: "HTTP/1.1 423 Locked", Description: "locked by someone"},
			{Hrefs: []string{"/config/failed"}, Status: "HTTP/1.1 424 Failed Dependency"},
			{Hrefs: []string{"/config/empty"}, Propstats: []msPropstat{{Status: "HTTP/1.1 200 OK"}}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("multistatus mismatch (-want +got):\n%s\n%s", diff, body)
	}
}

func TestMultistatusWriter_Lazy(t *testing.T) {
	rec := httptest.NewRecorder()
	m := NewMultistatusWriter(rec)
	if m.Wrote() {
		t.Fatal("wrote() = true before anything was written")
	}
	// A handler that fails now can still answer with a plain error.
	http.Error(rec, "nope", http.StatusForbidden)
	if rec.Code != http.StatusForbidden {
		t.Errorf("status = %d, want 403", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "multistatus") {
		t.Errorf("body = %q, want no multistatus", rec.Body.String())
	}
}

func TestMultistatusWriter_Empty(t *testing.T) {
	rec := httptest.NewRecorder()
	m := NewMultistatusWriter(rec)
	if err := m.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if rec.Code != http.StatusMultiStatus {
		t.Errorf("status = %d, want 207", rec.Code)
	}
	got := parseMultistatus(t, rec.Body.String())
	if len(got.Responses) != 0 {
		t.Errorf("responses = %+v, want none", got.Responses)
	}
}

// What litmus' props tests store comes back through PROPFIND as the same
// property with the same content.
func TestProppatchValues_RoundTrip(t *testing.T) {
	bodies := []string{
		xmlDecl + `<propertyupdate xmlns="DAV:"><set><prop><nonamespace xmlns="">randomvalue</nonamespace></prop></set></propertyupdate>`,
		xmlDecl + `<propertyupdate xmlns='DAV:'><set><prop><high-unicode xmlns='` + litmusNS + `'>&#65536;</high-unicode></prop></set></propertyupdate>`,
		xmlDecl + `<propertyupdate xmlns='DAV:'><set><prop><t:valnspace xmlns:t='` + litmusNS + `'><foo xmlns='http://bar'/></t:valnspace></prop></set></propertyupdate>`,
		`<D:propertyupdate xmlns:D="DAV:" xmlns:q="urn:q"><D:set><D:prop><v xmlns="urn:v">a &amp; &lt;b&gt;<q:e q:at="1" xml:lang="de">t</q:e><D:href>h</D:href></v></D:prop></D:set></D:propertyupdate>`,
	}
	for _, ns := range []string{"http://example.com/alpha", "http://example.com/beta", "http://example.com/kappa"} {
		bodies = append(bodies, neonProppatch(`<D:set><D:prop><somename xmlns="`+ns+`">manynsvalue</somename></D:prop></D:set>`))
	}
	for _, body := range bodies {
		patches, err := ReadProppatch(strings.NewReader(body))
		if err != nil {
			t.Fatalf("ReadProppatch(%q): %v", body, err)
		}
		p := patches[0]
		rec := httptest.NewRecorder()
		m := NewMultistatusWriter(rec)
		if err := m.Propstats("/config/prop", []Propstat{{Status: 200, Props: []Property{{Name: p.Name, XML: p.Value}}}}); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		doc := parseMultistatus(t, rec.Body.String())
		got := doc.Responses[0].Propstats[0].Props.Any[0]
		if got.XMLName != p.Name {
			t.Errorf("property %v came back as %v", p.Name, got.XMLName)
		}
		// Reading the emitted element with verso's reader gives the stored
		// value again.
		out := rec.Body.String()
		prop := out[strings.Index(out, "<D:prop>") : strings.Index(out, "</D:prop>")+len("</D:prop>")]
		again, err := ReadProppatch(strings.NewReader(
			`<D:propertyupdate xmlns:D="DAV:"><D:set>` + prop + `</D:set></D:propertyupdate>`))
		if err != nil {
			t.Fatalf("re-read emitted property: %v", err)
		}
		if diff := cmp.Diff(patches[:1], again); diff != "" {
			t.Errorf("round trip of %q mismatch (-want +got):\n%s", body, diff)
		}
	}
}

// TestReadBodies_PropertyCap: a PROPFIND may name MaxPropNames distinct
// properties across DAV:prop and DAV:include, repeats not counted, and a
// PROPPATCH may hold as many instructions; one more is ErrTooManyProps,
// which is also ErrMalformed.
func TestReadBodies_PropertyCap(t *testing.T) {
	names := func(from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			b.WriteString(`<x:p` + strconv.Itoa(i) + `/>`)
		}
		return b.String()
	}
	const open = `<D:propfind xmlns:D="DAV:" xmlns:x="urn:x">`
	for _, tt := range []struct {
		name string
		body string
		want int // names read; -1 for ErrTooManyProps
	}{
		{"prop at the cap, repeated", open + `<D:prop>` + names(0, MaxPropNames) + names(0, MaxPropNames) + `</D:prop></D:propfind>`, MaxPropNames},
		{"prop twice at the cap", open + `<D:prop>` + names(0, 10) + `</D:prop><D:prop>` + names(0, MaxPropNames) + `</D:prop></D:propfind>`, MaxPropNames},
		{"prop past the cap", open + `<D:prop>` + names(0, MaxPropNames+1) + `</D:prop></D:propfind>`, -1},
		{"include at the cap", open + `<D:allprop/><D:include>` + names(0, MaxPropNames) + `</D:include></D:propfind>`, MaxPropNames},
		{"include past the cap", open + `<D:allprop/><D:include>` + names(0, MaxPropNames+1) + `</D:include></D:propfind>`, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pf, err := ReadPropfind(strings.NewReader(tt.body))
			if tt.want < 0 {
				if !errors.Is(err, ErrTooManyProps) || !errors.Is(err, ErrMalformed) {
					t.Fatalf("ReadPropfind error = %v, want ErrTooManyProps", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := len(pf.Props) + len(pf.Include); got != tt.want {
				t.Errorf("ReadPropfind read %d names, want %d", got, tt.want)
			}
		})
	}
	set := func(n int) string {
		var b strings.Builder
		b.WriteString(`<D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:set><D:prop>`)
		for i := range n {
			b.WriteString(`<x:p` + strconv.Itoa(i%10) + `>v</x:p` + strconv.Itoa(i%10) + `>`)
		}
		b.WriteString(`</D:prop></D:set></D:propertyupdate>`)
		return b.String()
	}
	if pp, err := ReadProppatch(strings.NewReader(set(MaxPropNames))); err != nil || len(pp) != MaxPropNames {
		t.Errorf("ReadProppatch of %d instructions = %d, %v", MaxPropNames, len(pp), err)
	}
	if _, err := ReadProppatch(strings.NewReader(set(MaxPropNames + 1))); !errors.Is(err, ErrTooManyProps) {
		t.Errorf("ReadProppatch of %d instructions: error %v, want ErrTooManyProps", MaxPropNames+1, err)
	}
}

// TestReadPropfind_Scopes: prefixes rebound on an inner element are undone
// when it ends, however many are declared, and a repeated attribute is
// found among many.
func TestReadPropfind_Scopes(t *testing.T) {
	var decls, attrs strings.Builder
	for i := range 50 {
		decls.WriteString(` xmlns:q` + strconv.Itoa(i) + `="urn:outer` + strconv.Itoa(i) + `"`)
		attrs.WriteString(` a` + strconv.Itoa(i) + `="v"`)
	}
	body := `<D:propfind xmlns:D="DAV:"` + decls.String() + `><D:prop>` +
		`<q1:a xmlns:q1="urn:inner"><q1:b xmlns:q1="urn:innermost"/></q1:a><q1:c/><q49:d` + attrs.String() + `/></D:prop></D:propfind>`
	pf, err := ReadPropfind(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []xml.Name{{Space: "urn:inner", Local: "a"}, {Space: "urn:outer1", Local: "c"}, {Space: "urn:outer49", Local: "d"}}
	if diff := cmp.Diff(want, pf.Props); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	bad := `<D:propfind xmlns:D="DAV:"><D:prop><x` + attrs.String() + ` a7="w"/></D:prop></D:propfind>`
	if _, err := ReadPropfind(strings.NewReader(bad)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "a7 repeated") {
		t.Errorf("ReadPropfind with a repeated attribute among many: error %v, want it malformed", err)
	}
}
