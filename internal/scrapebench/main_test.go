//go:build linux

package main

import (
	"compress/gzip"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/second-hand/chrony_exporter/internal/testenv"
)

// TestMain lets the test binary serve raw snapshots, as the command does
// when measure runs it again, stand in for the peer exporter, and be the
// child whose CPUs a placement sets.
func TestMain(m *testing.M) {
	serveIfAsked()
	if os.Getenv(fakePeerEnv) != "" {
		serveFakePeer()
	}
	if os.Getenv(placementChildEnv) != "" {
		printAllowedCPUs()
	}
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// fakePeerEnv makes the test binary a stand-in for SuperQ's exporter, so
// that -peer is tested without that binary, which the project must never
// need.
const fakePeerEnv = "SCRAPEBENCH_TEST_FAKE_PEER"

// The stand-in's exposition: one metric name ours exports, and one it
// does not, which it serves only with the peer's full-set flags.
const (
	fakePeerBase  = "chrony_up 1\nchrony_tracking_stratum 3\ngo_goroutines 5\n"
	fakePeerExtra = "chrony_superq_only 1\n"
)

// serveFakePeer takes the peer's flags and serves fakePeerBase on
// /metrics, gzipped, with fakePeerExtra when all of the full set's flags
// were given; it never returns.
func serveFakePeer() {
	fs := flag.NewFlagSet("fake peer", flag.ExitOnError)
	addr := fs.String("web.listen-address", "", "")
	fs.String("chrony.address", "", "")
	fs.String("log.level", "", "")
	given := map[string]bool{}
	for _, name := range append(append([]string(nil), superqCommonArgs...), superqFullArgs...) {
		name = strings.TrimPrefix(name, "--")
		fs.BoolFunc(name, "", func(string) error { given[name] = true; return nil })
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		fatalf("fake peer: %v", err)
	}
	text := fakePeerBase
	full := true
	for _, a := range superqFullArgs {
		full = full && given[strings.TrimPrefix(a, "--")]
	}
	if full {
		text += fakePeerExtra
	}
	http.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		z := gzip.NewWriter(w)
		fmt.Fprint(z, text)
		z.Close()
	})
	fatalf("fake peer: %v", http.ListenAndServe(*addr, nil))
}
