package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/etcd"
	"github.com/verso-config/verso/etcd/etcdtest"
	"github.com/verso-config/verso/server"
)

// The HTTP tests run on the store VERSO_TEST_STORE names: bolt (the
// default: a bbolt file per test) or etcd (one etcd member started in this
// test binary, a key prefix per test), so that both stores are held to the
// same HTTP behavior. `make test-etcd` runs them on etcd.
const testStoreEnv = "VERSO_TEST_STORE"

var (
	// etcdEndpoints is set when the tests run on etcd.
	etcdEndpoints []string
	etcdPrefixes  atomic.Int64
)

func TestMain(m *testing.M) {
	switch s := os.Getenv(testStoreEnv); s {
	case "", "bolt":
		os.Exit(m.Run())
	case "etcd":
		etcdtest.Main(m, &etcdEndpoints)
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: want bolt or etcd\n", testStoreEnv, s)
		os.Exit(2)
	}
}

// openTestStore opens an empty store of the kind the tests run on, closed
// when t ends (by the caller's cleanup, before the server goes).
func openTestStore(t testing.TB) verso.Store {
	t.Helper()
	if etcdEndpoints == nil {
		st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		return st
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := etcd.Open(ctx, &etcd.Options{
		Endpoints:   etcdEndpoints,
		Prefix:      fmt.Sprintf("/verso-server-test/%d/", etcdPrefixes.Add(1)),
		MaxTxnOps:   etcdtest.MaxTxnOps,
		MaxTxnBytes: 4 << 20,
	})
	if err != nil {
		t.Fatalf("open etcd store: %v", err)
	}
	return st
}

// onlyOnBolt skips a test that is about the bolt store itself when the
// tests run on etcd.
func onlyOnBolt(t testing.TB, why string) {
	t.Helper()
	if etcdEndpoints != nil {
		t.Skipf("bolt only (%s=etcd): %s", testStoreEnv, why)
	}
}

// TestTxn_TooLargeForEtcd checks that a commit too large for one etcd
// transaction answers 413 and changes nothing (on bolt, TestTxn_TenThousandPuts
// commits it).
func TestTxn_TooLargeForEtcd(t *testing.T) {
	if etcdEndpoints == nil {
		t.Skipf("etcd only (%s=etcd): bolt commits 10,000 puts at once", testStoreEnv)
	}
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "MKCOL", "/config/big", "")
	head := ts.head(t)
	code, body, _ := ts.do(t, "POST", "/api/v1/txn", strings.NewReader(putsBody(server.MaxTxnOps, "v")))
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /api/v1/txn of %d puts on etcd = %d %.200s, want 413", server.MaxTxnOps, code, body)
	}
	if got := ts.head(t); got != head {
		t.Errorf("head after a refused commit = %d, want %d", got, head)
	}
}
