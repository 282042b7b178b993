//go:build unix && !linux

package watchhub

import "syscall"

// sendMore writes b on the socket (other systems have no MSG_MORE).
func sendMore(fd int, b []byte) (int, error) {
	return syscall.Write(fd, b)
}
