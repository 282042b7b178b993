package auth_test

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/auth"
)

// apr1Carol is `openssl passwd -apr1 -salt verso123 carol-pw`.
const apr1Carol = "$apr1$verso123$zUAGzevFU78/Ezrvgtnnh."

// usersFile writes an htpasswd file with one user of each scheme: alice
// (bcrypt), bob (SHA1) and carol (apr1); each one's password is NAME-pw.
func usersFile(t *testing.T, dir string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte("bob-pw"))
	text := "# verso users\nalice:" + string(h) + "\n\nbob:{SHA}" + base64.StdEncoding.EncodeToString(sum[:]) + "\r\ncarol:" + apr1Carol + "\n"
	return writeFile(t, dir, "users", text)
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func request(user, password string) *http.Request {
	r, _ := http.NewRequest("GET", "http://verso/config/", nil)
	r.RemoteAddr = "192.0.2.7:5555"
	if user != "" || password != "" {
		r.SetBasicAuth(user, password)
	}
	return r
}

func TestAuth_Authenticate(t *testing.T) {
	a, err := auth.New(&auth.Options{Users: usersFile(t, t.TempDir()), FailureBurst: 100})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tests := []struct {
		user, password string
		want           string
		err            error
	}{
		{"", "", "", nil},
		{"alice", "alice-pw", "alice", nil},
		{"bob", "bob-pw", "bob", nil},
		{"carol", "carol-pw", "carol", nil},
		{"alice", "bob-pw", "", auth.ErrBadCredentials},
		{"carol", "carol-pw ", "", auth.ErrBadCredentials},
		{"dave", "dave-pw", "", auth.ErrBadCredentials},
		{"", "alice-pw", "", auth.ErrBadCredentials},
	}
	for _, tt := range tests {
		got, err := a.Authenticate(request(tt.user, tt.password))
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("Authenticate(%q, %q) = %q, %v; want %q, %v", tt.user, tt.password, got, err, tt.want, tt.err)
		}
	}
	r := request("", "")
	r.Header.Set("Authorization", "Bearer token")
	if _, err := a.Authenticate(r); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("Authenticate(Bearer) = %v, want ErrBadCredentials", err)
	}
}

func TestAuth_NoUsersFile(t *testing.T) {
	a, err := auth.New(nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, err := a.Authenticate(request("alice", "x")); got != "" || err != nil {
		t.Errorf("Authenticate without a users file = %q, %v; want anonymous", got, err)
	}
	if !a.Allowed("", "/k", auth.Write) {
		t.Errorf("Allowed(anonymous, write) = false without files, want true")
	}
	var none *auth.Auth
	if !none.Allowed("", "/k", auth.Write) || !none.AllowedTree("", "/", auth.Write) {
		t.Errorf("a nil *Auth refuses something, want it to allow everything")
	}
}

func TestAuth_Policy(t *testing.T) {
	dir := t.TempDir()
	users := usersFile(t, dir)
	rules := writeFile(t, dir, "authz", "[/]\n* = r\n$authenticated = rw\n[/secret]\n* =\nalice = rw\n")
	tests := []struct {
		name string
		opts auth.Options
		user string
		path verso.Path
		acc  auth.Access
		want bool
	}{
		{"users: anonymous reads", auth.Options{Users: users}, "", "/k", auth.Read, true},
		{"users: anonymous may not write", auth.Options{Users: users}, "", "/k", auth.Write, false},
		{"users: a user writes", auth.Options{Users: users}, "bob", "/k", auth.Write, true},
		{"no users, loopback: anyone writes", auth.Options{}, "", "/k", auth.Write, true},
		{"no users, beyond loopback: anonymous reads", auth.Options{DenyAnonymousWrites: true}, "", "/k", auth.Read, true},
		{"no users, beyond loopback: no anonymous writes", auth.Options{DenyAnonymousWrites: true}, "", "/k", auth.Write, false},
		{"rules: secret hidden", auth.Options{Users: users, Rules: rules}, "bob", "/secret/k", auth.Read, false},
		{"rules: alice writes secret", auth.Options{Users: users, Rules: rules}, "alice", "/secret/k", auth.Write, true},
		{"rules: anonymous reads", auth.Options{Users: users, Rules: rules}, "", "/k", auth.Read, true},
		{"rules with deny: anonymous never writes", auth.Options{Rules: writeFile(t, dir, "open", "[/]\n* = rw\n"), DenyAnonymousWrites: true}, "", "/k", auth.Write, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := auth.New(&tt.opts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := a.Allowed(tt.user, tt.path, tt.acc); got != tt.want {
				t.Errorf("Allowed(%q, %q, %v) = %t, want %t", tt.user, tt.path, tt.acc, got, tt.want)
			}
		})
	}
	a, err := auth.New(&auth.Options{Users: users, Rules: rules})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if a.AllowedTree("bob", verso.Root, auth.Write) || !a.AllowedTree("alice", verso.Root, auth.Write) {
		t.Errorf("AllowedTree(/, write): bob %t, alice %t; want false, true",
			a.AllowedTree("bob", verso.Root, auth.Write), a.AllowedTree("alice", verso.Root, auth.Write))
	}
}

func TestNew_MalformedFiles(t *testing.T) {
	dir := t.TempDir()
	good := usersFile(t, dir)
	tests := []struct {
		name string
		opts auth.Options
		want string
	}{
		{"users without a colon", auth.Options{Users: writeFile(t, dir, "u1", "# c\nalice\n")}, "u1:2: want user:hash"},
		{"plain-text password", auth.Options{Users: writeFile(t, dir, "u2", "alice:secret\n")}, "u2:1: user \"alice\": unsupported password hash"},
		{"bad SHA1", auth.Options{Users: writeFile(t, dir, "u3", "\n\nbob:{SHA}!!!\n")}, "u3:3: user \"bob\": malformed password hash"},
		{"duplicate user", auth.Options{Users: writeFile(t, dir, "u4", "carol:"+apr1Carol+"\ncarol:"+apr1Carol+"\n")}, "u4:2: user \"carol\" appears again"},
		{"bad rules", auth.Options{Users: good, Rules: writeFile(t, dir, "authz", "[/]\n* = x\n")}, "authz:2:"},
		{"missing users file", auth.Options{Users: filepath.Join(dir, "none")}, "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.New(&tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "!!!") {
				t.Errorf("New = %q: the error quotes a password or hash", err)
			}
		})
	}
}

func TestAuth_RateLimit(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a, err := auth.New(&auth.Options{Users: usersFile(t, t.TempDir()), FailureBurst: 3, FailureEvery: 10 * time.Second, Clock: clock})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for i := range 3 {
		if _, err := a.Authenticate(request("alice", "guess")); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("failed login %d = %v, want ErrBadCredentials", i+1, err)
		}
	}
	_, err = a.Authenticate(request("alice", "alice-pw"))
	var le *auth.LimitError
	if !errors.As(err, &le) || !errors.Is(err, auth.ErrTooManyFailures) || le.RetryAfter <= 0 || le.RetryAfter > 10*time.Second {
		t.Fatalf("login after 3 failures = %v, want a *LimitError with RetryAfter in (0, 10s]", err)
	}
	other := request("alice", "alice-pw")
	other.RemoteAddr = "198.51.100.1:1"
	if got, err := a.Authenticate(other); got != "alice" || err != nil {
		t.Errorf("login from another client = %q, %v; want alice", got, err)
	}
	if got, err := a.Authenticate(request("", "")); got != "" || err != nil {
		t.Errorf("anonymous request from the slowed client = %q, %v; want anonymous, no error", got, err)
	}
	mu.Lock()
	now = now.Add(10 * time.Second)
	mu.Unlock()
	if got, err := a.Authenticate(request("alice", "alice-pw")); got != "alice" || err != nil {
		t.Errorf("login 10s later = %q, %v; want alice", got, err)
	}
}

func TestAuth_Reload(t *testing.T) {
	dir := t.TempDir()
	users := usersFile(t, dir)
	rules := writeFile(t, dir, "authz", "[/]\n* = r\n")
	a, err := auth.New(&auth.Options{Users: users, Rules: rules, Poll: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	done := make(chan struct{})
	hup := make(chan os.Signal, 1)
	finished := make(chan struct{})
	go func() { a.Run(done, hup); close(finished) }()
	defer func() { close(done); <-finished }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("after 5s: %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if a.Allowed("bob", "/k", auth.Write) {
		t.Fatalf("bob may write before the change")
	}
	first := a.Generation()
	writeFile(t, dir, "authz", "[/]\n* = r\nbob = rw\n")
	waitFor("bob may write once the rules say so", func() bool { return a.Allowed("bob", "/k", auth.Write) })
	if a.Generation() == first {
		t.Errorf("generation %d unchanged by a reload", first)
	}
	if (*auth.Auth)(nil).Generation() != 0 {
		t.Errorf("a nil Auth's generation is not 0")
	}

	// A broken file keeps the rules in force, and Reload says why; the
	// generation stays, as the rules do.
	gen := a.Generation()
	writeFile(t, dir, "authz", "[/]\nbob = rw\n@nogroup = r\n")
	if err := a.Reload(); err == nil || !strings.Contains(err.Error(), "authz:3:") {
		t.Errorf("Reload of a broken file = %v, want an error naming authz:3", err)
	}
	if a.Generation() != gen {
		t.Errorf("generation moved from %d to %d on a broken reload", gen, a.Generation())
	}
	time.Sleep(30 * time.Millisecond) // a few polls
	if !a.Allowed("bob", "/k", auth.Write) || !a.Allowed("", "/k", auth.Read) {
		t.Errorf("after a broken reload the old rules are gone")
	}

	// A new user, on SIGHUP (the file's stamp may not change within the
	// clock's resolution, so the signal is what makes it happen).
	h, _ := bcrypt.GenerateFromPassword([]byte("dave-pw"), bcrypt.MinCost)
	old, _ := os.ReadFile(users)
	writeFile(t, dir, "authz", "[/]\n* = r\n$authenticated = rw\n")
	if err := os.WriteFile(users, append(old, []byte("dave:"+string(h)+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	hup <- os.Interrupt
	waitFor("dave can log in", func() bool {
		u, _ := a.Authenticate(request("dave", "dave-pw"))
		return u == "dave"
	})
}

// TestAuth_RememberedCredentials checks the credentials remembered once
// they proved good: a wrong password is still refused, a reload of the
// users file forgets them (a changed password no longer works), and they
// are checked again once they are old.
func TestAuth_RememberedCredentials(t *testing.T) {
	dir := t.TempDir()
	users := usersFile(t, dir)
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a, err := auth.New(&auth.Options{Users: users, FailureBurst: 100, Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	login := func(user, password, want string) {
		t.Helper()
		got, err := a.Authenticate(request(user, password))
		if got != want || (want == "") != (err != nil) {
			t.Errorf("Authenticate(%q, %q) = %q, %v; want %q", user, password, got, err, want)
		}
	}
	for range 3 {
		login("alice", "alice-pw", "alice")
		login("bob", "bob-pw", "bob")
		login("alice", "alice-pw ", "")
		login("alice", "bob-pw", "")
		login("bob", "alice-pw", "")
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	login("alice", "alice-pw", "alice")

	h, err := bcrypt.GenerateFromPassword([]byte("new-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "users", "alice:"+string(h)+"\n")
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	login("alice", "alice-pw", "")
	login("bob", "bob-pw", "")
	login("alice", "new-pw", "alice")
}

// BenchmarkAuthenticate measures a request with the Basic credentials of a
// user whose password is a bcrypt hash of verso passwd's cost, as each of
// an svn commit's requests brings them.
func BenchmarkAuthenticate(b *testing.B) {
	h, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.DefaultCost)
	if err != nil {
		b.Fatal(err)
	}
	users := filepath.Join(b.TempDir(), "users")
	if err := os.WriteFile(users, []byte("alice:"+string(h)+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	a, err := auth.New(&auth.Options{Users: users})
	if err != nil {
		b.Fatal(err)
	}
	r := request("alice", "alice-pw")
	for b.Loop() {
		if u, err := a.Authenticate(r); u != "alice" || err != nil {
			b.Fatal(u, err)
		}
	}
}
