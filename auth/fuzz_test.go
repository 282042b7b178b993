package auth

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseUsers: no users file crashes the parser; a refusal is a
// *FileError naming the line, and an accepted file has a user per
// non-comment line with a usable hash.
func FuzzParseUsers(f *testing.F) {
	for _, s := range []string{
		"",
		"# comment\n\n",
		"alice:$2y$05$0123456789012345678901u5hJ2z0bC6yZbV6C0yMrl8t5YlK8E3e\n",
		"bob:$apr1$abcdefgh$0123456789012345678901\n",
		"carol:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\r\n",
		"dave:$5$rounds=5000$salt$hash\n",
		"alice:x\nalice:y\n",
		"noseparator\n",
		":empty-name\n",
		"eve:\n",
		"frank:$2y$99$bad\n",
		strings.Repeat("a", 70000) + ":x\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		users, cost, err := parseUsers("users", strings.NewReader(file))
		if err != nil {
			var fe *FileError
			if errors.As(err, &fe) && (fe.Line < 0 || fe.File != "users") {
				t.Errorf("parseUsers: %v names line %d of %q", err, fe.Line, fe.File)
			}
			return
		}
		if cost <= 0 {
			t.Errorf("parseUsers(%q): bcrypt cost %d", file, cost)
		}
		for name, u := range users {
			if name == "" || strings.Contains(name, ":") || u.hash == nil {
				t.Errorf("parseUsers(%q): user %q with hash %v", file, name, u.hash)
			}
		}
	})
}
