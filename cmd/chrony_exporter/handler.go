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

// newRouter serves the metrics on telemetryPath and the status page
// (statuspage.Handler: / and /api/status, 404 for anything else) on every
// other path. exporterMetrics adds the exporter's own: the Go runtime's,
// the process's and promhttp's.
func newRouter(e *collector.Exporter, page http.Handler, telemetryPath string, timeout time.Duration, exporterMetrics bool) http.Handler {
	base := prometheus.NewRegistry()
	base.MustRegister(versioncollector.NewCollector("chrony_exporter"))
	var metrics http.Handler = newMetricsHandler(e, base, timeout)
	if exporterMetrics {
		base.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
		metrics = promhttp.InstrumentMetricHandler(base, metrics)
	}
	// Not a ServeMux: it would panic on a telemetry path that looks like
	// one of its patterns.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == telemetryPath {
			metrics.ServeHTTP(w, r)
			return
		}
		page.ServeHTTP(w, r)
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
