package main

import (
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config is everything `verso serve` can be told, from flags or from the
// VERSO_* environment. DefaultConfig gives the defaults, ApplyEnv the
// environment, the flags bound by bindFlags the command line, and Validate
// checks the result before anything is opened.
type Config struct {
	// Data is the directory holding the store; the bolt file is
	// Data/verso.db. It is created if missing.
	Data string
	// ClusterConfig chooses the store (bolt or etcd) and says how to reach
	// etcd (serve_store.go).
	ClusterConfig
	// Listen is the TCP address to serve on, host:port. Port 0 picks a free
	// port; the address actually used is logged.
	Listen string
	// Mount is the URL path under which the tree is served.
	Mount string
	// MaxValueSize is the largest value a write may carry.
	MaxValueSize ByteSize
	// SVNUUID is the repository UUID svn clients see ("" for the one
	// derived from Mount).
	SVNUUID string
	// Users is an Apache htpasswd file; with it, writes need a user.
	Users string
	// Authz is a Subversion authz file of path rules.
	Authz string
	// TLSCert and TLSKey are the PEM files of the certificate to serve
	// HTTPS with; both or neither.
	TLSCert, TLSKey string
	// AllowAnonymousWrites lets anonymous requests write on a server that
	// listens beyond loopback without a users file.
	AllowAnonymousWrites bool
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// LogFormat is text or json.
	LogFormat string
	// AccessLog is where the access log goes: a file (appended to), "-"
	// for stdout, or "" for none.
	AccessLog string
	// MaxConns caps the open client connections (0: no cap).
	MaxConns int
	// MaxRequests caps the requests answered at once, watch streams and
	// long-polls aside (0: no cap).
	MaxRequests int
	// HeaderTimeout is how long a request's head may take: the first from
	// the connection's accept, a later one from its first byte (0: none).
	HeaderTimeout time.Duration
	// IdleTimeout is how long a connection may wait between requests
	// (0: none).
	IdleTimeout time.Duration
	// BodyTimeout is how long a request body may take to arrive in full,
	// from the end of its head (0: no limit).
	BodyTimeout time.Duration
	// BodyMinRate is the least a request body must average, in bytes a
	// second, once the server's grace (10 to 15s) has passed since the
	// end of its head (0: no minimum).
	BodyMinRate ByteSize
	// KeepVersions keeps each key's newest N versions and prunes older
	// ones in the background (0: keep all).
	KeepVersions int
	// KeepFor keeps the history of this long and prunes older revisions
	// in the background (0: keep all).
	KeepFor time.Duration
	// FastLane answers plain reads of keys ahead of net/http (without TLS
	// or an access log); see docs/PERFORMANCE.md.
	FastLane bool
	// FastLaneLoops is how many event loops serve the fast lane's
	// connections on Linux: 0 for half the CPUs verso may use (at least
	// one), -1 for none (a goroutine per connection).
	FastLaneLoops int
}

// DefaultConfig returns the configuration verso serve uses when told
// nothing.
func DefaultConfig() *Config {
	return &Config{
		Data:          "./verso-data",
		Listen:        "127.0.0.1:8080",
		Mount:         "/config",
		MaxValueSize:  1 << 20,
		LogLevel:      "info",
		LogFormat:     "text",
		MaxConns:      16384,
		MaxRequests:   512,
		HeaderTimeout: 10 * time.Second,
		IdleTimeout:   120 * time.Second,
		BodyTimeout:   60 * time.Second,
		BodyMinRate:   1 << 10,
		FastLane:      true,
	}
}

// dbFile is the name of the bolt file inside Config.Data.
const dbFile = "verso.db"

// The causes a ConfigError wraps.
var (
	errInvalidSize   = errors.New("want a positive size in bytes or with a unit (512KiB, 1MiB, 2MB)")
	errInvalidListen = errors.New("want host:port, such as 127.0.0.1:8080 or :8080")
	errInvalidUUID   = errors.New("want a UUID such as 1e9de237-2fe3-44ae-99f7-8b9149a9630a")
	errInvalidMount  = errors.New(`want an absolute URL path such as /config, without "..", "//" or a trailing "/"`)
	errInvalidLevel  = errors.New("want debug, info, warn or error")
	errInvalidFormat = errors.New("want text or json")
	errEmpty         = errors.New("must not be empty")
)

// ConfigError reports a setting that verso cannot use. Field is the flag's
// name (the environment variable is VERSO_ and the name in upper case, with
// _ for -).
type ConfigError struct {
	Field string // flag name: "listen", "max-value-size", ...
	Value string // the value as given
	Err   error  // why it is refused
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("invalid --%s (or %s) %q: %v", e.Field, envName(e.Field), e.Value, e.Err)
}

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// envName returns the environment variable for a flag: VERSO_MAX_VALUE_SIZE
// for max-value-size.
func envName(flag string) string {
	return "VERSO_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// setting ties one Config field to its flag.
type setting struct {
	flag  string
	usage string
	value pflag.Value // bound to the field
}

// settings lists c's fields, each as a pflag.Value writing into c.
func (c *Config) settings() []setting {
	return append(c.clusterSettings(), []setting{ // --store, --etcd-*: serve_store.go
		{"data", "`DIR` holding the store (the file DIR/" + dbFile + "); created if missing", (*stringValue)(&c.Data)},
		{"listen", "`ADDR` (host:port) to serve on; port 0 picks a free one, and the address used is logged", (*stringValue)(&c.Listen)},
		{"mount", "URL `PATH` under which the tree of keys is served", (*stringValue)(&c.Mount)},
		{"svn-uuid", "repository `UUID` svn clients see (default: derived from --mount); give a loaded repository's to keep its working copies", (*stringValue)(&c.SVNUUID)},
		{"max-value-size", "largest value a write may carry: a `SIZE` in bytes or with a unit (512KiB, 1MiB, 2MB)", &c.MaxValueSize},
		{"users", "Apache htpasswd `FILE` of users (bcrypt, apr1, SHA1; verso passwd writes it); every write then needs a user", (*stringValue)(&c.Users)},
		{"authz", "Subversion authz `FILE` of path rules ([groups], [/path], user = rw)", (*stringValue)(&c.Authz)},
		{"tls-cert", "PEM `FILE` of the certificate to serve HTTPS with (needs --tls-key)", (*stringValue)(&c.TLSCert)},
		{"tls-key", "PEM `FILE` of the certificate's private key", (*stringValue)(&c.TLSKey)},
		{"allow-anonymous-writes", "let anonymous requests write when listening beyond loopback without --users", (*boolValue)(&c.AllowAnonymousWrites)},
		{"log-level", "`LEVEL` of the least important log messages written: debug, info, warn or error", (*stringValue)(&c.LogLevel)},
		{"log-format", "log line `FORMAT`: text (key=value) or json", (*stringValue)(&c.LogFormat)},
		{"access-log", "`FILE` to append an access log to (Apache combined format, with the user), - for stdout; none if empty", (*stringValue)(&c.AccessLog)},
		{"max-conns", "most client connections open at once (`N`, 0 for no cap); idle and header-reading ones make room for new ones", (*countValue)(&c.MaxConns)},
		{"max-requests", "most requests answered at once (`N`, 0 for no cap); more get 503 (watches and long-polls aside); a request takes its place once its body (up to 64KiB) has arrived", (*countValue)(&c.MaxRequests)},
		{"header-timeout", "longest a request's head may take (`DURATION`): the first from the connection's accept, a later one from its first byte; the connection is then closed (0 for no limit)", (*durationValue)(&c.HeaderTimeout)},
		{"idle-timeout", "longest a connection may wait between requests (`DURATION`, 0 for no limit)", (*durationValue)(&c.IdleTimeout)},
		{"body-timeout", "longest a request body may take to arrive in full, from the end of its head (`DURATION`); a slower one gets 408 and its connection is closed (0 for no limit)", (*durationValue)(&c.BodyTimeout)},
		{"body-min-rate", "least a request body must average from the end of its head, after a grace of 10 to 15s (a `SIZE` a second; 0 for no minimum); a slower one gets 408 and its connection is closed", (*rateValue)(&c.BodyMinRate)},
		{"keep-versions", "keep each key's newest `N` versions, pruning older ones every minute (0 keeps all)", (*intValue)(&c.KeepVersions)},
		{"keep-for", "keep the history of the last `DURATION` (720h, 90m), pruning older revisions every minute (0 keeps all)", (*durationValue)(&c.KeepFor)},
		{"fast-lane", "answer plain GET and HEAD of keys ahead of net/http, for speed (true or false; off with TLS or --access-log)", (*boolValue)(&c.FastLane)},
		{"fast-lane-loops", "event loops serving the fast lane's connections on Linux (`N`; 0 for half the CPUs verso may use, at least one; -1 for a goroutine per connection)", (*intValue)(&c.FastLaneLoops)},
	}...)
}

// bindFlags defines one flag per field on fs, writing into c. The help shows
// c's current values as the defaults.
func (c *Config) bindFlags(fs *pflag.FlagSet) {
	for _, s := range c.settings() {
		fs.Var(s.value, s.flag, fmt.Sprintf("%s (env %s)", s.usage, envName(s.flag)))
		if _, ok := s.value.(*boolValue); ok {
			fs.Lookup(s.flag).NoOptDefVal = "true" // --flag alone sets it
		}
	}
}

// ApplyEnv sets each field whose variable (VERSO_DATA, VERSO_LISTEN,
// VERSO_MOUNT, VERSO_MAX_VALUE_SIZE, VERSO_LOG_LEVEL, VERSO_LOG_FORMAT) is
// set and not empty in getenv. A value that cannot be parsed gives a
// *ConfigError.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	for _, s := range c.settings() {
		v := getenv(envName(s.flag))
		if v == "" {
			continue
		}
		if err := s.value.Set(v); err != nil {
			return &ConfigError{Field: s.flag, Value: v, Err: err}
		}
	}
	return nil
}

// Validate checks every field and returns a *ConfigError for the first that
// verso cannot use.
func (c *Config) Validate() error {
	if c.Data == "" {
		return &ConfigError{Field: "data", Value: c.Data, Err: errEmpty}
	}
	if err := validateListen(c.Listen); err != nil {
		return &ConfigError{Field: "listen", Value: c.Listen, Err: err}
	}
	if err := validateMount(c.Mount); err != nil {
		return &ConfigError{Field: "mount", Value: c.Mount, Err: err}
	}
	if c.MaxValueSize <= 0 {
		return &ConfigError{Field: "max-value-size", Value: c.MaxValueSize.String(), Err: errInvalidSize}
	}
	if c.SVNUUID != "" && !uuidRE.MatchString(c.SVNUUID) {
		return &ConfigError{Field: "svn-uuid", Value: c.SVNUUID, Err: errInvalidUUID}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return &ConfigError{Field: "log-level", Value: c.LogLevel, Err: err}
	}
	if err := c.validateRetention(); err != nil {
		return err
	}
	if err := c.validateStore(); err != nil { // serve_store.go
		return err
	}
	if err := c.validateAccess(); err != nil { // serve_auth.go
		return err
	}
	if c.MaxConns < 0 {
		return &ConfigError{Field: "max-conns", Value: strconv.Itoa(c.MaxConns), Err: errInvalidCount}
	}
	if c.FastLaneLoops < -1 {
		return &ConfigError{Field: "fast-lane-loops", Value: strconv.Itoa(c.FastLaneLoops), Err: errInvalidLoops}
	}
	if c.MaxRequests < 0 {
		return &ConfigError{Field: "max-requests", Value: strconv.Itoa(c.MaxRequests), Err: errInvalidCount}
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"header-timeout", c.HeaderTimeout}, {"idle-timeout", c.IdleTimeout}, {"body-timeout", c.BodyTimeout}} {
		if d.v < 0 {
			return &ConfigError{Field: d.flag, Value: d.v.String(), Err: errInvalidTimeout}
		}
	}
	if c.BodyMinRate < 0 {
		return &ConfigError{Field: "body-min-rate", Value: c.BodyMinRate.String(), Err: errInvalidSize}
	}
	switch strings.ToLower(c.LogFormat) {
	case "text", "json":
	default:
		return &ConfigError{Field: "log-format", Value: c.LogFormat, Err: errInvalidFormat}
	}
	return nil
}

// validateListen accepts host:port with a numeric port; the host may be
// empty (every interface).
func validateListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errInvalidListen
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n > math.MaxUint16 {
		return errInvalidListen
	}
	return nil
}

// validateMount accepts "/" or a clean absolute path without a trailing
// slash, "." or ".." segments.
func validateMount(m string) error {
	if m == "/" {
		return nil
	}
	if !strings.HasPrefix(m, "/") || strings.HasSuffix(m, "/") || strings.ContainsAny(m, "?#\\") {
		return errInvalidMount
	}
	for _, seg := range strings.Split(m[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return errInvalidMount
		}
	}
	if strings.Contains(m, "..") {
		return errInvalidMount
	}
	return nil
}

// stringValue is a string field as a pflag.Value.
type stringValue string

func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }
func (s *stringValue) String() string     { return string(*s) }
func (s *stringValue) Type() string       { return "string" }

// ByteSize is a number of bytes, written as a plain number or with a unit:
// B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), in any
// case, with an optional space before the unit.
type ByteSize int64

var byteUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
}

// ParseByteSize parses "1048576", "512KiB", "1MiB", "2MB" and the like.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	if i < len(t) && (t[i] == '-' || t[i] == '+') {
		i++
	}
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, errInvalidSize
	}
	mult, ok := byteUnits[unit]
	if !ok {
		return 0, errInvalidSize
	}
	if n > math.MaxInt64/mult || n < math.MinInt64/mult {
		return 0, errInvalidSize
	}
	return ByteSize(n * mult), nil
}

// Set parses v (see ParseByteSize).
func (b *ByteSize) Set(v string) error {
	n, err := ParseByteSize(v)
	if err != nil {
		return err
	}
	*b = n
	return nil
}

// String writes b with the largest binary unit that divides it exactly.
func (b ByteSize) String() string {
	switch n := int64(b); {
	case n != 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n != 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n != 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	default:
		return strconv.FormatInt(n, 10)
	}
}

// Type names the flag's value in the help.
func (b *ByteSize) Type() string { return "size" }

// uuidRE matches a repository UUID.
var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
