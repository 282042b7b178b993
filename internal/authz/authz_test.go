package authz

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verso-config/verso"
)

const sample = `# verso's rules, as mod_dav_svn read them
[groups]
ops = alice, bob
devs = carol,
  @ops
everyone = @devs, &dan

[aliases]
dan = daniel

[/]
* = r
$authenticated = rw

[/secret]
* =
@ops = rw

[/secret/shared]
carol = r

[/public]
$anonymous = r
~@ops = r
@ops = rw

[verso:/pinned]
* = r
bob = r

[/pinned]
bob = rw
`

func TestRules_Allowed(t *testing.T) {
	rs, err := Parse("authz", strings.NewReader(sample))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tests := []struct {
		user string
		path string
		a    Access
		want bool
	}{
		{"", "/", Read, true},
		{"", "/", Write, false},
		{"", "/app/key", Read, true},
		{"", "/app/key", Write, false},
		{"carol", "/app/key", Read | Write, true},
		{"", "/secret", Read, false},
		{"carol", "/secret", Read, false},
		{"alice", "/secret/x/y", Read | Write, true},
		{"carol", "/secret/shared", Read, true},
		{"carol", "/secret/shared/deep", Read, true},
		{"carol", "/secret/shared", Write, false},
		{"alice", "/secret/shared", Write, true}, // no rule there for alice: /secret decides
		{"", "/public/x", Read, true},
		{"", "/public/x", Write, false},
		{"carol", "/public", Write, false}, // ~@ops and $authenticated... only ~@ops = r matches here
		{"bob", "/public", Write, true},
		{"bob", "/pinned", Write, false}, // the repository's own section comes first
		{"carol", "/pinned", Read, true},
		{"daniel", "/app", Write, true},
		{"dan", "/secret", Read, false},
		{"", "/secretive", Read, true}, // not below /secret
	}
	for _, tt := range tests {
		if got := rs.Allowed(tt.user, verso.MustPath(tt.path), tt.a); got != tt.want {
			t.Errorf("Allowed(%q, %q, %v) = %t, want %t", tt.user, tt.path, tt.a, got, tt.want)
		}
	}
}

func TestRules_AllowedTree(t *testing.T) {
	rs, err := Parse("authz", strings.NewReader(sample))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tests := []struct {
		user string
		path string
		a    Access
		want bool
	}{
		{"carol", "/app", Write, true},
		{"carol", "/", Read, false}, // /secret is below
		{"alice", "/", Read, true},
		{"alice", "/secret", Write, true},
		{"carol", "/secret/shared", Read, true},
		{"bob", "/", Write, false}, // /pinned is read-only for bob
	}
	for _, tt := range tests {
		if got := rs.AllowedTree(tt.user, verso.MustPath(tt.path), tt.a); got != tt.want {
			t.Errorf("AllowedTree(%q, %q, %v) = %t, want %t", tt.user, tt.path, tt.a, got, tt.want)
		}
	}
}

func TestRules_DefaultDeny(t *testing.T) {
	rs, err := Parse("authz", strings.NewReader("[/only]\nalice = rw\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if rs.Allowed("alice", verso.Root, Read) {
		t.Errorf("Allowed(alice, /, read) = true without a [/] section, want false")
	}
	if !rs.Allowed("alice", "/only/k", Write) {
		t.Errorf("Allowed(alice, /only/k, write) = false, want true")
	}
}

func TestParse_Errors(t *testing.T) {
	tests := []struct {
		name, text string
		line       int
		want       string
	}{
		{"before section", "alice = rw\n", 1, "before any [section]"},
		{"no bracket", "[/\n", 1, "no closing"},
		{"bad access", "[/]\n\nalice = rx\n", 3, `want "", "r" or "rw"`},
		{"undefined group", "[/]\n@ops = r\n", 2, `group "ops" is not defined`},
		{"undefined alias", "[/]\n&x = r\n", 2, `alias "x" is not defined`},
		{"group cycle", "[groups]\na = @b\nb = @a\n", 3, "contains itself"},
		{"bad token", "[/]\n$everyone = r\n", 2, "unknown token"},
		{"glob", "[:glob:/a/*]\n* = r\n", 1, "not supported"},
		{"bad path", "[/a/../b]\n* = r\n", 1, "invalid path"},
		{"bad section", "[users]\n", 1, "neither"},
		{"two repositories", "[a:/]\n* = r\n[b:/]\n* = r\n", 3, "two repositories"},
		{"duplicate rule", "[/]\nalice = r\n\nalice = rw\n", 4, "first at line 2"},
		{"duplicate group", "[groups]\na = x\na = y\n", 3, "first at line 2"},
		{"lone continuation", "[/]\n  alice = r\n", 2, "continues no option"},
		{"no name", "[/]\n= r\n", 2, "needs a name"},
		{"no equals", "[/]\nalice\n", 2, "want 'name = value'"},
		{"inverted all", "[/]\n~* = r\n", 2, "'~' inverts"},
		{"dollar member", "[groups]\ng = $anonymous\n", 2, "a group holds users"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("/etc/verso/authz", strings.NewReader(tt.text))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) = %v, want a *ParseError", tt.text, err)
			}
			if pe.Line != tt.line || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "/etc/verso/authz:") {
				t.Errorf("Parse(%q) = %q (line %d), want /etc/verso/authz:%d: ...%s...", tt.text, err, pe.Line, tt.line, tt.want)
			}
		})
	}
}

func TestParse_Lenient(t *testing.T) {
	// What Subversion accepts: CRLF, ';' comments, ':' as separator, empty
	// groups, rules with spaces in the access.
	text := "; comment\r\n[groups]\r\nnobody =\r\n[/]\r\nalice: r w\r\n@nobody = rw\r\n"
	rs, err := Parse("authz", strings.NewReader(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !rs.Allowed("alice", "/k", Read|Write) {
		t.Errorf("Allowed(alice, /k, read and write) = false, want true")
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestParseFile_ErrorGolden reads each malformed file in testdata/errors
// and checks the whole message, file name and line included, against the
// file's .golden twin (go test -update rewrites them).
func TestParseFile_ErrorGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.authz")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in testdata/errors: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".authz"), func(t *testing.T) {
			_, err := ParseFile(file)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseFile(%s) = %v, want a *ParseError", file, err)
			}
			text, rerr := os.ReadFile(file)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if lines := strings.Count(string(text), "\n"); pe.Line < 1 || pe.Line > lines {
				t.Errorf("ParseFile(%s): line %d, want one of the file's %d lines", file, pe.Line, lines)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".authz") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, rerr := os.ReadFile(golden)
			if rerr != nil {
				t.Fatalf("%v (run go test -run TestParseFile_ErrorGolden -update to write it)", rerr)
			}
			if got != string(want) {
				t.Errorf("ParseFile(%s) error\n got: %s want: %s", file, got, want)
			}
		})
	}
}
