package svn

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzSkel parses hostile POST bodies.
func FuzzSkel(f *testing.F) {
	for _, s := range []string{"( create-txn )", "(create-txn-with-props (svn:log 5 hello))", "(", "(((", "9999999999 x", "( 3 ab"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseSkel(b)
	})
}

// FuzzPropertyUpdate reads hostile PROPPATCH bodies of a commit.
func FuzzPropertyUpdate(f *testing.F) {
	for _, s := range []string{
		`<D:propertyupdate xmlns:D="DAV:" xmlns:S="http://subversion.tigris.org/xmlns/svn/" xmlns:V="http://subversion.tigris.org/xmlns/dav/"><D:set><D:prop><S:ignore>*.o</S:ignore><S:x V:encoding="base64">AAE=</S:x></D:prop></D:set><D:remove><D:prop><S:y/></D:prop></D:remove></D:propertyupdate>`,
		`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><a><b/></a></D:prop></D:set></D:propertyupdate>`,
		`<a/>`, ``, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="DAV:"/>`,
	} {
		f.Add(s)
	}
	h := New(nil, Options{})
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("PROPPATCH", "/", strings.NewReader(body))
		set, remove, err := h.readPropertyUpdate(w, r)
		if err != nil {
			if e := asError(err); e.Status >= 500 {
				t.Fatalf("status %d for a bad body: %v", e.Status, err)
			}
			return
		}
		for _, p := range append(set, remove...) {
			_ = p.svnName()
		}
	})
}
