package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/commitq"
	"github.com/verso-config/verso/internal/plan"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Options configures Open. The zero value (or a nil *Options) is useful
// except for Endpoints, which must name at least one etcd member.
type Options struct {
	// Endpoints are the client URLs of the etcd members
	// (http://10.0.0.1:2379, https://...). The client spreads requests
	// over them and fails over when one is down.
	Endpoints []string

	// Prefix is put before every key verso writes, so that one etcd
	// cluster can hold several verso trees (or other data). Default
	// "/verso/".
	Prefix string

	// TLS, when set, is used to talk to etcd (client certificates, CA).
	TLS *tls.Config

	// Username and Password authenticate to etcd when its auth is on.
	Username, Password string

	// DialTimeout bounds the first connection to etcd in Open. Default 5s.
	DialTimeout time.Duration

	// RequestTimeout bounds each request to etcd. Default 5s.
	RequestTimeout time.Duration

	// Clock gives the time recorded in commits, kept in UTC with
	// nanosecond precision. Nil means time.Now. Servers sharing a cluster
	// should keep their clocks in step: commit times follow revision order
	// only as well as the clocks agree.
	Clock func() time.Time

	// Logger receives the store's own events (a watch restarted, a commit
	// retried). Nil means slog.Default().
	Logger *slog.Logger

	// MaxBatch is the most transactions grouped into one etcd transaction
	// by group commit. 0 means 128; 1 turns grouping off.
	MaxBatch int

	// MaxTxnOps is the most operations one etcd transaction may hold; it
	// must not exceed etcd's --max-txn-ops. 0 means 128, etcd's default.
	MaxTxnOps int

	// MaxTxnBytes is the most bytes of keys and values one etcd
	// transaction may hold; keep it below etcd's --max-request-bytes.
	// 0 means 1 MiB (etcd's default limit is 1.5 MiB).
	MaxTxnBytes int
}

// Store is a verso.Store kept in etcd. Any number of Stores, in any number
// of processes, may share one prefix of one etcd cluster: they see one
// tree with one line of revisions. It is safe for concurrent use. See the
// package documentation for the layout and the rules.
type Store struct {
	schemas  plan.SchemaCache // namespace documents validated (internal/plan)
	cli      *clientv3.Client
	k        keys
	clock    func() time.Time
	log      *slog.Logger
	timeout  time.Duration
	maxBatch int
	maxOps   int
	maxBytes int

	// snap is the newest state this process knows; see snapshot.
	snap watched[snapshot]
	// start is the start of history as this process knows it (the start
	// key, followed by the watch and read with every read of history): it
	// only grows. Reads answered from memory check it.
	start atomic.Int64
	// pruneMu runs this process's Prune calls one at a time.
	pruneMu sync.Mutex
	// pruneBudget is about how many records one pruning step deletes.
	pruneBudget int
	// applyMu serializes the publication of snapshots and the cloning of
	// their trees.
	applyMu sync.Mutex

	closeCh chan struct{} // closed by Close, ends Wait

	ctx    context.Context // ends when the store closes (after commits)
	cancel context.CancelFunc

	queue     *commitq.Queue[*request] // to the committer; Closed once Close began
	done      chan struct{}            // closed when the committer exits
	watchDone chan struct{}            // closed when the watcher exits

	// lockSt is the lock table as this process knows it (locks.go),
	// published under lockMu; lockDone is closed when its watch exits.
	lockSt   watched[lockState]
	lockMu   sync.Mutex
	lockDone chan struct{}
	// lockHold, if set (by tests), holds the changes the lock table's
	// watch delivers until the channel is closed.
	lockHold atomic.Pointer[chan struct{}]

	// batchHook, if set (by tests, before the first Commit), is called by
	// the committer with the number of verso transactions of each etcd
	// transaction it sends.
	batchHook func(size int)
}

var (
	_ verso.Store            = (*Store)(nil)
	_ verso.ConsistentReader = (*Store)(nil)
	_ verso.Pruner           = (*Store)(nil)
	_ verso.HistoryStarter   = (*Store)(nil)
)

// Open connects to the etcd cluster at opts.Endpoints, loads the tree at
// head into memory and starts following changes made by every other
// server. The store is empty (revision 0) if nothing is under the prefix.
func Open(ctx context.Context, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if len(o.Endpoints) == 0 {
		return nil, errors.New("open etcd store: no endpoints")
	}
	if o.Prefix == "" {
		o.Prefix = "/verso/"
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 128
	}
	if o.MaxTxnOps <= 0 {
		o.MaxTxnOps = 128
	}
	if o.MaxTxnBytes <= 0 {
		o.MaxTxnBytes = 1 << 20
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:          o.Endpoints,
		DialTimeout:        o.DialTimeout,
		TLS:                o.TLS,
		Username:           o.Username,
		Password:           o.Password,
		Logger:             zap.NewNop(),
		MaxCallSendMsgSize: 64 << 20, // etcd itself refuses what is too large for it
		Context:            context.WithoutCancel(ctx),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %s: %w", strings.Join(o.Endpoints, ","), err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		cli:       cli,
		k:         keys{prefix: o.Prefix},
		clock:     o.Clock,
		log:       o.Logger,
		timeout:   o.RequestTimeout,
		maxBatch:  o.MaxBatch,
		maxOps:    o.MaxTxnOps,
		maxBytes:  o.MaxTxnBytes,
		closeCh:   make(chan struct{}),
		ctx:       sctx,
		cancel:    cancel,
		queue:     commitq.New[*request](o.MaxBatch),
		done:      make(chan struct{}),
		watchDone: make(chan struct{}),
		lockDone:  make(chan struct{}),

		pruneBudget: pruneBudget,
	}
	lctx, lcancel := context.WithTimeout(ctx, o.DialTimeout+o.RequestTimeout)
	snap, err := s.load(lctx)
	var locks *lockState
	if err == nil {
		locks, err = s.loadLocks(lctx)
	}
	lcancel()
	if err != nil {
		cancel()
		cli.Close()
		return nil, fmt.Errorf("open etcd store %q: %w", o.Prefix, err)
	}
	s.snap.Store(snap)
	s.lockSt.Store(locks)
	go s.commitLoop()
	go s.watchLoop()
	go s.lockLoop()
	return s, nil
}

// Close stops accepting commits (they return verso.ErrClosed), waits for
// the commits already submitted to finish, stops following etcd and
// closes the connection. After Close every method returns
// verso.ErrClosed, Close included.
func (s *Store) Close() error {
	if !s.queue.Stop() {
		return verso.ErrClosed
	}
	close(s.closeCh)

	s.queue.Drain()
	<-s.done
	s.cancel()
	<-s.watchDone
	<-s.lockDone
	if err := s.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("close etcd client: %w", err)
	}
	return nil
}

var _ verso.HeadReader = (*Store)(nil)

// HeadEntry returns p's entry at head from the store's copy in memory, as
// Get(ctx, p, verso.Head) would (verso.HeadReader); ok is false when p does
// not exist or the store is closed. The entry's fields are shared: do not
// modify them.
func (s *Store) HeadEntry(p verso.Path) (e verso.Entry, ok bool) {
	if s.queue.Closed() {
		return e, false
	}
	if ep := s.snap.Load().tree.get(p); ep != nil {
		return *ep, true
	}
	return e, false
}
