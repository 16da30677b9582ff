// Package testenv is what the tests of several packages share: child
// processes with their output kept, free ports, HTTP fetches, and the
// exporter binary, built once per test run.
//
// It holds no test files' code of its own: packages import it from their
// _test.go files, and `make test` runs its buildexporter command to build
// the binary that every package then uses (see ExporterEnv).
package testenv
