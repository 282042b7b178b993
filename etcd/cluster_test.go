package etcd

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/verso-config/verso/etcd/etcdtest"
)

// cluster is a real etcd cluster of three members running inside the test
// binary (package etcdtest). One cluster serves every test of the package
// (starting one takes a few seconds); each store gets its own prefix.
var (
	cluster       *etcdtest.Cluster
	prefixCounter atomic.Int64
)

const testMaxTxnOps = etcdtest.MaxTxnOps

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "verso-etcd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c, err := etcdtest.New(dir, 3)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start etcd cluster:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	cluster = c
	code := m.Run()
	c.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newPrefix returns a key prefix no other store of this test binary uses.
func newPrefix() string {
	return fmt.Sprintf("/verso-test/%d/", prefixCounter.Add(1))
}

// mustOpen opens a store on the test cluster (on every member, unless
// opts names some). A nil opts gets a new, empty prefix; a store opened
// with the same Prefix shares its tree.
func mustOpen(t testing.TB, opts *Options) *Store {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = newPrefix()
	}
	if len(o.Endpoints) == 0 {
		o.Endpoints = cluster.Endpoints()
	}
	if o.MaxTxnOps == 0 {
		o.MaxTxnOps = testMaxTxnOps
	}
	if o.MaxTxnBytes == 0 {
		o.MaxTxnBytes = 4 << 20
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, &o)
	if err != nil {
		t.Fatalf("Open(%q) error: %v", o.Prefix, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
