package collector

import (
	"flag"
	"sort"
)

// update rewrites the golden files instead of comparing with them: the
// expositions in testdata/*.prom (go test ./collector -run Golden -update)
// and docs/metrics.md (go test ./collector -run TestMetricsDoc -update).
var update = flag.Bool("update", false, "rewrite collector/testdata/*.prom and docs/metrics.md from what the code makes")

// Update is the -update flag, for the golden tests of package
// collector_test: one test binary cannot define a flag twice.
var Update = update

// MetricNames returns the sorted names of the metrics of the given
// collectors; "" names the exporter's own metrics.
func MetricNames(collectorNames ...string) []string {
	want := map[string]bool{}
	for _, c := range collectorNames {
		want[c] = true
	}
	var names []string
	for _, m := range metrics {
		if want[m.collector] {
			names = append(names, m.name)
		}
	}
	sort.Strings(names)
	return names
}
