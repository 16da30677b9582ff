//go:build !race

package testenv

// Race is set when the tests run with the race detector: the exporter
// they build has it too, so that the tests find races in the binary, not
// only in themselves.
const Race = false
