//go:build race

package inputs_test

// raceEnabled reports whether the test binary has the race detector,
// which makes the hostile inputs ten times slower to read.
const raceEnabled = true
