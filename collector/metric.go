package collector

import (
	"slices"
	"sort"
	"strconv"
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
	header    []byte // the family's HELP and TYPE lines
	// chronyFloat: the samples are chronyd's 32-bit floats, written at
	// their own precision (see appendSample).
	chronyFloat bool
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
	m.header = []byte("# HELP " + m.name + " " + helpEscaper.Replace(help) + "\n# TYPE " + m.name + " " + kind.String() + "\n")
	metrics = append(metrics, m)
	return m
}

func gauge(collector, name, help string, labels ...string) *metric {
	return newMetric(collector, name, help, kindGauge, labels...)
}

func counter(collector, name, help string, labels ...string) *metric {
	return newMetric(collector, name, help, kindCounter, labels...)
}

// ofChronyFloats marks m's samples as chronyd's 32-bit floats (§5.1 of
// docs/protocol.md), passed on as chronyproto decodes them.
func (m *metric) ofChronyFloats() *metric {
	m.chronyFloat = true
	return m
}

// value is sample v as the text exposition writes it (appendSample), so
// that a registry serves the same number as the /metrics handler.
func (m *metric) value(v float64) float64 {
	if !m.chronyFloat {
		return v
	}
	r, _ := strconv.ParseFloat(string(appendSample(nil, m, v)), 64)
	return r
}

// emit sends one sample of m. The text sink, the one every scrape uses, is
// called as itself: through the interface, the label values of each call
// (an info metric's list) would have to be put on the heap, 600 of them in
// a scrape of 64 sources. A chanSink gets a copy, so that no path lets the
// list itself escape.
func (m *metric) emit(out sink, v float64, labels ...string) {
	if t, ok := out.(*textSink); ok {
		t.add(m, v, labels)
		return
	}
	out.add(m, v, slices.Clone(labels))
}

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
	c <- prometheus.MustNewConstMetric(m.desc, t, m.value(v), labelValues...)
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
