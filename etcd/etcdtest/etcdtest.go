// Package etcdtest runs real etcd clusters inside a test binary
// (go.etcd.io/etcd/server/v3/embed), on loopback ports with their data in
// a temporary directory, for the tests of verso's etcd store and of
// everything that runs on it.
//
// A cluster takes a second or more to start: start one per test binary
// (in TestMain, with New) and give each test its own key prefix.
//
//	func TestMain(m *testing.M) {
//		c, err := etcdtest.New(dir, 1)
//		...
//		code := m.Run()
//		c.Close()
//		os.Exit(code)
//	}
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Settings of the clusters: short heartbeats so elections are quick, but
// not so short that a loaded machine running -race loses its leader; and
// limits large enough for verso's biggest test commits.
const (
	TickMs          = 25
	ElectionMs      = 500
	MaxTxnOps       = 4096    // etcd's --max-txn-ops
	MaxRequestBytes = 8 << 20 // etcd's --max-request-bytes
)

// Cluster is a running etcd cluster of one or more members.
type Cluster struct {
	dir       string
	cfgs      []*embed.Config
	mu        sync.Mutex
	members   []*embed.Etcd // nil while stopped
	endpoints []string
}

// New starts a cluster of n members with their data under dir (created if
// missing; the caller removes it after Close) and waits until every member serves.
func New(dir string, n int) (*Cluster, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, members: make([]*embed.Etcd, n)}
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
		cfg.TickMs = TickMs
		cfg.ElectionMs = ElectionMs
		cfg.MaxTxnOps = MaxTxnOps
		cfg.MaxRequestBytes = MaxRequestBytes
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
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Start starts a one-member cluster for t, closed when t ends, and returns
// its client URLs.
func Start(t testing.TB) []string {
	t.Helper()
	c, err := New(t.TempDir(), 1)
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(c.Close)
	return c.Endpoints()
}

// Main starts a one-member cluster for a whole test binary, runs the
// tests and exits: call it from TestMain. endpoints is set before the
// tests run.
func Main(m *testing.M, endpoints *[]string) {
	dir, err := os.MkdirTemp("", "verso-etcd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c, err := New(dir, 1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start etcd:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	*endpoints = c.Endpoints()
	code := m.Run()
	c.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Endpoints returns the client URLs of the members.
func (c *Cluster) Endpoints() []string { return c.endpoints }

// Len returns the number of members, running or not.
func (c *Cluster) Len() int { return len(c.cfgs) }

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

// start starts member i and waits until it serves.
func (c *Cluster) start(i int) error {
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

// Stop stops member i, as if its machine went down.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	e := c.members[i]
	c.members[i] = nil
	c.mu.Unlock()
	if e != nil {
		e.Close()
	}
}

// Down reports whether member i is stopped.
func (c *Cluster) Down(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i] == nil
}

// Restart starts member i again on its data directory.
func (c *Cluster) Restart(i int) error {
	cfg := *c.cfgs[i]
	cfg.ClusterState = embed.ClusterStateFlagExisting
	c.cfgs[i] = &cfg
	return c.start(i)
}

// Leader returns the index of the member that leads, or 0.
func (c *Cluster) Leader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.members {
		if e != nil && e.Server.Leader() == e.Server.MemberID() {
			return i
		}
	}
	return 0
}

// Close stops every member.
func (c *Cluster) Close() {
	for i := range c.members {
		c.Stop(i)
	}
}
