package etcd

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// testCluster is a real etcd cluster of three members running inside the
// test binary, on loopback ports, with its data in a temporary directory.
// One cluster serves every test of the package (starting one takes a few
// seconds); each store gets its own prefix.
type testCluster struct {
	dir       string
	cfgs      []*embed.Config
	mu        sync.Mutex
	members   []*embed.Etcd // nil while stopped
	endpoints []string
}

// Settings of the test cluster: short heartbeats so elections are quick,
// but not so short that a loaded machine running -race loses its leader.
const (
	testTickMs     = 25
	testElectionMs = 500
	testMaxTxnOps  = 4096
)

var (
	cluster       *testCluster
	prefixCounter atomic.Int64
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "verso-etcd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c, err := startCluster(dir, 3)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start etcd cluster:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	cluster = c
	code := m.Run()
	c.close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePorts returns n TCP ports free on the loopback interface.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func startCluster(dir string, n int) (*testCluster, error) {
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &testCluster{dir: dir, members: make([]*embed.Etcd, n)}
	var initial []string
	for i := range n {
		initial = append(initial, fmt.Sprintf("m%d=http://127.0.0.1:%d", i, ports[2*i]))
	}
	for i := range n {
		peer, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]))
		client, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]))
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = filepath.Join(dir, cfg.Name)
		cfg.ListenPeerUrls = []url.URL{*peer}
		cfg.AdvertisePeerUrls = []url.URL{*peer}
		cfg.ListenClientUrls = []url.URL{*client}
		cfg.AdvertiseClientUrls = []url.URL{*client}
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = "verso-test"
		cfg.ClusterState = embed.ClusterStateFlagNew
		cfg.TickMs = testTickMs
		cfg.ElectionMs = testElectionMs
		cfg.MaxTxnOps = testMaxTxnOps
		cfg.MaxRequestBytes = 8 << 20
		cfg.UnsafeNoFsync = true // the tests need consensus, not durability
		cfg.LogLevel = "error"
		cfg.LogOutputs = []string{filepath.Join(dir, cfg.Name+".log")}
		c.cfgs = append(c.cfgs, cfg)
		c.endpoints = append(c.endpoints, client.String())
	}
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- c.start(i) }()
	}
	for range n {
		if err := <-errs; err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// start starts member i and waits until it serves.
func (c *testCluster) start(i int) error {
	e, err := embed.StartEtcd(c.cfgs[i])
	if err != nil {
		return fmt.Errorf("start member %d: %w", i, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("member %d: %w", i, err)
	case <-time.After(60 * time.Second):
		e.Close()
		return fmt.Errorf("member %d not ready after 60s", i)
	}
	c.mu.Lock()
	c.members[i] = e
	c.mu.Unlock()
	return nil
}

// stop stops member i, as if its machine went down.
func (c *testCluster) stop(i int) {
	c.mu.Lock()
	e := c.members[i]
	c.members[i] = nil
	c.mu.Unlock()
	if e != nil {
		e.Close()
	}
}

// restart starts member i again on its data directory.
func (c *testCluster) restart(i int) error {
	cfg := *c.cfgs[i]
	cfg.ClusterState = embed.ClusterStateFlagExisting
	c.cfgs[i] = &cfg
	return c.start(i)
}

func (c *testCluster) close() {
	for i := range c.members {
		c.stop(i)
	}
}

// newPrefix returns a key prefix no other store of this test binary uses.
func newPrefix() string {
	return fmt.Sprintf("/verso-test/%d/", prefixCounter.Add(1))
}

// mustOpen opens a store on the test cluster. A nil opts gets a new,
// empty prefix; a store opened with the same Prefix shares its tree.
func mustOpen(t testing.TB, opts *Options) *Store {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = newPrefix()
	}
	o.Endpoints = cluster.endpoints
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
