package collector

import (
	"bytes"
	"strings"
	"sync"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// familyOf maps every metric name to its declaration, for MetricCollector.
var familyOf = sync.OnceValue(func() map[string]*metric {
	out := make(map[string]*metric, len(metrics))
	for _, m := range metrics {
		out[m.name] = m
	}
	return out
})

// MetricCollector returns the collector a sample's metric name belongs to,
// "" for the exporter's own metrics, and whether the name is one of this
// exporter's at all (go_*, process_* and the build information are not).
// A histogram's samples (_bucket, _sum, _count) belong to its family.
// The documentation's series counts and the scrape benchmark both group
// series by it, so that they follow the declarations instead of a list.
func MetricCollector(name string) (collector string, ok bool) {
	if m := familyOf()[name]; m != nil {
		return m.collector, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, cut := strings.CutSuffix(name, suffix); cut {
			if m := familyOf()[base]; m != nil && m.kind == kindHistogram {
				return m.collector, true
			}
		}
	}
	return "", false
}

// SeriesCount is how many series of one collector an exposition holds.
type SeriesCount struct {
	// PerSource counts the series carrying source_address, by its value.
	PerSource map[string]int
	// Host counts the others: one set per host, whatever its sources.
	Host int
}

// CountSeries counts the series of a Prometheus text exposition by
// collector (MetricCollector). The exporter's own series that carry a
// collector label (chrony_scrape_collector_success and _duration_seconds)
// count for that collector, since turning it on is what adds them; the
// rest of the exporter's own count under "". Series of other metrics
// (go_*, process_*, chrony_exporter_build_info) are left out. A histogram
// counts as Prometheus stores it: a series per bucket, plus sum and count.
func CountSeries(text []byte) (map[string]*SeriesCount, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, err
	}
	out := map[string]*SeriesCount{}
	for name, fam := range families {
		c, ok := MetricCollector(name)
		if !ok {
			continue
		}
		for _, m := range fam.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			owner := c
			if owner == "" && labels["collector"] != "" {
				owner = labels["collector"]
			}
			n := out[owner]
			if n == nil {
				n = &SeriesCount{PerSource: map[string]int{}}
				out[owner] = n
			}
			series := 1
			if h := m.GetHistogram(); h != nil {
				series = len(h.GetBucket()) + 2
			}
			if addr, ok := labels["source_address"]; ok {
				n.PerSource[addr] += series
			} else {
				n.Host += series
			}
		}
	}
	return out, nil
}
