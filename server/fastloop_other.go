//go:build !linux

package server

import "net"

// Event loops are Linux's (fastloop_linux.go); elsewhere the fast lane
// serves a goroutine per connection.

func (f *Front) startLoops(ln net.Listener) net.Listener { return ln }

func (f *Front) toLoop(*fastConn) bool { return false }

func (f *Front) stopLoops() {}

type fastLoop struct{}

type loopConn struct{}
