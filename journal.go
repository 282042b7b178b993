package verso

import (
	"context"
	"time"
)

// Journals is implemented by stores that several servers share (the
// cluster store on etcd): short-lived, append-only logs kept beside the
// versioned tree, outside its history, that every server sharing the
// store reads. An svn commit keeps its open transaction in one, so that
// its requests may reach any server. Callers find it by type assertion; a
// store without it is served by one process (the embedded bolt store),
// which keeps such state in its memory.
//
// A journal's records are numbered from 1. Appending record n succeeds for
// one caller only, so writers that append the record after the last one
// they read are serialized: the others get ErrExists, read what they
// missed and try again.
type Journals interface {
	// OpenJournal makes an empty journal and returns its id. The journal
	// and its records disappear ttl after the last append (or the open)
	// unless dropped sooner. The expiry is counted by the store, to the
	// second, and may come up to a minute sooner: a store may renew it
	// at most once a minute.
	OpenJournal(ctx context.Context, ttl time.Duration) (id string, err error)
	// AppendJournal adds rec as record n of journal id. It returns
	// ErrExists if record n exists already, ErrNotFound if the journal
	// does not exist (it was dropped or expired, or never was), ErrTooLarge
	// if rec is more than the store takes in one record.
	AppendJournal(ctx context.Context, id string, n int, rec []byte) error
	// ReadJournal returns the records of journal id from record from on,
	// in order. It returns ErrNotFound if the journal does not exist.
	ReadJournal(ctx context.Context, id string, from int) ([][]byte, error)
	// DropJournal deletes journal id and its records; dropping one that
	// does not exist is not an error.
	DropJournal(ctx context.Context, id string) error
}
