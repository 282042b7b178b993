package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/verso-config/verso/auth"
)

// Access settings of verso serve: users, rules, TLS and the safe default
// for anonymous writes.

var errTLSPair = errors.New("give both --tls-cert and --tls-key, or neither")

// validateAccess checks the access settings that can be checked without
// reading the files (serve reads them, and a malformed one stops it).
func (c *Config) validateAccess() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		field, value := "tls-key", c.TLSKey
		if c.TLSCert == "" {
			field, value = "tls-cert", c.TLSCert
		}
		return &ConfigError{Field: field, Value: value, Err: errTLSPair}
	}
	return nil
}

// denyAnonymousWrites decides the safe default: a server that listens
// beyond loopback (listen is host:port) without a users file refuses
// anonymous writes, unless told --allow-anonymous-writes. With a users file,
// writes need a user anyway (unless the rules say otherwise).
func denyAnonymousWrites(cfg *Config, listen string) bool {
	return cfg.Users == "" && !cfg.AllowAnonymousWrites && !isLoopback(listen)
}

// accessWarnings returns what verso serve says at start about who can do
// what on a server listening on addr.
func accessWarnings(cfg *Config, addr string) []string {
	if isLoopback(addr) {
		return nil
	}
	var out []string
	switch {
	case cfg.Users == "" && cfg.AllowAnonymousWrites:
		out = append(out, "listening beyond this host with no users file and --allow-anonymous-writes: anyone who can reach it can change every key the rules allow")
	case cfg.Users == "":
		out = append(out, "listening beyond this host with no users file: anonymous writes are refused (give --users FILE, or --allow-anonymous-writes to allow them)")
	}
	if cfg.Users != "" && cfg.TLSCert == "" {
		out = append(out, "Basic authentication over plain HTTP beyond this host: passwords cross the network readable (give --tls-cert and --tls-key)")
	}
	return out
}

// newAccess loads the users and rules files cfg names. A malformed file
// stops verso serve, naming the file and line.
func newAccess(cfg *Config, log *slog.Logger) (*auth.Auth, error) {
	a, err := auth.New(&auth.Options{
		Users:               cfg.Users,
		Rules:               cfg.Authz,
		DenyAnonymousWrites: denyAnonymousWrites(cfg, cfg.Listen),
		Logger:              log,
	})
	if err != nil {
		return nil, fmt.Errorf("load users and rules: %w", err)
	}
	return a, nil
}

// reloadAccess re-reads the users and rules files on SIGHUP and when they
// change on disk, until ctx ends.
func reloadAccess(ctx context.Context, a *auth.Auth) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	a.Run(ctx.Done(), hup)
}

// tlsConfig loads the certificate and key cfg names, or returns nil without
// them.
func tlsConfig(cfg *Config) (*tls.Config, error) {
	if cfg.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// boolValue is a bool field as a pflag.Value; bindFlags lets it be given
// without a value.
type boolValue bool

func (b *boolValue) Set(v string) error {
	x, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true or false")
	}
	*b = boolValue(x)
	return nil
}
func (b *boolValue) String() string { return strconv.FormatBool(bool(*b)) }
func (b *boolValue) Type() string   { return "bool" }
