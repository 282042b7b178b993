// Package auth decides who a request comes from and what it may do: users
// from an Apache htpasswd file (bcrypt, apr1-MD5, SHA1 and the other
// schemes Apache writes), path rules from a Subversion authz file, and the
// policy when either is missing. It is the one place where verso's server
// asks; server/access.go is its only caller.
//
// Without a rules file the policy is the one verso's ancestor had: anyone
// may read, and with a users file every write needs a valid user (without
// one, anonymous writes are allowed unless Options.DenyAnonymousWrites).
//
// Both files are re-read on SIGHUP and when they change on disk (see Run);
// a file that no longer parses leaves the previous users and rules in force
// and the reason is logged. Passwords and Authorization headers are never
// logged.
package auth

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	htpasswd "github.com/tg123/go-htpasswd"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/time/rate"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/authz"
)

// Access is a set of rights on a path.
type Access = authz.Access

// The rights a request can need.
const (
	Read  = authz.Read
	Write = authz.Write
)

// Realm is the realm of the Basic challenge verso sends with a 401.
const Realm = "verso"

// Errors of Authenticate.
var (
	// ErrBadCredentials: the request's Authorization names no user of the
	// users file, a wrong password, or is not Basic.
	ErrBadCredentials = errors.New("auth: wrong user name or password")
	// ErrTooManyFailures: the client failed to log in too often lately;
	// the error is a *LimitError saying when to try again.
	ErrTooManyFailures = errors.New("auth: too many failed logins")
)

// LimitError is returned (wrapping ErrTooManyFailures) while a client's
// failed logins are being slowed down.
type LimitError struct {
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("too many failed logins from this client; try again in %s", e.RetryAfter.Round(time.Second))
}

// Unwrap returns ErrTooManyFailures.
func (e *LimitError) Unwrap() error { return ErrTooManyFailures }

// Options configure an Auth. The zero value (or nil) gives the defaults.
type Options struct {
	// Users is the htpasswd file; "" for none, so every request is
	// anonymous.
	Users string
	// Rules is the authz file; "" for the default policy (see the package
	// documentation).
	Rules string
	// DenyAnonymousWrites refuses every write of an anonymous request,
	// whatever the rules say. verso serve sets it when it listens beyond
	// loopback without a users file.
	DenyAnonymousWrites bool
	// Logger receives reloads and failed logins; default slog.Default().
	Logger *slog.Logger
	// Poll is how often Run looks for changed files; default 2s.
	Poll time.Duration
	// FailureBurst failed logins in a row are allowed per client (IP
	// address); after that, one per FailureEvery. Defaults 10 and 1s.
	FailureBurst int
	FailureEvery time.Duration
	// Clock returns the current time (rate limits); default time.Now.
	Clock func() time.Time
}

// Auth authenticates requests and authorizes their paths. A nil *Auth lets
// everyone do everything, anonymously. Its methods are safe for concurrent
// use.
type Auth struct {
	opts  Options
	log   *slog.Logger
	state atomic.Pointer[state]

	reloadMu sync.Mutex
	tried    [2]stamp // the stamps of the files last loaded or refused

	failMu   sync.Mutex
	failures map[string]*rate.Limiter // by client IP
}

// state is what the files said at one load.
type state struct {
	users map[string]user // nil without a users file
	rules *authz.Rules    // nil without a rules file
	dummy []byte          // a bcrypt hash for unknown users, of the file's cost
	creds *credCache      // the credentials checked good lately (creds.go)
	stamp [2]stamp        // users, rules
	gen   uint64          // see Generation
}

// generations numbers the loads of every Auth.
var generations atomic.Uint64

// user is one entry of the users file.
type user struct {
	hash   htpasswd.EncodedPasswd
	bcrypt bool
}

// stamp identifies a version of a file without reading it.
type stamp struct {
	mod  time.Time
	size int64
	ok   bool
}

// New loads the files opts name. A malformed file is an error naming the
// file and line.
func New(opts *Options) (*Auth, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.FailureBurst <= 0 {
		o.FailureBurst = 10
	}
	if o.FailureEvery <= 0 {
		o.FailureEvery = time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	a := &Auth{opts: o, log: o.Logger, failures: map[string]*rate.Limiter{}}
	st, err := a.load()
	if err != nil {
		return nil, err
	}
	a.state.Store(st)
	a.tried = st.stamp
	return a, nil
}

// Generation identifies the users and rules in force: it changes whenever
// they are reloaded, so what Allowed and AllowedTree answered may be
// remembered under it. A nil Auth's is 0.
func (a *Auth) Generation() uint64 {
	if a == nil {
		return 0
	}
	return a.state.Load().gen
}

// HasUsers reports whether requests can authenticate (a users file is set).
func (a *Auth) HasUsers() bool { return a != nil && a.opts.Users != "" }

// load reads both files.
func (a *Auth) load() (*state, error) {
	st := &state{gen: generations.Add(1)}
	if a.opts.Users != "" {
		st.stamp[0] = stampOf(a.opts.Users)
		users, cost, err := readUsers(a.opts.Users)
		if err != nil {
			return nil, err
		}
		st.users = users
		st.creds = newCredCache()
		if st.dummy, err = bcrypt.GenerateFromPassword([]byte("verso: no such user"), cost); err != nil {
			return nil, fmt.Errorf("make the hash for unknown users: %w", err)
		}
	}
	if a.opts.Rules != "" {
		st.stamp[1] = stampOf(a.opts.Rules)
		rules, err := authz.ParseFile(a.opts.Rules)
		if err != nil {
			return nil, err
		}
		st.rules = rules
	}
	return st, nil
}

func stampOf(path string) stamp {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	return stamp{mod: fi.ModTime(), size: fi.Size(), ok: true}
}

// FileError is a mistake in a users file.
type FileError struct {
	File string
	Line int
	Msg  string
}

func (e *FileError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// parsers are the hash schemes a users file may use. Plain-text passwords
// (which go-htpasswd would accept for anything it does not recognise) and
// DES crypt are refused.
var parsers = []htpasswd.PasswdParser{
	htpasswd.AcceptBcrypt, htpasswd.AcceptMd5, htpasswd.AcceptSha,
	htpasswd.AcceptSsha, htpasswd.AcceptCryptSha,
}

// readUsers reads an htpasswd file: "user:hash" lines, blank lines and
// lines starting with '#'. It returns the users and the highest bcrypt
// cost among them (bcrypt.DefaultCost without bcrypt entries).
func readUsers(path string) (map[string]user, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	return parseUsers(path, f)
}

func parseUsers(name string, r io.Reader) (map[string]user, int, error) {
	users := map[string]user{}
	lines := map[string]int{}
	cost := 0
	sc := bufio.NewScanner(r)
	n := 0
	bad := func(format string, args ...any) error {
		return &FileError{File: name, Line: n, Msg: fmt.Sprintf(format, args...)}
	}
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if t := strings.TrimSpace(line); t == "" || t[0] == '#' {
			continue
		}
		// Messages never quote the hash.
		name, hash, ok := strings.Cut(line, ":")
		if !ok || name == "" || hash == "" {
			return nil, 0, bad("want user:hash")
		}
		if first, dup := lines[name]; dup {
			return nil, 0, bad("user %q appears again (first at line %d)", name, first)
		}
		var enc htpasswd.EncodedPasswd
		for _, p := range parsers {
			e, err := p(hash)
			if err != nil {
				return nil, 0, bad("user %q: malformed password hash", name)
			}
			if e != nil {
				enc = e
				break
			}
		}
		if enc == nil {
			return nil, 0, bad("user %q: unsupported password hash (want bcrypt, apr1, SHA1 or SHA-crypt; verso passwd writes bcrypt)", name)
		}
		u := user{hash: enc}
		if strings.HasPrefix(hash, "$2") {
			c, err := bcrypt.Cost([]byte(hash))
			if err != nil {
				return nil, 0, bad("user %q: malformed bcrypt hash", name)
			}
			u.bcrypt = true
			cost = max(cost, c)
		}
		users[name] = u
		lines[name] = n
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", name, err)
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	return users, cost, nil
}

// Authenticate returns the user r comes from: "" for a request without an
// Authorization header (or when no users file is set), else the user its
// Basic credentials prove. Wrong credentials give ErrBadCredentials; a
// client that failed too often lately gets a *LimitError until it may try
// again, without its password being checked.
func (a *Auth) Authenticate(r *http.Request) (string, error) {
	if a == nil || a.opts.Users == "" || r.Header.Get("Authorization") == "" {
		return "", nil
	}
	client := clientIP(r)
	now := a.opts.Clock()
	lim := a.limiter(client)
	if lim.TokensAt(now) < 1 {
		wait := lim.ReserveN(now, 1)
		after := wait.DelayFrom(now)
		wait.CancelAt(now)
		return "", &LimitError{RetryAfter: max(after, time.Second)}
	}
	name, password, ok := r.BasicAuth()
	if ok && a.check(name, password) {
		return name, nil
	}
	lim.AllowN(now, 1)
	if _, known := a.state.Load().users[name]; !ok || !known {
		name = "(unknown)" // a user name that is no user may be a mistyped password
	}
	a.log.Warn("failed login", "user", name, "client", client)
	return "", ErrBadCredentials
}

// check reports whether password is user's. Unless it checked them good
// lately (creds.go), it does one bcrypt comparison whatever happens, so a
// wrong password takes as long for a user that does not exist as for one
// that does.
func (a *Auth) check(name, password string) bool {
	st := a.state.Load()
	sum := st.creds.sum(name, password)
	if st.creds.good(sum, a.opts.Clock()) {
		return true
	}
	u, ok := st.users[name]
	if !ok || !u.bcrypt {
		bcrypt.CompareHashAndPassword(st.dummy, []byte(password))
	}
	if !ok || !u.hash.MatchesPassword(password) {
		return false
	}
	st.creds.add(sum, a.opts.Clock())
	return true
}

// clientIP is the address a request came from (without the port).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// maxClients caps how many clients' failures are remembered.
const maxClients = 10000

// limiter returns the failure budget of a client.
func (a *Auth) limiter(client string) *rate.Limiter {
	a.failMu.Lock()
	defer a.failMu.Unlock()
	if l, ok := a.failures[client]; ok {
		return l
	}
	if len(a.failures) >= maxClients {
		// Forget the clients whose budget is full again; they are the
		// same as new ones.
		now := a.opts.Clock()
		for k, l := range a.failures {
			if l.TokensAt(now) >= float64(a.opts.FailureBurst) {
				delete(a.failures, k)
			}
		}
		if len(a.failures) >= maxClients {
			for k := range a.failures {
				delete(a.failures, k)
				break
			}
		}
	}
	l := rate.NewLimiter(rate.Every(a.opts.FailureEvery), a.opts.FailureBurst)
	a.failures[client] = l
	return l
}

// Allowed reports whether user ("" for anonymous) has every right in acc
// on p.
func (a *Auth) Allowed(user string, p verso.Path, acc Access) bool {
	if a == nil {
		return true
	}
	if user == "" && acc&Write != 0 && a.opts.DenyAnonymousWrites {
		return false
	}
	st := a.state.Load()
	if st.rules != nil {
		return st.rules.Allowed(user, p, acc)
	}
	return acc&Write == 0 || st.users == nil || user != ""
}

// AllowedTree reports whether user has every right in acc on p and on
// everything below it.
func (a *Auth) AllowedTree(user string, p verso.Path, acc Access) bool {
	if a == nil {
		return true
	}
	if !a.Allowed(user, p, acc) {
		return false
	}
	if st := a.state.Load(); st.rules != nil {
		return st.rules.AllowedTree(user, p, acc)
	}
	return true
}

// Reload re-reads both files. If either cannot be read or parsed, the
// users and rules in force stay, the reason is logged, and returned.
func (a *Auth) Reload() error {
	if a == nil {
		return nil
	}
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	return a.reloadLocked()
}

func (a *Auth) reloadLocked() error {
	st, err := a.load()
	if err != nil {
		a.tried = [2]stamp{stampOf(a.opts.Users), stampOf(a.opts.Rules)}
		a.log.Error("reload users and rules: keeping the ones in force", "err", err)
		return err
	}
	a.state.Store(st)
	a.tried = st.stamp
	a.log.Info("reloaded users and rules", "users", a.opts.Users, "rules", a.opts.Rules)
	return nil
}

// changed reloads the files if either changed on disk since it was last
// loaded or refused.
func (a *Auth) changed() {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	now := [2]stamp{}
	if a.opts.Users != "" {
		now[0] = stampOf(a.opts.Users)
	}
	if a.opts.Rules != "" {
		now[1] = stampOf(a.opts.Rules)
	}
	if now != a.tried {
		a.reloadLocked()
	}
}

// Run reloads the files on each of hup and whenever they change on disk
// (checked every Options.Poll), until done is closed. verso serve passes
// the SIGHUP channel of os/signal.
func (a *Auth) Run(done <-chan struct{}, hup <-chan os.Signal) {
	if a == nil || (a.opts.Users == "" && a.opts.Rules == "") {
		return
	}
	t := time.NewTicker(a.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-hup:
			a.Reload()
		case <-t.C:
			a.changed()
		}
	}
}
