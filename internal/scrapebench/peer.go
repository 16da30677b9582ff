//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

// The peer is SuperQ/chrony_exporter, the exporter most chrony users run,
// given as a binary with -peer: a measuring stick, never something this
// project builds or needs.

// superqFullSet are this exporter's collectors that export what SuperQ's
// full set (superqFullArgs) does: comparePeer checks the metric names of
// both scrapes and prints any of the peer's we do not export.
var superqFullSet = []string{"tracking", "sources", "sourcestats", "ntpdata", "serverstats"}

// superqFullArgs turn on the peer's every collector, as its README lists
// them for comparisons. Reverse DNS is off for every contender: this
// exporter does none by default, and a resolver's latency is not the
// exporter's.
var superqFullArgs = []string{
	"--collector.tracking", "--collector.sources", "--collector.sourcestats",
	"--collector.sources.with-ntpdata", "--collector.serverstats",
}

// superqCommonArgs go to the peer in every configuration: it can use a
// Unix socket only when it opens up its own receiving socket for chronyd,
// which runs as another user.
var superqCommonArgs = []string{"--collector.chmod-socket", "--no-collector.dns-lookups"}

// Ratios the issue asks of the full-set comparison.
const (
	targetP50Ratio    = 0.6 // our p50 over the peer's, at most
	targetSeriesRatio = 1.5 // our chrony_* series over the peer's, at least
)

// contender is one exporter configuration in the peer comparison.
type contender struct {
	name       string // as the table prints it
	collectors string // what it exports, in words
	bin        string
	args       []string
	peer       bool

	exp   *exporterProc
	times []time.Duration
	last  []byte        // the last body, gzipped
	cpu0  time.Duration // the process's CPU time before the measured scrapes
}

// peerRow is what the comparison measured of one contender.
type peerRow struct {
	name, collectors     string
	p50, p99             time.Duration
	chronySeries, series int
	gzipBytes            int
	cpuPerScrape         time.Duration
	hwmKiB               int
}

// peerResult is the comparison of one lab.
type peerResult struct {
	reachable int
	scrapes   int
	rows      []peerRow // ours (full set), ours (defaults), SuperQ (defaults), SuperQ (full set)
	missing   []string  // chrony_* names of the peer's full set that ours does not export
}

// p50Ratio is our full-set p50 over the peer's.
func (r peerResult) p50Ratio() float64 { return float64(r.rows[0].p50) / float64(r.rows[3].p50) }

// seriesRatio is our full-set chrony_* series over the peer's.
func (r peerResult) seriesRatio() float64 {
	return float64(r.rows[0].chronySeries) / float64(r.rows[3].chronySeries)
}

// comparePeer measures, against lab, our exporter bin with the collectors
// of superqFullSet and with its defaults, and the peer with its defaults
// and with its full set: all four run at once and are scraped in turn,
// scrape by scrape, the order turning every round, so that a moment of
// load on a shared machine falls on all of them alike.
func comparePeer(bin, peer string, pl *placement, lab *chronytest.Lab, n, warmup, scrapes int) (res peerResult, err error) {
	res.reachable, res.scrapes = n, scrapes
	addr := "--chrony.address=unix://" + lab.SocketPath
	var full []string
	for _, name := range collector.Names() {
		if slices.Contains(superqFullSet, name) {
			full = append(full, "--collector."+name)
		} else {
			full = append(full, "--no-collector."+name)
		}
	}
	cs := []*contender{
		{name: "ours, SuperQ's full set", collectors: strings.Join(superqFullSet, ","), bin: bin, args: append([]string{addr}, full...)},
		{name: "ours, defaults", collectors: strings.Join(defaultCollectors(), ","), bin: bin, args: []string{addr}},
		{name: "SuperQ, defaults", collectors: "tracking", bin: peer, peer: true, args: append([]string{addr}, superqCommonArgs...)},
		{name: "SuperQ, full set", collectors: "tracking,sources,sourcestats,sources.with-ntpdata,serverstats", bin: peer, peer: true,
			args: append(append([]string{addr}, superqCommonArgs...), superqFullArgs...)},
	}
	defer func() {
		for _, c := range cs {
			if c.exp != nil {
				c.exp.stop()
			}
		}
	}()
	for _, c := range cs {
		if c.exp, err = startExporter(pl, c.bin, c.args...); err != nil {
			return res, fmt.Errorf("%s: %w", c.name, err)
		}
	}
	for _, c := range cs {
		ready := peerReady()
		if !c.peer {
			var sources int
			ready = oursReady(n, &sources)
		}
		if err := c.exp.waitReady(ready); err != nil {
			return res, fmt.Errorf("%s: %w", c.name, err)
		}
	}

	turn := func(round int, measured bool) error {
		for i := range cs {
			c := cs[(round+i)%len(cs)]
			body, d, err := c.exp.scrape()
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if measured {
				c.times = append(c.times, d)
				c.last = body
			}
		}
		return nil
	}
	for round := range warmup {
		if err := turn(round, false); err != nil {
			return res, err
		}
	}
	for _, c := range cs {
		cpu, err := procCPU(c.exp.cmd.Process.Pid)
		if err != nil {
			return res, err
		}
		c.cpu0 = cpu
	}
	for round := range scrapes {
		if err := turn(round, true); err != nil {
			return res, err
		}
	}
	texts := map[*contender][]byte{}
	for _, c := range cs {
		cpu, err := procCPU(c.exp.cmd.Process.Pid)
		if err != nil {
			return res, err
		}
		_, hwmKiB, err := procMemory(c.exp.cmd.Process.Pid)
		if err != nil {
			return res, err
		}
		text, err := gunzip(c.last)
		if err != nil {
			return res, err
		}
		texts[c] = text
		r := peerRow{name: c.name, collectors: c.collectors, gzipBytes: len(c.last), hwmKiB: hwmKiB,
			series: countSeries(text, ""), chronySeries: countSeries(text, "chrony_"),
			cpuPerScrape: (cpu - c.cpu0) / time.Duration(scrapes)}
		r.p50, r.p99 = percentiles(c.times)
		res.rows = append(res.rows, r)
	}
	res.missing = missingNames(texts[cs[3]], texts[cs[0]], "chrony_")
	return res, nil
}

// defaultCollectors are the names of our collectors on by default.
func defaultCollectors() []string {
	var on []string
	for _, name := range collector.Names() {
		if collector.DefaultEnabled(name) {
			on = append(on, name)
		}
	}
	return on
}

// peerReady accepts the peer's exposition when chronyd answered and two
// scrapes in a row had as many series: the peer lists what chronyd
// reports, and the lab is settled before it starts.
func peerReady() func([]byte) error {
	last := -1
	return func(text []byte) error {
		if !upLine.Match(text) {
			return errors.New("no chrony_up 1")
		}
		n := countSeries(text, "")
		if n != last {
			last = n
			return fmt.Errorf("%d series, not yet twice", n)
		}
		return nil
	}
}

// sampleNames returns the metric names of the samples of an exposition
// that start with prefix.
func sampleNames(text []byte, prefix string) map[string]bool {
	names := map[string]bool{}
	for _, line := range bytes.Split(text, []byte("\n")) {
		if len(line) == 0 || line[0] == '#' || !bytes.HasPrefix(line, []byte(prefix)) {
			continue
		}
		if end := bytes.IndexAny(line, "{ "); end > 0 {
			names[string(line[:end])] = true
		}
	}
	return names
}

// missingNames returns, sorted, the metric names starting with prefix
// that have samples in theirs and none in ours.
func missingNames(theirs, ours []byte, prefix string) []string {
	have := sampleNames(ours, prefix)
	var missing []string
	for name := range sampleNames(theirs, prefix) {
		if !have[name] {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	return missing
}

// printPeer writes the comparison of one lab, its ratios against the
// targets, and the peer's metric names ours lacks.
func printPeer(out io.Writer, peer string, r peerResult) {
	fmt.Fprintf(out, "\npeer comparison, %d reachable sources (%d in all): %s and this exporter against the same chronyd,\n"+
		"all four running at once and scraped in turn (%d scrapes each, Accept-Encoding: gzip), reverse DNS off in all;\n"+
		"series and gzip bytes of the last scrape, CPU user + system over the measured scrapes in 10 ms clock ticks\n\n",
		r.reachable, r.reachable+2, peer, r.scrapes)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "exporter\tcollectors\tp50\tp99\tchrony_*\tseries\tgzip bytes\tCPU/scrape\tVmHWM\t")
	for _, row := range r.rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%.1f MiB\t\n", row.name, row.collectors, ms(row.p50), ms(row.p99),
			row.chronySeries, row.series, row.gzipBytes, ms(row.cpuPerScrape), float64(row.hwmKiB)/1024)
	}
	w.Flush()
	fmt.Fprintf(out, "\nours (SuperQ's full set) p50 / SuperQ full set p50: %.2f (target at most %.2f: %s)\n", r.p50Ratio(), targetP50Ratio, met(r.p50Ratio() <= targetP50Ratio))
	fmt.Fprintf(out, "ours (SuperQ's full set) chrony_* / SuperQ full set chrony_*: %.2f (target at least %.2f: %s)\n", r.seriesRatio(), targetSeriesRatio, met(r.seriesRatio() >= targetSeriesRatio))
	if len(r.missing) == 0 {
		fmt.Fprintln(out, "every chrony_* metric name of SuperQ's full set is among ours")
	} else {
		fmt.Fprintf(out, "chrony_* metric names of SuperQ's full set that ours does not export: %s\n", strings.Join(r.missing, ", "))
	}
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
