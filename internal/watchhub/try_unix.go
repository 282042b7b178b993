//go:build unix

package watchhub

import "syscall"

// tryWrite writes b on the socket once, without waiting for it to become
// writable (Go's sockets are non-blocking).
func tryWrite(raw syscall.RawConn, b []byte) (int, error) {
	var n int
	var werr error
	err := raw.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, err := writeNow(int(fd), b[n:])
			if err == syscall.EINTR {
				continue
			}
			if err == syscall.EAGAIN {
				werr = errAgain
				return true
			}
			if err != nil {
				werr = err
				return true
			}
			n += m
		}
		return true
	})
	if err != nil {
		return n, err
	}
	return n, werr
}

// alive reads the socket once without waiting: end of file or an error
// (other than nothing to read) means the client is gone.
func alive(raw syscall.RawConn) bool {
	ok := true
	var buf [256]byte
	err := raw.Read(func(fd uintptr) bool {
		for {
			n, err := syscall.Read(int(fd), buf[:])
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
			case err != nil || n == 0:
				ok = false
			case n == len(buf):
				continue // more to discard
			}
			return true
		}
	})
	return ok && err == nil
}
