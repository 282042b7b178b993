//go:build verso_nothreadlock

package fastlane

// Built with verso_nothreadlock: a loop's goroutine may move between
// threads.
func init() { builtTricks.NoLockThread = true }
