package authz

import (
	"strings"
	"testing"

	"github.com/verso-config/verso"
)

// FuzzParse checks that no input makes Parse panic, and that the rules of
// any file it accepts are consistent: a right on a whole tree is a right on
// its top.
func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("[/]\n* = r\n")
	f.Add("[groups]\na = @b\nb = c\n[r:/x]\n~@a = rw\n")
	f.Fuzz(func(t *testing.T, text string) {
		rs, err := Parse("fuzz", strings.NewReader(text))
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("Parse error %v (%T), want a *ParseError", err, err)
			}
			return
		}
		for _, user := range []string{"", "alice", "bob"} {
			for _, p := range []verso.Path{"/", "/a", "/a/b", "/x", "/secret/shared"} {
				for _, a := range []Access{Read, Write, Read | Write} {
					if rs.AllowedTree(user, p, a) && !rs.Allowed(user, p, a) {
						t.Fatalf("AllowedTree(%q, %q, %v) but not Allowed", user, p, a)
					}
				}
			}
		}
	})
}
