//go:build !unix

package main

// openFileLimit is 0 where the limit on open files cannot be read.
func openFileLimit() int { return 0 }
