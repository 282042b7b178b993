//go:build !linux

package bolt

import (
	"os"
	"time"
)

// walSupported says whether this platform runs the store with its log:
// not here, so every group commit is synced by bbolt itself.
const walSupported = false

func lockFile(f *os.File, timeout time.Duration) error { return nil }

func fileInode(fi os.FileInfo) uint64 { return 0 }
