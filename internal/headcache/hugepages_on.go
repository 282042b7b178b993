//go:build !verso_nohugepages

package headcache

// hugePages says whether the head cache asks for huge pages (hugeSlice);
// built with the tag verso_nohugepages it does not, so that
// bench/tricks.sh can measure what they gain.
const hugePages = true
