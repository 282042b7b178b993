package client

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/verso-config/verso"
)

// Reconnection delays of a Watcher: the first retry waits minRetry, each
// failed one twice as long, up to maxRetry.
const (
	minRetry = 100 * time.Millisecond
	maxRetry = 5 * time.Second
)

// WatchOptions configure Watch. The zero value (or nil) gives the defaults.
type WatchOptions struct {
	// Values asks for the new value of each changed key (EventChange.Value).
	Values bool
	// OnDisconnect, when set, is called each time the stream breaks (the
	// connection is lost, the server shuts down or dropped the watcher for
	// falling behind), before the watcher reconnects.
	OnDisconnect func(err error)
}

// Event is one commit a watch delivers: a revision that changed the
// watched path or something below it.
type Event struct {
	Rev     verso.Revision `json:"revision"`
	Author  string         `json:"author"`
	Time    time.Time      `json:"time"`
	Message string         `json:"message"`
	// Changes lists the paths at or below the watched path that the
	// revision changed (and the user may read), in path order.
	Changes []EventChange `json:"changes"`
}

// EventChange is one changed path of an Event.
type EventChange struct {
	verso.Change
	// ContentType and Value are the key's new content type and value, when
	// WatchOptions.Values asked for them and the key exists after the
	// revision; Value is nil otherwise.
	ContentType string
	Value       []byte
	// ValueGone is set when the value was asked for but that state of the
	// key is no longer retained by the server.
	ValueGone bool
}

// UnmarshalJSON reads a change as the server writes it, decoding the value
// from its encoding ("utf-8" or "base64").
func (c *EventChange) UnmarshalJSON(b []byte) error {
	var v struct {
		verso.Change
		ContentType string  `json:"content_type"`
		Value       *string `json:"value"`
		Encoding    string  `json:"encoding"`
		ValueGone   bool    `json:"value_gone"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = EventChange{Change: v.Change, ContentType: v.ContentType, ValueGone: v.ValueGone}
	if v.Value != nil {
		switch v.Encoding {
		case "base64":
			val, err := base64.StdEncoding.DecodeString(*v.Value)
			if err != nil {
				return fmt.Errorf("value of %s: %w", v.Path, err)
			}
			c.Value = val
		default:
			c.Value = []byte(*v.Value)
		}
	}
	return nil
}

// Watcher delivers, in revision order, every commit after its start that
// changed a path or anything below it. It reconnects by itself when the
// stream breaks, resuming after the last revision it delivered, so nothing
// is missed and nothing repeated.
type Watcher struct {
	c      *Client
	path   verso.Path
	opts   WatchOptions
	ctx    context.Context
	cancel context.CancelFunc

	mu   sync.Mutex // guards body against Close
	body io.ReadCloser
	rd   *bufio.Reader
	last verso.Revision // the revision the next connection resumes after
}

// Watch starts watching p (and everything below it) for the commits after
// revision from; verso.Head means the head when the server answers, so
// only new changes. It returns once the server has accepted the watch: an
// error wrapping verso.ErrGone means from is older than the server's
// history. Call Next for each event and Close when done.
func (c *Client) Watch(ctx context.Context, p verso.Path, from verso.Revision, opts *WatchOptions) (*Watcher, error) {
	w := &Watcher{c: c, path: p, last: from}
	if opts != nil {
		w.opts = *opts
	}
	w.ctx, w.cancel = context.WithCancel(ctx)
	if err := w.connect(); err != nil {
		w.cancel()
		return nil, err
	}
	return w, nil
}

// Last returns the revision the watcher has delivered everything up to
// (at first, the one it started after): a watch started after it later
// misses nothing.
func (w *Watcher) Last() verso.Revision {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// Close stops the watch; a Next in progress returns.
func (w *Watcher) Close() error {
	w.cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.body != nil {
		w.body.Close()
		w.body = nil
	}
	return nil
}

// Next blocks until the next event and returns it. When the stream breaks
// it reconnects (with growing pauses while the server cannot be reached)
// and resumes; it returns an error only when the context ends, the watcher
// is closed, or the server refuses the watch (an *Error: 410 when the
// server's history no longer reaches back to the last revision delivered).
func (w *Watcher) Next() (*Event, error) {
	delay := minRetry
	for {
		if w.rd == nil {
			if err := w.connect(); err != nil {
				if w.ctx.Err() != nil {
					return nil, w.ctx.Err()
				}
				if !retryable(err) {
					return nil, err
				}
				if w.opts.OnDisconnect != nil {
					w.opts.OnDisconnect(err)
				}
				if err := sleep(w.ctx, delay); err != nil {
					return nil, err
				}
				delay = min(2*delay, maxRetry)
				continue
			}
		}
		ev, err := w.read()
		if ev != nil {
			return ev, nil
		}
		w.drop()
		if w.ctx.Err() != nil {
			return nil, w.ctx.Err()
		}
		if w.opts.OnDisconnect != nil {
			w.opts.OnDisconnect(err)
		}
		delay = minRetry
		if err := sleep(w.ctx, delay); err != nil {
			return nil, err
		}
	}
}

// retryable reports whether a failure to connect may pass: the server is
// unreachable, restarting or busy, rather than refusing the watch.
func retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Status >= 500 || e.Status == http.StatusTooManyRequests
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// connect opens the stream, resuming after w.last, and reads its first
// line: the id of the revision it starts after.
func (w *Watcher) connect() error {
	q := url.Values{"path": {string(w.path)}}
	if w.opts.Values {
		q.Set("values", "1")
	}
	h := http.Header{"Accept": {"text/event-stream"}}
	if w.last != verso.Head {
		h.Set("Last-Event-ID", strconv.FormatInt(int64(w.last), 10))
	}
	resp, err := w.c.do(w.ctx, http.MethodGet, w.c.apiURL("watch", q), nil, h)
	if err != nil {
		return err
	}
	w.mu.Lock()
	if w.ctx.Err() != nil { // closed meanwhile
		w.mu.Unlock()
		resp.Body.Close()
		return w.ctx.Err()
	}
	w.body, w.rd = resp.Body, bufio.NewReader(resp.Body)
	w.mu.Unlock()
	if w.last == verso.Head {
		// Learn where the stream starts, so that a reconnection resumes
		// there even before the first event.
		if _, err := w.read(); err != nil || w.last == verso.Head {
			w.drop()
			return fmt.Errorf("watch %s: the stream did not say where it starts: %v", w.path, err)
		}
	}
	return nil
}

// drop closes the current stream.
func (w *Watcher) drop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.body != nil {
		w.body.Close()
		w.body = nil
	}
	w.rd = nil
}

// errOverflow is why a stream ended that the server dropped for falling
// behind.
var errOverflow = errors.New("watch: fell behind the server and was dropped; resuming")

// read returns the next commit event of the stream. An event without data
// (the first one) only moves w.last and, at the start of a stream whose
// start was unknown, ends read with no event and no error. At the end of
// the stream it returns the reason.
func (w *Watcher) read() (*Event, error) {
	var id, event string
	var data strings.Builder
	fields := 0
	for {
		line, err := w.rd.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("watch %s: stream ended: %w", w.path, err)
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			if fields == 0 {
				continue
			}
			switch {
			case event == "overflow":
				return nil, errOverflow
			case event == "commit" || (event == "" && data.Len() > 0):
				var ev Event
				if err := json.Unmarshal([]byte(data.String()), &ev); err != nil {
					return nil, fmt.Errorf("watch %s: event %s: %w", w.path, id, err)
				}
				w.mu.Lock()
				w.last = ev.Rev
				w.mu.Unlock()
				return &ev, nil
			case id != "" && data.Len() == 0:
				if n, err := strconv.ParseInt(id, 10, 64); err == nil {
					unknown := w.last == verso.Head
					w.mu.Lock()
					w.last = verso.Revision(n)
					w.mu.Unlock()
					if unknown {
						return nil, nil
					}
				}
			}
			id, event, fields = "", "", 0
			data.Reset()
			continue
		}
		if line[0] == ':' {
			continue // a comment: the server's keepalive
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		fields++
		switch name {
		case "id":
			id = value
		case "event":
			event = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
}
