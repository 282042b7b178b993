package dav

import (
	"encoding/xml"
	"sort"

	"github.com/verso-config/verso"
)

// LiveProps are the local names of the DAV: properties verso computes, in
// the order PROPFIND lists them; clients cannot set them.
var LiveProps = []string{
	"resourcetype", "getcontentlength", "getcontenttype", "getetag",
	"getlastmodified", "displayname", "supportedlock", "lockdiscovery",
}

// IsLive reports whether n is one of the live properties.
func IsLive(n xml.Name) bool {
	if n.Space != davNS {
		return false
	}
	for _, l := range LiveProps {
		if n.Local == l {
			return true
		}
	}
	return false
}

// DeadNames returns the names of e's dead properties, sorted by namespace
// and then local name. A stored name that is not valid Clark notation is
// left out.
func DeadNames(e *verso.Entry) []xml.Name {
	names := make([]xml.Name, 0, len(e.Props))
	for k := range e.Props {
		if n, ok := ParseClark(k); ok {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if names[i].Space != names[j].Space {
			return names[i].Space < names[j].Space
		}
		return names[i].Local < names[j].Local
	})
	return names
}
