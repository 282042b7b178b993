package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/httpops"
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
	watchWriteTimeout = watchhub.WriteTimeout
	// maxPollWait caps the wait of a long-poll; longer waits are cut to it.
	maxPollWait = 10 * time.Minute
	// defaultPollWait is the wait of a long-poll that gives index but no
	// wait, as in Consul.
	defaultPollWait = 5 * time.Minute
)

// Close ends every watch stream and long-poll, each cleanly: a stream sends
// what it has and ends, a long-poll answers at once. Call it when shutdown
// starts (http.Server.RegisterOnShutdown): parked connections are no
// longer net/http's, so Shutdown does not wait for them. New watches are
// refused with 503 afterwards. Close does not close the store.
func (s *Server) Close() {
	s.watch.Close()
}

// newWatchHub returns the hub that carries s's watch streams and
// long-polls (internal/watchhub): the server says what each user sees of a
// commit and answers long-polls; the hub holds the waiting connections and
// writes to them.
func (s *Server) newWatchHub(bufSize int, heartbeat time.Duration) *watchhub.Hub {
	return watchhub.NewHub(watchhub.Config{
		Store: s.store, Log: s.log, Buffer: bufSize, Heartbeat: heartbeat,
		Watchers: s.ops.Watchers,
		Event:    s.watchEvent,
		Wakes: func(user string, p verso.Path, c *verso.Commit) bool {
			return s.visiblyChangedOf(user, c, p)
		},
		Answer:   s.answerPoll,
		Answered: s.pollAnswered,
	})
}

// subscribe subscribes to the hub, refused with 503 once it is closed.
func (s *Server) subscribe(ctx context.Context, p verso.Path) (*watchhub.Sub, verso.Revision, error) {
	sub, pos, err := s.watch.Subscribe(ctx, p)
	if errors.Is(err, watchhub.ErrShutdown) {
		return nil, 0, errorf(http.StatusServiceUnavailable, "%v", err)
	}
	return sub, pos, err
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

	sub, pos, err := s.subscribe(ctx, p)
	if err != nil {
		return err
	}
	parked := false
	defer func() {
		if !parked {
			s.watch.Unsubscribe(sub)
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
		if backlog, err = watchhub.History(ctx, s.store, p, from, pos); err != nil {
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

// parkStream hands the stream to the hub: its connection is taken over
// from net/http (with HTTP/2, or where it cannot be, the request's
// goroutine stays and writes what the hub queues), and from then on the
// hub writes each event.
func (s *Server) parkStream(ws *watchStream, sub *watchhub.Sub) {
	ws.rc.SetWriteDeadline(time.Time{})
	spec := watchhub.StreamSpec{User: ws.user, Values: ws.values, Last: ws.last}
	conn, _, err := ws.rc.Hijack()
	if err == nil {
		// net/http sent the header with chunked framing (HTTP/1.1), which
		// the stream keeps. ServeHTTP counts the watcher while its request
		// runs; once taken over, the hub counts it until it closes.
		spec.Chunked = ws.r.ProtoAtLeast(1, 1)
		spec.Counted = true
		s.watch.ParkStream(sub, conn, spec)
		return
	}
	sink := watchhub.NewResponseSink(ws.w)
	st := s.watch.ParkStream(sub, sink, spec)
	select {
	case <-sink.Released():
	case <-ws.r.Context().Done():
		s.watch.Unsubscribe(sub)
		st.Abort()
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
	return watchhub.Event(ctx, s.store, path, values, c, vc)
}

// longPoll makes GET /config/PATH?index=N&wait=D a blocking query, in
// Consul's style: the answer comes once PATH (a key, or anything below a
// namespace) is at a revision above N, or after D, or at shutdown. Without
// index and wait it returns at once and the caller answers as usual; so it
// does when PATH is already past N. Otherwise the request parks in the hub
// (Hub.ParkPoll) and longPoll reports parked: the answer will be written when
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
	sub, _, err := s.subscribe(r.Context(), p)
	if err != nil {
		return false, err
	}
	// Anything that changes p after this check is in sub's channel.
	cur, err := s.lastChange(r, p)
	if err != nil || cur > index {
		s.watch.Unsubscribe(sub)
		if err == nil {
			w.Header().Set(HeaderRevision, strconv.FormatInt(int64(cur), 10))
		}
		return false, err
	}
	spec := watchhub.PollSpec{User: s.user(r), Index: index, Wait: wait, Req: r}
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		spec.Conn = conn
		spec.Header = w.Header().Clone()
		if ri, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			ri.parked = true // its answer is logged when it is written
			spec.Start = ri.start
		}
		s.watch.ParkPoll(sub, spec)
		return true, nil
	}
	// HTTP/2: this goroutine waits, and answers.
	poll := s.watch.ParkPoll(sub, spec)
	select {
	case <-poll.Woke():
	case <-r.Context().Done():
		s.watch.Unpark(poll)
		return false, r.Context().Err()
	}
	if cur, err = s.lastChange(r, p); err != nil {
		return false, err
	}
	w.Header().Set(HeaderRevision, strconv.FormatInt(int64(cur), 10))
	return false, nil
}

// answerPoll makes the answer of the parked long-polls of view v, as GET
// would have.
func (s *Server) answerPoll(v *watchhub.PollView) *watchhub.Response {
	r := v.Req
	w := watchhub.NewResponse(r.Method == http.MethodHead)
	maps.Copy(w.Header(), v.Header)
	err := func() error {
		cur, err := s.lastChange(r, v.Path)
		if err != nil {
			return err
		}
		w.Header().Set(HeaderRevision, strconv.FormatInt(int64(cur), 10))
		return s.getAt(w, r, v.Path, verso.Head)
	}()
	if err != nil {
		writeError(w, r, s.log, err)
	}
	return w
}

// pollAnswered counts the answer w to the parked long-poll p in the
// metrics and writes it to the access log, as ServeHTTP does for the
// requests it answers.
func (s *Server) pollAnswered(v *watchhub.PollView, p *watchhub.Poll, w *watchhub.Response) {
	e := &httpops.Entry{Start: p.Start, Status: w.Status(), Bytes: int64(w.BodyLen())}
	if s.ops.access != nil {
		e.FromRequest(v.Req, v.User)
		e.RemoteAddr = p.Conn().RemoteAddr().String()
	}
	s.ops.observe(v.Req.Method, e, true, false)
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
