//go:build !linux

package fastlane

import "net"

// Event loops are Linux's (loop_linux.go); elsewhere the lane
// serves a goroutine per connection.

func (f *Front) startLoops(ln net.Listener) net.Listener { return ln }

func (f *Front) toLoop(*conn) bool { return false }

func (f *Front) stopLoops() {}

type loop struct{}

type loopConn struct{}

// LoopConns returns nil: there are no loops.
func (f *Front) LoopConns() []int { return nil }

// PauseLoop panics: there are no loops.
func (f *Front) PauseLoop(i int) func() { panic("fastlane: no event loops") }
