//go:build race

package main

// The exporter under test is built with the race detector too, so that
// the integration tests find races in the binary, not only in the tests.
func init() { raceBuild = true }
