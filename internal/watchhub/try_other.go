//go:build !unix

package watchhub

import "syscall"

// tryWrite leaves every write to the connection's goroutine where sockets
// cannot be written without waiting.
func tryWrite(raw syscall.RawConn, b []byte) (int, error) {
	return 0, errAgain
}

// alive cannot tell without waiting here: the client is taken to be there
// until a write fails.
func alive(raw syscall.RawConn) bool { return true }
