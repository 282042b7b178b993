package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestCLI_ExportImport(t *testing.T) {
	t.Parallel()
	c := newCLI(t, startVerso(t))
	c.want("Committed revision 1: 4 added, 0 modified, 0 deleted.\n", `{"db": {"host": "db1", "port": 5432}}`, "import", "/app", "-")
	c.want("No changes: /app already holds the document (revision 1).\n", `{"db": {"host": "db1", "port": 5432}}`, "import", "/app", "-")
	c.want("DB_HOST='db1'\nDB_PORT='5432'\n", "", "export", "/app", "--format", "env")
	c.want("{\n  \"db\": {\n    \"host\": \"db1\",\n    \"port\": 5432\n  }\n}\n", "", "export", "/app", "--parse-json")
	c.want("Committed revision 2: 0 added, 0 modified, 1 deleted.\n", "db:\n  host: db1\n", "import", "/app", "-", "--sync", "-m", "drop the port")
	c.want("db.host=db1\ndb.port=5432\n", "", "export", "/app", "-f", "properties", "-r", "1")
	c.fails(2, []string{"export", "/app", "--format", "xml"}, "json, yaml, env or properties")
	c.fails(1, []string{"import", "/app", "-", "--format", "json"}, "invalid JSON")
}

func TestCLI_Template(t *testing.T) {
	t.Parallel()
	url := startVerso(t)
	c := newCLI(t, url)
	c.want("Committed revision 1: 4 added, 0 modified, 0 deleted.\n", `{"backends": {"a": "10.0.0.1:80", "b": "10.0.0.2:80"}}`, "import", "/app", "-")
	dir := t.TempDir()
	src, dest := filepath.Join(dir, "upstream.tmpl"), filepath.Join(dir, "upstream.conf")
	tmpl := "upstream app {\n{{- range ls \"/app/backends\" }}\n  server {{ key (printf \"/app/backends/%s\" .) }};\n{{- end }}\n}\n"
	if err := os.WriteFile(src, []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	c.want("", "", "template", src, dest)
	want := "upstream app {\n  server 10.0.0.1:80;\n  server 10.0.0.2:80;\n}\n"
	if got, _ := os.ReadFile(dest); string(got) != want {
		t.Errorf("template wrote %q, want %q", got, want)
	}
	c.fails(1, []string{"template", src + ".missing", dest}, "no such file")

	// --watch renders again on a change and runs --exec after each write.
	marker := filepath.Join(dir, "reloads")
	cmd := exec.Command(versoBin, "template", src, dest, "--watch", "--exec", "echo reload >> "+marker)
	cmd.Env = testEnv("VERSO_URL=" + url)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitForFile(t, func() bool { b, _ := os.ReadFile(marker); return string(b) == "reload\n" })
	c.want("Committed revision 2.\n", "10.0.0.3:80", "put", "/app/backends/c")
	want = "upstream app {\n  server 10.0.0.1:80;\n  server 10.0.0.2:80;\n  server 10.0.0.3:80;\n}\n"
	waitForFile(t, func() bool { b, _ := os.ReadFile(dest); return string(b) == want })
	waitForFile(t, func() bool { b, _ := os.ReadFile(marker); return string(b) == "reload\nreload\n" })
}

// waitForFile polls cond for up to 15s.
func waitForFile(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("condition not met within 15s")
}
