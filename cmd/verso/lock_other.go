//go:build !unix

package main

// lockDataDir does nothing where flock is missing; the store's own file
// lock still keeps a second verso out.
func lockDataDir(dir string) (unlock func(), err error) {
	return func() {}, nil
}
