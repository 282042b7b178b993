//go:build verso_nohugepages

package headcache

// hugePages: built with verso_nohugepages, the head cache's memory is
// ordinary Go heap memory (bench/tricks.sh).
const hugePages = false
