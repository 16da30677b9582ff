package collector

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

// flatten renders families as sorted "name{labels} value" lines with their
// HELP and TYPE, so that two ways of exposing them can be compared.
func flatten(mfs map[string]*dto.MetricFamily) []string {
	var out []string
	for name, mf := range mfs {
		out = append(out, fmt.Sprintf("# %s %s %q", name, mf.GetType(), mf.GetHelp()))
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			prefix := name + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Histogram != nil:
				h := m.GetHistogram()
				out = append(out, fmt.Sprintf("%s count=%d sum=%g", prefix, h.GetSampleCount(), h.GetSampleSum()))
				for _, b := range h.GetBucket() {
					if math.IsInf(b.GetUpperBound(), 1) {
						continue // the text format spells out what the count says
					}
					out = append(out, fmt.Sprintf("%s le=%g %d", prefix, b.GetUpperBound(), b.GetCumulativeCount()))
				}
			case m.Counter != nil:
				out = append(out, fmt.Sprintf("%s %g", prefix, m.GetCounter().GetValue()))
			default:
				out = append(out, fmt.Sprintf("%s %g", prefix, m.GetGauge().GetValue()))
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestTextMatchesCollector: the text the /metrics handler writes and the
// metrics the prometheus.Collector sends are the same families, samples
// and values, for every collector, histograms and escaping included.
func TestTextMatchesCollector(t *testing.T) {
	replies, err := chronytest.LoadCaptures(filepath.Join("..", "chronyproto", "testdata", "captures", "chrony-4.8"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"rtc", "smoothing", "client_accesses-21"} {
		if err := replies.PutFile(chronytest.NoKey, filepath.Join("..", "chronyproto", "testdata", "handmade", name+".hex")); err != nil {
			t.Fatal(err)
		}
	}
	// CLIENT_ACCESSES is keyed by its first index.
	p, _ := replies.Get(68, chronytest.NoKey)
	replies.Set(68, chronytest.IndexKey(0), p)
	f := chronytest.NewFake(t, "unixgram", replies)
	enabled := map[string]bool{}
	for _, n := range Names() {
		enabled[n] = true
	}
	e, err := New(Config{Address: f.Addr(), Timeout: 3 * time.Second, Enabled: enabled}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.ForContext(context.Background()))
	gathered, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*dto.MetricFamily{}
	for _, mf := range gathered {
		want[mf.GetName()] = mf
	}

	rec := httptest.NewRecorder()
	e.Handler(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	got, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("handler output does not parse: %v\n%s", err, rec.Body.String())
	}
	for _, c := range []string{"chrony_rtc_offset_seconds", "chrony_clients_ntp_drops", "chrony_smoothing_active", "chrony_sources_peer_info"} {
		if want[c] == nil {
			t.Errorf("the fixture does not exercise %s", c)
		}
	}
	// The scrape durations differ between two scrapes by nature.
	delete(want, "chrony_scrape_collector_duration_seconds")
	delete(got, "chrony_scrape_collector_duration_seconds")
	w, g := flatten(want), flatten(got)
	if strings.Join(w, "\n") != strings.Join(g, "\n") {
		for i := 0; i < len(w) || i < len(g); i++ {
			var a, b string
			if i < len(w) {
				a = w[i]
			}
			if i < len(g) {
				b = g[i]
			}
			if a != b {
				t.Fatalf("first difference at line %d:\ncollector: %s\ntext:      %s", i, a, b)
			}
		}
	}
}

// TestTextSinkLabels: whatever the order of label sets (a source's, an
// info metric's that extends it, another source's), the sink writes each as
// appendLabels does, and the block of a set that extends the last one does
// not push that one out.
func TestTextSinkLabels(t *testing.T) {
	src := []string{"source_address", "source_name"}
	info := []string{"source_address", "source_name", "mode", "note"}
	other := []string{"collector"}
	a, b := []string{"127.0.0.1", "a"}, []string{"::1", `b"\`}
	steps := []struct{ names, values []string }{
		{src, a}, {info, append(slices.Clone(a), "server", "x\ny")}, {src, a},
		{info, append(slices.Clone(a), "peer", "")}, {src, b}, {info, append(slices.Clone(b), "server", `q"`)},
		{info, []string{"127.0.0.1", "b", "server", "z"}}, {src, a}, {other, []string{"ntpdata"}}, {src, b}, {nil, nil},
	}
	ts := &textSink{}
	for i, st := range steps {
		if got, want := string(ts.labels(st.names, st.values)), string(appendLabels(nil, st.names, st.values, "", "")); got != want {
			t.Errorf("step %d: %s, want %s", i, got, want)
		}
	}
	ts.labels(src, a)
	ts.labels(info, append(slices.Clone(a), "server", "x"))
	if k := ts.blocks[ts.recent]; !k.is(src, a) {
		t.Errorf("after an info metric's labels, the cached block is %s, want the source's", k.text)
	}
}

// TestChronyFloatSamples: a chrony float is written as the shortest
// decimal that reads back as the same float32, which is chronyd's value
// exactly; the registry path (chanSink) serves the number that text is;
// metrics not of chrony floats, and values no float32 holds, keep
// float64's form.
func TestChronyFloatSamples(t *testing.T) {
	marked, plain := trackingLastOffset, trackingStratum
	if !marked.chronyFloat || plain.chronyFloat {
		t.Fatal("tracking_last_offset_seconds should be marked as chrony floats, tracking_stratum not")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	shorter := 0
	for range 100000 {
		// c·2^(e−25) with a 25-bit coefficient and a 7-bit exponent, as
		// chronyproto decodes chronyd's floats.
		c, e := int64(rng.IntN(1<<25))-1<<24, rng.IntN(128)-64
		v := math.Ldexp(float64(c), e-25)
		if v != float64(float32(v)) {
			t.Fatalf("%v (c=%d e=%d) is not exact in a float32", v, c, e)
		}
		text := string(appendSample(nil, marked, v))
		back, err := strconv.ParseFloat(text, 64)
		if err != nil || float32(back) != float32(v) {
			t.Fatalf("chrony float %v (c=%d e=%d) written as %q, which reads back as %v", v, c, e, text, float32(back))
		}
		if got := string(appendFloat(nil, marked.value(v))); got != text {
			t.Fatalf("chrony float %v: registry value %v writes %q, text %q", v, marked.value(v), got, text)
		}
		full := string(appendSample(nil, plain, v))
		if full != strconv.FormatFloat(v, 'g', -1, 64) && !smallWhole(v) {
			t.Fatalf("plain metric: %v written as %q", v, full)
		}
		if len(text) < len(full) {
			shorter++
		}
	}
	if shorter < 50000 {
		t.Errorf("only %d of 100000 chrony floats were written shorter than float64's form", shorter)
	}
	for v, want := range map[float64]string{3.2799999871713226e-07: "3.28e-07", 0.1: "0.1", 12: "12", math.Copysign(0, -1): "0", 1795655939.5: "1.7956559395e+09"} {
		if got := string(appendSample(nil, marked, v)); got != want {
			t.Errorf("appendSample(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestAppendFloatAndEscaping(t *testing.T) {
	for v, want := range map[float64]string{1: "1", 0.25: "0.25", -3e-9: "-3e-09", 1795655939.5: "1.7956559395e+09"} {
		if got := string(appendFloat(nil, v)); got != want {
			t.Errorf("appendFloat(%v) = %q, want %q", v, got, want)
		}
	}
	// The integer path and its edges write what strconv does ('g', as
	// client_golang), except -0, which client_golang writes as 0.
	for _, v := range []float64{0, 7, -42, 123456, 999999, -999999, 1e6, -1e6, 1e6 + 1, 999999.5, 0.5, 1 << 53, math.Inf(1), math.NaN()} {
		if got, want := string(appendFloat(nil, v)), strconv.FormatFloat(v, 'g', -1, 64); got != want && !math.IsInf(v, 0) && !math.IsNaN(v) {
			t.Errorf("appendFloat(%v) = %q, want %q", v, got, want)
		}
	}
	if got := string(appendFloat(nil, math.Copysign(0, -1))); got != "0" {
		t.Errorf("appendFloat(-0) = %q, want 0", got)
	}
	for v, want := range map[float64]string{math.Inf(1): "+Inf", math.Inf(-1): "-Inf", math.NaN(): "NaN"} {
		if got := string(appendFloat(nil, v)); got != want {
			t.Errorf("appendFloat(%v) = %q, want %q", v, got, want)
		}
	}
	for _, v := range []string{"plain", `x"y`, `x\y`, "x\ny", ""} {
		if got, want := needsEscape(v), strings.ContainsAny(v, "\\\"\n"); got != want {
			t.Errorf("needsEscape(%q) = %v, want %v", v, got, want)
		}
	}
	got := string(appendLabels(nil, []string{"a"}, []string{"x\"y\\z\n"}, "", ""))
	if want := `{a="x\"y\\z\n"}`; got != want {
		t.Errorf("escaping: %s, want %s", got, want)
	}
	if !model.LabelValue(`x"y`).IsValid() {
		t.Fatal("model says quotes are invalid label values")
	}
}

// blockingGatherer counts its Gather calls and holds each until release
// is closed.
type blockingGatherer struct {
	calls   atomic.Int32
	release chan struct{}
}

func (g *blockingGatherer) Gather() ([]*dto.MetricFamily, error) {
	g.calls.Add(1)
	<-g.release
	name, help, v := "own_metric", "An exporter's own metric.", 1.0
	return []*dto.MetricFamily{{Name: &name, Help: &help, Type: dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: &v}}}}}, nil
}

// TestOwnMetricsGatheredOnceForConcurrentScrapes: scrapes that arrive
// while the exporter's own metrics are being gathered share that
// gathering, and each ends with its families.
func TestOwnMetricsGatheredOnceForConcurrentScrapes(t *testing.T) {
	e := captureExporter(t)
	g := &blockingGatherer{release: make(chan struct{})}
	h := e.Handler(g)
	const n = 10
	bodies := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			bodies[i] = rec.Body.String()
		})
	}
	// Once the first scrape has started the gathering, which is held, the
	// others have a while to join it.
	deadline := time.Now().Add(5 * time.Second)
	for g.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	close(g.release)
	wg.Wait()
	if c := g.calls.Load(); c != 1 {
		t.Errorf("%d gatherings for %d concurrent scrapes, want 1", c, n)
	}
	for i, b := range bodies {
		if !strings.Contains(b, "\nchrony_up 1\n") || !strings.HasSuffix(b, "# TYPE own_metric gauge\nown_metric 1\n") {
			t.Errorf("scrape %d lacks chrony_up 1 or ends without the own metric:\n%.300s\n...\n%s", i, b, b[max(0, len(b)-200):])
		}
	}
	// A scrape after them gathers anew.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if c := g.calls.Load(); c != 2 {
		t.Errorf("%d gatherings after one more scrape, want 2", c)
	}
}

// captureExporter returns an exporter of the default collectors reading a
// fake chronyd that serves the 4.8 capture.
func captureExporter(t *testing.T) *Exporter {
	t.Helper()
	replies, err := chronytest.LoadCaptures(filepath.Join("..", "chronyproto", "testdata", "captures", "chrony-4.8"))
	if err != nil {
		t.Fatal(err)
	}
	f := chronytest.NewFake(t, "unixgram", replies)
	e, err := New(Config{Address: f.Addr(), Timeout: 3 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// scrapeWith scrapes h with the given request headers and returns the
// response and its body, decompressed when Content-Encoding says gzip.
func scrapeWith(t *testing.T, h http.Handler, header http.Header) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %s:\n%s", res.Status, rec.Body.String())
	}
	body := rec.Body.Bytes()
	if cl := res.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length %q for a body of %d bytes", cl, len(body))
	}
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := stdgzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("Content-Encoding gzip, but the body is not: %v", err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("Content-Encoding gzip, but the body is not: %v", err)
		}
	}
	return res, string(body)
}

// withoutDurations drops the scrape duration samples, which differ from
// one scrape to the next, from an exposition.
func withoutDurations(text string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(text, "\n") {
		if !strings.HasPrefix(l, durationMetric.name+"{") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// TestScrapeFormatNegotiation: whatever format a scraper asks for first
// (OpenMetrics, protobuf, Prometheus's own list), the handler answers the
// text format 0.0.4 under that format's Content-Type, so a client that
// picks its parser by Content-Type, as Prometheus does, reads it; and the
// text is the one a scrape that asks for nothing gets.
func TestScrapeFormatNegotiation(t *testing.T) {
	e := captureExporter(t)
	h := e.Handler(nil)
	_, plain := scrapeWith(t, h, nil)
	want := withoutDurations(plain)
	for _, tc := range []struct{ name, accept string }{
		{"openmetrics", "application/openmetrics-text;version=1.0.0"},
		{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"},
		{"prometheus", "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"},
		{"text", "text/plain;version=0.0.4"},
		{"any", "*/*"},
		{"none", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			header := http.Header{}
			if tc.accept != "" {
				header.Set("Accept", tc.accept)
			}
			res, body := scrapeWith(t, h, header)
			ct := res.Header.Get("Content-Type")
			if ct != "text/plain; version=0.0.4; charset=utf-8" {
				t.Errorf("Content-Type %q, want the text format 0.0.4's", ct)
			}
			format := expfmt.ResponseFormat(res.Header)
			if format.FormatType() != expfmt.TypeTextPlain {
				t.Fatalf("Content-Type %q reads as format %q, not the text format", ct, format)
			}
			dec := expfmt.NewDecoder(strings.NewReader(body), format)
			families := 0
			for {
				var mf dto.MetricFamily
				if err := dec.Decode(&mf); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("the body does not decode as its Content-Type says: %v\n%s", err, body)
				}
				families++
			}
			if families == 0 || !strings.Contains(body, "\nchrony_up 1\n") {
				t.Errorf("%d families, chrony_up 1 missing:\n%s", families, body)
			}
			if got := withoutDurations(body); got != want {
				t.Errorf("the text differs from a scrape that asks for no format:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestScrapeEncodingNegotiation: Accept-Encoding is read with its
// q-values, one case per rule of acceptsGzip; gzipped or not, the text is
// the same, and Vary names Accept-Encoding on every response.
func TestScrapeEncodingNegotiation(t *testing.T) {
	e := captureExporter(t)
	h := e.Handler(nil)
	_, plain := scrapeWith(t, h, nil)
	want := withoutDurations(plain)
	for _, tc := range []struct {
		name   string
		header []string // Accept-Encoding lines; nil sends none
		gzip   bool
	}{
		{"no header", nil, false},
		{"empty header", []string{""}, false},
		{"gzip", []string{"gzip"}, true},
		{"gzip refused", []string{"gzip;q=0"}, false},
		{"gzip refused with decimals", []string{"gzip; q=0.000"}, false},
		{"identity refused", []string{"identity;q=0, gzip"}, true},
		{"everything refused", []string{"*;q=0"}, false},
		{"identity refused, no gzip offered", []string{"identity;q=0"}, false},
		{"only unsupported codings", []string{"br, zstd"}, false},
		{"unsupported, identity refused", []string{"br;q=1, identity;q=0"}, false},
		{"any coding", []string{"*"}, true},
		{"gzip refused by name, any other accepted", []string{"gzip;q=0, *"}, false},
		{"gzip below any", []string{"*;q=0.5, gzip;q=0.3"}, false},
		{"gzip below identity", []string{"gzip;q=0.5, identity"}, false},
		{"gzip tied with identity", []string{"identity;q=0.5, gzip;q=0.5"}, true},
		{"gzip weighted, identity unnamed", []string{"gzip;q=0.5"}, true},
		{"upper case", []string{"GZIP;Q=1"}, true},
		{"x-gzip", []string{"x-gzip"}, true},
		{"curl --compressed", []string{"deflate, gzip, br, zstd"}, true},
		{"invalid weight voids the element", []string{"gzip;q=2"}, false},
		{"unparsable weight voids the element", []string{"gzip;q=abc"}, false},
		{"two header lines", []string{"identity;q=0", "gzip"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			header := http.Header{}
			for _, v := range tc.header {
				header.Add("Accept-Encoding", v)
			}
			res, body := scrapeWith(t, h, header)
			ce := res.Header.Get("Content-Encoding")
			if tc.gzip && ce != "gzip" {
				t.Errorf("Accept-Encoding %q: Content-Encoding %q, want gzip", tc.header, ce)
			}
			if !tc.gzip && ce != "" {
				t.Errorf("Accept-Encoding %q: Content-Encoding %q, want none", tc.header, ce)
			}
			if !slices.Contains(res.Header.Values("Vary"), "Accept-Encoding") {
				t.Errorf("Vary %q does not name Accept-Encoding", res.Header.Values("Vary"))
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if got := withoutDurations(body); got != want {
				t.Errorf("the text differs from a plain scrape's:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
