package watchhub

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/verso-config/verso"
)

// LogPage is how many commits one read of the log takes while a watcher
// catches up with history.
const LogPage = 1000

// eventJSON is the data of one "commit" event of a watch stream.
type eventJSON struct {
	Rev     verso.Revision `json:"revision"`
	Author  string         `json:"author"`
	Time    time.Time      `json:"time"`
	Message string         `json:"message"`
	Changes []changeJSON   `json:"changes"`
}

// changeJSON is one changed path of an event; with values=1, a key that
// exists after the commit carries its new value.
type changeJSON struct {
	verso.Change
	ContentType string  `json:"content_type,omitempty"`
	Value       *string `json:"value,omitempty"`
	// Encoding says how Value is written: "utf-8" (as is) or "base64".
	Encoding string `json:"encoding,omitempty"`
	// ValueGone says that the value was asked for but that state of the
	// key is no longer retained (Retention.KeepVersions).
	ValueGone bool `json:"value_gone,omitempty"`
}

// Event returns the event of commit c for a stream of path (with the
// changed keys' values, read from store, if values is set), or nil when c
// changed nothing at or below path. vc is c as the stream's user may see
// it (unreadable paths and copy sources left out, and the message too
// when paths were): the event says only what vc does.
func Event(ctx context.Context, store verso.Store, path verso.Path, values bool, c, vc *verso.Commit) ([]byte, error) {
	ev := eventJSON{Rev: c.Rev, Author: c.Author, Time: c.Time, Message: vc.Message, Changes: []changeJSON{}}
	for _, ch := range vc.Changes {
		if !path.Contains(ch.Path) {
			continue
		}
		wc := changeJSON{Change: ch}
		if values && ch.Kind == verso.KindKey && ch.Action != verso.Deleted {
			e, err := store.Get(ctx, ch.Path, c.Rev)
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

// History returns, oldest first, the revisions in (from, to] that changed
// p or anything below it, reading the log backwards a page at a time.
func History(ctx context.Context, store verso.Store, p verso.Path, from, to verso.Revision) ([]verso.Revision, error) {
	var revs []verso.Revision
	for before := to; before > from; {
		page, err := store.Log(ctx, verso.LogQuery{Path: p, Before: before, Limit: LogPage})
		if err != nil {
			return nil, err
		}
		for _, c := range page {
			if c.Rev <= from {
				break
			}
			revs = append(revs, c.Rev)
		}
		if len(page) < LogPage {
			break
		}
		before = page[len(page)-1].Rev - 1
	}
	slices.Reverse(revs)
	return revs, nil
}
