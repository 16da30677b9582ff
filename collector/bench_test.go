package collector

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promcollectors "github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/second-hand/chrony_exporter/chronyproto"
	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

// latencies records each iteration's duration and reports p50 and p99.
type latencies []time.Duration

func (l latencies) report(b *testing.B, prefix string) {
	if len(l) == 0 {
		return
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	b.ReportMetric(float64(l.p50().Microseconds())/1000, prefix+"p50-ms")
	b.ReportMetric(float64(l[len(l)*99/100].Microseconds())/1000, prefix+"p99-ms")
}

// p50 of sorted latencies.
func (l latencies) p50() time.Duration { return l[len(l)/2] }

// registryHandler serves the exporter through a registry per request and
// promhttp, the usual way, to compare with Handler.
func registryHandler(e *Exporter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(e.ForContext(r.Context()))
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
	})
}

// BenchmarkScrape64 compares, against a real chronyd with 64 reachable
// sources (66 in all) over the Unix socket, the raw pipelined snapshot of
// the default collectors' reports with a whole /metrics scrape of the
// exporter (snapshot, metrics, exposition, gzip, HTTP, and the Go and
// process collectors as the binary serves them). The two alternate
// in one loop, so that both see the same chronyd and the same machine: on
// a shared machine, two benchmarks run one after the other can differ by a
// third from load alone.
func BenchmarkScrape64(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l, err := chronytest.Start(ctx, chronytest.Config{Reachable: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	addr := "unix://" + l.SocketPath

	reports := DefaultReports()

	b.Run("snapshot-and-metrics", func(b *testing.B) {
		c, err := chronyproto.Dial(ctx, addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		// The binary serves the Go and process collectors too.
		own := prometheus.NewRegistry()
		own.MustRegister(promcollectors.NewGoCollector(), promcollectors.NewProcessCollector(promcollectors.ProcessCollectorOpts{}))
		scrape := newBenchScraper(b, ctx, addr, nil, func(e *Exporter) http.Handler { return e.Handler(own) })
		var snap, metrics latencies
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			s, err := c.Snapshot(ctx, reports...)
			snap = append(snap, time.Since(start))
			if err != nil || len(s.Sources) != 66 {
				b.Fatalf("%d sources, %v", len(s.Sources), err)
			}
			metrics = append(metrics, scrape())
		}
		snap.report(b, "snapshot-")
		metrics.report(b, "metrics-")
		b.ReportMetric(float64(metrics.p50())/float64(snap.p50()), "p50-ratio")
	})

	for _, h := range []struct {
		name    string
		handler func(*Exporter) http.Handler
		enabled map[string]bool
	}{
		{"metrics-via-registry", registryHandler, nil},
		// The collectors SuperQ/chrony_exporter has, for a like-for-like
		// comparison with it: about 4 + 3N requests.
		{"metrics-superq-set", func(e *Exporter) http.Handler { return e.Handler(nil) }, map[string]bool{
			"rtc": false, "selectdata": false, "authdata": false, "activity": false, "smoothing": false,
		}},
	} {
		b.Run(h.name, func(b *testing.B) {
			scrape := newBenchScraper(b, ctx, addr, h.enabled, h.handler)
			var lat latencies
			b.ReportAllocs()
			for b.Loop() {
				lat = append(lat, scrape())
			}
			lat.report(b, "")
		})
	}
}

// newBenchScraper serves an exporter of chronyd at addr over HTTP for the
// rest of benchmark b, reports its series and gzipped size, and returns a
// function that scrapes it as Prometheus does (gzip) and returns how long
// that took.
func newBenchScraper(b *testing.B, ctx context.Context, addr string, enabled map[string]bool, handler func(*Exporter) http.Handler) func() time.Duration {
	e, err := New(Config{Address: addr, Enabled: enabled}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	srv := httptest.NewServer(handler(e))
	b.Cleanup(srv.Close)

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

	// Asked by hand, gzip stays compressed: unpacking it is Prometheus's
	// work, not the exporter's.
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	var size int
	// Reported at the end: b.Loop's first iteration clears what was
	// reported before it.
	b.Cleanup(func() {
		b.ReportMetric(float64(series), "series")
		b.ReportMetric(float64(size), "gzip-bytes/scrape")
	})
	return func() time.Duration {
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		size = len(body)
		return time.Since(start)
	}
}

// BenchmarkExposition64 measures what the exporter adds to a read of
// chronyd, without chronyd: turning one snapshot of 64 sources (chronyd
// 4.8's captured replies, cloned) into exposition text, and gzipping it.
func BenchmarkExposition64(b *testing.B) {
	replies, err := chronytest.LoadCaptures(filepath.Join("..", "chronyproto", "testdata", "captures", "chrony-4.8"))
	if err == nil {
		replies, err = replies.WithSources(64)
	}
	if err != nil {
		b.Fatal(err)
	}
	f := chronytest.NewFake(b, "unixgram", replies)
	e, err := New(Config{Address: f.Addr()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	s := e.Scrape(ctx)
	if s.Err != nil || len(s.Snapshot.Sources) != 64 {
		b.Fatalf("fake chronyd: %v", s.Err)
	}
	ts := e.spares.getSink()
	b.Run("render", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ts.reset()
			e.render(ctx, s, ts)
		}
	})
	gz := e.spares.getGzip()
	var out countingWriter
	b.Run("gzip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out = 0
			gz.Reset(&out)
			ts.writeTo(gz)
			gz.Close()
		}
		b.ReportMetric(float64(out), "gzip-bytes")
	})
}

// countingWriter counts what is written to it.
type countingWriter int

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}
