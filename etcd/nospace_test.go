package etcd

import (
	"context"
	"errors"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/etcd/etcdtest"
)

// TestStore_NoSpace raises etcd's NOSPACE alarm (what etcd does when its
// database reaches its space quota) on a cluster of its own: commits fail
// with verso.ErrNoSpace and change nothing, reads go on, and commits work
// again once the alarm is disarmed.
func TestStore_NoSpace(t *testing.T) {
	endpoints := etcdtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, &Options{Endpoints: endpoints, Prefix: "/nospace/", MaxTxnOps: testMaxTxnOps, MaxTxnBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(p, v string) error {
		_, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: verso.Path(p), Value: []byte(v)}}})
		return err
	}
	if err := put("/a", "1"); err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	members, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := members.Members[0].ID
	if _, err := pb.NewMaintenanceClient(cli.ActiveConnection()).Alarm(ctx, &pb.AlarmRequest{
		Action: pb.AlarmRequest_ACTIVATE, MemberID: id, Alarm: pb.AlarmType_NOSPACE,
	}); err != nil {
		t.Fatalf("raise the NOSPACE alarm: %v", err)
	}
	if err := put("/b", "2"); !errors.Is(err, verso.ErrNoSpace) {
		t.Fatalf("Commit under etcd's NOSPACE alarm: %v, want ErrNoSpace", err)
	}
	if e, err := s.Get(ctx, "/a", verso.Head); err != nil || string(e.Value) != "1" {
		t.Fatalf("Get(/a) under the alarm = %v, %v; want 1", e, err)
	}
	if _, err := cli.AlarmDisarm(ctx, &clientv3.AlarmMember{MemberID: id, Alarm: pb.AlarmType_NOSPACE}); err != nil {
		t.Fatal(err)
	}
	if err := put("/b", "2"); err != nil {
		t.Fatalf("Commit after the alarm was disarmed: %v", err)
	}
	if h, _ := s.Head(ctx); h != 2 {
		t.Errorf("head = r%d, want r2 (the refused commit changed nothing)", h)
	}
}
