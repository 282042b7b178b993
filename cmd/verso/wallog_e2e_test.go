package main

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck_DamagedLog kills verso while its write-ahead log holds
// records, damages a record in the middle of the log, and checks what an
// operator sees: verso check and verso serve refuse the store, naming the
// offset and what to do, and after cutting the log as the message says,
// both accept it.
func TestCheck_DamagedLog(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := launchVerso(t, "--data", data)
	for i := range 40 {
		req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/config/k%d", p.URL, i), strings.NewReader("value"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT k%d: %s", i, resp.Status)
		}
	}
	p.cmd.Process.Kill() // SIGKILL: the log stays
	<-p.done

	log := filepath.Join(data, dbFile) + ".wal"
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	// The log's framing (package internal/wal): a header of 40 bytes, the meta
	// pages and a CRC, then records of a length, a CRC and the payload.
	off := 40 + int(binary.BigEndian.Uint32(b[36:])) + 4
	var recs []int
	for off+8 <= len(b) {
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n == 0 {
			break
		}
		recs = append(recs, off)
		off += 8 + n
	}
	if len(recs) < 3 {
		t.Skipf("the log holds %d records (a checkpoint came just before the kill): need 3", len(recs))
	}
	bad := recs[len(recs)/2]
	for i := bad + 10; i < bad+26; i++ {
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(log, b, 0o600); err != nil {
		t.Fatal(err)
	}

	cut := fmt.Sprintf("truncate -s %d %s", bad, log)
	_, stderr, code := runVerso(t, "check", "--data", data)
	if code != 1 || !strings.Contains(stderr, "is damaged") || !strings.Contains(stderr, cut) {
		t.Errorf("check of a store whose log is damaged: status %d, stderr %q; want 1 saying %q", code, stderr, cut)
	}
	_, stderr, code = runVerso(t, "serve", "--listen", "127.0.0.1:0", "--data", data)
	if code == 0 || !strings.Contains(stderr, "is damaged") || !strings.Contains(stderr, cut) {
		t.Errorf("serve of a store whose log is damaged: status %d, stderr %q; want an error saying %q", code, stderr, cut)
	}
	if err := os.Truncate(log, int64(bad)); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runVerso(t, "check", "--data", data)
	if code != 0 {
		t.Errorf("check after cutting the log: status %d, stdout %q, stderr %q", code, out, stderr)
	}
}
