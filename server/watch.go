package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/watchhub"
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
// starts (http.Server.RegisterOnShutdown): parked connections are no
// longer net/http's, so Shutdown does not wait for them. New watches are
// refused with 503 afterwards. Close does not close the store.
func (s *Server) Close() {
	s.watch.close()
}

// watchHub follows the store and hands every new commit, read once, to the
// subscribers whose path it touched.
//
// A subscriber starts as a channel that its request's goroutine reads
// while it checks access, catches up with history or decides whether to
// wait at all; then it parks (parkStream, parkPoll): its connection is
// taken over from net/http and the hub writes to it itself (watchhub.Conn),
// each event formatted once per distinct view (user, path, values), so an
// idle watcher costs a small struct and its socket. A watcher that falls
// bufSize events behind is dropped with the overflow event, so a slow
// watcher never slows the hub, writers or other watchers.
type watchHub struct {
	store     verso.Store
	log       *slog.Logger
	bufSize   int
	heartbeat time.Duration

	ctx    context.Context
	cancel context.CancelFunc

	// send orders the writes of events: publish holds it from reading the
	// subscribers to the last write, park while it hands a subscriber's
	// queued commits to its connection. Taken before mu.
	send sync.Mutex

	mu      sync.Mutex
	started bool
	closed  bool
	pos     verso.Revision                          // the last revision handed out
	subs    map[verso.Path]map[*subscriber]struct{} // by the path they watch
	done    chan struct{}                           // closed when the follower has stopped

	visible visibleRevs // namespaces' revisions as users see them (visible.go)
}

// subscriber is one watcher (or long-poll) of the hub: until it parks, a
// channel its request's goroutine reads; then a parked stream or poll.
type subscriber struct {
	path verso.Path
	ch   chan *verso.Commit
	gone chan struct{} // closed when the hub has dropped the subscriber
	why  error         // errOverflow or errShutdown; set before gone closes

	sse  *sseWatcher  // parked stream
	poll *pollWatcher // parked long-poll
}

func newWatchHub(store verso.Store, log *slog.Logger, bufSize int, heartbeat time.Duration) *watchHub {
	ctx, cancel := context.WithCancel(context.Background())
	return &watchHub{
		store: store, log: log, bufSize: bufSize, heartbeat: heartbeat,
		ctx: ctx, cancel: cancel,
		subs: map[verso.Path]map[*subscriber]struct{}{},
		done: make(chan struct{}),
	}
}

// subscribe adds a subscriber for p and returns it with the hub's position:
// every commit after pos that touched p (or anything below it) will be in
// its channel, in order, until it is dropped or parks. The hub starts
// following the store on the first subscription.
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
		go h.beat()
	}
	sub := &subscriber{path: p, ch: make(chan *verso.Commit, h.bufSize), gone: make(chan struct{})}
	h.add(sub)
	return sub, h.pos, nil
}

// add, has and remove keep the subscribers by path; the caller holds h.mu.
func (h *watchHub) add(sub *subscriber) {
	m := h.subs[sub.path]
	if m == nil {
		m = map[*subscriber]struct{}{}
		h.subs[sub.path] = m
	}
	m[sub] = struct{}{}
}

func (h *watchHub) has(sub *subscriber) bool {
	_, ok := h.subs[sub.path][sub]
	return ok
}

func (h *watchHub) remove(sub *subscriber) bool {
	m := h.subs[sub.path]
	if _, ok := m[sub]; !ok {
		return false
	}
	delete(m, sub)
	if len(m) == 0 {
		delete(h.subs, sub.path)
	}
	return true
}

// all returns every subscriber; the caller holds h.mu.
func (h *watchHub) all() []*subscriber {
	var out []*subscriber
	for _, m := range h.subs {
		for sub := range m {
			out = append(out, sub)
		}
	}
	return out
}

// unsubscribe removes sub and reports whether the hub still had it.
func (h *watchHub) unsubscribe(sub *subscriber) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.remove(sub)
}

// drop lets sub go for the reason why (nil: a long-poll's wake-up). The
// caller holds h.mu.
func (h *watchHub) drop(sub *subscriber, why error) {
	h.remove(sub)
	switch {
	case sub.sse != nil:
		sub.sse.end(why)
	case sub.poll != nil:
		sub.poll.wake()
	default:
		sub.why = why
		close(sub.gone)
	}
}

// close drops every subscriber and stops following the store.
func (h *watchHub) close() {
	h.send.Lock()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.send.Unlock()
		return
	}
	h.closed = true
	for _, sub := range h.all() {
		h.drop(sub, errShutdown)
	}
	started := h.started
	h.mu.Unlock()
	h.send.Unlock()
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

// beat sends a keepalive comment to every parked stream that is not
// behind, each heartbeat, and lets go of the parked watchers whose client
// has gone (checked every second, or every heartbeat if that is shorter),
// until the hub is closed.
func (h *watchHub) beat() {
	heart := time.NewTicker(h.heartbeat)
	defer heart.Stop()
	sweep := time.NewTicker(min(time.Second, h.heartbeat))
	defer sweep.Stop()
	var subs []*subscriber
	for {
		beat := false
		select {
		case <-heart.C:
			beat = true
		case <-sweep.C:
		case <-h.ctx.Done():
			return
		}
		subs = subs[:0]
		h.mu.Lock()
		for _, sub := range h.all() {
			if sub.sse != nil || (sub.poll != nil && sub.poll.conn != nil) {
				subs = append(subs, sub)
			}
		}
		h.mu.Unlock()
		for _, sub := range subs {
			if sse := sub.sse; sse != nil {
				switch {
				case !sse.conn.Alive():
					if h.unsubscribe(sub) {
						sse.conn.Abort()
					}
				case beat && sse.conn.Pending() == 0:
					if sse.view.chunked {
						sse.conn.Send(keepaliveChunked)
					} else {
						sse.conn.Send(keepalive)
					}
				}
				continue
			}
			if pw := sub.poll; !watchhub.Alive(pw.conn) && h.unsubscribe(sub) {
				pw.timer.Stop()
				pw.conn.Close()
				pw.s.ops.watchers.Dec()
			}
		}
		clear(subs)
	}
}

// keepalive is the comment an idle stream gets every heartbeat.
var (
	keepalive        = []byte(": keepalive\n\n")
	keepaliveChunked = chunk(keepalive)
)

// close1 drops every subscriber when the store is gone (the hub itself
// stays open, so Close still works).
func (h *watchHub) close1(why error) {
	h.send.Lock()
	defer h.send.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, sub := range h.all() {
		h.drop(sub, why)
	}
}

// skip drops every subscriber with the revision to resume from, since
// revision rev cannot be read, and goes past it.
func (h *watchHub) skip(rev verso.Revision) {
	h.send.Lock()
	defer h.send.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pos = rev
	for _, sub := range h.all() {
		h.drop(sub, errOverflow)
	}
}

// delivery is one event to write to a parked stream.
type delivery struct {
	sub *subscriber
	b   []byte
	rev verso.Revision
}

// views remembers, for one commit (never more), what each distinct view of it is: the
// event a stream of that view gets (nil: none), or whether it wakes a
// long-poll of that view.
type views struct {
	events map[viewKey][]byte
	wakes  map[viewKey]bool
}

// viewKey is what the event of a commit depends on.
type viewKey struct {
	user    string
	path    verso.Path
	values  bool
	chunked bool
}

// publish hands c to every subscriber whose path it touched: a channel
// gets it (or is dropped if full), a parked long-poll wakes if c is a
// change it may see, and a parked stream is written its event, formatted
// once per view. The writes do not wait for any client; they are spread
// over a few goroutines.
func (h *watchHub) publish(c *verso.Commit) {
	h.send.Lock()
	defer h.send.Unlock()
	v := &views{}
	var out []delivery
	var woken []*pollWatcher
	h.mu.Lock()
	h.pos = c.Rev
	for _, sub := range h.touched(c) {
		switch {
		case sub.sse != nil:
			b, err := sub.sse.event(v, c)
			switch {
			case err != nil:
				h.log.Warn("watch stream ended", "path", string(sub.path), "after", int64(sub.sse.last), "err", err)
				h.drop(sub, err)
			case b != nil:
				out = append(out, delivery{sub, b, c.Rev})
			}
		case sub.poll != nil:
			if pw := sub.poll; pw.wakes(v, c) {
				h.remove(sub)
				if pw.conn == nil {
					pw.wake()
				} else {
					pw.timer.Stop()
					woken = append(woken, pw)
				}
			}
		default:
			select {
			case sub.ch <- c:
			default:
				h.drop(sub, errOverflow)
			}
		}
	}
	h.mu.Unlock()
	if len(woken) > 0 {
		go answerAll(woken)
	}
	if len(out) == 0 {
		return
	}
	full := writeAll(out)
	if len(full) == 0 {
		return
	}
	h.mu.Lock()
	for _, sub := range full {
		if h.has(sub) {
			h.drop(sub, errOverflow)
		}
	}
	h.mu.Unlock()
}

// writeAll writes each delivery, a few goroutines sharing them, and
// returns the subscribers that were too far behind to take theirs.
func writeAll(out []delivery) []*subscriber {
	workers := min(runtime.GOMAXPROCS(0), (len(out)+255)/256)
	var mu sync.Mutex
	var full []*subscriber
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(out); i += workers {
				d := out[i]
				switch d.sub.sse.conn.Send(d.b) {
				case watchhub.Sent:
					d.sub.sse.last = d.rev
				case watchhub.Full:
					mu.Lock()
					full = append(full, d.sub)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return full
}

// touched returns the subscribers of the paths that commit c touched: each
// changed path and every namespace above it. The caller holds h.mu.
func (h *watchHub) touched(c *verso.Commit) []*subscriber {
	var out []*subscriber
	seen := map[verso.Path]bool{}
	visit := func(p verso.Path) bool {
		if seen[p] {
			return false
		}
		seen[p] = true
		for sub := range h.subs[p] {
			out = append(out, sub)
		}
		return true
	}
	visit(verso.Root)
	for _, ch := range c.Changes {
		for p := ch.Path; p != verso.Root && visit(p); p = p.Parent() {
		}
	}
	return out
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

// watchStream writes a stream's first events, from its request's
// goroutine, before it parks.
type watchStream struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	rc     *http.ResponseController
	user   string
	path   verso.Path
	values bool
	last   verso.Revision // the last revision sent, or the one the stream started after
}

// handleWatch answers GET /api/v1/watch?path=P&from=REV[&values=1]: a
// stream of server-sent events, one per commit after REV (or Last-Event-ID)
// that changed P or anything below it, in revision order. Once it has
// caught up with history, the stream parks in the hub (parkStream).
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
	parked := false
	defer func() {
		if !parked {
			s.watch.unsubscribe(sub)
		}
	}()

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

	ws := &watchStream{s: s, w: w, r: r, rc: http.NewResponseController(w), user: s.user(r), path: p, values: values, last: from}
	defer ws.rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	h.Set(HeaderRevision, strconv.FormatInt(int64(from), 10))
	if r.ProtoMajor == 1 {
		// The hub closes the connection when the stream ends: a client
		// that read it to the end must not send another request on it.
		h.Set("Connection", "close")
	}
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
	parked = true
	s.parkStream(ws, sub)
	return nil
}

// sseWatcher is a parked watch stream: all the hub keeps of it.
type sseWatcher struct {
	s    *Server
	view viewKey
	conn *watchhub.Conn
	last verso.Revision // the last revision written or queued
}

// parkStream hands the stream to the hub: its connection is taken over
// from net/http (with HTTP/2, or where it cannot be, the request's
// goroutine stays and writes what the hub queues), the commits its
// channel holds are written, and from then on the hub writes each event.
func (s *Server) parkStream(ws *watchStream, sub *subscriber) {
	ws.rc.SetWriteDeadline(time.Time{})
	sse := &sseWatcher{s: s, view: viewKey{user: ws.user, path: ws.path, values: ws.values}, last: ws.last}
	var sink watchhub.Sink
	var released chan struct{} // closed when the hub lets a stream it could not take over go
	if conn, _, err := ws.rc.Hijack(); err == nil {
		sink = conn
		// net/http sent the header with chunked framing (HTTP/1.1), which
		// the stream keeps.
		sse.view.chunked = ws.r.ProtoAtLeast(1, 1)
	} else {
		released = make(chan struct{})
		sink = &responseSink{ws: ws, released: released}
	}
	// ServeHTTP counts the watcher while its request runs; once taken over,
	// the hub counts it until it closes.
	taken := released == nil
	if taken {
		s.ops.watchers.Inc()
	}
	sse.conn = watchhub.New(sink, s.watch.bufSize, func(err error) {
		if taken {
			s.ops.watchers.Dec()
		}
		if err != nil {
			s.watch.unsubscribe(sub) // the client went away
		}
	})
	s.watch.parkStream(sub, sse)
	if released != nil {
		select {
		case <-released:
		case <-ws.r.Context().Done():
			s.watch.unsubscribe(sub)
			sse.conn.Abort()
		}
	}
}

// parkStream turns sub into the parked stream sse, writing the commits its
// channel holds first; if the hub has already let it go, the stream ends
// after them (with the overflow event if it fell behind).
func (h *watchHub) parkStream(sub *subscriber, sse *sseWatcher) {
	h.send.Lock()
	defer h.send.Unlock()
	h.mu.Lock()
	live := h.has(sub)
	queued := make([]*verso.Commit, 0, len(sub.ch))
	for len(sub.ch) > 0 {
		queued = append(queued, <-sub.ch)
	}
	if live {
		sub.sse, sub.ch, sub.gone = sse, nil, nil
	}
	h.mu.Unlock()
	for _, c := range queued {
		b, err := sse.event(&views{}, c) // a view per commit
		if err != nil {
			h.log.Warn("watch stream ended", "path", string(sse.view.path), "after", int64(sse.last), "err", err)
			if h.unsubscribe(sub) || !live {
				sse.end(err)
			}
			return
		}
		if b == nil {
			continue
		}
		switch sse.conn.Send(b) {
		case watchhub.Sent:
			sse.last = c.Rev
		case watchhub.Full:
			if h.unsubscribe(sub) || !live {
				sse.end(errOverflow)
			}
			return
		case watchhub.Gone:
			h.unsubscribe(sub)
			return
		}
	}
	if !live {
		sse.end(sub.why)
	}
}

// event returns the bytes that carry c to this stream (nil if none), made
// once per view of the commit.
func (sse *sseWatcher) event(v *views, c *verso.Commit) ([]byte, error) {
	if c.Rev <= sse.last {
		return nil, nil
	}
	if b, ok := v.events[sse.view]; ok {
		return b, nil
	}
	b, err := sse.s.watchEvent(sse.s.watch.ctx, sse.view.user, sse.view.path, sse.view.values, c)
	if err != nil {
		return nil, err
	}
	if b != nil && sse.view.chunked {
		b = chunk(b)
	}
	if v.events == nil {
		v.events = map[viewKey][]byte{}
	}
	v.events[sse.view] = b
	return b, nil
}

// end closes the stream once what is queued is written, after the
// overflow event if it fell behind. The caller holds the hub's send lock
// (or the stream has not started to get events).
func (sse *sseWatcher) end(why error) {
	var final []byte
	if why == errOverflow {
		final = fmt.Appendf(nil, "event: overflow\ndata: {\"resume_from\": %d}\n\n", sse.last)
		if sse.view.chunked {
			final = chunk(final)
		}
	}
	if sse.view.chunked {
		final = append(final, "0\r\n\r\n"...) // the end of the chunked body
	}
	sse.conn.Close(final)
}

// chunk frames b as one chunk of an HTTP/1.1 chunked body.
func chunk(b []byte) []byte {
	out := make([]byte, 0, len(b)+16)
	out = strconv.AppendInt(out, int64(len(b)), 16)
	out = append(out, "\r\n"...)
	out = append(out, b...)
	return append(out, "\r\n"...)
}

// responseSink writes a parked stream through its ResponseWriter, for a
// connection that could not be taken over (HTTP/2). Closing it lets the
// request's goroutine, which waits for that, return.
type responseSink struct {
	ws       *watchStream
	released chan struct{}
	once     sync.Once
}

func (rs *responseSink) Write(b []byte) (int, error) {
	if _, err := rs.ws.w.Write(b); err != nil {
		return 0, err
	}
	return len(b), rs.ws.rc.Flush()
}

func (rs *responseSink) SetWriteDeadline(t time.Time) error {
	return rs.ws.rc.SetWriteDeadline(t)
}

func (rs *responseSink) Close() error {
	rs.once.Do(func() { close(rs.released) })
	return nil
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
	b, err := ws.s.watchEvent(ws.r.Context(), ws.user, ws.path, ws.values, c)
	if err != nil || b == nil {
		return err
	}
	if err := ws.write(b); err != nil {
		return err
	}
	ws.last = c.Rev
	return nil
}

// watchEvent returns the event of c for a stream of user at path (with
// values, if asked), or nil when c changed nothing at or below the path
// that the user may read. The commit is as this user may see it:
// unreadable paths and copy sources left out, and the message too when
// paths were (as the log).
func (s *Server) watchEvent(ctx context.Context, user string, path verso.Path, values bool, c *verso.Commit) ([]byte, error) {
	vc := s.visibleCommitOf(user, c)
	if vc == nil {
		return nil, nil
	}
	ev := watchEventJSON{Rev: c.Rev, Author: c.Author, Time: c.Time, Message: vc.Message, Changes: []watchChangeJSON{}}
	for _, ch := range vc.Changes {
		if !path.Contains(ch.Path) {
			continue
		}
		wc := watchChangeJSON{Change: ch}
		if values && ch.Kind == verso.KindKey && ch.Action != verso.Deleted {
			e, err := s.store.Get(ctx, ch.Path, c.Rev)
			switch {
			case errors.Is(err, verso.ErrGone):
				wc.ValueGone = true
			case err != nil:
				return nil, err
			default:
				wc.ContentType = e.ContentType
				wc.Value, wc.Encoding = encodeValue(e.Value)
			}
		}
		ev.Changes = append(ev.Changes, wc)
	}
	if len(ev.Changes) == 0 {
		return nil, nil
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(data)+64)
	b = fmt.Appendf(b, "id: %d\nevent: commit\ndata: ", c.Rev)
	return append(append(b, data...), "\n\n"...), nil
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
// Consul's style: the answer comes once PATH (a key, or anything below a
// namespace) is at a revision above N, or after D, or at shutdown. Without
// index and wait it returns at once and the caller answers as usual; so it
// does when PATH is already past N. Otherwise the request parks in the hub
// (parkPoll) and longPoll reports parked: the answer will be written when
// the wait ends, and the caller must not write anything. The answer sets
// HeaderRevision to PATH's revision, so that even a 404 (PATH was deleted)
// tells the client the index of its next poll.
//
// Both the wake-up and the revision are as the user sees the tree: a commit
// that changed only paths the user may not read neither ends the wait nor
// moves the revision (visibleChange), so a long-poll never tells when
// something the user may not read changes.
func (s *Server) longPoll(w http.ResponseWriter, r *http.Request, p verso.Path, rev verso.Revision) (parked bool, err error) {
	q := r.URL.Query()
	iv, wv := q.Get("index"), q.Get("wait")
	if iv == "" && wv == "" {
		return false, nil
	}
	if iv == "" {
		return false, errorf(http.StatusBadRequest, "wait needs index: the revision to wait past (X-Verso-Revision of the last answer)")
	}
	n, err := strconv.ParseInt(iv, 10, 64)
	if err != nil || n < 0 {
		return false, errorf(http.StatusBadRequest, "index must be a revision number, not %q", iv)
	}
	index := verso.Revision(n)
	wait, err := parseWait(wv)
	if err != nil {
		return false, err
	}
	if rev != verso.Head {
		return false, errorf(http.StatusBadRequest, "index waits for a new revision; it cannot be combined with rev")
	}
	sub, _, err := s.watch.subscribe(r.Context(), p)
	if err != nil {
		return false, err
	}
	// Anything that changes p after this check is in sub's channel.
	cur, err := s.lastChange(r, p)
	if err != nil || cur > index {
		s.watch.unsubscribe(sub)
		if err == nil {
			w.Header().Set(HeaderRevision, strconv.FormatInt(int64(cur), 10))
		}
		return false, err
	}
	pw := &pollWatcher{s: s, sub: sub, user: s.user(r), path: p, index: index,
		r: r.WithContext(context.WithoutCancel(r.Context()))}
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		pw.conn = conn
		pw.header = w.Header().Clone()
	} else {
		pw.woke = make(chan struct{}) // HTTP/2: this goroutine waits
	}
	if pw.conn != nil {
		s.ops.watchers.Inc() // ServeHTTP's count ends with the handler
		if ri, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			ri.parked = true // its answer is logged when it is written
			pw.info = ri
		}
	}
	s.watch.parkPoll(sub, pw, wait)
	if pw.conn != nil {
		return true, nil
	}
	select {
	case <-pw.woke:
	case <-r.Context().Done():
		if s.watch.unsubscribe(sub) {
			pw.timer.Stop()
		}
		return false, r.Context().Err()
	}
	if cur, err = s.lastChange(r, p); err != nil {
		return false, err
	}
	w.Header().Set(HeaderRevision, strconv.FormatInt(int64(cur), 10))
	return false, nil
}

// pollWatcher is a parked long-poll: all the hub keeps of it.
type pollWatcher struct {
	s     *Server
	sub   *subscriber
	user  string
	path  verso.Path
	index verso.Revision
	r     *http.Request // the request, to answer it when the wait ends
	timer *time.Timer   // ends the wait

	info   *requestInfo  // of the request, for the metrics and the access log
	conn   net.Conn      // taken over from net/http; nil if it could not be
	header http.Header   // of the answer, as net/http had it when it was taken over
	woke   chan struct{} // without conn: closed when the wait ends
}

// parkPoll turns sub into the parked long-poll pw, waiting at most wait;
// the commits its channel holds may end the wait at once.
func (h *watchHub) parkPoll(sub *subscriber, pw *pollWatcher, wait time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	live := h.has(sub)
	ch := sub.ch
	sub.poll, sub.ch, sub.gone = pw, nil, nil
	pw.timer = time.AfterFunc(wait, func() {
		if h.unsubscribe(sub) {
			pw.wake()
		}
	})
	if !live {
		pw.wake()
		return
	}
	for len(ch) > 0 {
		if pw.wakes(&views{}, <-ch) {
			h.drop(sub, nil)
			return
		}
	}
}

// wakes reports whether c ends the wait: a change after the index that the
// user may see.
func (pw *pollWatcher) wakes(v *views, c *verso.Commit) bool {
	if c.Rev <= pw.index {
		return false
	}
	k := viewKey{user: pw.user, path: pw.path}
	if w, ok := v.wakes[k]; ok {
		return w
	}
	w := pw.s.visiblyChangedOf(pw.user, c, pw.path)
	if v.wakes == nil {
		v.wakes = map[viewKey]bool{}
	}
	v.wakes[k] = w
	return w
}

// wake ends the wait; the hub no longer has the poll. It is called once.
func (pw *pollWatcher) wake() {
	pw.timer.Stop()
	if pw.conn == nil {
		close(pw.woke)
		return
	}
	go pw.answer()
}

// answer writes the long-poll's answer on its connection, as GET would
// have, and closes it.
func (pw *pollWatcher) answer() {
	defer pw.s.ops.watchers.Dec()
	w := pw.respond()
	pw.observe(w)
	w.Finish()
}

// observe counts the answer w to the poll in the metrics and writes it to
// the access log, as ServeHTTP does for the requests it answers.
func (pw *pollWatcher) observe(w *watchhub.Response) {
	if pw.info == nil {
		return
	}
	s := pw.s
	e := &logRequest{Start: pw.info.start, Status: w.Status(), Bytes: int64(w.BodyLen())}
	if s.ops.access != nil {
		e.fromRequest(pw.r, pw.user)
	}
	s.ops.observe(pw.r.Method, e, true, false)
}

// answerAll answers long-polls that one commit woke. Those that asked the
// same (the same user, method, URL and header) get the same answer, made
// once; the answers are written by a few goroutines.
func answerAll(polls []*pollWatcher) {
	groups := map[string][]*pollWatcher{}
	var keys []string
	for _, pw := range polls {
		k := pw.sameAs()
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], pw)
	}
	type job struct {
		pw *pollWatcher
		b  []byte
	}
	jobs := make([]job, 0, len(polls))
	for _, k := range keys {
		g := groups[k]
		w := g[0].respond()
		b := w.Bytes()
		for _, pw := range g {
			pw.observe(w)
			jobs = append(jobs, job{pw, b})
		}
	}
	workers := min(runtime.GOMAXPROCS(0), (len(jobs)+255)/256)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			// Every answer first, then the closes, which the clients do
			// not wait for.
			for i := w; i < len(jobs); i += workers {
				j := jobs[i]
				j.pw.conn.SetWriteDeadline(time.Now().Add(watchWriteTimeout))
				j.pw.conn.Write(j.b)
			}
			for i := w; i < len(jobs); i += workers {
				jobs[i].pw.conn.Close()
				jobs[i].pw.s.ops.watchers.Dec()
			}
		})
	}
	wg.Wait()
}

// sameAs returns what the answer to the poll depends on: its user, method,
// URL and header.
func (pw *pollWatcher) sameAs() string {
	r := pw.r
	var b strings.Builder
	b.WriteString(pw.user)
	b.WriteByte(0)
	b.WriteString(r.Method)
	b.WriteByte(0)
	b.WriteString(r.Host)
	b.WriteByte(0)
	b.WriteString(r.URL.RequestURI())
	for _, k := range slices.Sorted(maps.Keys(pw.header)) {
		fmt.Fprintf(&b, "\x00<%s: %q", k, pw.header[k])
	}
	for _, k := range slices.Sorted(maps.Keys(r.Header)) {
		fmt.Fprintf(&b, "\x00%s: %q", k, r.Header[k])
	}
	return b.String()
}

// respond makes the long-poll's answer, as GET would have.
func (pw *pollWatcher) respond() *watchhub.Response {
	s, r := pw.s, pw.r
	w := watchhub.NewResponse(pw.conn, r.Method == http.MethodHead)
	maps.Copy(w.Header(), pw.header)
	err := func() error {
		cur, err := s.lastChange(r, pw.path)
		if err != nil {
			return err
		}
		w.Header().Set(HeaderRevision, strconv.FormatInt(int64(cur), 10))
		return s.getAt(w, r, pw.path, verso.Head)
	}()
	if err != nil {
		writeError(w, r, s.log, err)
	}
	return w
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
