package svn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/svnfs"
)

// An open transaction is the result of the records made of it, in order:
// each request that changes it (commit.go) checks what it asks against the
// transaction and the store, then makes one record (txnRec) of the
// outcome, which apply adds to the transaction.
//
// On a store that one process serves (bolt), a transaction lives in that
// process's memory and its records are applied as they are made. On a
// store that several servers share (verso.Journals: etcd), every record is
// first appended to the transaction's journal in the store, so that the
// next request may reach any server: each server keeps the transactions
// it has served in memory, as far as it has read their journals. The
// append of record n succeeds for one server only; one that finds record n
// made already (by another server) reads the records it missed and
// answers the request again, checked against the whole transaction.

// txn is one open transaction.
type txn struct {
	mu      sync.Mutex
	name    string
	journal string // its journal's id, on a shared store
	seq     int    // the records applied
	merging bool   // a MERGE is committing it
	user    string
	base    verso.Revision // the head when it was opened
	log     string
	used    time.Time // of this server's last request to it
	ops     []verso.Op
	bytes   int64
	added   map[verso.Path]bool   // paths made in this transaction (MKCOL, COPY, new keys)
	deleted map[verso.Path]int    // paths deleted, by the index of their OpDelete
	values  map[verso.Path][]byte // keys written in this transaction
	copies  map[verso.Path]copySource
	tokens  []string // lock tokens the client submitted
}

func newTxn() *txn {
	return &txn{used: time.Now(), added: map[verso.Path]bool{}, deleted: map[verso.Path]int{},
		values: map[verso.Path][]byte{}, copies: map[verso.Path]copySource{}}
}

// copySource is where a path copied in a transaction came from.
type copySource struct {
	path verso.Path
	rev  verso.Revision
}

// The kinds of records.
const (
	recOpen    = "open"    // Name, User, Base, Log
	recUser    = "user"    // User: the first user to continue an anonymous one
	recLog     = "log"     // Log
	recPut     = "put"     // Ops[0], the OpPut; New: the key is new
	recMkcol   = "mkcol"   // Ops[0]
	recDelete  = "delete"  // Ops[0]
	recCopy    = "copy"    // Ops inserted at At; Path copied From at FromRev
	recProps   = "props"   // Ops (none or one OpProps); Mime, the new svn:mime-type of Path
	recMerge   = "merge"   // a MERGE began
	recUnmerge = "unmerge" // it failed
)

// txnRec is one change to an open transaction, as it is kept in a journal.
type txnRec struct {
	Kind    string         `json:"k"`
	Name    string         `json:"name,omitempty"`
	User    string         `json:"user,omitempty"`
	Base    verso.Revision `json:"base,omitempty"`
	Log     string         `json:"log,omitempty"`
	Path    verso.Path     `json:"path,omitempty"`
	Ops     []verso.Op     `json:"ops,omitempty"`
	At      int            `json:"at,omitempty"`
	From    verso.Path     `json:"from,omitempty"`
	FromRev verso.Revision `json:"fromRev,omitempty"`
	New     bool           `json:"new,omitempty"`
	Mime    *string        `json:"mime,omitempty"`
	Tokens  []string       `json:"tokens,omitempty"`
}

// apply adds rec to t, and returns the bytes of text it added. It fails,
// changing nothing, on a record whose shape is wrong (a journal that is
// not one of ours).
func (t *txn) apply(rec *txnRec) (int64, error) {
	one := func() error {
		if len(rec.Ops) != 1 {
			return fmt.Errorf("svn transaction record %d (%s) holds %d operations", t.seq+1, rec.Kind, len(rec.Ops))
		}
		return nil
	}
	var grew int64
	switch rec.Kind {
	case recOpen:
		if t.seq != 0 {
			return 0, fmt.Errorf("svn transaction record %d opens it again", t.seq+1)
		}
		t.name, t.user, t.base, t.log = rec.Name, rec.User, rec.Base, rec.Log
	case recUser:
		t.user = rec.User
	case recLog:
		t.log = rec.Log
	case recPut:
		if err := one(); err != nil {
			return 0, err
		}
		op := rec.Ops[0]
		t.ops = append(t.ops, op)
		grew = int64(len(op.Value))
		t.bytes += grew
		t.values[op.Path] = op.Value
		if rec.New {
			t.added[op.Path] = true
		}
	case recMkcol:
		if err := one(); err != nil {
			return 0, err
		}
		t.ops = append(t.ops, rec.Ops[0])
		t.added[rec.Ops[0].Path] = true
	case recDelete:
		if err := one(); err != nil {
			return 0, err
		}
		p := rec.Ops[0].Path
		t.ops = append(t.ops, rec.Ops[0])
		t.deleted[p] = len(t.ops) - 1
		svnfs.DropBelow(t.values, p)
		svnfs.DropBelow(t.added, p)
		svnfs.DropBelow(t.copies, p)
	case recCopy:
		at := rec.At
		if at < 0 || at > len(t.ops) {
			return 0, fmt.Errorf("svn transaction record %d inserts at %d of %d", t.seq+1, at, len(t.ops))
		}
		t.ops = svnfs.InsertOps(t.ops, t.deleted, at, rec.Ops)
		t.added[rec.Path] = true
		t.copies[rec.Path] = copySource{path: rec.From, rev: rec.FromRev}
	case recProps:
		if len(rec.Ops) > 1 {
			return 0, fmt.Errorf("svn transaction record %d (props) holds %d operations", t.seq+1, len(rec.Ops))
		}
		if rec.Mime != nil {
			for i := range t.ops {
				if t.ops[i].Kind == verso.OpPut && t.ops[i].Path == rec.Path {
					t.ops[i].ContentType = *rec.Mime
				}
			}
		}
		t.ops = append(t.ops, rec.Ops...)
	case recMerge:
		t.merging = true
	case recUnmerge:
		t.merging = false
	default:
		return 0, fmt.Errorf("svn transaction record %d is of unknown kind %q", t.seq+1, rec.Kind)
	}
	t.tokens = append(t.tokens, rec.Tokens...)
	t.seq++
	return grew, nil
}

// txnTable holds the open transactions of a Handler: all of them, or, on
// a shared store, those this server has served.
type txnTable struct {
	j     verso.Journals // the shared store's journals, or nil
	mu    sync.Mutex
	m     map[string]*txn
	bytes int64 // held by all of them, under mu
}

// errStale is record's answer when another server added to the
// transaction first: the request is answered again.
var errStale = errors.New("svn: the transaction changed through another server")

// errMerging refuses a change to a transaction being committed.
var errMerging = &Error{Status: http.StatusConflict, Code: errGeneral, Msg: "the commit is being committed already"}

func noTxn(name string) error {
	return &Error{Status: http.StatusNotFound, Code: errNotFound,
		Msg: fmt.Sprintf("no open transaction %q (it was committed, aborted, or expired after %v idle)", name, txnIdle)}
}

// reserve counts n more bytes held by open transactions, or reports
// false if that would pass maxOpenBytes. On a shared store it first
// forgets the transactions not in use, which it can read again.
func (tt *txnTable) reserve(n int64) bool {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if tt.bytes+n > maxOpenBytes && tt.j != nil {
		tt.evictLocked(nil)
	}
	if tt.bytes+n > maxOpenBytes {
		return false
	}
	tt.bytes += n
	return true
}

// evictLocked forgets every transaction not in use but keep, so that it
// is read again from its journal when next asked for. The caller holds
// tt.mu; the table is a shared store's.
func (tt *txnTable) evictLocked(keep *txn) {
	for k, o := range tt.m {
		if o != keep && o.mu.TryLock() {
			delete(tt.m, k)
			tt.bytes -= o.bytes
			o.mu.Unlock()
		}
	}
}

// drop forgets transaction t (locked by the caller or unreachable).
func (tt *txnTable) drop(t *txn) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if tt.m[t.name] == t {
		delete(tt.m, t.name)
		tt.bytes -= t.bytes
	}
}

// grew counts n more bytes of t's, applied from its journal.
func (tt *txnTable) grew(t *txn, n int64) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if tt.m[t.name] == t {
		tt.bytes += n
	}
}

// insert adds t, newly made or read, to the table, and returns it, or the
// one another request read meanwhile. It returns nil if the table is full.
func (tt *txnTable) insert(t *txn) *txn {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if o := tt.m[t.name]; o != nil {
		return o
	}
	now := time.Now()
	for k, o := range tt.m {
		if o.mu.TryLock() {
			if now.Sub(o.used) > txnIdle {
				delete(tt.m, k)
				tt.bytes -= o.bytes
			}
			o.mu.Unlock()
		}
	}
	if len(tt.m) >= maxTxns && tt.j != nil {
		tt.evictLocked(nil)
	}
	if len(tt.m) >= maxTxns {
		return nil
	}
	tt.m[t.name] = t
	tt.bytes += t.bytes
	return t
}

// openTxn makes t, whose open record is rec, an open transaction: it
// names it, and on a shared store makes its journal.
func (h *Handler) openTxn(ctx context.Context, t *txn, rec *txnRec) error {
	var id [8]byte
	rand.Read(id[:])
	rec.Name = fmt.Sprintf("%d-%s", rec.Base, hex.EncodeToString(id[:]))
	if h.txns.j != nil {
		jid, err := h.txns.j.OpenJournal(ctx, txnIdle)
		if err != nil {
			return err
		}
		// BASE-JOURNAL-RANDOM: the journal's id is the part that a server
		// that has not seen the transaction reads it by
		rec.Name = fmt.Sprintf("%d-%s-%s", rec.Base, jid, hex.EncodeToString(id[:]))
		t.journal = jid
	}
	t.name = rec.Name
	if err := h.record(ctx, t, rec); err != nil {
		if h.txns.j != nil {
			h.txns.j.DropJournal(context.WithoutCancel(ctx), t.journal)
		}
		return err
	}
	if h.txns.insert(t) != t {
		if h.txns.j != nil {
			h.txns.j.DropJournal(context.WithoutCancel(ctx), t.journal)
		}
		return &Error{Status: http.StatusServiceUnavailable, Code: errGeneral,
			Msg: fmt.Sprintf("%d commits are open already; retry later", maxTxns)}
	}
	return nil
}

// record makes rec part of t, which the caller holds locked: on a shared
// store, appended to its journal first. It returns errStale, having read
// what it missed, if another server added to t first.
func (h *Handler) record(ctx context.Context, t *txn, rec *txnRec) error {
	if t.merging && rec.Kind != recUnmerge {
		return errMerging
	}
	if j := h.txns.j; j != nil {
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		err = j.AppendJournal(ctx, t.journal, t.seq+1, b)
		switch {
		case errors.Is(err, verso.ErrExists):
			if err := h.catchUp(ctx, t); err != nil {
				return err
			}
			return errStale
		case errors.Is(err, verso.ErrNotFound):
			h.txns.drop(t)
			return noTxn(t.name)
		case errors.Is(err, verso.ErrTooLarge):
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: errBadRequest,
				Msg: fmt.Sprintf("this change is more than one etcd request carries, so a cluster cannot hold it in an open commit: %v", err)}
		case err != nil:
			return err
		}
	}
	_, err := t.apply(rec)
	return err
}

// catchUp applies the records of t's journal that t lacks.
func (h *Handler) catchUp(ctx context.Context, t *txn) error {
	recs, err := h.txns.j.ReadJournal(ctx, t.journal, t.seq+1)
	if errors.Is(err, verso.ErrNotFound) {
		h.txns.drop(t)
		return noTxn(t.name)
	}
	if err != nil {
		return err
	}
	for _, b := range recs {
		var rec txnRec
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("svn transaction %s, record %d: %w", t.name, t.seq+1, err)
		}
		n, err := t.apply(&rec)
		if err != nil {
			return err
		}
		h.txns.grew(t, n)
	}
	return nil
}

// readTxn reads the transaction named name from its journal, or returns
// nil if there is none.
func (h *Handler) readTxn(ctx context.Context, name string) (*txn, error) {
	parts := strings.Split(name, "-")
	if len(parts) != 3 {
		return nil, nil
	}
	t := newTxn()
	t.name, t.journal = name, parts[1]
	if err := h.catchUp(ctx, t); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == errNotFound {
			return nil, nil
		}
		return nil, err
	}
	if t.seq == 0 || t.name != name {
		return nil, nil // not the journal of this name
	}
	return t, nil
}

// txnOf returns the open transaction named name, locked, if r's user
// opened it (one opened anonymously becomes the first user's who
// continues it: svn sends credentials only once asked).
func (h *Handler) txnOf(r *http.Request, name string) (*txn, error) {
	ctx := r.Context()
	var t *txn
	caughtUp := false
	for try := 0; ; try++ {
		h.txns.mu.Lock()
		t = h.txns.m[name]
		h.txns.mu.Unlock()
		caughtUp = false
		if t == nil && h.txns.j != nil {
			nt, err := h.readTxn(ctx, name)
			if err != nil {
				return nil, err
			}
			if nt != nil {
				if t = h.txns.insert(nt); t == nil {
					return nil, &Error{Status: http.StatusServiceUnavailable, Code: errGeneral,
						Msg: fmt.Sprintf("%d commits are open already; retry later", maxTxns)}
				}
				caughtUp = t == nt // not another request's, read earlier
			}
		}
		if t == nil {
			return nil, noTxn(name)
		}
		t.mu.Lock()
		h.txns.mu.Lock()
		gone := h.txns.m[name] != t
		h.txns.mu.Unlock()
		if !gone {
			break
		}
		// committed or aborted meanwhile, or, on a shared store, forgotten
		// by this server to make room: read it again
		t.mu.Unlock()
		if h.txns.j == nil || try == 2 {
			return nil, noTxn(name)
		}
	}
	if h.txns.j != nil && !caughtUp {
		// what the request asks is checked against the whole transaction,
		// the changes made through other servers too
		if err := h.catchUp(ctx, t); err != nil {
			t.mu.Unlock()
			return nil, err
		}
	}
	u := h.userOf(r)
	for range 10 {
		if t.user != "" || u == "" {
			break
		}
		if err := h.record(ctx, t, &txnRec{Kind: recUser, User: u}); err != nil && !errors.Is(err, errStale) {
			t.mu.Unlock()
			return nil, err
		}
	}
	if t.user != u {
		t.mu.Unlock()
		return nil, noTxn(name)
	}
	t.used = time.Now()
	return t, nil // locked: the caller unlocks
}

// withTxn calls fn with the open transaction named name, locked, as
// txnOf returns it, and again while fn reports errStale (its record was
// late: another server added to the transaction first). fn writes its
// answer only once its record is made.
func (h *Handler) withTxn(r *http.Request, name string, fn func(t *txn) error) error {
	for range 50 {
		t, err := h.txnOf(r, name)
		if err != nil {
			return err
		}
		err = fn(t)
		t.mu.Unlock()
		if !errors.Is(err, errStale) {
			return err
		}
	}
	return &Error{Status: http.StatusServiceUnavailable, Code: errGeneral,
		Msg: fmt.Sprintf("transaction %q keeps changing through other servers; retry", name)}
}
