package bolt

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCheckFile_ReadOnly checks a store on a read-only file system:
// CheckFile writes nothing, so it checks it all the same.
func TestCheckFile_ReadOnly(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
		t.Skipf("mount tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	path := filepath.Join(dir, "verso.db")
	if err := os.WriteFile(path, mustCleanFile(t), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	if err := CheckFile(path, 0); err != nil {
		t.Errorf("CheckFile(read-only) = %v", err)
	}
}
