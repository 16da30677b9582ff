package collector

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "chrony"

// metricKind is how a metric is exposed; histograms are not a
// prometheus.ValueType.
type metricKind int

const (
	kindGauge metricKind = iota
	kindCounter
	kindHistogram
)

func (k metricKind) String() string {
	return [...]string{"gauge", "counter", "histogram"}[k]
}

// metric is one metric family: its descriptor and what the documentation
// says of it. Every metric of the exporter is made by newMetric, so the
// metrics reference (docs/metrics.md) is generated from the same values
// the exporter uses.
type metric struct {
	desc      *prometheus.Desc
	name      string
	help      string
	kind      metricKind
	labels    []string
	collector string // "" for the exporter's own metrics
}

// metrics lists every metric, for Describe and the documentation.
var metrics []*metric

func newMetric(collector, name, help string, kind metricKind, labels ...string) *metric {
	m := &metric{
		desc:      prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil),
		name:      prometheus.BuildFQName(namespace, "", name),
		help:      help,
		kind:      kind,
		labels:    labels,
		collector: collector,
	}
	metrics = append(metrics, m)
	return m
}

func gauge(collector, name, help string, labels ...string) *metric {
	return newMetric(collector, name, help, kindGauge, labels...)
}

func counter(collector, name, help string, labels ...string) *metric {
	return newMetric(collector, name, help, kindCounter, labels...)
}

// emit sends one sample of m.
func (m *metric) emit(ch chan<- prometheus.Metric, v float64, labels ...string) {
	t := prometheus.GaugeValue
	if m.kind == kindCounter {
		t = prometheus.CounterValue
	}
	ch <- prometheus.MustNewConstMetric(m.desc, t, v, labels...)
}

// boolValue is 1 for true, as Prometheus exposes flags.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// sortedMetrics returns the exporter's metric families sorted by name, for
// the metrics reference.
func sortedMetrics() []*metric {
	out := append([]*metric(nil), metrics...)
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
