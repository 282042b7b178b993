package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// A password hash is slow on purpose (bcrypt at verso passwd's cost takes
// tens of milliseconds of CPU), and HTTP Basic clients send the password
// with every request: svn sends it with each of the five or more requests
// of one commit. So credentials that proved good are remembered, for
// credTTL after they were checked, and the next requests that bring them
// cost one HMAC. Only good credentials are remembered: a wrong password is
// checked, and counted against its client, every time. What is remembered
// is an HMAC of the user and password under a key made at random for each
// load of the users file, so a reload (a changed password, a removed
// user) forgets every one of them at once.
const (
	credTTL = 5 * time.Minute
	credMax = 10000 // credentials remembered at most
)

// credCache remembers the credentials checked good lately, for one load
// of the users file.
type credCache struct {
	key [32]byte
	mu  sync.Mutex
	m   map[[32]byte]time.Time // by sum: when the credentials were checked
}

func newCredCache() *credCache {
	c := &credCache{m: map[[32]byte]time.Time{}}
	rand.Read(c.key[:])
	return c
}

// sum returns the key credentials are remembered by.
func (c *credCache) sum(name, password string) (s [32]byte) {
	mac := hmac.New(sha256.New, c.key[:])
	mac.Write(binary.BigEndian.AppendUint64(nil, uint64(len(name)))) // no two pairs alike
	mac.Write([]byte(name))
	mac.Write([]byte(password))
	mac.Sum(s[:0])
	return s
}

// good reports whether the credentials of sum were checked good less than
// credTTL before now.
func (c *credCache) good(sum [32]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.m[sum]
	if ok && (now.Sub(at) >= credTTL || now.Before(at)) {
		delete(c.m, sum)
		return false
	}
	return ok
}

// add remembers that the credentials of sum were checked good at now.
func (c *credCache) add(sum [32]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= credMax {
		for k, at := range c.m {
			if now.Sub(at) >= credTTL || now.Before(at) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= credMax {
			clear(c.m)
		}
	}
	c.m[sum] = now
}
