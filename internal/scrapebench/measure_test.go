//go:build linux && integration

package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/second-hand/chrony_exporter/collector"
	"github.com/second-hand/chrony_exporter/internal/testenv"
)

// TestMeasure runs one small measurement so that make bench does not rot:
// a lab with one reachable source, two rounds of a few scrapes, the series
// per collector, and the peer comparison against a stand-in peer.
func TestMeasure(t *testing.T) {
	bin, err := testenv.Exporter()
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakePeerEnv, "1")
	lr, err := measure(benchConfig{bins: []exporterBinary{{name: "built", path: bin}}, rounds: 2, warmup: 2, scrapes: 5, procs: 1, peer: self}, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkSeriesByCollector(t, lr.series)
	checkPeer(t, lr.peer)
	rs := lr.rounds
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

// checkSeriesByCollector checks the series per collector of a lab with
// one reachable source: a row per collector and one for the exporter,
// defaults as the collectors say, and series where every lab has them.
func checkSeriesByCollector(t *testing.T, cs []collectorSeries) {
	t.Helper()
	var names []string
	for _, c := range cs {
		names = append(names, c.name)
		if c.name != "" && c.defaultOn != collector.DefaultEnabled(c.name) {
			t.Errorf("collector %s: on by default %v, the collector says %v", c.name, c.defaultOn, collector.DefaultEnabled(c.name))
		}
		if c.name != "" && c.host < 2 {
			t.Errorf("collector %s: %d series per host, want at least its success and duration", c.name, c.host)
		}
	}
	if want := append(collector.Names(), ""); !slices.Equal(names, want) {
		t.Errorf("rows %q, want %q", names, want)
	}
	for _, c := range cs {
		switch c.name {
		case "sources", "sourcestats":
			if c.reachableMin == 0 || c.reachableMin > c.reachableMax || c.unreachable == 0 || c.total <= c.host+c.reachableMax {
				t.Errorf("collector %s: %+v, want series of each source", c.name, c)
			}
		case "tracking":
			if c.reachableMax != 0 || c.host <= 2 {
				t.Errorf("collector tracking: %+v, want series per host only", c)
			}
		}
	}
	var out strings.Builder
	printSeriesByCollector(&out, 1, cs)
	for _, s := range append(collector.Names(), "(exporter)", "defaults", "every collector") {
		if !strings.Contains(out.String(), s) {
			t.Errorf("the table does not list %s:\n%s", s, out.String())
		}
	}
}

// checkPeer checks the comparison with the stand-in peer: four rows in
// order, the peer's full-set flags reaching it, and its one metric name
// ours lacks found.
func checkPeer(t *testing.T, r *peerResult) {
	t.Helper()
	if r == nil {
		t.Fatal("no peer comparison with -peer")
	}
	if len(r.rows) != 4 {
		t.Fatalf("%d rows, want 4: %+v", len(r.rows), r.rows)
	}
	for _, row := range r.rows {
		if row.p50 <= 0 || row.p99 < row.p50 || row.chronySeries == 0 || row.series <= row.chronySeries || row.gzipBytes == 0 || row.hwmKiB <= 0 {
			t.Errorf("%s: %+v", row.name, row)
		}
	}
	if got := r.rows[2].chronySeries; got != 2 {
		t.Errorf("the peer with its defaults: %d chrony_* series, want 2", got)
	}
	if got := r.rows[3].chronySeries; got != 3 {
		t.Errorf("the peer with its full set: %d chrony_* series, want 3 (were its flags passed?)", got)
	}
	if !slices.Equal(r.missing, []string{"chrony_superq_only"}) {
		t.Errorf("peer names ours lacks: %q, want chrony_superq_only", r.missing)
	}
	if want := float64(r.rows[0].chronySeries) / 3; r.seriesRatio() != want {
		t.Errorf("series ratio %v, want %v", r.seriesRatio(), want)
	}
	var out strings.Builder
	printPeer(&out, "fake", *r)
	for _, s := range []string{"ours, SuperQ's full set", "SuperQ, defaults", "chrony_superq_only", "target at most 0.60", "target at least 1.50"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("the comparison does not say %q:\n%s", s, out.String())
		}
	}
}
