package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/dav"
)

// Lock timeouts: what a LOCK without a Timeout header gets, and the most a
// client may ask for. Locks live in the server's memory, or on a cluster
// in the store's lock table (docs/HTTP.md).
const (
	defaultLockTimeout = time.Hour
	maxLockTimeout     = 7 * 24 * time.Hour
)

// handleLock creates a lock (exclusive or shared, Depth 0 or infinity) or,
// with an empty body, refreshes the one whose token the If header names.
// Locking a path that does not exist creates an empty key there.
func (s *Server) handleLock(w http.ResponseWriter, r *http.Request, p verso.Path) error {
	timeout := lockTimeout(r.Header.Get("Timeout"))
	li, empty, err := dav.ReadLockInfo(http.MaxBytesReader(nil, r.Body, maxXMLBody))
	if err != nil {
		return xmlBodyError(err)
	}
	if empty {
		return s.refreshLock(w, r, p, timeout)
	}
	infinite := true
	switch d := r.Header.Get("Depth"); {
	case d == "" || strings.EqualFold(d, "infinity"):
	case d == "0":
		infinite = false
	default:
		return errorf(http.StatusBadRequest, "LOCK takes Depth: 0 or infinity")
	}
	if infinite {
		// An infinite lock holds off writers below p: it needs the right
		// to write there (access.go).
		if err := s.authorizeTree(r, p, Write); err != nil {
			return err
		}
	}
	cur, err := s.current(r, p)
	if err != nil {
		return err
	}
	var tokens []string
	if cur == nil {
		// Creating the empty key changes the parent's membership, which
		// a lock on the parent protects.
		pre, err := s.preconditions(r, p, nil, lockWrite{path: p, membership: true})
		if err != nil {
			return err
		}
		tokens = pre.tokens
	} else if ih := r.Header.Get("If"); ih != "" {
		if _, err := dav.ParseIfHeader(ih); err != nil {
			return errorf(http.StatusBadRequest, "malformed If header: %v", err)
		}
	}
	l, err := s.locks.Create(r.Context(), dav.Lock{Root: p, Infinite: infinite, Shared: li.Shared, Owner: li.Owner, Timeout: timeout})
	if errors.Is(err, dav.ErrLocked) {
		return errorf(http.StatusLocked, "%s is locked by another lock that conflicts with this one", s.href(p, cur != nil && cur.IsNamespace()))
	} else if err != nil {
		return err
	}
	status := http.StatusOK
	if cur == nil {
		// The key is made under the new lock: the check its commit makes
		// again, now that a lock was granted, submits the lock's token.
		lockChecksOf(r.Context()).forget()
		tokens := append(tokens, l.Token)
		err := s.checkLocks(r.Context(), func() error {
			if err := s.locks.Confirm(p, false, true, tokens); err != nil {
				return errLockedAt(s.href(p, false), err)
			}
			return nil
		})
		if err == nil {
			_, err = s.commit(w, r, "LOCK "+string(p), verso.Op{Kind: verso.OpPut, Path: p, Value: []byte{}, ContentType: "application/octet-stream", If: verso.Cond{Absent: true}})
		}
		if err != nil {
			s.locks.Unlock(context.WithoutCancel(r.Context()), p, l.Token)
			return s.explainNoParent(r, p, err)
		}
		status = http.StatusCreated
	}
	w.Header().Set("Lock-Token", "<"+l.Token+">")
	return s.writeLockResponse(w, status, l, cur != nil && cur.IsNamespace())
}

// refreshLock extends the lock whose token the If header submits.
func (s *Server) refreshLock(w http.ResponseWriter, r *http.Request, p verso.Path, timeout time.Duration) error {
	ih := r.Header.Get("If")
	if ih == "" {
		return errorf(http.StatusBadRequest, "a LOCK without a body refreshes a lock and needs its token in an If header")
	}
	ifh, err := dav.ParseIfHeader(ih)
	if err != nil {
		return errorf(http.StatusBadRequest, "malformed If header: %v", err)
	}
	// One sync for the whole If header, however many tokens it names:
	// then each is looked up in this server's copy.
	if err := s.locks.Sync(r.Context()); err != nil {
		return err
	}
	for _, tok := range ifh.Tokens() {
		old, ok := s.locks.Lookup(r.Context(), tok)
		if !ok || !old.Covers(p) {
			continue
		}
		l, err := s.locks.Refresh(r.Context(), tok, timeout)
		if errors.Is(err, dav.ErrNoSuchLock) {
			continue
		} else if err != nil {
			return err
		}
		cur, _ := s.current(r, l.Root)
		return s.writeLockResponse(w, http.StatusOK, l, cur != nil && cur.IsNamespace())
	}
	return errorf(http.StatusPreconditionFailed, "no lock submitted in the If header covers %s", s.href(p, false))
}

func (s *Server) writeLockResponse(w http.ResponseWriter, status int, l dav.Lock, namespace bool) error {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?>` + "\n" +
		`<D:prop xmlns:D="DAV:"><D:lockdiscovery>` + dav.ActiveLockXML(l, s.href(l.Root, namespace), s.now()) +
		`</D:lockdiscovery></D:prop>`))
	return err
}

// lockTimeout reads a Timeout header ("Second-N, Infinite", first usable
// value wins), capped at maxLockTimeout.
func lockTimeout(h string) time.Duration {
	for _, v := range strings.Split(h, ",") {
		v = strings.TrimSpace(v)
		if strings.EqualFold(v, "Infinite") {
			return maxLockTimeout
		}
		if n, ok := strings.CutPrefix(v, "Second-"); ok {
			if secs, err := strconv.ParseInt(n, 10, 64); err == nil && secs > 0 {
				return min(time.Duration(secs)*time.Second, maxLockTimeout)
			}
		}
	}
	return defaultLockTimeout
}

// handleUnlock removes the lock named by the Lock-Token header: 204.
func (s *Server) handleUnlock(w http.ResponseWriter, r *http.Request, p verso.Path) error {
	tok := strings.TrimSpace(r.Header.Get("Lock-Token"))
	if len(tok) < 3 || tok[0] != '<' || tok[len(tok)-1] != '>' {
		return errorf(http.StatusBadRequest, "UNLOCK needs a Lock-Token header: <token>")
	}
	if err := s.locks.Unlock(r.Context(), p, tok[1:len(tok)-1]); errors.Is(err, dav.ErrNoSuchLock) {
		return errorf(http.StatusConflict, "no lock with token %s covers %s", tok, s.href(p, false))
	} else if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// removeLocks drops the locks rooted at p or below it, after p was deleted
// or moved away. The write is done: a failure (of a cluster's lock table)
// is logged, and the locks stay until they expire or are unlocked.
func (s *Server) removeLocks(r *http.Request, p verso.Path) {
	if err := s.locks.RemoveSubtree(context.WithoutCancel(r.Context()), p); err != nil {
		s.log.Error("verso: drop the locks of a deleted path", "path", string(p), "err", err)
	}
}
