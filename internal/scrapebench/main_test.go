//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMain lets the test binary serve raw snapshots, as the command does
// when measure runs it again.
func TestMain(m *testing.M) {
	serveIfAsked()
	os.Exit(m.Run())
}

// TestMeasure runs one small measurement so that make bench does not rot:
// a lab with one reachable source, two rounds of a few scrapes.
func TestMeasure(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "chrony_exporter")
	build := exec.Command("go", "build", "-o", bin, "./cmd/chrony_exporter")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/chrony_exporter: %v\n%s", err, out)
	}
	rs, err := measure([]exporterBinary{{name: "built", path: bin}}, nil, 1, 2, 2, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].round != 1 || rs[1].round != 2 || rs[1].exporter != "built" {
		t.Fatalf("%d results, want rounds 1 and 2: %+v", len(rs), rs)
	}
	r := rs[1]
	if r.sources != 3 || r.series <= r.chronySeries || r.chronySeries == 0 || r.gzipBytes == 0 {
		t.Errorf("sources %d (want 3), series %d, chrony_* %d, gzip bytes %d", r.sources, r.series, r.chronySeries, r.gzipBytes)
	}
	if r.p50 <= 0 || r.p99 < r.p50 || r.rssKiB <= 0 || r.hwmKiB < r.rssKiB {
		t.Errorf("p50 %v, p99 %v, VmRSS %d KiB, VmHWM %d KiB", r.p50, r.p99, r.rssKiB, r.hwmKiB)
	}
	if r.scraperCPU <= 0 || r.scraperCPU > r.p50+r.snapP50 {
		t.Errorf("scraper CPU per scrape %v, want more than 0 and less than a scrape and a snapshot (%v)", r.scraperCPU, r.p50+r.snapP50)
	}
	if r.seqP50 <= 0 {
		t.Errorf("sequential read p50 %v", r.seqP50)
	}
	if r.snapP50 <= 0 || r.snapP99 < r.snapP50 || r.readP50 <= 0 || r.readP50 > r.p50 || r.afterP50 <= 0 || r.afterP50 > r.p50 {
		t.Errorf("raw snapshot p50 %v, p99 %v; the exporter's read p50 %v, after it %v (scrape p50 %v)", r.snapP50, r.snapP99, r.readP50, r.afterP50, r.p50)
	}
}
