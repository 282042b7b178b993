package watchhub

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/verso-config/verso"
)

// PollView is what the answer to a long-poll depends on: its user, its
// request (method, URL, header) and the header of the answer as it stood
// when the poll parked. The parked polls that asked the same share one
// view, and one commit that wakes them makes their answer once.
type PollView struct {
	User   string
	Path   verso.Path
	Req    *http.Request // the first poll's request, its context detached from its connection
	Header http.Header   // of the answer, as net/http had it when the poll parked

	key string
	n   int // parked polls holding the view; under the hub's mu
}

// Poll is a parked long-poll: all the hub keeps of each.
type Poll struct {
	h     *Hub
	sub   *Sub
	view  *PollView
	index verso.Revision
	timer *time.Timer // ends the wait
	conn  net.Conn    // taken over from net/http; nil if it could not be
	woke  chan struct{}
	// Start is when the request arrived, for the metrics and the access log.
	Start time.Time

	out *Conn // while the answer is written
}

// Conn returns the connection the poll's answer goes on (nil: the
// request's goroutine answers, see Woke).
func (p *Poll) Conn() net.Conn { return p.conn }

// Woke is closed when the wait of a poll without a connection of its own
// ends; its request's goroutine then answers it.
func (p *Poll) Woke() <-chan struct{} { return p.woke }

// PollKey returns what the answer to a poll of user with request r depends
// on, with header the answer's header as it stands: user, whether the
// connection is TLS, method, host, URL and both headers.
func PollKey(user string, r *http.Request, header http.Header) string {
	var b strings.Builder
	b.WriteString(user)
	b.WriteByte(0)
	if r.TLS != nil {
		b.WriteString("tls")
	}
	b.WriteByte(0)
	b.WriteString(r.Method)
	b.WriteByte(0)
	b.WriteString(r.Host)
	b.WriteByte(0)
	b.WriteString(r.URL.RequestURI())
	for _, k := range slices.Sorted(maps.Keys(header)) {
		fmt.Fprintf(&b, "\x00<%s: %q", k, header[k])
	}
	for _, k := range slices.Sorted(maps.Keys(r.Header)) {
		fmt.Fprintf(&b, "\x00%s: %q", k, r.Header[k])
	}
	return b.String()
}

// PollSpec describes a long-poll about to park (its path is its
// subscription's).
type PollSpec struct {
	User   string
	Index  verso.Revision // the wait ends with a change the user may see after it
	Wait   time.Duration
	Start  time.Time
	Req    *http.Request
	Header http.Header // of the answer
	// Conn is the connection taken over from net/http, which the hub
	// answers on and closes; nil when it could not be taken over: then
	// the request's goroutine waits for Woke and answers itself.
	Conn net.Conn
}

// ParkPoll turns sub into a parked long-poll, waiting at most spec.Wait;
// the commits its channel holds may end the wait at once. The hub counts
// a poll with a connection in Config.Watchers until it is answered.
func (h *Hub) ParkPoll(sub *Sub, spec PollSpec) *Poll {
	p := &Poll{h: h, sub: sub, index: spec.Index, conn: spec.Conn, Start: spec.Start}
	if p.conn == nil {
		p.woke = make(chan struct{})
	} else {
		h.gaugeInc()
	}
	var key string
	if p.conn != nil {
		key = PollKey(spec.User, spec.Req, spec.Header)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.conn == nil {
		p.view = &PollView{User: spec.User, Path: sub.path, Req: spec.Req, Header: spec.Header}
	} else if p.view = h.views[key]; p.view == nil {
		r := spec.Req.WithContext(context.WithoutCancel(spec.Req.Context()))
		p.view = &PollView{User: spec.User, Path: sub.path, Req: r, Header: spec.Header, key: key}
		h.views[key] = p.view
	}
	p.view.n++
	live := h.has(sub)
	ch := sub.ch
	sub.poll, sub.ch = p, nil
	p.timer = time.AfterFunc(spec.Wait, func() {
		if h.Unsubscribe(sub) {
			p.wake()
		}
	})
	if !live {
		p.wake()
		return p
	}
	for len(ch) > 0 {
		if p.wakes(h, &views{}, <-ch) {
			h.drop(sub, nil)
			break
		}
	}
	return p
}

// Unpark lets go of a poll without a connection whose request has gone;
// it reports whether the hub still had it.
func (h *Hub) Unpark(p *Poll) bool {
	if !h.Unsubscribe(p.sub) {
		return false
	}
	p.timer.Stop()
	h.release(p)
	return true
}

// wakes reports whether c ends the wait: a change after the index that the
// user may see. The caller holds h.mu.
func (p *Poll) wakes(h *Hub, v *views, c *verso.Commit) bool {
	if c.Rev <= p.index {
		return false
	}
	k := wakeKey{user: p.view.User, path: p.view.Path}
	if w, ok := v.wakes[k]; ok {
		return w
	}
	w := h.cfg.Wakes(p.view.User, p.view.Path, c)
	if v.wakes == nil {
		v.wakes = map[wakeKey]bool{}
	}
	v.wakes[k] = w
	return w
}

// wake ends the wait of one poll; the hub no longer has it. It is called
// once.
func (p *Poll) wake() {
	p.timer.Stop()
	if p.conn == nil {
		close(p.woke)
		return
	}
	go p.h.answerOne(p)
}

// answerOne answers one poll whose wait ended by itself (timeout,
// shutdown).
func (h *Hub) answerOne(p *Poll) {
	out := h.answers([]*Poll{p})
	p.send(out[0].b)
	h.closePolls(out)
}

// answers makes the answers of polls, once per view, and returns them as
// deliveries.
func (h *Hub) answers(polls []*Poll) []delivery {
	out := make([]delivery, 0, len(polls))
	type answer struct {
		w *Response
		b []byte
	}
	made := map[*PollView]answer{}
	for _, p := range polls {
		a, ok := made[p.view]
		if !ok {
			a.w = h.cfg.Answer(p.view)
			a.b = a.w.Bytes()
			made[p.view] = a
		}
		out = append(out, delivery{poll: p, b: a.b, w: a.w})
	}
	return out
}

// send writes the poll's answer without waiting: what the socket does not
// take now is written by a goroutine, before the connection closes.
func (p *Poll) send(b []byte) {
	p.out = New(p.conn, 1, nil)
	p.out.Send(b)
}

// closePolls closes the connections of answered polls (each once its
// answer is written) and tells Config.Answered of them.
func (h *Hub) closePolls(out []delivery) {
	for _, d := range out {
		d.poll.out.Close(nil)
		if h.cfg.Answered != nil {
			h.cfg.Answered(d.poll.view, d.poll, d.w)
		}
		h.mu.Lock()
		h.unref(d.poll.view)
		h.mu.Unlock()
		h.gaugeDec()
	}
}

// release lets go of a poll that was not answered (its client went away):
// its view, and its count.
func (h *Hub) release(p *Poll) {
	h.mu.Lock()
	h.unref(p.view)
	h.mu.Unlock()
	if p.conn != nil {
		h.gaugeDec()
	}
}

// unref drops one poll's hold on v. The caller holds h.mu.
func (h *Hub) unref(v *PollView) {
	if v.n--; v.n == 0 && v.key != "" {
		delete(h.views, v.key)
	}
}
