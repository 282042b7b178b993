package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const cliServiceSchema = `{"type": "object",
 "properties": {"port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "hosts": {"type": "array", "minItems": 1}},
 "required": ["port", "hosts"]}`

// TestCLI_Schema drives schemas through the command line: set, get, a
// refused put printing its violations one a line, validate, dry runs of an
// import and of a working copy's commit, rm.
func TestCLI_Schema(t *testing.T) {
	t.Parallel()
	url := startVerso(t)
	c := newCLI(t, url)
	c.want("Committed revision 1.\n", "", "mkdir", "/svc")
	c.want("Committed revision 2.\n", "8080\n", "put", "/svc/port")
	c.want("Committed revision 3.\n", `["a", "b"]`, "put", "/svc/hosts")
	c.want("Committed revision 4.\n", cliServiceSchema, "schema", "set", "/svc", "-m", "guard the service")
	c.want(cliServiceSchema, "", "schema", "get", "/svc")
	c.want("/svc validates against its schema.\n", "", "validate", "/svc")

	out, stderr, code := c.run("70000\n", "put", "/svc/port")
	if code != 1 || out != "" || !strings.Contains(stderr, "does not validate") || !strings.Contains(stderr, "\n  /svc/port: ") || !strings.Contains(stderr, "maximum") {
		t.Errorf("refused put: status %d, stdout %q, stderr %q", code, out, stderr)
	}
	out, stderr, code = c.run(`{"type": "objekt"}`, "schema", "set", "/svc")
	if code != 1 || !strings.Contains(stderr, "invalid schema") {
		t.Errorf("invalid schema: status %d, stdout %q, stderr %q", code, out, stderr)
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "svc.yaml")
	if err := os.WriteFile(bad, []byte("port: 0\nhosts: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = c.run("", "validate", "/svc", bad)
	if code != 1 || !strings.Contains(stderr, "/svc/port: ") || !strings.Contains(stderr, "/svc/hosts: ") {
		t.Errorf("validate a bad file: status %d, stdout %q, stderr %q", code, out, stderr)
	}
	good := filepath.Join(dir, "svc.json")
	if err := os.WriteFile(good, []byte(`{"port": "443", "hosts": ["c"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c.want("/svc validates against its schema.\n", "", "validate", "/svc", good)

	out, stderr, code = c.run("", "import", "--dry-run", "/svc", bad)
	if code != 1 || !strings.Contains(out, "modified  /svc/port") || !strings.Contains(stderr, "would be refused") {
		t.Errorf("import --dry-run of a bad file: status %d, stdout %q, stderr %q", code, out, stderr)
	}
	c.want("Would change, against revision 4:\n  modified  /svc/hosts\n  modified  /svc/port\nIt validates. Nothing was written.\n", "",
		"import", "--dry-run", "/svc", good)

	// A working copy's commit, dry and then for real.
	top := t.TempDir()
	runIn(t, top, "checkout", url+"/config/svc", "wc")
	wcDir := filepath.Join(top, "wc")
	if b, err := os.ReadFile(filepath.Join(wcDir, ".schema")); err != nil || string(b) != cliServiceSchema {
		t.Errorf("the working copy's .schema: %q, %v", b, err)
	}
	writeFile(t, filepath.Join(wcDir, "port"), "0\n")
	out, stderr, code = runIn(t, wcDir, "commit", "--dry-run", "-m", "x")
	if code != 1 || !strings.Contains(out, "modified  /svc/port") || !strings.Contains(stderr, "/svc/port: ") {
		t.Errorf("commit --dry-run: status %d, stdout %q, stderr %q", code, out, stderr)
	}
	_, stderr, code = runIn(t, wcDir, "commit", "-m", "x")
	if code != 1 || !strings.Contains(stderr, "/svc/port: ") {
		t.Errorf("commit: status %d, stderr %q", code, stderr)
	}
	writeFile(t, filepath.Join(wcDir, "port"), "9090\n")
	out, _, code = runIn(t, wcDir, "commit", "--dry-run", "-m", "x")
	if code != 0 || !strings.Contains(out, "It validates.") {
		t.Errorf("commit --dry-run: status %d, stdout %q", code, out)
	}

	c.want("Committed revision 5.\n", "", "schema", "rm", "/svc")
	c.want("Committed revision 6.\n", "0\n", "put", "/svc/port")
	out, stderr, code = c.run("", "validate", "/svc")
	if code != 1 || !strings.Contains(stderr, "no schema") {
		t.Errorf("validate without a schema: status %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// TestCLI_ValidateNested checks that validate holds every namespace below
// the one named to its own schema, as a commit does: in the tree as it is,
// and in a local document, whose .schema members take the place of the
// schemas there are.
func TestCLI_ValidateNested(t *testing.T) {
	t.Parallel()
	url := startVerso(t)
	c := newCLI(t, url)
	c.want("Committed revision 1.\n", "", "mkdir", "/app/db", "-p")
	c.want("Committed revision 2.\n", "5432\n", "put", "/app/db/port")
	c.want("Committed revision 3.\n", `["db1"]`, "put", "/app/db/hosts")
	c.want("Committed revision 4.\n", cliServiceSchema, "schema", "set", "/app/db")
	// /app has no schema of its own; /app/db's is checked.
	c.want("/app/db validates against its schema.\n", "", "validate", "/app")

	dir := t.TempDir()
	bad := filepath.Join(dir, "app.yaml")
	if err := os.WriteFile(bad, []byte("name: x\ndb:\n  port: 0\n  hosts: [db1]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := c.run("", "validate", "/app", bad)
	if code != 1 || !strings.Contains(stderr, "/app/db does not validate") || !strings.Contains(stderr, "\n  /app/db/port: ") {
		t.Errorf("validate a file bad below: status %d, stdout %q, stderr %q", code, out, stderr)
	}
	// A schema in the document replaces the one there is.
	lax := filepath.Join(dir, "lax.json")
	if err := os.WriteFile(lax, []byte(`{"db": {".schema": "{}", "port": 0}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c.want("/app/db validates against its schema.\n", "", "validate", "/app", lax)

	// Both levels with schemas: each is checked, the outer one seeing
	// /app/db as a member object.
	c.want("Committed revision 5.\n", `{"properties": {"db": {"required": ["port"]}, "name": {"type": "string"}}}`, "schema", "set", "/app")
	c.want("/app validates against its schema.\n/app/db validates against its schema.\n", "", "validate", "/app")
	worse := filepath.Join(dir, "worse.json")
	if err := os.WriteFile(worse, []byte(`{"name": 5, "db": {"hosts": []}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = c.run("", "validate", "/app", worse)
	for _, want := range []string{"/app does not validate", "\n  /app/name: ", "\n  /app/db: ", "/app/db does not validate", "\n  /app/db/hosts: "} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("validate a file bad at both levels: status %d, stdout %q, stderr %q, want %q", code, out, stderr, want)
		}
	}
}
