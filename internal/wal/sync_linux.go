//go:build linux

package wal

import (
	"errors"
	"os"
	"syscall"
)

// fdatasync flushes f's data, and of its metadata only what reading the
// data needs.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
