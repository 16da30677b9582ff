package main

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/second-hand/chrony_exporter/collector"
	"github.com/second-hand/chrony_exporter/probe"
)

// scrapeTimeoutHeader is where Prometheus says how long it waits for a
// scrape.
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// Prometheus's timeout covers the whole exchange, so the read of chronyd
// must end a little before it for the answer to arrive in time: 10 % of
// the timeout, and never more than half a second.
const (
	scrapeMarginRatio = 0.1
	scrapeMarginMax   = 500 * time.Millisecond
)

// scrapeTimeout returns how long one scrape may read chronyd: limit (the
// --chrony.timeout flag), or less when Prometheus's header says it gives up
// sooner. A missing or unusable header leaves limit.
func scrapeTimeout(header string, limit time.Duration) time.Duration {
	secs, err := strconv.ParseFloat(strings.TrimSpace(header), 64)
	// The second test also rejects NaN and values beyond time.Duration.
	if err != nil || !(secs > 0 && secs*float64(time.Second) < math.MaxInt64) {
		return limit
	}
	prom := time.Duration(secs * float64(time.Second))
	margin := min(scrapeMarginMax, time.Duration(float64(prom)*scrapeMarginRatio))
	return min(limit, prom-margin)
}

// routes is what the exporter serves.
type routes struct {
	telemetryPath string
	timeout       time.Duration // --chrony.timeout
	// exporterMetrics adds the exporter's own metrics: the Go runtime's,
	// the process's and promhttp's.
	exporterMetrics bool
	page            http.Handler // statuspage.Handler: / and /api/status, 404 for anything else
	probe           http.Handler // probe.Path; nil when probing is off
}

// newRouter serves the metrics on the telemetry path, the probes on
// probe.Path, both within Prometheus's scrape timeout, and the status page
// on every other path. Without probes, probe.Path is a page like any
// unknown one.
func newRouter(e *collector.Exporter, rt routes) http.Handler {
	base := prometheus.NewRegistry()
	base.MustRegister(versioncollector.NewCollector("chrony_exporter"))
	var metrics http.Handler = newMetricsHandler(e, base, rt.timeout)
	if rt.exporterMetrics {
		base.MustRegister(
			collectors.NewGoCollector(),
			// client_golang's own: maintained, the same names, and ours saved little.
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
		metrics = promhttp.InstrumentMetricHandler(base, metrics)
	}
	var probes http.Handler
	if rt.probe != nil {
		probes = &metricsHandler{metrics: rt.probe, timeout: rt.timeout}
	}
	// Not a ServeMux: it would panic on a telemetry path that looks like
	// one of its patterns.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == rt.telemetryPath:
			metrics.ServeHTTP(w, r)
		case r.URL.Path == probe.Path && probes != nil:
			probes.ServeHTTP(w, r)
		default:
			rt.page.ServeHTTP(w, r)
		}
	})
}

// metricsHandler serves the telemetry path: the exporter's text, written
// straight from one read of chronyd (collector.Exporter.Handler, measured
// several times faster than a registry per request at 66 sources), followed
// by base (Go, process, build info). chronyd is read within the request's
// own deadline.
type metricsHandler struct {
	metrics http.Handler
	timeout time.Duration
}

func newMetricsHandler(e *collector.Exporter, base prometheus.Gatherer, timeout time.Duration) *metricsHandler {
	return &metricsHandler{metrics: e.Handler(base), timeout: timeout}
}

func (h *metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout(r.Header.Get(scrapeTimeoutHeader), h.timeout))
	defer cancel()
	h.metrics.ServeHTTP(w, r.WithContext(ctx))
}
