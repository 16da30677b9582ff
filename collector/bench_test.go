package collector

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/second-hand/chrony_exporter/chronyproto"
	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

// latencies records each iteration's duration and reports p50 and p99.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	b.ReportMetric(float64(l[len(l)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(l[len(l)*99/100].Microseconds())/1000, "p99-ms")
}

// registryHandler serves the exporter through a registry per request and
// promhttp, the usual way, to compare with Handler.
func registryHandler(e *Exporter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(e.ForContext(r.Context()))
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
	})
}

// BenchmarkScrape64 compares, in one run against a real chronyd with 64
// reachable sources (66 in all) over the Unix socket, the raw pipelined
// snapshot of the default collectors' reports with a whole /metrics scrape
// of the exporter (snapshot, metrics, exposition, HTTP).
func BenchmarkScrape64(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l, err := chronytest.Start(ctx, chronytest.Config{Reachable: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	addr := "unix://" + l.SocketPath

	var reports []chronyproto.Report
	for _, name := range Names() {
		if c := collectors[name]; c.defaultEnabled {
			reports = append(reports, c.reports...)
			reports = append(reports, c.extra...)
		}
	}

	b.Run("snapshot", func(b *testing.B) {
		c, err := chronyproto.Dial(ctx, addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		var lat latencies
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			s, err := c.Snapshot(ctx, reports...)
			lat = append(lat, time.Since(start))
			if err != nil || len(s.Sources) != 66 {
				b.Fatalf("%d sources, %v", len(s.Sources), err)
			}
		}
		lat.report(b)
	})

	for _, h := range []struct {
		name    string
		handler func(*Exporter) http.Handler
		enabled map[string]bool
	}{
		{"metrics", func(e *Exporter) http.Handler { return e.Handler(nil) }, nil},
		{"metrics-via-registry", registryHandler, nil},
		// The collectors SuperQ/chrony_exporter has, for a like-for-like
		// comparison with it: about 4 + 3N requests.
		{"metrics-superq-set", func(e *Exporter) http.Handler { return e.Handler(nil) }, map[string]bool{
			"rtc": false, "selectdata": false, "authdata": false, "activity": false, "smoothing": false,
		}},
	} {
		b.Run(h.name, func(b *testing.B) { benchScrape(b, ctx, addr, h.enabled, h.handler) })
	}
}

// benchScrape scrapes /metrics over HTTP as Prometheus does (gzip).
func benchScrape(b *testing.B, ctx context.Context, addr string, enabled map[string]bool, handler func(*Exporter) http.Handler) {
	{
		e, err := New(Config{Address: addr, Enabled: enabled}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		srv := httptest.NewServer(handler(e))
		defer srv.Close()
		// Asked by hand, gzip stays compressed: unpacking it is
		// Prometheus's work, not the exporter's.
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		var lat latencies
		var size int
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(start))
			size = len(body)
		}
		lat.report(b)
		b.ReportMetric(float64(size), "gzip-bytes/scrape")

		reg := prometheus.NewRegistry()
		reg.MustRegister(e.ForContext(ctx))
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		series := 0
		for _, mf := range mfs {
			series += len(mf.GetMetric())
		}
		b.ReportMetric(float64(series), "series")
	}
}
