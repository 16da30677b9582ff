//go:build linux

package main

import (
	"fmt"
	"io"
	"net/netip"
	"text/tabwriter"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

// collectorSeries is one collector's series in a scrape of a lab.
type collectorSeries struct {
	name      string // "" for the exporter's own series that belong to no collector
	defaultOn bool
	// A reachable source's series, the fewest and the most over the
	// lab's reachable sources: they differ when chronyd treats one
	// differently (the selected one, one without samples yet).
	reachableMin, reachableMax int
	unreachable                int // the series of the lab's unreachable source
	host                       int // the series without source_address
	total                      int
}

// seriesByCollector scrapes bin with every collector on against lab, once
// it reports all n+2 sources, and counts each collector's series.
func seriesByCollector(bin string, pl *placement, lab *chronytest.Lab, n int) ([]collectorSeries, error) {
	args := []string{"--chrony.address=unix://" + lab.SocketPath}
	for _, name := range collector.Names() {
		args = append(args, "--collector."+name)
	}
	exp, err := startExporter(pl, bin, args...)
	if err != nil {
		return nil, err
	}
	defer exp.stop()
	var sources int
	if err := exp.waitReady(oursReady(n, &sources)); err != nil {
		return nil, err
	}
	body, _, err := exp.scrape()
	if err != nil {
		return nil, err
	}
	text, err := gunzip(body)
	if err != nil {
		return nil, err
	}
	return countByCollector(text, lab.Reachable, lab.Unreachable)
}

// countByCollector counts the series of an exposition per collector
// (collector.CountSeries), every collector listed, in name order, then
// the exporter's own.
func countByCollector(text []byte, reachable []netip.Addr, unreachable netip.Addr) ([]collectorSeries, error) {
	counts, err := collector.CountSeries(text)
	if err != nil {
		return nil, err
	}
	var out []collectorSeries
	for _, name := range append(collector.Names(), "") {
		c := collectorSeries{name: name, defaultOn: name == "" || collector.DefaultEnabled(name)}
		if sc := counts[name]; sc != nil {
			for i, a := range reachable {
				k := sc.PerSource[a.String()]
				if i == 0 || k < c.reachableMin {
					c.reachableMin = k
				}
				if i == 0 || k > c.reachableMax {
					c.reachableMax = k
				}
			}
			c.unreachable = sc.PerSource[unreachable.String()]
			c.host = sc.Host
			for _, k := range sc.PerSource {
				c.total += k
			}
			c.total += sc.Host
		}
		out = append(out, c)
	}
	return out, nil
}

// printSeriesByCollector writes the table of series per collector of a
// lab of n reachable sources, with the sums for the defaults and for
// every collector.
func printSeriesByCollector(out io.Writer, n int, cs []collectorSeries) {
	fmt.Fprintf(out, "\nseries per collector, %d reachable sources (%d in all): one scrape with every collector on;\n"+
		"per reachable source is the fewest-most over the %d reachable ones, per host the series without source_address\n"+
		"(with each collector's chrony_scrape_collector_success and _duration_seconds); go_* and process_* left out\n\n", n, n+2, n)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "collector\tdefault\tper reachable source\tper unreachable source\tper host\tin this scrape\t")
	var def, all collectorSeries
	for _, c := range cs {
		name, on := c.name, "off"
		if name == "" {
			name, on = "(exporter)", "always"
		} else if c.defaultOn {
			on = "on"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t\n", name, on, span(c.reachableMin, c.reachableMax), c.unreachable, c.host, c.total)
		for _, sum := range []*collectorSeries{&all, &def} {
			if sum == &def && !c.defaultOn {
				continue
			}
			sum.reachableMin += c.reachableMin
			sum.reachableMax += c.reachableMax
			sum.unreachable += c.unreachable
			sum.host += c.host
			sum.total += c.total
		}
	}
	for _, sum := range []struct {
		name string
		c    collectorSeries
	}{{"defaults", def}, {"every collector", all}} {
		fmt.Fprintf(w, "%s\t\t%s\t%d\t%d\t%d\t\n", sum.name, span(sum.c.reachableMin, sum.c.reachableMax), sum.c.unreachable, sum.c.host, sum.c.total)
	}
	w.Flush()
}

// span writes a range of counts, or one count when they agree.
func span(lo, hi int) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}
