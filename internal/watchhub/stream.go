package watchhub

import (
	"fmt"
	"strconv"

	"github.com/verso-config/verso"
)

// Stream is a parked watch stream: all the hub keeps of it.
type Stream struct {
	streamView
	conn *Conn
	last verso.Revision // the last revision written or queued
}

// streamView is what the event of a commit depends on.
type streamView struct {
	user    string
	path    verso.Path
	values  bool
	chunked bool // the body is framed in HTTP/1.1 chunks
}

// StreamSpec describes a stream about to park (its path is its
// subscription's).
type StreamSpec struct {
	User    string
	Values  bool           // events carry the changed keys' values
	Chunked bool           // the body is framed in HTTP/1.1 chunks (net/http began it so)
	Last    verso.Revision // the last revision the stream has sent, or started after
	// Counted: the hub counts the watcher in Config.Watchers until the
	// stream ends (its connection was taken over from net/http, which
	// counted it while its request ran).
	Counted bool
}

// ParkStream turns sub into a parked stream written to sink: the commits
// its channel holds are written first, then the hub writes each event. If
// the hub has already let sub go, the stream ends after them (with the
// overflow event if it fell behind).
func (h *Hub) ParkStream(sub *Sub, sink Sink, spec StreamSpec) *Stream {
	st := &Stream{streamView: streamView{user: spec.User, path: sub.path, values: spec.Values, chunked: spec.Chunked}, last: spec.Last}
	counted := spec.Counted
	if counted {
		h.gaugeInc()
	}
	st.conn = New(sink, h.cfg.Buffer, func(err error) {
		if counted {
			h.gaugeDec()
		}
		if err != nil {
			h.Unsubscribe(sub) // the client went away
		}
	})

	h.send.Lock()
	defer h.send.Unlock()
	h.mu.Lock()
	live := h.has(sub)
	queued := make([]*verso.Commit, 0, len(sub.ch))
	for len(sub.ch) > 0 {
		queued = append(queued, <-sub.ch)
	}
	if live {
		sub.stream, sub.ch = st, nil
	}
	h.mu.Unlock()
	for _, c := range queued {
		b, err := st.event(h, &views{}, c) // a view per commit
		if err != nil {
			h.cfg.Log.Warn("watch stream ended", "path", string(st.path), "after", int64(st.last), "err", err)
			if h.Unsubscribe(sub) || !live {
				st.end(err)
			}
			return st
		}
		if b == nil {
			continue
		}
		switch st.conn.Send(b) {
		case Sent:
			st.last = c.Rev
		case Full:
			if h.Unsubscribe(sub) || !live {
				st.end(ErrOverflow)
			}
			return st
		case Gone:
			h.Unsubscribe(sub)
			return st
		}
	}
	if !live {
		st.end(sub.why)
	}
	return st
}

// Abort closes the stream at once, dropping what is queued (its request
// has gone, with a connection that was not taken over). The hub must no
// longer have its subscription (Hub.Unsubscribe).
func (st *Stream) Abort() {
	st.conn.Abort()
}

// event returns the bytes that carry c to this stream (nil if none), made
// once per view of the commit.
func (st *Stream) event(h *Hub, v *views, c *verso.Commit) ([]byte, error) {
	if c.Rev <= st.last {
		return nil, nil
	}
	if b, ok := v.events[st.streamView]; ok {
		return b, nil
	}
	b, err := h.cfg.Event(h.ctx, st.user, st.path, st.values, c)
	if err != nil {
		return nil, err
	}
	if b != nil && st.chunked {
		b = chunk(b)
	}
	if v.events == nil {
		v.events = map[streamView][]byte{}
	}
	v.events[st.streamView] = b
	return b, nil
}

// end closes the stream once what is queued is written, after the
// overflow event if it fell behind. The caller holds the hub's send lock
// (or the stream has not started to get events).
func (st *Stream) end(why error) {
	var final []byte
	if why == ErrOverflow {
		final = fmt.Appendf(nil, "event: overflow\ndata: {\"resume_from\": %d}\n\n", st.last)
		if st.chunked {
			final = chunk(final)
		}
	}
	if st.chunked {
		final = append(final, "0\r\n\r\n"...) // the end of the chunked body
	}
	st.conn.Close(final)
}

// chunk frames b as one chunk of an HTTP/1.1 chunked body.
func chunk(b []byte) []byte {
	out := make([]byte, 0, len(b)+16)
	out = strconv.AppendInt(out, int64(len(b)), 16)
	out = append(out, "\r\n"...)
	out = append(out, b...)
	return append(out, "\r\n"...)
}
