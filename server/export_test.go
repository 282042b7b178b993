package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/server"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// exportGoldens are the golden files of each case in testdata/export: the
// answer of GET /config/ns/ with the query.
var exportGoldens = []struct{ file, query string }{
	{"export.json", "format=json"},
	{"export.yaml", "format=yaml"},
	{"export.env", "format=env"},
	{"export.properties", "format=properties"},
	{"parsed.json", "format=json&parse=json"},
	{"parsed.yaml", "format=yaml&parse=json"},
}

// goldenKey is one key of a case's input.
type goldenKey struct {
	rel   string // path below the exported namespace
	value []byte
}

// readKeys reads testdata/export/CASE/keys: one key a line, PATH<TAB>VALUE
// with the value Go-quoted; a PATH ending in / is a namespace; # comments.
func readKeys(t *testing.T, file string) (keys []goldenKey, namespaces []string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "/") {
			namespaces = append(namespaces, strings.TrimSuffix(line, "/"))
			continue
		}
		rel, quoted, ok := strings.Cut(line, "\t")
		v, err := strconv.Unquote(quoted)
		if !ok || err != nil {
			t.Fatalf("%s: bad line %q: want PATH<TAB>\"value\"", file, line)
		}
		keys = append(keys, goldenKey{rel: rel, value: []byte(v)})
	}
	return keys, namespaces
}

// storeKeys writes keys and namespaces below /ns, straight to the store,
// creating the namespaces they need.
func storeKeys(t *testing.T, st verso.Store, keys []goldenKey, namespaces []string) {
	t.Helper()
	made := map[verso.Path]bool{"/": true}
	var ops []verso.Op
	mkdirs := func(p verso.Path) {
		var need []verso.Path
		for q := p; !made[q]; q = q.Parent() {
			need = append(need, q)
		}
		for i := len(need) - 1; i >= 0; i-- {
			made[need[i]] = true
			ops = append(ops, verso.Op{Kind: verso.OpMkcol, Path: need[i]})
		}
	}
	mkdirs("/ns")
	for _, ns := range namespaces {
		mkdirs(verso.MustPath("/ns/" + ns))
	}
	for _, k := range keys {
		p := verso.MustPath("/ns/" + k.rel)
		mkdirs(p.Parent())
		ops = append(ops, verso.Op{Kind: verso.OpPut, Path: p, Value: k.value})
	}
	if _, err := st.Commit(context.Background(), &verso.Txn{Ops: ops}); err != nil {
		t.Fatalf("store the case's keys: %v", err)
	}
}

var errorLine = regexp.MustCompile(`^(\d{3}) `)

func TestExport_Golden(t *testing.T) {
	cases, err := filepath.Glob("testdata/export/*/keys")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases in testdata/export: %v", err)
	}
	for _, keysFile := range cases {
		dir := filepath.Dir(keysFile)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			ts := newTestServer(t, nil)
			keys, namespaces := readKeys(t, keysFile)
			storeKeys(t, ts.store, keys, namespaces)
			for _, g := range exportGoldens {
				code, body, h := ts.do(t, "GET", "/config/ns/?"+g.query, nil)
				file := filepath.Join(dir, g.file)
				if *update {
					if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (run go test -run TestExport_Golden -update to write it)", err)
				}
				if diff := cmp.Diff(string(want), body); diff != "" {
					t.Errorf("GET /config/ns/?%s differs from %s (-want +got):\n%s", g.query, file, diff)
				}
				wantCode := http.StatusOK
				if m := errorLine.FindStringSubmatch(string(want)); m != nil {
					wantCode, _ = strconv.Atoi(m[1])
				}
				if code != wantCode {
					t.Errorf("GET /config/ns/?%s = %d, want %d", g.query, code, wantCode)
				}
				if code != http.StatusOK {
					continue
				}
				if h.Get(server.HeaderRevision) != "1" || h.Get("ETag") == "" {
					t.Errorf("GET /config/ns/?%s: %s=%q ETag=%q, want 1 and a tag", g.query, server.HeaderRevision, h.Get(server.HeaderRevision), h.Get("ETag"))
				}
				checkReadsBack(t, g.file, body, keys)
			}
		})
	}
}

// checkReadsBack reads an export with the format's own reader and checks
// that every key comes back with its value: the escaping is right, not just
// unchanged.
func checkReadsBack(t *testing.T, file, body string, keys []goldenKey) {
	t.Helper()
	want := map[string]string{}
	for _, k := range keys {
		want[k.rel] = string(k.value)
	}
	got := map[string]string{}
	switch file {
	case "export.json", "export.yaml":
		var tree map[string]any
		var err error
		if file == "export.json" {
			err = json.Unmarshal([]byte(body), &tree)
		} else {
			err = yaml.Unmarshal([]byte(body), &tree)
		}
		if err != nil {
			t.Fatalf("%s does not parse: %v\n%s", file, err, body)
		}
		flatten(t, "", tree, got)
	case "export.properties":
		got = readProperties(t, body)
		for rel, v := range want {
			delete(want, rel)
			want[strings.ReplaceAll(rel, "/", ".")] = v
		}
	case "export.env":
		got = sourceEnv(t, body)
		if got == nil {
			return
		}
		for rel, v := range want {
			delete(want, rel)
			want[envName(rel)] = v
		}
	default:
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s read back (-want +got):\n%s", file, diff)
	}
}

func flatten(t *testing.T, prefix string, tree map[string]any, out map[string]string) {
	t.Helper()
	for name, v := range tree {
		switch v := v.(type) {
		case map[string]any:
			flatten(t, prefix+name+"/", v, out)
		case string:
			out[prefix+name] = v
		default:
			t.Errorf("%s%s = %#v (%T), want a string", prefix, name, v, v)
		}
	}
}

// envName is the name the env export gives rel (as documented).
func envName(rel string) string {
	var b strings.Builder
	for _, c := range rel {
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteRune(c - 32)
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	if s := b.String(); s[0] >= '0' && s[0] <= '9' {
		return "_" + s
	}
	return b.String()
}

// sourceEnv runs sh to source an env export and reports the variables it
// set (nil when there is no /bin/sh).
func sourceEnv(t *testing.T, body string) map[string]string {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Logf("no /bin/sh to source the env export: %v", err)
		return nil
	}
	file := filepath.Join(t.TempDir(), "export.env")
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.SplitAfter(body, "\n") {
		if name, _, ok := strings.Cut(line, "='"); ok && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`).MatchString(name) {
			names = append(names, name)
		}
	}
	script := ". " + file
	for _, n := range names {
		script += fmt.Sprintf("; printf '%%s\\0' \"$%s\"", n)
	}
	out, err := exec.Command("/bin/sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("sh could not source the env export: %v\n%s", err, body)
	}
	vals := strings.Split(string(out), "\x00")
	got := map[string]string{}
	for i, n := range names {
		if i < len(vals) {
			got[n] = vals[i]
		}
	}
	return got
}

// readProperties reads a properties file the way java.util.Properties.load
// does, for the subset the export writes (one logical line per key).
func readProperties(t *testing.T, body string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if line == "" {
			continue
		}
		for _, c := range line {
			if c > 0x7e {
				t.Errorf("properties line %q is not plain ASCII", line)
			}
		}
		// The key ends at the first unescaped '='.
		end := -1
		for i := 0; i < len(line); i++ {
			if line[i] == '\\' {
				i++
				continue
			}
			if line[i] == '=' {
				end = i
				break
			}
		}
		if end < 0 {
			t.Fatalf("properties line %q has no unescaped '='", line)
		}
		out[unescapeProperties(t, line[:end])] = unescapeProperties(t, line[end+1:])
	}
	return out
}

func unescapeProperties(t *testing.T, s string) string {
	t.Helper()
	var units []uint16
	var b strings.Builder
	flush := func() {
		b.WriteString(string(utf16.Decode(units)))
		units = nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			flush()
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			flush()
			b.WriteByte('\t')
		case 'n':
			flush()
			b.WriteByte('\n')
		case 'r':
			flush()
			b.WriteByte('\r')
		case 'f':
			flush()
			b.WriteByte('\f')
		case 'u':
			n, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				t.Fatalf("bad \\u escape in %q", s)
			}
			units = append(units, uint16(n))
			i += 4
		default:
			flush()
			b.WriteByte(s[i])
		}
	}
	flush()
	if !utf8.ValidString(b.String()) {
		t.Errorf("properties %q decodes to invalid UTF-8", s)
	}
	return b.String()
}

func TestExport_Requests(t *testing.T) {
	ts := newTestServer(t, nil)
	storeKeys(t, ts.store, []goldenKey{{"db/host", []byte("db1")}, {"secret/key", []byte("s")}}, nil)
	ts.must(t, http.StatusNoContent, "PUT", "/config/ns/db/host", "db2") // r2

	body, h := ts.must(t, http.StatusOK, "GET", "/config/ns/?format=json&rev=1", "")
	if want := "{\n  \"db\": {\n    \"host\": \"db1\"\n  },\n  \"secret\": {\n    \"key\": \"s\"\n  }\n}\n"; body != want {
		t.Errorf("export at r1 = %q, want %q", body, want)
	}
	if h.Get(server.HeaderRevision) != "1" {
		t.Errorf("export at r1: %s = %q, want 1", server.HeaderRevision, h.Get(server.HeaderRevision))
	}
	body, h = ts.must(t, http.StatusOK, "GET", "/config/ns/db?format=env", "")
	if body != "HOST='db2'\n" || h.Get(server.HeaderRevision) != "2" || h.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("env export of /ns/db = %q, %s %q, type %q; want HOST='db2', 2, text/plain",
			body, server.HeaderRevision, h.Get(server.HeaderRevision), h.Get("Content-Type"))
	}
	etag := h.Get("ETag")
	ts.must(t, http.StatusNotModified, "GET", "/config/ns/db?format=env", "", "If-None-Match", etag)
	_, hy := ts.must(t, http.StatusOK, "GET", "/config/ns/db?format=yaml", "")
	if hy.Get("ETag") == etag {
		t.Errorf("yaml and env exports share the ETag %s", etag)
	}

	// Accept types ask for an export without format=; application/json
	// stays the listing.
	for accept, ctype := range map[string]string{
		"application/yaml":       "application/yaml",
		"text/x-java-properties": "text/x-java-properties; charset=utf-8",
		"application/json":       "application/json",
	} {
		body, h := ts.must(t, http.StatusOK, "GET", "/config/ns/db/", "", "Accept", accept)
		if h.Get("Content-Type") != ctype {
			t.Errorf("GET with Accept %s: Content-Type %q, want %q", accept, h.Get("Content-Type"), ctype)
		}
		if accept == "application/json" && !strings.Contains(body, `"entries"`) {
			t.Errorf("GET with Accept application/json = %q, want the listing", body)
		}
	}

	for _, tt := range []struct {
		query string
		want  int
	}{
		{"format=xml", 400},
		{"format=", 400},
		{"format=env&parse=json", 400},
		{"format=json&parse=yaml", 400},
		{"format=json&rev=99", 404},
	} {
		if code, msg, _ := ts.do(t, "GET", "/config/ns/?"+tt.query, nil); code != tt.want {
			t.Errorf("GET /config/ns/?%s = %d %q, want %d", tt.query, code, msg, tt.want)
		}
	}
	body, _ = ts.must(t, http.StatusBadRequest, "GET", "/config/ns/db/host?format=json", "")
	if !strings.Contains(body, "is a key") {
		t.Errorf("format= on a key said %q, want it to say the path is a key", body)
	}
	// A key's own GET is unchanged by Accept.
	if body, _ := ts.must(t, http.StatusOK, "GET", "/config/ns/db/host", "", "Accept", "application/yaml"); body != "db2" {
		t.Errorf("GET of a key with Accept application/yaml = %q, want the raw value", body)
	}
}

func TestExport_LongPoll(t *testing.T) {
	ts := newTestServer(t, nil)
	storeKeys(t, ts.store, []goldenKey{{"k", []byte("1")}}, nil)
	done := make(chan string, 1)
	go func() {
		code, body, h := ts.do(t, "GET", "/config/ns/?format=json&index=1&wait=10s", nil)
		done <- fmt.Sprintf("%d %s %s", code, h.Get(server.HeaderRevision), strings.Join(strings.Fields(body), ""))
	}()
	ts.must(t, http.StatusNoContent, "PUT", "/config/ns/k", "2")
	if got, want := <-done, `200 2 {"k":"2"}`; got != want {
		t.Errorf("long-poll of an export = %q, want %q", got, want)
	}
}
