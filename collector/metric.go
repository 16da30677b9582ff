package collector

import (
	"sort"
	"sync"

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
	index     int    // in metrics, and in a textSink's families
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
		index:     len(metrics),
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
func (m *metric) emit(out sink, v float64, labels ...string) { out.add(m, v, labels) }

// sink receives the samples the collectors make: as prometheus.Metrics
// for a prometheus.Collector (chanSink), or as exposition text written
// straight away for the /metrics handler (textSink).
type sink interface {
	add(m *metric, v float64, labelValues []string)
	addHistogram(m *metric, count uint64, sum float64, buckets map[float64]uint64)
}

// chanSink turns samples into constant metrics.
type chanSink chan<- prometheus.Metric

func (c chanSink) add(m *metric, v float64, labelValues []string) {
	t := prometheus.GaugeValue
	if m.kind == kindCounter {
		t = prometheus.CounterValue
	}
	c <- prometheus.MustNewConstMetric(m.desc, t, v, labelValues...)
}

func (c chanSink) addHistogram(m *metric, count uint64, sum float64, buckets map[float64]uint64) {
	c <- prometheus.MustNewConstHistogram(m.desc, count, sum, buckets)
}

// boolValue is 1 for true, as Prometheus exposes flags.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// sortedMetrics returns the exporter's metric families sorted by name, in
// which order the exposition and the metrics reference list them.
var sortedMetrics = sync.OnceValue(func() []*metric {
	out := append([]*metric(nil), metrics...)
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
})
