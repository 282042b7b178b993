package main

// End-to-end tests of verso as Ansible reads it: the real ansible-playbook
// and ansible-inventory from Debian's ansible package, against the built
// verso binary serving on loopback. Ansible runs with connection local, its
// state in a temporary directory, and no network beyond loopback.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// needAnsible returns the path of an Ansible program, skipping the test
// when it is missing, except in CI (CI set, as CI=true), where that is a
// failure.
func needAnsible(t *testing.T, prog string) string {
	t.Helper()
	path, err := exec.LookPath(prog)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing (bash .ci/run installs Debian's ansible): %v", prog, err)
		}
		t.Skipf("%s is missing (apt-get install ansible): %v", prog, err)
	}
	return path
}

// runAnsible runs an Ansible program with its state in dir and VERSO_URL
// set, and returns its stdout; it fails the test when the program fails.
func runAnsible(t *testing.T, dir, versoURL string, prog string, args ...string) string {
	t.Helper()
	path := needAnsible(t, prog)
	cfg := filepath.Join(dir, "ansible.cfg")
	if err := os.WriteFile(cfg, []byte("[defaults]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	cmd.Env = testEnv(
		"VERSO_URL="+versoURL,
		"HOME="+dir,
		"ANSIBLE_CONFIG="+cfg,
		"ANSIBLE_HOME="+filepath.Join(dir, ".ansible"),
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
		"ANSIBLE_REMOTE_TEMP="+filepath.Join(dir, "remote-tmp"),
		"ANSIBLE_PYTHON_INTERPRETER=auto_silent",
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_RETRY_FILES_ENABLED=0",
		"ANSIBLE_LOCALHOST_WARNING=0",
		"ANSIBLE_INVENTORY_UNPARSED_WARNING=0",
		"ANSIBLE_GATHERING=explicit",
		"ANSIBLE_DEPRECATION_WARNINGS=0",
		"LC_ALL=C.UTF-8",
	)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\nstdout:\n%s\nstderr:\n%s", prog, args, err, out.String(), errOut.String())
	}
	return out.String()
}

// The application settings and the hosts of the blog's round-robin DNS
// example, as they are imported into verso.
const (
	appYAML = `
db:
  host: db1.internal
  port: 5432
features: [a, b]
`
	machinesYAML = `
web1: {group: webservers, ansible_default_ipv4: {address: 10.0.0.1}}
db1:  {group: dbservers,  ansible_default_ipv4: {address: 10.0.1.1}}
web2: {group: webservers, ansible_default_ipv4: {address: 10.0.0.2}}
web3: {group: webservers, ansible_default_ipv4: {address: 10.0.0.3}}
`
	inventoryYAML = `
all:
  children:
    webservers:
      hosts:
        web1: {address: 10.0.0.1, http_port: 8080}
        web2: {address: 10.0.0.2}
      vars:
        role: web
    dbservers:
      hosts:
        db1: {address: 10.0.1.1}
`
)

// playbook reads verso with lookup('url') and the uri module, and builds
// the round-robin list of the blog with standard filters, where the blog
// needed its own fetchlistfromdict filter.
const playbook = `
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    base: "{{ lookup('env', 'VERSO_URL') }}/config"
    app: "{{ lookup('url', base + '/app/?format=json&parse=json', split_lines=False) | from_json }}"
    machines: "{{ lookup('url', base + '/machines/?format=json&parse=json', split_lines=False) | from_json }}"
  tasks:
    - name: the namespace is a dict
      assert:
        that:
          - app.db.host == 'db1.internal'
          - app.db.port == 5432
          - app.features == ['a', 'b']
    - name: read it with the uri module too, values as text
      uri:
        url: "{{ base }}/app/?format=json"
        return_content: true
      register: raw
    - assert:
        that:
          - raw.json.db.port == '5432'
          - raw.x_verso_revision is defined
    - name: the addresses of the webservers, for a round-robin record
      set_fact:
        rr: "{{ machines | dict2items | selectattr('value.group', 'equalto', 'webservers') | map(attribute='value.ansible_default_ipv4.address') | list }}"
    - copy:
        content: "{{ rr | to_json }}"
        dest: "{{ playbook_dir }}/rr.json"
`

// inventoryPlaybook builds the same list from a dynamic inventory served by
// verso, from groups and hostvars as the blog did.
const inventoryPlaybook = `
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - copy:
        content: "{{ groups['webservers'] | map('extract', hostvars, 'address') | list | to_json }}"
        dest: "{{ playbook_dir }}/rr-inventory.json"
`

func TestAnsible(t *testing.T) {
	t.Parallel()
	needAnsible(t, "ansible-playbook")
	url := startVerso(t)
	c := newCLI(t, url)
	dir := t.TempDir()
	for ns, doc := range map[string]string{"/app": appYAML, "/machines": machinesYAML, "/inventory": inventoryYAML} {
		file := filepath.Join(dir, strings.TrimPrefix(ns, "/")+".yaml")
		if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, stderr, code := c.run("", "import", ns, file); code != 0 || !strings.HasPrefix(out, "Committed revision") {
			t.Fatalf("verso import %s: status %d, stdout %q, stderr %q", ns, code, out, stderr)
		}
	}

	t.Run("lookup and round robin", func(t *testing.T) {
		pb := filepath.Join(dir, "playbook.yml")
		if err := os.WriteFile(pb, []byte(playbook), 0o644); err != nil {
			t.Fatal(err)
		}
		runAnsible(t, dir, url, "ansible-playbook", "-i", "localhost,", pb)
		checkJSONFile(t, filepath.Join(dir, "rr.json"), []any{"10.0.0.1", "10.0.0.2", "10.0.0.3"})
	})

	t.Run("dynamic inventory", func(t *testing.T) {
		script := filepath.Join(dir, "verso-inventory.sh")
		body := "#!/bin/sh\nexec " + versoBin + " inventory /inventory \"$@\"\n"
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		out := runAnsible(t, dir, url, "ansible-inventory", "-i", script, "--list")
		var inv struct {
			All  struct{ Children []string } `json:"all"`
			Web  struct{ Hosts []string }    `json:"webservers"`
			DB   struct{ Hosts []string }    `json:"dbservers"`
			Meta struct {
				Hostvars map[string]map[string]any `json:"hostvars"`
			} `json:"_meta"`
		}
		if err := json.Unmarshal([]byte(out), &inv); err != nil {
			t.Fatalf("ansible-inventory --list printed %q: %v", out, err)
		}
		for _, g := range []string{"webservers", "dbservers"} {
			if !strings.Contains(strings.Join(inv.All.Children, " "), g) {
				t.Errorf("ansible-inventory: all's children %q lack %s", inv.All.Children, g)
			}
		}
		if diff := cmp.Diff([]string{"web1", "web2"}, inv.Web.Hosts); diff != "" {
			t.Errorf("ansible-inventory: webservers hosts (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"db1"}, inv.DB.Hosts); diff != "" {
			t.Errorf("ansible-inventory: dbservers hosts (-want +got):\n%s", diff)
		}
		want := map[string]map[string]any{
			"web1": {"address": "10.0.0.1", "http_port": 8080.0, "role": "web"},
			"web2": {"address": "10.0.0.2", "role": "web"},
			"db1":  {"address": "10.0.1.1"},
		}
		if diff := cmp.Diff(want, inv.Meta.Hostvars); diff != "" {
			t.Errorf("ansible-inventory: hostvars (-want +got):\n%s", diff)
		}

		pb := filepath.Join(dir, "inventory-playbook.yml")
		if err := os.WriteFile(pb, []byte(inventoryPlaybook), 0o644); err != nil {
			t.Fatal(err)
		}
		runAnsible(t, dir, url, "ansible-playbook", "-i", script, pb)
		checkJSONFile(t, filepath.Join(dir, "rr-inventory.json"), []any{"10.0.0.1", "10.0.0.2"})
	})
}

// checkJSONFile checks that file holds JSON equal to want.
func checkJSONFile(t *testing.T, file string, want any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the playbook wrote no %s: %v", file, err)
	}
	var got any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s holds %q: %v", file, b, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", file, diff)
	}
}
