package probe

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

func captures(t testing.TB) *chronytest.Replies {
	t.Helper()
	r, err := chronytest.LoadCaptures(filepath.Join("..", "chronyproto", "testdata", "captures", "chrony-4.8"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newTestHandler(t testing.TB, allow []string, r Resolver) *Handler {
	t.Helper()
	a, err := ParseAllowList(allow)
	if err != nil {
		t.Fatal(err)
	}
	p, err := collector.NewProber(collector.Config{Timeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(a, p, nil)
	h.Resolver = r
	return h
}

type answer struct {
	status int
	header http.Header
	body   string
}

func get(t testing.TB, h http.Handler, rawQuery string, header http.Header) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/probe", nil)
	req.URL.RawQuery = rawQuery
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return answer{rec.Code, rec.Result().Header, string(body)}
}

func target(s string) string { return "target=" + url.QueryEscape(s) }

// series returns the values of a metric's series.
func series(t testing.TB, body, name string) []float64 {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the probe: %v\n%s", err, body)
	}
	var out []float64
	if f := fams[name]; f != nil {
		for _, m := range f.Metric {
			out = append(out, m.GetGauge().GetValue()+m.GetCounter().GetValue()+m.GetUntyped().GetValue())
		}
	}
	return out
}

func TestProbeFake(t *testing.T) {
	f := chronytest.NewFake(t, "udp", captures(t))
	h := newTestHandler(t, []string{"127.0.0.0/8"}, nil)
	a := get(t, h, target(f.AddrPort().String()), nil)
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	if up := series(t, a.body, "chrony_up"); len(up) != 1 || up[0] != 1 {
		t.Errorf("chrony_up %v, want [1]", up)
	}
	if n := len(series(t, a.body, "chrony_sources_state_info")); n != 5 {
		t.Errorf("%d sources, want the capture's 5", n)
	}
	if n := len(series(t, a.body, "go_goroutines")); n != 0 {
		t.Errorf("the exporter's own metrics in a probe")
	}
	// Only what chronyd answers over UDP by default.
	for _, c := range collector.Names() {
		if strings.Contains(a.body, `chrony_scrape_collector_success{collector="`+c+`"}`) == collector.UnixOnly(c) {
			t.Errorf("collector %s: unix-only %v, but its success is (not) in the probe", c, collector.UnixOnly(c))
		}
	}
	if f.RequestsFor(57) != 0 { // NTP_DATA: socket only
		t.Errorf("a unix-only report was asked over UDP")
	}
}

// TestProbeNameFallback: a name with two addresses, the first refusing at
// once (nobody on that port of ::1), is read at the second.
func TestProbeNameFallback(t *testing.T) {
	f := chronytest.NewFake(t, "udp", captures(t))
	port := f.AddrPort().Port()
	r := &fakeResolver{names: map[string][]netip.Addr{"ntp.test": addrs("::1", "127.0.0.1")}}
	h := newTestHandler(t, []string{"ntp.test"}, r)
	a := get(t, h, target("ntp.test:"+itoa(port)), nil)
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	if up := series(t, a.body, "chrony_up"); len(up) != 1 || up[0] != 1 {
		t.Errorf("chrony_up %v, want [1]", up)
	}
}

func TestProbeDown(t *testing.T) {
	// Bound and silent: only the deadline ends the probe.
	silent := chronytest.NewUDPCounter(t, "udp4", "127.0.0.1:0")
	h := newTestHandler(t, []string{"127.0.0.1"}, nil)
	start := time.Now()
	a := get(t, h, target(silent.AddrPort().String()), nil)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("probe took %v, the timeout is 2 s", took)
	}
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	if up := series(t, a.body, "chrony_up"); len(up) != 1 || up[0] != 0 {
		t.Errorf("chrony_up %v, want [0]", up)
	}
}

func TestProbeForm(t *testing.T) {
	h := newTestHandler(t, []string{"127.0.0.1"}, nil)
	a := get(t, h, "", http.Header{"Accept": {"text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}})
	if a.status != 200 || !strings.Contains(a.body, `<form method="get">`) || !strings.Contains(a.body, `name="target"`) {
		t.Errorf("browser without target: %d\n%s", a.status, a.body)
	}
	if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("CSP %q", csp)
	}
	// Prometheus's Accept header.
	a = get(t, h, "", http.Header{"Accept": {"application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"}})
	if a.status != 400 || !strings.Contains(a.body, "target parameter is missing") {
		t.Errorf("scraper without target: %d %s", a.status, a.body)
	}
	a = get(t, h, "target=127.0.0.1&target=127.0.0.2", nil)
	if a.status != 400 {
		t.Errorf("two targets: %d %s", a.status, a.body)
	}
	req := httptest.NewRequest(http.MethodPost, "/probe?target=127.0.0.1", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

// TestProbeHostileNothingSent: refused targets get 400 or 403 with a
// reason, and no datagram reaches the listener they point at.
func TestProbeHostileNothingSent(t *testing.T) {
	v4 := chronytest.NewUDPCounter(t, "udp4", "127.0.0.1:0")
	v6 := chronytest.NewUDPCounter(t, "udp6", "[::1]:0")
	p4 := itoa(v4.AddrPort().Port())
	r := &fakeResolver{names: map[string][]netip.Addr{
		"localhost": addrs("127.0.0.1"),
		"evil.test": addrs("10.0.0.1", "127.0.0.1"),
	}}
	h := newTestHandler(t, []string{"10.0.0.0/8"}, r)
	for _, tc := range []struct {
		target string
		status int
	}{
		{"127.0.0.1:" + p4, 403},
		{"localhost:" + p4, 403},
		{"evil.test:" + p4, 403},
		{"[::1]:" + itoa(v6.AddrPort().Port()), 403},
		{"[::ffff:127.0.0.1]:" + p4, 403},
		{"file:///etc/passwd", 400},
		{"http://127.0.0.1:" + p4 + "/", 400},
		{"udp://127.0.0.1:" + p4, 400},
		{strings.Repeat("x", 1<<16), 400},
		{"127.0.0.1:" + p4 + "0000", 400},
		{"127.0.0.1:65536", 400},
		{"nosuch.invalid:" + p4, 400},
		{"0.0.0.0:" + p4, 400},
		{"127.1:" + p4, 400},
	} {
		a := get(t, h, target(tc.target), nil)
		if a.status != tc.status || strings.TrimSpace(a.body) == "" {
			t.Errorf("target %.60q: %d %q, want %d with a reason", tc.target, a.status, a.body, tc.status)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := v4.Received() + v6.Received(); n != 0 {
		t.Errorf("%d datagrams reached the listeners", n)
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }
