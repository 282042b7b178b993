// Command etcd runs a one-member etcd cluster for scripts (scripts/litmus.sh
// --store etcd): it prints "endpoints=URL" once the member serves, and
// stops on SIGTERM or SIGINT. Data goes to the directory given as its
// argument. It is the in-process cluster of the Go tests (package
// etcd/etcdtest), not a way to run etcd for real.
//
// Usage: go run ./scripts/etcd DIR
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/verso-config/verso/etcd/etcdtest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: etcd DIR")
		os.Exit(2)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	c, err := etcdtest.New(os.Args[1], 1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd:", err)
		os.Exit(1)
	}
	fmt.Printf("endpoints=%s\n", strings.Join(c.Endpoints(), ","))
	<-sig
	c.Close()
}
