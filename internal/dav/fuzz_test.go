package dav

// Fuzz targets for the parsers of what WebDAV clients send: the XML bodies
// of PROPFIND, PROPPATCH and LOCK, and the If header. Seeds are below and in
// testdata/fuzz; CI runs each briefly (make fuzz). A finding becomes a case
// of the parser's own test.

import (
	"errors"
	"strings"
	"testing"

	"github.com/verso-config/verso"
)

const fuzzDAV = `xmlns:D="DAV:"`

// FuzzReadPropfind: no body crashes the parser; every refusal is
// ErrMalformed (a 400), never another error (a 500).
func FuzzReadPropfind(f *testing.F) {
	for _, s := range []string{"", " \n", `<D:propfind ` + fuzzDAV + `><D:allprop/></D:propfind>`,
		`<propfind xmlns="DAV:"><propname/></propfind>`,
		`<D:propfind ` + fuzzDAV + `><D:prop><D:getetag/><x:a xmlns:x="urn:x"/></D:prop></D:propfind>`,
		`<D:propfind ` + fuzzDAV + `><D:allprop/><D:include><D:supportedlock/></D:include></D:propfind>`,
		`<D:propfind ` + fuzzDAV + `><D:prop><D:getetag/></D:prop><D:allprop/></D:propfind>`,
		`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><propfind xmlns="DAV:"><allprop/></propfind>`,
		`<a:propfind xmlns:a=""><a:allprop/></a:propfind>`, `<propfind`, "\xff\xfe<"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		pf, err := ReadPropfind(strings.NewReader(body))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ReadPropfind(%q) error %v does not wrap ErrMalformed", body, err)
			}
			return
		}
		n := 0
		for _, b := range []bool{pf.AllProp, pf.PropName, pf.Props != nil} {
			if b {
				n++
			}
		}
		if n > 1 {
			t.Errorf("ReadPropfind(%q) = %+v: asks for more than one of allprop, propname, prop", body, pf)
		}
	})
}

// FuzzReadProppatch: no crash; refusals are ErrMalformed; every accepted
// property name is a valid Clark name.
func FuzzReadProppatch(f *testing.F) {
	for _, s := range []string{"",
		`<D:propertyupdate ` + fuzzDAV + `><D:set><D:prop><x:a xmlns:x="urn:x">v</x:a></D:prop></D:set></D:propertyupdate>`,
		`<D:propertyupdate ` + fuzzDAV + `><D:remove><D:prop><x:a xmlns:x="urn:x"/></D:prop></D:remove></D:propertyupdate>`,
		`<D:propertyupdate ` + fuzzDAV + `><D:set><D:prop><x:a xmlns:x="urn:x"><y:b xmlns:y="urn:y" y:c="d">t&amp;</y:b></x:a></D:prop></D:set></D:propertyupdate>`,
		`<D:propertyupdate ` + fuzzDAV + `><D:set><D:prop><a xmlns="">v</a></D:prop></D:set></D:propertyupdate>`,
		`<D:propertyupdate ` + fuzzDAV + `><D:set/></D:propertyupdate>`, `<x/>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		patches, err := ReadProppatch(strings.NewReader(body))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ReadProppatch(%q) error %v does not wrap ErrMalformed", body, err)
			}
			return
		}
		for _, p := range patches {
			if n, ok := ParseClark(ClarkName(p.Name)); !ok || n != p.Name {
				t.Errorf("ReadProppatch(%q): property %v does not survive Clark notation (%v, %v)", body, p.Name, n, ok)
			}
		}
	})
}

// FuzzReadLockInfo: no crash; refusals are ErrMalformed.
func FuzzReadLockInfo(f *testing.F) {
	for _, s := range []string{"",
		`<D:lockinfo ` + fuzzDAV + `><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>me</D:href></D:owner></D:lockinfo>`,
		`<D:lockinfo ` + fuzzDAV + `><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`,
		`<D:lockinfo ` + fuzzDAV + `><D:lockscope><D:exclusive/><D:shared/></D:lockscope></D:lockinfo>`,
		`<D:lockinfo ` + fuzzDAV + `><D:locktype><D:read/></D:locktype></D:lockinfo>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		li, empty, err := ReadLockInfo(strings.NewReader(body))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ReadLockInfo(%q) error %v does not wrap ErrMalformed", body, err)
			}
			return
		}
		if empty && (li != LockInfo{}) {
			t.Errorf("ReadLockInfo(%q) = %+v and empty", body, li)
		}
	})
}

// FuzzParseIfHeader: no crash, and whatever parses can be evaluated.
func FuzzParseIfHeader(f *testing.F) {
	for _, s := range []string{"", "(<urn:uuid:1>)", `(["1"])`, `(Not <urn:uuid:1> ["2"])`,
		`<http://h/config/a> (<urn:uuid:1>) (Not <DAV:no-lock>)`, `(<urn:uuid:1>) <http://h/b> (["3"])`,
		`(`, `<a>`, `(["unterminated)`, `(W/"1")`, "(<a\x00>)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseIfHeader(s)
		if err != nil {
			return
		}
		h.Tokens()
		h.Eval("/a",
			func(tag string) (verso.Path, bool) { return "/b", tag != "" },
			func(p verso.Path) (string, []string, bool) { return `"1"`, []string{"urn:uuid:1"}, p == "/a" })
	})
}
