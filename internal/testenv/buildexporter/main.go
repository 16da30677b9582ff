// Command buildexporter builds the exporter once for a whole test run, as
// testenv.Exporter would in each package: `make test` runs it and hands
// the binary to every package through testenv.ExporterEnv.
//
//	go run ./internal/testenv/buildexporter [-race] -o PATH
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/second-hand/chrony_exporter/internal/testenv"
)

func main() {
	out := flag.String("o", "", "where to write the binary")
	race := flag.Bool("race", false, "build with the race detector, for tests run with -race")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: buildexporter [-race] -o PATH")
		os.Exit(2)
	}
	if err := testenv.BuildExporter(*out, *race); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
