package watchhub

import (
	"syscall"
	"unsafe"
)

// writeNow is write(2) on a non-blocking socket, made without telling the
// scheduler that the goroutine is in a system call: such a write never
// waits. A commit's fan-out makes thousands of them back to back on every
// core, each 10–20 µs in the kernel. Told of them, the runtime's monitor
// takes each core's scheduler from the writing thread in the middle of
// one and hands it to another, hundreds of thread switches per commit for
// nothing, and a fifth of the fan-out's time (BenchmarkFanoutWrite).
func writeNow(fd int, b []byte) (int, error) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
