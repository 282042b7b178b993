package client_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

func TestClient_Commit(t *testing.T) {
	ctx := t.Context()
	c := newClient(t)
	tx := &client.Txn{Message: "set up"}
	tx.Mkdir("/app", verso.Cond{Absent: true}).
		Put("/app/host", []byte("db1"), "", verso.Cond{}).
		Put("/app/bin", []byte{0xff, 0x00}, "application/octet-stream", verso.Cond{}).
		Copy("/app/host", "/app/host2", false, verso.Cond{})
	cm, err := c.Commit(ctx, tx)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if cm.Rev != 1 || len(cm.Changes) != 4 || cm.Message != "set up" {
		t.Errorf("Commit = %+v, want r1 with 4 changes", cm)
	}
	v, err := c.Get(ctx, "/app/bin", verso.Head)
	if err != nil || string(v.Data) != "\xff\x00" {
		t.Errorf("Get(/app/bin) = %v, %v; want the binary value", v, err)
	}

	// A stale condition: nothing changes, and the error names the operation.
	tx = &client.Txn{}
	tx.Put("/app/new", []byte("x"), "", verso.Cond{}).Put("/app/host", []byte("db2"), "", verso.Cond{ModRev: 7})
	_, err = c.Commit(ctx, tx)
	var ce *client.Error
	if !errors.Is(err, verso.ErrPrecondition) || !errors.As(err, &ce) || ce.Op == nil || *ce.Op != 1 || ce.Path != "/app/host" {
		t.Fatalf("Commit with a stale condition = %v (%+v), want a precondition error naming op 1, /app/host", err, ce)
	}
	if _, err := c.Get(ctx, "/app/new", verso.Head); !errors.Is(err, verso.ErrNotFound) {
		t.Errorf("Get(/app/new) after a failed transaction = %v, want not found", err)
	}

	// A stale base: a conflict naming the paths.
	c.Put(ctx, "/app/host", []byte("db3"), nil) // r2
	tx = &client.Txn{Base: 1}
	tx.Put("/app/host", []byte("db4"), "", verso.Cond{}).Check("/app", verso.Cond{Exists: true})
	_, err = c.Commit(ctx, tx)
	if !errors.Is(err, verso.ErrConflict) || !errors.As(err, &ce) {
		t.Fatalf("Commit with a stale base = %v, want a conflict", err)
	}
	if diff := cmp.Diff([]verso.Path{"/app/host"}, ce.Paths); diff != "" {
		t.Errorf("conflict paths (-want +got):\n%s", diff)
	}
}

func TestClient_CompareAndSwap(t *testing.T) {
	ctx := t.Context()
	c := newClient(t)
	c.Mkdir(ctx, "/ns", nil)
	rev, err := c.CompareAndSwap(ctx, "/ns/k", 0, []byte("1"), nil)
	if err != nil {
		t.Fatalf("CompareAndSwap create: %v", err)
	}
	if _, err := c.CompareAndSwap(ctx, "/ns/k", 0, []byte("again"), nil); !errors.Is(err, verso.ErrPrecondition) {
		t.Errorf("CompareAndSwap create of an existing key = %v, want ErrPrecondition", err)
	}
	if _, err := c.CompareAndSwap(ctx, "/ns/k", rev, []byte("2"), nil); err != nil {
		t.Errorf("CompareAndSwap at the current revision: %v", err)
	}
	if _, err := c.CompareAndSwap(ctx, "/ns/k", rev, []byte("3"), nil); !errors.Is(err, verso.ErrPrecondition) {
		t.Errorf("CompareAndSwap at a stale revision = %v, want ErrPrecondition", err)
	}
}

// TestClient_Update counts with concurrent read-modify-writes: none may be
// lost.
func TestClient_Update(t *testing.T) {
	ctx := t.Context()
	c := newClient(t)
	c.Mkdir(ctx, "/ns", nil)
	const workers, each = 4, 5
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := c.Update(ctx, "/ns/counter", 1000, func(old []byte, exists bool) ([]byte, error) {
					return append(old, 'x'), nil
				})
				if err != nil {
					t.Errorf("Update: %v", err)
				}
			}
		})
	}
	wg.Wait()
	v, err := c.Get(ctx, "/ns/counter", verso.Head)
	if err != nil || len(v.Data) != workers*each {
		t.Errorf("counter = %v, %v; want %d increments", v, err, workers*each)
	}
}
