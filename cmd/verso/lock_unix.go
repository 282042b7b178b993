//go:build unix

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// lockFile, in the data directory, is held locked by the verso using it and
// holds its process id.
const lockFile = "verso.lock"

// lockDataDir takes the data directory dir for this process, so that a
// second verso on the same directory stops at once with a clear message
// rather than waiting for the store's own file lock. The lock goes away when
// the process ends, however it ends; unlock releases it earlier.
func lockDataDir(dir string) (unlock func(), err error) {
	name := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(name)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is in use by another verso (pid %s); stop it or choose another --data",
				dir, orUnknown(string(bytes.TrimSpace(pid))))
		}
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
