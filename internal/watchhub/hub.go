package watchhub

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/verso-config/verso"
)

// Why a hub let a subscriber go.
var (
	// ErrOverflow: the watcher fell too far behind.
	ErrOverflow = errors.New("watcher fell too far behind")
	// ErrShutdown: the hub is closed (the server is stopping, or its store).
	ErrShutdown = errors.New("server is shutting down")
)

// Gauge counts the parked watchers (a prometheus.Gauge fits).
type Gauge interface {
	Inc()
	Dec()
}

// Config is what a hub needs of the server it serves.
type Config struct {
	Store     verso.Store
	Log       *slog.Logger
	Buffer    int           // how many events a watcher may fall behind
	Heartbeat time.Duration // how often an idle stream gets a keepalive
	Watchers  Gauge         // parked watchers; may be nil

	// Event returns the event of c for a stream of user at path (with
	// values, if asked), or nil when c changed nothing there that the
	// user may read. It is called once per commit and view, whatever the
	// number of streams of that view.
	Event func(ctx context.Context, user string, path verso.Path, values bool, c *verso.Commit) ([]byte, error)
	// Wakes reports whether c changed path, or anything below it, that
	// user may read; once per commit and (user, path).
	Wakes func(user string, path verso.Path, c *verso.Commit) bool
	// Answer makes the answer to a long-poll of the view once its wait is
	// over; once per view for the polls that one commit wakes.
	Answer func(v *PollView) *Response
	// Answered is told of each long-poll answered on a connection the hub
	// holds, for metrics and the access log; may be nil.
	Answered func(v *PollView, p *Poll, w *Response)
}

// Hub follows the store and hands every new commit, read once, to the
// subscribers whose path it touched.
//
// A subscriber starts as a channel, which nobody reads while its request's
// goroutine checks access, catches up with history or decides whether to
// wait at all; then it parks (ParkStream, ParkPoll): its connection is
// taken over from net/http and the hub writes to it itself (Conn), each
// event formatted once per distinct view (user, path, values), so an idle
// watcher costs a small struct and its socket. A watcher that falls
// Buffer events behind is dropped with the overflow event, so a slow
// watcher never slows the hub, writers or other watchers.
type Hub struct {
	cfg Config

	ctx    context.Context
	cancel context.CancelFunc

	// send orders the writes of events: publish holds it from reading the
	// subscribers to the last write, ParkStream while it hands a
	// subscriber's queued commits to its connection. Taken before mu.
	send sync.Mutex

	mu      sync.Mutex
	started bool
	closed  bool
	pos     verso.Revision                   // the last revision handed out
	subs    map[verso.Path]map[*Sub]struct{} // by the path they watch
	views   map[string]*PollView             // of the parked long-polls, by PollKey
	done    chan struct{}                    // closed when the follower has stopped
}

// Sub is one watcher (or long-poll) of the hub: until it parks, a channel
// that holds its commits; then a parked stream or poll.
type Sub struct {
	path verso.Path
	ch   chan *verso.Commit
	why  error // why the hub dropped it before it parked: ErrOverflow or ErrShutdown

	stream *Stream // parked stream
	poll   *Poll   // parked long-poll
}

// NewHub returns a hub; it starts following the store at the first
// subscription.
func NewHub(cfg Config) *Hub {
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{
		cfg: cfg, ctx: ctx, cancel: cancel,
		subs:  map[verso.Path]map[*Sub]struct{}{},
		views: map[string]*PollView{},
		done:  make(chan struct{}),
	}
}

// Subscribe adds a subscriber for p and returns it with the hub's position:
// every commit after pos that touched p (or anything below it) will be in
// its channel, in order, until it is dropped or parks. The hub starts
// following the store on the first subscription. After Close it returns
// ErrShutdown.
func (h *Hub) Subscribe(ctx context.Context, p verso.Path) (*Sub, verso.Revision, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, 0, ErrShutdown
	}
	if !h.started {
		head, err := h.cfg.Store.Head(ctx)
		if err != nil {
			return nil, 0, err
		}
		h.pos = head
		h.started = true
		go h.follow()
		go h.beat()
	}
	sub := &Sub{path: verso.Path(strings.Clone(string(p))), ch: make(chan *verso.Commit, h.cfg.Buffer)}
	h.add(sub)
	return sub, h.pos, nil
}

// Unsubscribe removes sub and reports whether the hub still had it.
func (h *Hub) Unsubscribe(sub *Sub) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.remove(sub)
}

// Close drops every subscriber, each cleanly (a stream gets what it has
// and ends, a long-poll answers at once), and stops following the store.
// Later subscriptions get ErrShutdown.
func (h *Hub) Close() {
	h.send.Lock()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.send.Unlock()
		return
	}
	h.closed = true
	for _, sub := range h.all() {
		h.drop(sub, ErrShutdown)
	}
	started := h.started
	h.mu.Unlock()
	h.send.Unlock()
	h.cancel()
	if started {
		<-h.done
	}
}

// add, has and remove keep the subscribers by path; the caller holds h.mu.
func (h *Hub) add(sub *Sub) {
	m := h.subs[sub.path]
	if m == nil {
		m = map[*Sub]struct{}{}
		h.subs[sub.path] = m
	}
	for other := range m {
		// One copy of the path for all its watchers: a request's path
		// holds on to the whole request line it was cut from.
		sub.path = other.path
		break
	}
	m[sub] = struct{}{}
}

func (h *Hub) has(sub *Sub) bool {
	_, ok := h.subs[sub.path][sub]
	return ok
}

func (h *Hub) remove(sub *Sub) bool {
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
func (h *Hub) all() []*Sub {
	var out []*Sub
	for _, m := range h.subs {
		for sub := range m {
			out = append(out, sub)
		}
	}
	return out
}

// drop lets sub go for the reason why (nil: a long-poll's wake-up). The
// caller holds h.mu (and h.send, for a parked stream).
func (h *Hub) drop(sub *Sub, why error) {
	h.remove(sub)
	switch {
	case sub.stream != nil:
		sub.stream.end(why)
	case sub.poll != nil:
		sub.poll.wake()
	default:
		sub.why = why
	}
}

// follow reads each new revision once, in order, and publishes it, until
// the hub is closed or the store is.
func (h *Hub) follow() {
	defer close(h.done)
	h.mu.Lock()
	next := h.pos + 1
	h.mu.Unlock()
	for {
		_, err := h.cfg.Store.Wait(h.ctx, next)
		var c *verso.Commit
		if err == nil {
			c, err = h.cfg.Store.Revision(h.ctx, next)
		}
		switch {
		case err == nil:
			h.publish(c)
			next++
			continue
		case h.ctx.Err() != nil:
			return
		case errors.Is(err, verso.ErrClosed):
			h.dropAll(nil, ErrShutdown)
			return
		case errors.Is(err, verso.ErrGone):
			// Pruned before it could be read: nobody can have it, so every
			// watcher resumes (and learns it is gone).
			h.dropAll(&next, ErrOverflow)
			next++
			continue
		}
		h.cfg.Log.Error("watch: read revision", "revision", int64(next), "err", err)
		select {
		case <-time.After(time.Second):
		case <-h.ctx.Done():
			return
		}
	}
}

// dropAll drops every subscriber for the reason why: when the store is
// gone (the hub then refuses new ones; Close still works), or, with skip,
// when revision *skip cannot be read (the hub goes past it).
func (h *Hub) dropAll(skip *verso.Revision, why error) {
	h.send.Lock()
	defer h.send.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if skip != nil {
		h.pos = *skip
	} else {
		h.closed = true
	}
	for _, sub := range h.all() {
		h.drop(sub, why)
	}
}

// beat sends a keepalive comment to every parked stream that is not
// behind, each heartbeat, and lets go of the parked watchers whose client
// has gone (checked every second, or every heartbeat if that is shorter),
// until the hub is closed. Each period it checks a tenth of the watchers
// every tenth of the period rather than all at once: the check is a
// system call per watcher, and a commit's deliveries should never wait
// behind the whole of it (docs/PERFORMANCE.md, Watch at fleet scale).
func (h *Hub) beat() {
	heart := time.NewTicker(h.cfg.Heartbeat)
	defer heart.Stop()
	tick := time.NewTicker(max(time.Millisecond, min(time.Second, h.cfg.Heartbeat)/sweepSteps))
	defer tick.Stop()
	var subs []*Sub
	done, step := 0, 0
	beatDue, beat := false, false
	for {
		select {
		case <-heart.C:
			beatDue = true
			continue
		case <-tick.C:
		case <-h.ctx.Done():
			return
		}
		if step == 0 {
			clear(subs)
			subs = subs[:0]
			h.mu.Lock()
			for _, m := range h.subs {
				for sub := range m {
					if sub.stream != nil || (sub.poll != nil && sub.poll.conn != nil) {
						subs = append(subs, sub)
					}
				}
			}
			h.mu.Unlock()
			done = 0
			beat, beatDue = beatDue, false
		}
		step++
		end := len(subs) * step / sweepSteps
		for _, sub := range subs[done:end] {
			if st := sub.stream; st != nil {
				switch {
				case !st.conn.Alive():
					if h.Unsubscribe(sub) {
						st.conn.Abort()
					}
				case beat && st.conn.Pending() == 0:
					if st.chunked {
						st.conn.Send(keepaliveChunked)
					} else {
						st.conn.Send(keepalive)
					}
				}
				continue
			}
			if p := sub.poll; !Alive(p.conn) && h.Unsubscribe(sub) {
				p.timer.Stop()
				p.conn.Close()
				h.release(p)
			}
		}
		done = end
		if step == sweepSteps {
			step = 0
		}
	}
}

// sweepSteps is how many parts beat checks the parked watchers in, one a
// tick.
const sweepSteps = 10

// keepalive is the comment an idle stream gets every heartbeat.
var (
	keepalive        = []byte(": keepalive\n\n")
	keepaliveChunked = chunk(keepalive)
)

// views remembers, for one commit (never more), what each distinct view
// of it is: the event a stream of that view gets (nil: none), or whether
// it wakes a long-poll of that view.
type views struct {
	events map[streamView][]byte
	wakes  map[wakeKey]bool
}

// wakeKey is what a long-poll's wake-up depends on.
type wakeKey struct {
	user string
	path verso.Path
}

// publish hands c to every subscriber whose path it touched: a channel
// gets it (or is dropped if full), a parked stream is written its event,
// formatted once per view, and a parked long-poll that c wakes is
// answered, once per view of the polls. The writes do not wait for any
// client; they are spread over a few goroutines, every event and answer
// first, then the long-polls' closes.
func (h *Hub) publish(c *verso.Commit) {
	h.send.Lock()
	defer h.send.Unlock()
	v := &views{}
	var streams []delivery
	var polls []*Poll
	h.mu.Lock()
	h.pos = c.Rev
	for _, sub := range h.touched(c) {
		switch {
		case sub.stream != nil:
			b, err := sub.stream.event(h, v, c)
			switch {
			case err != nil:
				h.cfg.Log.Warn("watch stream ended", "path", string(sub.path), "after", int64(sub.stream.last), "err", err)
				h.drop(sub, err)
			case b != nil:
				streams = append(streams, delivery{sub: sub, b: b, rev: c.Rev})
			}
		case sub.poll != nil:
			if p := sub.poll; p.wakes(h, v, c) {
				h.remove(sub)
				p.timer.Stop()
				if p.conn == nil {
					close(p.woke)
				} else {
					polls = append(polls, p)
				}
			}
		default:
			select {
			case sub.ch <- c:
			default:
				h.drop(sub, ErrOverflow)
			}
		}
	}
	h.mu.Unlock()
	if len(streams) == 0 && len(polls) == 0 {
		return
	}
	out := append(streams, h.answers(polls)...)
	full := writeAll(out)
	if len(polls) > 0 {
		go h.closePolls(out[len(streams):])
	}
	if len(full) == 0 {
		return
	}
	h.mu.Lock()
	for _, sub := range full {
		if h.has(sub) {
			h.drop(sub, ErrOverflow)
		}
	}
	h.mu.Unlock()
}

// delivery is one write of a commit's fan-out: an event to a parked stream
// (sub), or the answer to a long-poll (poll).
type delivery struct {
	sub  *Sub
	poll *Poll
	b    []byte
	rev  verso.Revision
	w    *Response // the long-poll's answer
}

// writeAll makes each delivery, a few goroutines sharing them, and returns
// the streams that were too far behind to take theirs.
func writeAll(out []delivery) []*Sub {
	workers := min(runtime.GOMAXPROCS(0), (len(out)+255)/256)
	var mu sync.Mutex
	var full []*Sub
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(out); i += workers {
				d := &out[i]
				if d.poll != nil {
					d.poll.send(d.b)
					continue
				}
				switch d.sub.stream.conn.Send(d.b) {
				case Sent:
					d.sub.stream.last = d.rev
				case Full:
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
func (h *Hub) touched(c *verso.Commit) []*Sub {
	var out []*Sub
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

// gaugeInc and gaugeDec count a parked watcher.
func (h *Hub) gaugeInc() {
	if h.cfg.Watchers != nil {
		h.cfg.Watchers.Inc()
	}
}

func (h *Hub) gaugeDec() {
	if h.cfg.Watchers != nil {
		h.cfg.Watchers.Dec()
	}
}

// The ResponseSink below stands in for a connection that net/http does not
// give up (HTTP/2).

// ResponseSink writes a parked stream through its ResponseWriter, for a
// connection that could not be taken over (HTTP/2). The request's
// goroutine waits for Released, closed when the hub lets the stream go.
type ResponseSink struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	released chan struct{}
	once     sync.Once
}

// NewResponseSink writes through w.
func NewResponseSink(w http.ResponseWriter) *ResponseSink {
	return &ResponseSink{w: w, rc: http.NewResponseController(w), released: make(chan struct{})}
}

// Released is closed once the hub has let the stream go.
func (rs *ResponseSink) Released() <-chan struct{} { return rs.released }

func (rs *ResponseSink) Write(b []byte) (int, error) {
	if _, err := rs.w.Write(b); err != nil {
		return 0, err
	}
	return len(b), rs.rc.Flush()
}

func (rs *ResponseSink) SetWriteDeadline(t time.Time) error {
	return rs.rc.SetWriteDeadline(t)
}

func (rs *ResponseSink) Close() error {
	rs.once.Do(func() { close(rs.released) })
	return nil
}
