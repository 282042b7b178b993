//go:build race

package server_test

// raceEnabled skips the tests that only measure throughput, which the race
// detector slows tenfold.
const raceEnabled = true
