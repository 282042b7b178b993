package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/etcd"
	"github.com/verso-config/verso/server"
	"github.com/verso-config/verso/ui"
)

// Limits of the HTTP server (the timeouts are flags: config.go).
const (
	maxHeaderBytes  = 64 << 10
	shutdownTimeout = 10 * time.Second // in-flight requests get this long to finish
)

func newServeCommand(getenv func(string) string) *cobra.Command {
	cfg := DefaultConfig()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the verso service",
		Long: `Serve runs verso: it opens the store in the data directory (creating it if
needed) and serves the tree of keys over HTTP and WebDAV under the mount
point, until it gets SIGINT or SIGTERM. Then it lets requests in flight finish
(for at most 10 seconds), closes the store and exits 0.

Every flag can also be set in the environment as VERSO_ and the flag's name in
upper case with _ for - (VERSO_DATA, VERSO_LISTEN, VERSO_USERS,
VERSO_KEEP_VERSIONS, VERSO_STORE, VERSO_ETCD_ENDPOINTS, ...); a flag wins over
its variable. The etcd password comes only from VERSO_ETCD_PASSWORD. Logs go
to stderr. Only one verso at a time may use a data directory.

With --users, anyone may read and every write needs a user from that htpasswd
file; --authz adds Subversion-style path rules. With --store etcd, any number
of verso servers share one etcd cluster (docs/CLUSTER.md). SIGHUP re-reads the
users and rules files.`,
		Example: `  # serve ./verso-data on 127.0.0.1:8080 under /config
  verso serve

  # another directory, any free port, JSON logs
  verso serve --data /var/lib/verso --listen 127.0.0.1:0 --log-format json

  # the same through the environment
  VERSO_DATA=/var/lib/verso VERSO_MAX_VALUE_SIZE=4MiB verso serve`,
		Args: commandArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := loadConfig(cmd.Flags(), cfg, getenv); err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, cmd.ErrOrStderr())
		},
	}
	cfg.bindFlags(cmd.Flags())
	return cmd
}

// loadConfig completes cfg, which holds the defaults overridden by the flags
// set in fs, with the environment for every flag not set, and validates the
// result.
func loadConfig(fs *pflag.FlagSet, cfg *Config, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) { given[envName(f.Name)] = true })
	err := cfg.ApplyEnv(func(name string) string {
		if given[name] {
			return "" // the flag wins
		}
		return getenv(name)
	})
	if err != nil {
		return err
	}
	cfg.EtcdPassword = getenv(etcdPasswordEnv) // never a flag (serve_store.go)
	return cfg.Validate()
}

// serve runs the service described by cfg until ctx ends, logging to w.
func serve(ctx context.Context, cfg *Config, w io.Writer) error {
	log := newLogger(cfg, w)
	access, err := newAccess(cfg, log) // users and rules (serve_auth.go)
	if err != nil {
		return err
	}
	tlsCfg, err := tlsConfig(cfg)
	if err != nil {
		return err
	}

	var (
		store       verso.Store
		dbPath      string // where the store is, for logs and errors
		stopPruning = func() {}
	)
	switch cfg.Store {
	case storeEtcd: // the cluster store: many servers share one etcd cluster (docs/CLUSTER.md)
		opts, err := cfg.etcdOptions(log)
		if err != nil {
			return err
		}
		dbPath = "etcd " + strings.Join(opts.Endpoints, ",") + " prefix " + opts.Prefix
		es, err := etcd.Open(ctx, opts)
		if err != nil {
			return fmt.Errorf("open store on %s: %w", dbPath, err)
		}
		// Every server prunes (docs/CLUSTER.md): the etcd store runs
		// their pruning steps one at a time.
		stopPruning = startPruning(es, cfg.Retention(), pruneInterval, log)
		store = es
	default: // bolt, the embedded store: one file in the data directory
		if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		unlock, err := lockDataDir(cfg.Data)
		if err != nil {
			return err
		}
		defer unlock()

		dbPath = filepath.Join(cfg.Data, dbFile)
		if abs, err := filepath.Abs(dbPath); err == nil {
			dbPath = abs
		}
		bs, err := bolt.Open(dbPath, &bolt.Options{Logger: log})
		if err != nil {
			return fmt.Errorf("open store %s: %w", dbPath, err)
		}
		stopPruning = startPruning(bs, cfg.Retention(), pruneInterval, log)
		store = bs
		// Loading the tree into memory left garbage behind (decoding
		// buffers): hand it back before serving (docs/PERFORMANCE.md).
		debug.FreeOSMemory()
	}
	closeStore := func() error {
		stopPruning()
		if err := store.Close(); err != nil {
			return fmt.Errorf("close store %s: %w", dbPath, err)
		}
		return nil
	}
	head, err := store.Head(ctx)
	if err != nil {
		return errors.Join(fmt.Errorf("read head revision: %w", err), closeStore())
	}

	accessLog, closeAccessLog, err := openAccessLog(cfg.AccessLog, os.Stdout)
	if err != nil {
		return errors.Join(err, closeStore())
	}
	defer closeAccessLog()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return errors.Join(err, closeStore())
	}
	srv := &http.Server{
		Handler: server.New(store, &server.Options{
			Mount:        cfg.Mount,
			MaxValueSize: int64(cfg.MaxValueSize),
			SVNUUID:      cfg.SVNUUID,
			Logger:       log,
			Auth:         access,
			AccessLog:    accessLog,
			MaxRequests:  cfg.MaxRequests,
			Console:      console(cfg.Mount),
			BodyTimeout:  offIfZero(cfg.BodyTimeout),
			BodyMinRate:  offIfZero(int64(cfg.BodyMinRate)),
		}),
		ReadHeaderTimeout: cfg.HeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig:         tlsCfg,
	}
	if h, ok := srv.Handler.(*server.Server); ok {
		srv.RegisterOnShutdown(h.Close) // ends watch streams, which Shutdown would wait for
	}
	if h, ok := srv.Handler.(*server.Server); ok {
		lim := h.Listener(ln, connCap(cfg.MaxConns, openFileLimit(), log)) // makes room by closing idle and header-reading connections first
		srv.ConnState, srv.ConnContext = lim.ConnState, lim.ConnContext
		ln = lim
	}
	// The fast lane answers plain reads of keys without net/http's
	// per-request cost and hands every other connection to srv
	// (docs/PERFORMANCE.md). It serves plain TCP only, and its answers are
	// not in the access log.
	var front *server.Front
	if h, ok := srv.Handler.(*server.Server); ok && cfg.FastLane && tlsCfg == nil && cfg.AccessLog == "" {
		front = server.NewFront(h, srv)
		front.Loops = cfg.FastLaneLoops
	}
	addr := ln.Addr().String()
	log.Info("listening", "addr", addr, "mount", cfg.Mount, "data", dbPath, "revision", int64(head))
	for _, msg := range accessWarnings(cfg, addr) { // serve_auth.go
		log.Warn(msg, "addr", addr)
	}
	if tlsCfg != nil {
		log.Info("serving HTTPS", "cert", cfg.TLSCert)
	}
	go reloadAccess(ctx, access)

	served := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			served <- srv.ServeTLS(ln, "", "") // the certificate is in srv.TLSConfig
			return
		}
		if front != nil {
			served <- front.Serve(ln)
			return
		}
		served <- srv.Serve(ln)
	}()
	select {
	case err := <-served:
		return errors.Join(fmt.Errorf("serve %s: %w", addr, err), closeStore())
	case <-ctx.Done():
	}

	log.Info("stopping", "reason", context.Cause(ctx).Error())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	shutdown, closeAll := srv.Shutdown, srv.Close
	if front != nil {
		shutdown, closeAll = front.Shutdown, front.Close
	}
	if err := shutdown(sctx); err != nil {
		log.Warn("requests still running at the deadline; closing their connections", "timeout", shutdownTimeout, "err", err)
		closeAll()
	}
	head, err = store.Head(context.Background())
	if err != nil {
		return errors.Join(fmt.Errorf("read head revision: %w", err), closeStore())
	}
	if err := closeStore(); err != nil {
		return err
	}
	log.Info("stopped cleanly", "revision", int64(head))
	return nil
}

// isLoopback reports whether addr (host:port) is reachable only from this
// host.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// console is the web console under /ui/ (package ui), or nil when the tree
// is mounted at the root, where /ui/ is a path of the tree.
func console(mount string) http.Handler {
	if mount == "/" || mount == "" {
		return nil
	}
	return ui.Handler(mount)
}

// offIfZero turns a flag's 0 (no limit) into the server.Options value
// that says so (negative; 0 there means the default).
func offIfZero[T ~int64](v T) T {
	if v == 0 {
		return -1
	}
	return v
}

// fileReserve is how many open files verso keeps for itself (the store,
// logs, the users and rules files, its etcd client) below the limit on
// open files when it caps client connections.
const fileReserve = 256

// connCap is the cap on client connections for --max-conns n under a
// limit of nofile open files (0: unknown): n, lowered to leave fileReserve
// files free, with a warning, so that the cap and not a failing accept is
// what slow clients meet.
func connCap(n, nofile int, log *slog.Logger) int {
	if nofile <= 0 || n == 0 || n <= nofile-fileReserve {
		return n
	}
	c := max(nofile-fileReserve, 1)
	log.Warn("--max-conns is above what the limit on open files allows: lowered; raise the limit (ulimit -n, systemd LimitNOFILE=) to allow more",
		"max-conns", n, "open-file-limit", nofile, "cap", c)
	return c
}
