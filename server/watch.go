package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/verso-config/verso"
)

// Defaults of the watch surface.
const (
	// defaultWatchHeartbeat is how often an idle stream gets a comment line,
	// so that proxies do not close it.
	defaultWatchHeartbeat = 15 * time.Second
	// defaultWatchBuffer is how many commits a watcher may fall behind the
	// head before it is disconnected.
	defaultWatchBuffer = 256
	// watchWriteTimeout bounds one write to a watcher; a client that does
	// not read for this long is disconnected.
	watchWriteTimeout = time.Minute
	// watchLogPage is how many commits one read of the log takes while a
	// watcher catches up with history.
	watchLogPage = 1000
	// maxPollWait caps the wait of a long-poll; longer waits are cut to it.
	maxPollWait = 10 * time.Minute
	// defaultPollWait is the wait of a long-poll that gives index but no
	// wait, as in Consul.
	defaultPollWait = 5 * time.Minute
)

// Why a hub let a subscriber go.
var (
	errOverflow = errors.New("watcher fell too far behind")
	errShutdown = errors.New("server is shutting down")
)

// Close ends every watch stream and long-poll, each cleanly: a stream sends
// what it has and ends, a long-poll answers at once. Call it when shutdown
// starts (http.Server.RegisterOnShutdown), since Shutdown waits for them.
// New watches are refused with 503 afterwards. Close does not close the
// store.
func (s *Server) Close() {
	s.watch.close()
}

// watchHub follows the store and hands every new commit, read once, to the
// subscribers whose path it touched. A subscriber has a bounded buffer; one
// that is full is dropped, so a slow watcher never slows the hub, writers
// or other watchers.
type watchHub struct {
	store   verso.Store
	log     *slog.Logger
	bufSize int

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	started bool
	closed  bool
	pos     verso.Revision // the last revision handed out
	subs    map[*subscriber]struct{}
	done    chan struct{} // closed when the follower has stopped

	visible visibleRevs // namespaces' revisions as users see them (visible.go)
}

// subscriber is one watcher (or long-poll) of the hub.
type subscriber struct {
	path verso.Path
	ch   chan *verso.Commit
	gone chan struct{} // closed when the hub has dropped the subscriber
	why  error         // errOverflow or errShutdown; set before gone closes
}

func newWatchHub(store verso.Store, log *slog.Logger, bufSize int) *watchHub {
	ctx, cancel := context.WithCancel(context.Background())
	return &watchHub{
		store: store, log: log, bufSize: bufSize,
		ctx: ctx, cancel: cancel,
		subs: map[*subscriber]struct{}{},
		done: make(chan struct{}),
	}
}

// subscribe adds a subscriber for p and returns it with the hub's position:
// every commit after pos that touched p (or anything below it) will be in
// its channel, in order, until it is dropped. The hub starts following the
// store on the first subscription.
func (h *watchHub) subscribe(ctx context.Context, p verso.Path) (*subscriber, verso.Revision, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, 0, errorf(http.StatusServiceUnavailable, "%v", errShutdown)
	}
	if !h.started {
		head, err := h.store.Head(ctx)
		if err != nil {
			return nil, 0, err
		}
		h.pos = head
		h.started = true
		go h.follow()
	}
	sub := &subscriber{path: p, ch: make(chan *verso.Commit, h.bufSize), gone: make(chan struct{})}
	h.subs[sub] = struct{}{}
	return sub, h.pos, nil
}

// unsubscribe removes sub, if the hub still has it.
func (h *watchHub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	delete(h.subs, sub)
	h.mu.Unlock()
}

// drop lets sub go for the reason why. The caller holds h.mu.
func (h *watchHub) drop(sub *subscriber, why error) {
	delete(h.subs, sub)
	sub.why = why
	close(sub.gone)
}

// close drops every subscriber and stops following the store.
func (h *watchHub) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	for sub := range h.subs {
		h.drop(sub, errShutdown)
	}
	started := h.started
	h.mu.Unlock()
	h.cancel()
	if started {
		<-h.done
	}
}

// follow reads each new revision once, in order, and publishes it, until
// the hub is closed or the store is.
func (h *watchHub) follow() {
	defer close(h.done)
	h.mu.Lock()
	next := h.pos + 1
	h.mu.Unlock()
	for {
		_, err := h.store.Wait(h.ctx, next)
		var c *verso.Commit
		if err == nil {
			c, err = h.store.Revision(h.ctx, next)
		}
		switch {
		case err == nil:
			h.publish(c)
			next++
			continue
		case h.ctx.Err() != nil:
			return
		case errors.Is(err, verso.ErrClosed):
			h.close1(errShutdown)
			return
		case errors.Is(err, verso.ErrGone):
			// Pruned before it could be read: nobody can have it, so every
			// watcher resumes (and learns it is gone).
			h.skip(next)
			next++
			continue
		}
		h.log.Error("watch: read revision", "revision", int64(next), "err", err)
		select {
		case <-time.After(time.Second):
		case <-h.ctx.Done():
			return
		}
	}
}

// close1 drops every subscriber when the store is gone (the hub itself
// stays open, so Close still works).
func (h *watchHub) close1(why error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for sub := range h.subs {
		h.drop(sub, why)
	}
}

// skip drops every subscriber with the revision to resume from, since
// revision rev cannot be read, and goes past it.
func (h *watchHub) skip(rev verso.Revision) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pos = rev
	for sub := range h.subs {
		h.drop(sub, errOverflow)
	}
}

// publish hands c to every subscriber whose path it touched, dropping those
// whose buffer is full.
func (h *watchHub) publish(c *verso.Commit) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pos = c.Rev
	for sub := range h.subs {
		if !touches(c, sub.path) {
			continue
		}
		select {
		case sub.ch <- c:
		default:
			h.drop(sub, errOverflow)
		}
	}
}

// touches reports whether commit c changed p or anything below it. Every
// commit touches the root, as in the log.
func touches(c *verso.Commit, p verso.Path) bool {
	if p == verso.Root {
		return true
	}
	for _, ch := range c.Changes {
		if p.Contains(ch.Path) {
			return true
		}
	}
	return false
}

// watchEventJSON is the data of one "commit" event of a watch stream.
type watchEventJSON struct {
	Rev     verso.Revision    `json:"revision"`
	Author  string            `json:"author"`
	Time    time.Time         `json:"time"`
	Message string            `json:"message"`
	Changes []watchChangeJSON `json:"changes"`
}

// watchChangeJSON is one changed path of an event; with values=1, a key
// that exists after the commit carries its new value.
type watchChangeJSON struct {
	verso.Change
	ContentType string  `json:"content_type,omitempty"`
	Value       *string `json:"value,omitempty"`
	// Encoding says how Value is written: "utf-8" (as is) or "base64".
	Encoding string `json:"encoding,omitempty"`
	// ValueGone says that the value was asked for but that state of the
	// key is no longer retained (Retention.KeepVersions).
	ValueGone bool `json:"value_gone,omitempty"`
}

// watchStream is one watcher's connection.
type watchStream struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	rc     *http.ResponseController
	path   verso.Path
	values bool
	last   verso.Revision // the last revision sent, or the one the stream started after
}

// handleWatch answers GET /api/v1/watch?path=P&from=REV[&values=1]: a
// stream of server-sent events, one per commit after REV (or Last-Event-ID)
// that changed P or anything below it, in revision order.
func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := queryPath(q.Get("path"))
	if err != nil {
		return err
	}
	// Watching needs read access to the path itself: an anonymous client
	// gets 401 (and can log in) rather than a stream that stays silent.
	if err := s.authorize(r, p, Read); err != nil {
		return err
	}
	values := false
	switch v := q.Get("values"); v {
	case "", "0", "false":
	case "1", "true":
		values = true
	default:
		return errorf(http.StatusBadRequest, "values must be 1 or 0, not %q", v)
	}
	ctx := r.Context()
	head, err := s.store.Head(ctx)
	if err != nil {
		return err
	}
	from := head
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		if from, err = watchRevision("Last-Event-ID", v); err != nil {
			return err
		}
	} else if v := q.Get("from"); v != "" && !strings.EqualFold(v, "HEAD") {
		if from, err = watchRevision("from", v); err != nil {
			return err
		}
	}
	if from > head {
		return fmt.Errorf("watch from revision %d: beyond the head (%d): %w", from, head, verso.ErrNoRevision)
	}

	sub, pos, err := s.watch.subscribe(ctx, p)
	if err != nil {
		return err
	}
	defer s.watch.unsubscribe(sub)

	// Catch up: the commits in (from, pos] come from the history, those
	// after pos from the hub. Both are read before the first byte is sent,
	// so that a revision older than the history is a plain 410.
	var backlog []verso.Revision
	if from < pos {
		if _, err := s.store.Revision(ctx, from+1); err != nil {
			if errors.Is(err, verso.ErrGone) {
				return withStatus(http.StatusGone, fmt.Errorf("watch from revision %d: history no longer reaches back there; read the current state and watch from its revision: %w", from, err))
			}
			return err
		}
		if backlog, err = s.history(ctx, p, from, pos); err != nil {
			return err
		}
	}

	ws := &watchStream{s: s, w: w, r: r, rc: http.NewResponseController(w), path: p, values: values, last: from}
	defer ws.rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	h.Set(HeaderRevision, strconv.FormatInt(int64(from), 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	// An id alone sets the client's Last-Event-ID without an event, so a
	// client that reconnects before any event still resumes from here.
	if err := ws.write(fmt.Appendf(nil, "retry: 1000\nid: %d\n\n", from)); err != nil {
		return nil
	}
	for _, rev := range backlog {
		c, err := s.store.Revision(ctx, rev)
		if err == nil {
			err = ws.send(c)
		}
		if err != nil {
			ws.end(err)
			return nil
		}
	}

	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	for {
		select {
		case c := <-sub.ch:
			err = ws.send(c)
		case <-sub.gone:
			for err == nil && len(sub.ch) > 0 {
				err = ws.send(<-sub.ch)
			}
			if err == nil && sub.why == errOverflow {
				err = ws.write(fmt.Appendf(nil, "event: overflow\ndata: {\"resume_from\": %d}\n\n", ws.last))
			}
			if err != nil {
				ws.end(err)
			}
			return nil
		case <-tick.C:
			err = ws.write([]byte(": keepalive\n\n"))
		case <-ctx.Done():
			return nil
		}
		if err != nil {
			ws.end(err)
			return nil
		}
	}
}

// watchRevision reads a revision number given to the watch.
func watchRevision(name, v string) (verso.Revision, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, errorf(http.StatusBadRequest, "%s must be a revision number, not %q", name, v)
	}
	return verso.Revision(n), nil
}

// history returns, oldest first, the revisions in (from, to] that changed p
// or anything below it, reading the log backwards a page at a time.
func (s *Server) history(ctx context.Context, p verso.Path, from, to verso.Revision) ([]verso.Revision, error) {
	var revs []verso.Revision
	for before := to; before > from; {
		page, err := s.store.Log(ctx, verso.LogQuery{Path: p, Before: before, Limit: watchLogPage})
		if err != nil {
			return nil, err
		}
		for _, c := range page {
			if c.Rev <= from {
				break
			}
			revs = append(revs, c.Rev)
		}
		if len(page) < watchLogPage {
			break
		}
		before = page[len(page)-1].Rev - 1
	}
	slices.Reverse(revs)
	return revs, nil
}

// end logs why a stream stopped early, unless the client went away.
func (ws *watchStream) end(err error) {
	if ws.r.Context().Err() == nil {
		ws.s.log.Warn("watch stream ended", "path", string(ws.path), "after", int64(ws.last), "err", err)
	}
}

// write sends b to the client at once.
func (ws *watchStream) write(b []byte) error {
	ws.rc.SetWriteDeadline(time.Now().Add(watchWriteTimeout))
	if _, err := ws.w.Write(b); err != nil {
		return err
	}
	return ws.rc.Flush()
}

// send writes the event of c, unless it was sent already or changed nothing
// at or below the path that the client may read.
func (ws *watchStream) send(c *verso.Commit) error {
	if c.Rev <= ws.last {
		return nil
	}
	// The commit as this user may see it: unreadable paths and copy
	// sources left out, and the message too when paths were (as the log).
	vc := ws.s.visibleCommit(ws.r, c)
	if vc == nil {
		return nil
	}
	ev := watchEventJSON{Rev: c.Rev, Author: c.Author, Time: c.Time, Message: vc.Message, Changes: []watchChangeJSON{}}
	for _, ch := range vc.Changes {
		if !ws.path.Contains(ch.Path) {
			continue
		}
		wc := watchChangeJSON{Change: ch}
		if ws.values && ch.Kind == verso.KindKey && ch.Action != verso.Deleted {
			e, err := ws.s.store.Get(ws.r.Context(), ch.Path, c.Rev)
			switch {
			case errors.Is(err, verso.ErrGone):
				wc.ValueGone = true
			case err != nil:
				return err
			default:
				wc.ContentType = e.ContentType
				wc.Value, wc.Encoding = encodeValue(e.Value)
			}
		}
		ev.Changes = append(ev.Changes, wc)
	}
	if len(ev.Changes) == 0 {
		return nil
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	b := make([]byte, 0, len(data)+64)
	b = fmt.Appendf(b, "id: %d\nevent: commit\ndata: ", c.Rev)
	b = append(append(b, data...), "\n\n"...)
	if err := ws.write(b); err != nil {
		return err
	}
	ws.last = c.Rev
	return nil
}

// encodeValue writes a value as a JSON string: as is when it is UTF-8,
// otherwise in base64.
func encodeValue(v []byte) (*string, string) {
	if utf8.Valid(v) {
		s := string(v)
		return &s, "utf-8"
	}
	s := base64.StdEncoding.EncodeToString(v)
	return &s, "base64"
}

// longPoll makes GET /config/PATH?index=N&wait=D a blocking query, in
// Consul's style: it returns once PATH (a key, or anything below a
// namespace) is at a revision above N, or after D, or at shutdown; the
// caller then answers as usual. Without index and wait it returns at once.
// It sets HeaderRevision to PATH's revision, so that even a 404 (PATH was
// deleted) tells the client the index of its next poll.
//
// Both the wake-up and the revision are as the user sees the tree: a commit
// that changed only paths the user may not read neither ends the wait nor
// moves the revision (visibleChange), so a long-poll never tells when
// something the user may not read changes.
func (s *Server) longPoll(w http.ResponseWriter, r *http.Request, p verso.Path, rev verso.Revision) error {
	q := r.URL.Query()
	iv, wv := q.Get("index"), q.Get("wait")
	if iv == "" && wv == "" {
		return nil
	}
	if iv == "" {
		return errorf(http.StatusBadRequest, "wait needs index: the revision to wait past (X-Verso-Revision of the last answer)")
	}
	n, err := strconv.ParseInt(iv, 10, 64)
	if err != nil || n < 0 {
		return errorf(http.StatusBadRequest, "index must be a revision number, not %q", iv)
	}
	index := verso.Revision(n)
	wait, err := parseWait(wv)
	if err != nil {
		return err
	}
	if rev != verso.Head {
		return errorf(http.StatusBadRequest, "index waits for a new revision; it cannot be combined with rev")
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	sub, _, err := s.watch.subscribe(ctx, p)
	if err != nil {
		return err
	}
	defer s.watch.unsubscribe(sub)
	// Anything that changes p after this check is in sub's channel.
	cur, err := s.lastChange(r, p)
	if err != nil {
		return err
	}
wait:
	for cur <= index {
		select {
		case c := <-sub.ch:
			if c.Rev > index && s.visiblyChanged(r, c, p) {
				break wait
			}
		case <-sub.gone:
			break wait
		case <-ctx.Done():
			if err := r.Context().Err(); err != nil {
				return err
			}
			break wait
		}
	}
	if cur, err = s.lastChange(r, p); err != nil {
		return err
	}
	w.Header().Set(HeaderRevision, strconv.FormatInt(int64(cur), 10))
	return nil
}

// lastChange returns the last revision that changed p, or anything below
// it that the user may read: its visible tree revision if it exists, else
// the revision that deleted it (0 if it never existed).
func (s *Server) lastChange(r *http.Request, p verso.Path) (verso.Revision, error) {
	e, err := s.store.Get(r.Context(), p, verso.Head)
	if err == nil {
		return s.visibleChange(r, e, verso.Head)
	}
	if !errors.Is(err, verso.ErrNotFound) {
		return 0, err
	}
	rev, _, err := s.visibleLastCommit(r, p, verso.Head, 0)
	return rev, err
}

// parseWait reads the wait of a long-poll: a Go duration ("30s", "5m") or
// a number of seconds; "" is the default. Waits above the maximum are cut
// to it.
func parseWait(v string) (time.Duration, error) {
	if v == "" {
		return defaultPollWait, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseInt(v, 10, 64)
		if nerr != nil {
			return 0, errorf(http.StatusBadRequest, "wait must be a duration like 30s or 5m, not %q", v)
		}
		d = time.Duration(min(n, int64(maxPollWait/time.Second))) * time.Second
	}
	if d < 0 {
		return 0, errorf(http.StatusBadRequest, "wait must not be negative, got %q", v)
	}
	return min(d, maxPollWait), nil
}
