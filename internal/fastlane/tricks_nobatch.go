//go:build verso_nobatch

package fastlane

// Built with verso_nobatch: a loop answers each connection as soon as it
// is read, without a batch's prefetched lookups.
func init() { builtTricks.NoBatches, builtTricks.NoPrefetch = true, true }
