//go:build race

package server

// scale divides the sizes of the heavy tests under the race detector,
// which runs them about ten times slower.
const scale = 10
