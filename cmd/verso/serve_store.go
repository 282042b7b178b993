package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/verso-config/verso/etcd"
)

// The stores verso serve can run on (--store).
const (
	storeBolt = "bolt" // the embedded store: one file in --data
	storeEtcd = "etcd" // the cluster store: an etcd cluster, many servers
)

// ClusterConfig is the part of Config that chooses the store and, for the
// cluster store, says how to reach etcd. See docs/CLUSTER.md. Its zero
// value is the embedded bolt store.
type ClusterConfig struct {
	// Store is bolt or etcd; empty means bolt.
	Store string
	// EtcdEndpoints are the etcd members' client URLs, comma-separated.
	EtcdEndpoints string
	// EtcdPrefix is put before every key verso keeps in etcd; empty means
	// /verso/.
	EtcdPrefix string
	// EtcdCert and EtcdKey are a client certificate and its key (PEM
	// files) for etcd's TLS; EtcdCA is the CA that signed etcd's
	// certificates.
	EtcdCert, EtcdKey, EtcdCA string
	// EtcdUser is the etcd user; the password comes from the environment
	// (VERSO_ETCD_PASSWORD) only, never from a flag that ps would show.
	EtcdUser string
	// EtcdPassword is set from VERSO_ETCD_PASSWORD.
	EtcdPassword string
}

// etcdPasswordEnv holds the password of EtcdUser.
const etcdPasswordEnv = "VERSO_ETCD_PASSWORD"

// clusterSettings are the flags of ClusterConfig.
func (c *ClusterConfig) clusterSettings() []setting {
	return []setting{
		{"store", "`STORE` to keep the tree in: bolt (the default: one file in --data, one server) or etcd (an etcd cluster shared by many servers; see --etcd-endpoints)", (*stringValue)(&c.Store)},
		{"etcd-endpoints", "`URLS` of the etcd members for --store etcd, comma-separated (http://10.0.0.1:2379,http://10.0.0.2:2379)", (*stringValue)(&c.EtcdEndpoints)},
		{"etcd-prefix", "key `PREFIX` under which verso keeps its data in etcd (default /verso/); servers sharing a prefix share one tree", (*stringValue)(&c.EtcdPrefix)},
		{"etcd-cert", "client certificate `FILE` (PEM) for etcd's TLS", (*stringValue)(&c.EtcdCert)},
		{"etcd-key", "key `FILE` (PEM) of --etcd-cert", (*stringValue)(&c.EtcdKey)},
		{"etcd-ca", "CA certificate `FILE` (PEM) that signed the etcd members' certificates", (*stringValue)(&c.EtcdCA)},
		{"etcd-user", "etcd `USER` when etcd's auth is on; the password is read from " + etcdPasswordEnv, (*stringValue)(&c.EtcdUser)},
	}
}

var (
	errInvalidStore     = errors.New("want bolt or etcd")
	errInvalidEndpoints = errors.New("want comma-separated http:// or https:// URLs of etcd members")
	errCertWithoutKey   = errors.New("--etcd-cert and --etcd-key go together")
	errEtcdOnly         = errors.New("applies to --store etcd only")
)

// validateStore checks the store settings.
func (c *Config) validateStore() error {
	switch c.Store {
	case "", storeBolt:
		if c.EtcdEndpoints != "" {
			return &ConfigError{Field: "etcd-endpoints", Value: c.EtcdEndpoints, Err: errEtcdOnly}
		}
		return nil
	case storeEtcd:
	default:
		return &ConfigError{Field: "store", Value: c.Store, Err: errInvalidStore}
	}
	if _, err := c.etcdEndpoints(); err != nil {
		return &ConfigError{Field: "etcd-endpoints", Value: c.EtcdEndpoints, Err: err}
	}
	if (c.EtcdCert == "") != (c.EtcdKey == "") {
		return &ConfigError{Field: "etcd-cert", Value: c.EtcdCert, Err: errCertWithoutKey}
	}
	return nil
}

// etcdEndpoints splits and checks EtcdEndpoints.
func (c *ClusterConfig) etcdEndpoints() ([]string, error) {
	var out []string
	for _, e := range strings.Split(c.EtcdEndpoints, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errInvalidEndpoints
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, errInvalidEndpoints
	}
	return out, nil
}

// etcdOptions turns the settings into the cluster store's options, reading
// the TLS files.
func (c *ClusterConfig) etcdOptions(log *slog.Logger) (*etcd.Options, error) {
	endpoints, err := c.etcdEndpoints()
	if err != nil {
		return nil, &ConfigError{Field: "etcd-endpoints", Value: c.EtcdEndpoints, Err: err}
	}
	o := &etcd.Options{
		Endpoints: endpoints,
		Prefix:    c.EtcdPrefix,
		Username:  c.EtcdUser,
		Password:  c.EtcdPassword,
		Logger:    log,
	}
	if c.EtcdCert != "" || c.EtcdCA != "" || strings.Contains(c.EtcdEndpoints, "https://") {
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if c.EtcdCert != "" {
			cert, err := tls.LoadX509KeyPair(c.EtcdCert, c.EtcdKey)
			if err != nil {
				return nil, fmt.Errorf("load etcd client certificate: %w", err)
			}
			o.TLS.Certificates = []tls.Certificate{cert}
		}
		if c.EtcdCA != "" {
			pem, err := os.ReadFile(c.EtcdCA)
			if err != nil {
				return nil, fmt.Errorf("read etcd CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("read etcd CA %s: no PEM certificate in it", c.EtcdCA)
			}
			o.TLS.RootCAs = pool
		}
	}
	return o, nil
}
