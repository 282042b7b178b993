//go:build unix && !linux

package watchhub

import "syscall"

// writeNow is write(2) on a non-blocking socket.
func writeNow(fd int, b []byte) (int, error) { return syscall.Write(fd, b) }
