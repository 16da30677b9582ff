package statuspage

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/second-hand/chrony_exporter/chronyproto"
	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

// The handler tests run the page against the fake chronyd serving real
// 4.8 replies (chronyproto/testdata/captures/chrony-4.8: three reachable
// sources 127.0.1.1-3, 127.0.1.2 selected, 127.0.2.1 and 127.0.2.2
// unreachable, no RTC) and hand-made ones.

const (
	capturesDir = "../chronyproto/testdata/captures/chrony-4.8"
	handmadeDir = "../chronyproto/testdata/handmade"
	// XSSName is a configured source name that would run if it were not
	// escaped.
	xssName = "<script>alert(1)</script>"
)

// Request codes, as the fake keys its replies (§7.1).
const (
	cmdNSources      = 14
	cmdTracking      = 33
	cmdServerStats   = 54
	cmdNTPSourceName = 65
	cmdSelectData    = 69
)

func captures(t *testing.T) *chronytest.Replies {
	t.Helper()
	r, err := chronytest.LoadCaptures(capturesDir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// withSourceName makes chronyd's configured name of addr be name: a
// captured NTP_SOURCE_NAME reply with the name written at offset 28.
func withSourceName(t *testing.T, r *chronytest.Replies, addr, name string) {
	t.Helper()
	key := chronytest.AddrKey(netip.MustParseAddr(addr))
	p, ok := r.Get(cmdNTPSourceName, key)
	if !ok || len(p) != 284 {
		t.Fatalf("no captured NTP_SOURCE_NAME reply for %s", addr)
	}
	clear(p[28:])
	copy(p[28:], name)
	r.Set(cmdNTPSourceName, key, p)
}

type testPage struct {
	h *Handler
	e *collector.Exporter
}

func newTestPage(t *testing.T, cfg collector.Config) testPage {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Second
	}
	e, err := collector.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return testPage{e: e, h: New(e, Info{Version: "1.2.3-test", TelemetryPath: "/metrics", Timeout: cfg.Timeout, Address: cfg.Address})}
}

type response struct {
	code   int
	header http.Header
	body   string
}

func (p testPage) get(t *testing.T, method, path string) response {
	t.Helper()
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return response{rec.Code, rec.Header(), rec.Body.String()}
}

// page loads / and checks it is a 200 HTML page.
func (p testPage) page(t *testing.T) string {
	t.Helper()
	r := p.get(t, http.MethodGet, "/")
	if r.code != http.StatusOK || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %q, want 200 text/html\n%s", r.code, r.header.Get("Content-Type"), r.body)
	}
	return r.body
}

// status loads /api/status.
func (p testPage) status(t *testing.T) (*status, map[string]any) {
	t.Helper()
	r := p.get(t, http.MethodGet, apiPath)
	if r.code != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %q, want 200 application/json\n%s", apiPath, r.code, r.header.Get("Content-Type"), r.body)
	}
	var st status
	if err := json.Unmarshal([]byte(r.body), &st); err != nil {
		t.Fatalf("GET %s: %v\n%s", apiPath, err, r.body)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.body), &raw); err != nil {
		t.Fatal(err)
	}
	return &st, raw
}

// text returns the page's visible text, tags removed and entities
// decoded, with runs of white space made one space.
func text(page string) string {
	page = regexp.MustCompile(`(?s)<style>.*?</style>`).ReplaceAllString(page, "")
	page = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(page, " ")
	return strings.Join(strings.Fields(html.UnescapeString(page)), " ")
}

func wantText(t *testing.T, page string, want ...string) {
	t.Helper()
	tx := text(page)
	for _, w := range want {
		if !strings.Contains(tx, w) {
			t.Errorf("page text lacks %q:\n%s", w, tx)
		}
	}
}

// rows returns the <tr> start tags of a class.
func rows(page, class string) []string {
	return regexp.MustCompile(`<tr class="[^"]*\b`+class+`\b[^"]*"[^>]*>`).FindAllString(page, -1)
}

func TestPageHealthy(t *testing.T) {
	f := chronytest.NewFake(t, "unixgram", captures(t))
	p := newTestPage(t, collector.Config{Address: f.Addr()})
	page := p.page(t)

	// The sections, in the order, and no banner.
	var at []int
	for _, h := range []string{">Time synchronization<", ">NTP sources<", ">Source statistics<", ">Hardware RTC<", ">Exporter<"} {
		i := strings.Index(page, h)
		if i < 0 {
			t.Fatalf("no heading %s", h)
		}
		at = append(at, i)
	}
	for i := 1; i < len(at); i++ {
		if at[i] < at[i-1] {
			t.Errorf("sections out of order: %v", at)
		}
	}
	if strings.Contains(page, `role="alert"`) {
		t.Errorf("banner shown for a healthy chronyd")
	}
	wantText(t, page,
		"Status Synchronized leap status: Normal",
		// current_correction -3.139 µs: the system clock is 3.1 µs fast.
		"Offset +3.1 µs system time vs NTP (clock fast)",
		"Stratum 4",
		"Reference 127.0.1.2 ID 7F000102 · updated ",
		"Last offset -36 ns", "RMS offset 36 ns", "Frequency +0.063 ppm fast",
		"Skew 2.041 ppm", "Root delay 8.0 µs", "Root dispersion 37.9 µs", "Update interval 2s",
		"Reference time 2026-11-26 01:19:05 UTC",
		// chronyc: ^,*,127.0.1.2,3,5,17,12,0.000000019,-0.000000017,0.000004036
		"^ server * current best 127.0.1.2 3 32s 017 12s +19 ns [-17 ns] ± 4.0 µs selected",
		// chronyc: ^,?,127.0.2.1,0,7,0,4294967295,...; selectdata M.
		"^ server ? unusable 127.0.2.1 0 2m 8s 000 never — missing samples",
		"? unusable 127.0.2.2 0 2m 8s 000 never — ignored",
		// chronyc: 127.0.1.1,4,3,6,0.109,6.856,0.000001522,0.000000688
		"127.0.1.1 4 3 6s +0.109 ppm 6.856 ppm +1.5 µs 688 ns",
		// No samples: chronyd's placeholders (2000 ppm, 4 s) are not shown.
		"127.0.2.1 0 0 0s — — — — 127.0.2.2 0 0 0s — — — —",
		"RTC tracking not configured",
		"chronyd address "+f.Addr(), "Transport Unix socket", "Version 1.2.3-test",
	)
	if n := len(rows(page, "source")); n != 5 {
		t.Errorf("%d source rows, want 5", n)
	}
	if sel := rows(page, "selected"); len(sel) != 1 || !strings.Contains(sel[0], `data-address="127.0.1.2"`) {
		t.Errorf("selected rows %q, want one, 127.0.1.2", sel)
	}
	unreach := rows(page, "unreachable")
	if len(unreach) != 2 || !strings.Contains(unreach[0], "127.0.2.1") || !strings.Contains(unreach[1], "127.0.2.2") {
		t.Errorf("unreachable rows %q, want 127.0.2.1 and 127.0.2.2", unreach)
	}
	if n := len(rows(page, "stat-row")); n != 5 {
		t.Errorf("%d statistics rows, want 5", n)
	}
	if !strings.Contains(page, `href="/metrics"`) {
		t.Errorf("no link to /metrics")
	}
}

// TestPageHeaders checks the page works without scripts and forbids them,
// and that its one inline style matches the hash the policy allows.
func TestPageHeaders(t *testing.T) {
	f := chronytest.NewFake(t, "unixgram", captures(t))
	p := newTestPage(t, collector.Config{Address: f.Addr()})
	r := p.get(t, http.MethodGet, "/")
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("Content-Security-Policy %q: want default-src 'none' and no script source", csp)
	}
	if !strings.Contains(r.body, "<style>"+styleCSS+"</style>") {
		t.Errorf("the inline style is not the embedded CSS verbatim: its hash would not match")
	}
	if strings.Contains(strings.ToLower(r.body), "<script") {
		t.Errorf("the page has a script element")
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store: the page is read fresh on each load", r.header.Get("Cache-Control"))
	}
	head := p.get(t, http.MethodHead, "/")
	if head.code != http.StatusOK || head.body != "" {
		t.Errorf("HEAD /: %d with %d bytes, want 200 and no body", head.code, len(head.body))
	}
}

func TestRouting(t *testing.T) {
	f := chronytest.NewFake(t, "unixgram", captures(t))
	p := newTestPage(t, collector.Config{Address: f.Addr()})
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/", 200},
		{"GET", apiPath, 200},
		{"GET", "/index.html", 404},
		{"GET", "/api/status/", 404},
		{"GET", "/api", 404},
		{"GET", "/favicon.ico", 404},
		{"POST", "/", 405},
		{"DELETE", apiPath, 405},
	} {
		if r := p.get(t, tc.method, tc.path); r.code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, r.code, tc.want)
		}
	}
}

func TestJSON(t *testing.T) {
	f := chronytest.NewFake(t, "unixgram", captures(t))
	p := newTestPage(t, collector.Config{Address: f.Addr()})
	st, raw := p.status(t)

	// The document's shape: every section present; problems an empty
	// list, not null; no "unavailable" when everything was read.
	for _, k := range []string{"generated_at", "chronyd", "problems", "tracking", "sources", "sourcestats", "rtc", "exporter"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("no %q in the JSON", k)
		}
	}
	if pr, ok := raw["problems"].([]any); !ok || len(pr) != 0 {
		t.Errorf("problems = %#v, want []", raw["problems"])
	}
	if _, ok := raw["unavailable"]; ok {
		t.Errorf("unavailable present for a healthy chronyd: %v", raw["unavailable"])
	}
	if st.Chronyd != (chronyd{Address: f.Addr(), Transport: "unix", Up: true}) {
		t.Errorf("chronyd = %+v", st.Chronyd)
	}
	tr := st.Tracking
	if tr == nil || !tr.Synchronized || tr.RefID != "7F000102" || tr.Reference != "127.0.1.2" || tr.ReferenceAddress != "127.0.1.2" ||
		tr.Stratum != 4 || tr.LeapStatus != "Normal" || tr.RefTime == nil {
		t.Fatalf("tracking = %+v", tr)
	}
	// chronyc -c: -0.000003139 (the signed current correction).
	if d := float64(tr.CurrentCorrection) + 3.139e-6; d > 1e-9 || d < -1e-9 {
		t.Errorf("current_correction_seconds = %v, want -3.139e-06", tr.CurrentCorrection)
	}
	tracking := raw["tracking"].(map[string]any)
	for _, k := range []string{"current_correction_seconds", "last_offset_seconds", "rms_offset_seconds", "frequency_ppm",
		"residual_frequency_ppm", "skew_ppm", "root_delay_seconds", "root_dispersion_seconds", "update_interval_seconds", "ref_time"} {
		if _, ok := tracking[k]; !ok {
			t.Errorf("tracking has no %q", k)
		}
	}

	if len(st.Sources) != 5 {
		t.Fatalf("%d sources, want 5", len(st.Sources))
	}
	selected := 0
	for _, s := range st.Sources {
		if s.Selected {
			selected++
			if s.Address != "127.0.1.2" || s.StateSymbol != "*" || s.SelectState != "*" || !s.Reachable || s.ReachOctal != "017" || s.LastRx == nil || *s.LastRx != 12 {
				t.Errorf("selected source %+v", s)
			}
		}
	}
	if selected != 1 {
		t.Errorf("%d selected sources, want 1", selected)
	}
	u := st.Sources[3]
	if u.Address != "127.0.2.1" || u.Reachable || u.HasSample || u.LastRx != nil || u.SelectReason != "missing samples" || u.Mode != "server" || u.ModeSymbol != "^" {
		t.Errorf("unreachable source %+v", u)
	}
	src := raw["sources"].([]any)[3].(map[string]any)
	if v, ok := src["last_rx_seconds"]; !ok || v != nil {
		t.Errorf("last_rx_seconds of a source without a sample = %v (present %v), want null", v, ok)
	}
	if len(st.SourceStats) != 5 || st.SourceStats[0].Address != "127.0.1.1" || st.SourceStats[0].Samples != 4 || st.SourceStats[0].Span != 6 {
		t.Errorf("sourcestats = %+v", st.SourceStats)
	}
	noSamples := raw["sourcestats"].([]any)[3].(map[string]any)
	for _, k := range []string{"frequency_ppm", "skew_ppm", "offset_seconds", "stddev_seconds"} {
		if v, ok := noSamples[k]; !ok || v != nil {
			t.Errorf("sourcestats %s of a source without samples = %v (present %v), want null", k, v, ok)
		}
	}
	if st.RTC.Status != rtcNotConfigured {
		t.Errorf("rtc = %+v, want not_configured", st.RTC)
	}
	if st.Exporter.Version != "1.2.3-test" || st.Exporter.TelemetryPath != "/metrics" || st.Exporter.Timeout != 3 {
		t.Errorf("exporter = %+v", st.Exporter)
	}
	states := map[string]string{}
	for _, c := range st.Exporter.Collectors {
		states[c.Name] = c.State
	}
	for _, name := range collector.Names() {
		want := collectorOK
		if !collector.DefaultEnabled(name) {
			want = collectorOff
		}
		if states[name] != want {
			t.Errorf("collector %s: state %q, want %q", name, states[name], want)
		}
	}
}

// problemsOf loads the JSON and the page and returns the problems, the
// page's text, and the page.
func problemsOf(t *testing.T, p testPage) ([]problem, string, *status) {
	t.Helper()
	st, _ := p.status(t)
	page := p.page(t)
	return st.Problems, page, st
}

func TestBannerNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "chronyd.sock")
	p := newTestPage(t, collector.Config{Address: "unix://" + sock})
	pr, page, st := problemsOf(t, p)
	want := "Unable to connect to chronyd at unix://" + sock + ". Is the service running?"
	if len(pr) != 1 || pr[0].Kind != kindNotRunning || pr[0].Severity != "error" || pr[0].Message != want {
		t.Fatalf("problems %+v, want one not_running: %q", pr, want)
	}
	if !strings.Contains(page, `role="alert"`) {
		t.Errorf("no banner")
	}
	wantText(t, page, want, "Tracking data unavailable", "Sources unavailable", "chronyd not answering")
	if st.Chronyd.Up || st.Tracking != nil || st.Sources != nil || st.SourceStats != nil || st.RTC.Status != rtcUnavailable {
		t.Errorf("status without chronyd: %+v", st)
	}
	for _, c := range st.Exporter.Collectors {
		if c.State != collectorError && c.State != collectorOff {
			t.Errorf("collector %s: %q without chronyd, want error", c.Name, c.State)
		}
	}
	// The configured address is named as given, in the URL form.
	p = newTestPage(t, collector.Config{Address: sock})
	if pr, _, _ := problemsOf(t, p); len(pr) != 1 || pr[0].Message != want {
		t.Errorf("problems %+v, want %q", pr, want)
	}
}

func TestBannerTimeout(t *testing.T) {
	for _, network := range []string{"unixgram", "udp"} {
		t.Run(network, func(t *testing.T) {
			f := chronytest.NewFake(t, network, captures(t))
			f.SetFault(chronytest.AnyCommand, chronytest.FaultSpec{Fault: chronytest.FaultNoReply})
			p := newTestPage(t, collector.Config{Address: f.Addr(), Timeout: 300 * time.Millisecond})
			start := time.Now()
			pr, page, _ := problemsOf(t, p)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("two loads took %v with a 300ms timeout", took)
			}
			want := "chronyd at " + f.Addr() + " did not answer within 300ms (--chrony.timeout)."
			if len(pr) != 1 || pr[0].Kind != kindTimeout || !strings.HasPrefix(pr[0].Message, want) {
				t.Fatalf("problems %+v, want one timeout: %q", pr, want)
			}
			wantText(t, page, want)
		})
	}
}

// TestUDPSkipped: over UDP the collectors that need the Unix socket are
// skipped by default, which is no problem, and the Exporter section says
// so and why.
func TestUDPSkipped(t *testing.T) {
	f := chronytest.NewFake(t, "udp", captures(t))
	p := newTestPage(t, collector.Config{Address: f.Addr()})
	pr, page, st := problemsOf(t, p)
	if len(pr) != 0 {
		t.Errorf("problems %+v over UDP with default collectors, want none", pr)
	}
	if st.Chronyd.Transport != "udp" {
		t.Errorf("transport %q, want udp", st.Chronyd.Transport)
	}
	skipped := 0
	for _, c := range st.Exporter.Collectors {
		if collector.UnixOnly(c.Name) && collector.DefaultEnabled(c.Name) {
			skipped++
			if c.State != collectorSkipped || c.Reason != "needs the Unix socket; chronyd is read over UDP" {
				t.Errorf("collector %+v, want skipped because it needs the Unix socket", c)
			}
			wantText(t, page, c.Name+" skipped needs the Unix socket; chronyd is read over UDP")
		}
	}
	if skipped == 0 {
		t.Fatal("no default unix-only collector")
	}
	wantText(t, page, "Transport UDP")
	// No selectdata over UDP: no reasons, but the sources are all there.
	if len(st.Sources) != 5 || st.Sources[3].SelectReason != "" {
		t.Errorf("sources over UDP: %+v", st.Sources)
	}
}

func TestBannerNeedsUnixSocket(t *testing.T) {
	f := chronytest.NewFake(t, "udp", captures(t))
	f.SetFault(cmdServerStats, chronytest.FaultSpec{Fault: chronytest.FaultUnauth})
	p := newTestPage(t, collector.Config{Address: f.Addr(), Enabled: map[string]bool{"serverstats": true}})
	pr, page, _ := problemsOf(t, p)
	if len(pr) != 1 || pr[0].Kind != kindNeedsUnixSocket || pr[0].Severity != "warning" || pr[0].Collector != "serverstats" || pr[0].Report != "serverstats" {
		t.Fatalf("problems %+v, want serverstats needs the Unix socket", pr)
	}
	wantText(t, page, "chronyd refuses the serverstats report over UDP: it needs chronyd's Unix socket. Use --chrony.address=unix:///run/chrony/chronyd.sock",
		"--no-collector.serverstats", "serverstats error")
}

// TestBannerTooOld: a collector the user turned on whose report chronyd is
// too old for is a warning; the notice of the missing reports follows it.
func TestBannerTooOld(t *testing.T) {
	r := captures(t)
	r.DeleteCommand(cmdSelectData) // answered INVALID, as by chronyd 3.x
	f := chronytest.NewFake(t, "unixgram", r)
	p := newTestPage(t, collector.Config{Address: f.Addr(), Enabled: map[string]bool{"selectdata": true}})
	pr, page, st := problemsOf(t, p)
	if len(pr) != 2 || pr[0].Kind != kindTooOld || pr[0].Severity != "warning" || pr[0].Collector != "selectdata" || pr[0].Report != "selectdata" ||
		pr[1].Kind != kindMissingReports {
		t.Fatalf("problems %+v, want selectdata too old, then the missing reports", pr)
	}
	wantText(t, page, "chronyd at "+f.Addr()+" is too old for the selectdata report. Upgrade chrony, or turn the collector off with --no-collector.selectdata.")
	if !strings.Contains(page, `role="alert"`) {
		t.Errorf("a warning in a banner that is no alert")
	}
	// The rest of the page is there.
	if st.Tracking == nil || len(st.Sources) != 5 {
		t.Errorf("tracking %v, %d sources; want both", st.Tracking, len(st.Sources))
	}
}

// stockRefusal is the error nobody, in chronyd's group, gets from the
// socket of a stock chronyd.
func stockRefusal() *chronyproto.PermissionError {
	chrony := func(mode fs.FileMode) chronyproto.FileOwner {
		return chronyproto.FileOwner{Known: true, Mode: mode, UID: 102, GID: 105, User: "_chrony", Group: "_chrony"}
	}
	return &chronyproto.PermissionError{
		Path: "/run/chrony/chronyd.sock", Dir: chrony(fs.ModeDir | 0o750), Socket: chrony(fs.ModeSocket | 0o755),
		Self: chronyproto.Identity{UID: 65534, User: "nobody", Groups: []string{"nogroup", "_chrony"}}, Err: fs.ErrPermission,
	}
}

// TestUDPFallback: when the automatic address finds a socket it cannot use
// and reads chronyd over UDP, the banner says so as a warning, naming the
// socket, the skipped collectors and what to do, and the Exporter section
// and the JSON name the fall-back.
func TestUDPFallback(t *testing.T) {
	f := chronytest.NewFake(t, "udp", captures(t))
	// A socket file nobody listens on: the connection is refused.
	dead := filepath.Join(t.TempDir(), "chronyd.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: dead, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	savedPaths, savedUDP := chronyproto.DefaultSocketPaths, chronyproto.DefaultUDPAddrs
	t.Cleanup(func() { chronyproto.DefaultSocketPaths, chronyproto.DefaultUDPAddrs = savedPaths, savedUDP })
	chronyproto.DefaultSocketPaths = []string{dead}
	chronyproto.DefaultUDPAddrs = []netip.AddrPort{f.AddrPort()}

	p := newTestPage(t, collector.Config{})
	pr, page, st := problemsOf(t, p)
	if len(pr) != 1 || pr[0].Kind != kindUDPFallback || pr[0].Severity != "warning" {
		t.Fatalf("problems %+v, want one fall-back warning", pr)
	}
	var skipped []string
	for _, c := range st.Exporter.Collectors {
		if c.State == collectorSkipped {
			skipped = append(skipped, c.Name)
			if c.Reason != "needs the Unix socket, which refused the exporter; chronyd is read over UDP" {
				t.Errorf("collector %s skipped for %q", c.Name, c.Reason)
			}
		}
	}
	if len(skipped) == 0 {
		t.Fatal("no collector skipped")
	}
	wantText(t, page,
		"Reading chronyd over UDP ("+f.Addr()+"), which answers only the monitoring reports: its socket "+dead+" refused this exporter, so the "+joinAnd(skipped)+
			" collectors are skipped. Set --chrony.address="+f.Addr()+" to choose UDP and end this notice.",
		"Transport UDP (fall-back: "+dead+" refused the exporter)")
	if st.Chronyd.FallbackFrom != dead || st.Chronyd.Transport != "udp" || !st.Chronyd.Up {
		t.Errorf("chronyd %+v, want up over udp with fallback_from %s", st.Chronyd, dead)
	}
	if st.Tracking == nil || len(st.Sources) != 5 {
		t.Errorf("tracking %v, %d sources; want the monitoring reports", st.Tracking, len(st.Sources))
	}

	// Refused for permission, the notice says who may use the socket.
	s := &collector.Scrape{Address: "udp://127.0.0.1:323", FallbackFrom: "/run/chrony/chronyd.sock", FallbackErr: stockRefusal()}
	fb := fallbackProblem(s, []collector.CollectorState{{Name: "ntpdata", Skipped: "x"}, {Name: "tracking"}})
	for _, w := range []string{"so the ntpdata collectors are skipped; only root and user _chrony can use it",
		"Run it as user _chrony (the shipped systemd unit and packages do), or set --chrony.address=udp://127.0.0.1:323 to choose UDP and end this notice."} {
		if !strings.Contains(fb.Message, w) {
			t.Errorf("fall-back message %q lacks %q", fb.Message, w)
		}
	}
}

// TestPermissionText checks the banner's texts for a socket the exporter
// may not use; as root the tests cannot be refused for real.
func TestPermissionText(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want []string
	}{
		{
			fmt.Errorf("dial: %w", stockRefusal()),
			[]string{"Permission denied on chronyd's socket /run/chrony/chronyd.sock: only root and user _chrony can use it " +
				"(directory /run/chrony 0750 _chrony:_chrony, socket 0755 _chrony:_chrony; membership of group _chrony is not enough). " +
				"The exporter runs as user nobody (uid 65534), groups nogroup, _chrony. " +
				"Run it as user _chrony (the shipped systemd unit and packages do), or use --chrony.address=udp://127.0.0.1:323 for the monitoring reports."},
		},
		{
			&chronyproto.PermissionError{Path: "/run/chrony/chronyd.sock", Dir: chronyproto.FileOwner{Known: true, Mode: fs.ModeDir | 0o755, User: "root", Group: "root"},
				Socket: chronyproto.FileOwner{Known: true, Mode: fs.ModeSocket | 0o700, User: "root", Group: "root"}, Self: stockRefusal().Self, Err: fs.ErrPermission},
			[]string{": only root can use it", "Run it as root, or use --chrony.address=udp://127.0.0.1:323"},
		},
		{
			&chronyproto.PermissionError{Path: "/run/chrony/chronyd.sock", Dir: stockRefusal().Dir, Socket: stockRefusal().Socket,
				Self: chronyproto.Identity{UID: 102, User: "_chrony"}, Err: fs.ErrPermission},
			[]string{"something else refuses it: a read-only mount, SELinux or AppArmor. Allow it there, or use --chrony.address=udp://127.0.0.1:323"},
		},
		{
			fmt.Errorf("automatic: %w", chronyproto.ErrPermission),
			[]string{"Permission denied", "--chrony.address=udp://127.0.0.1:323"},
		},
	} {
		p := connectionProblem(tc.err, "unix:///run/chrony/chronyd.sock", Info{Timeout: time.Second})
		if p.Kind != kindPermission || p.Severity != "error" {
			t.Errorf("%v: kind %q severity %q, want permission error", tc.err, p.Kind, p.Severity)
		}
		for _, w := range tc.want {
			if !strings.Contains(p.Message, w) {
				t.Errorf("%v: message %q lacks %q", tc.err, p.Message, w)
			}
		}
	}
	// And the other kinds, from the errors chronyproto returns.
	for _, tc := range []struct {
		err  error
		kind string
	}{
		{fmt.Errorf("%w: x", chronyproto.ErrNotRunning), kindNotRunning},
		{fmt.Errorf("%w: x", chronyproto.ErrTimeout), kindTimeout},
		{errors.New("something else"), kindOther},
	} {
		if p := connectionProblem(tc.err, "udp://127.0.0.1:323", Info{Timeout: time.Second}); p.Kind != tc.kind {
			t.Errorf("%v: kind %q, want %q", tc.err, p.Kind, tc.kind)
		}
	}
}

func TestScriptSourceNameEscaped(t *testing.T) {
	r := captures(t)
	withSourceName(t, r, "127.0.1.2", xssName)
	f := chronytest.NewFake(t, "unixgram", r)
	p := newTestPage(t, collector.Config{Address: f.Addr()})
	page := p.page(t)
	if strings.Contains(page, xssName) || strings.Contains(strings.ToLower(page), "<script") {
		t.Fatalf("the source name is in the page unescaped")
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the escaped source name is not in the page")
	}
	// Shown as the source's name and, being the reference, in the box.
	wantText(t, page, "Reference "+xssName+" 127.0.1.2 · ID 7F000102 · updated", "current best "+xssName+" 127.0.1.2 3")
	st, _ := p.status(t)
	if st.Sources[1].Name != xssName || st.Tracking.Reference != xssName {
		t.Errorf("JSON names %q, %q; want %q", st.Sources[1].Name, st.Tracking.Reference, xssName)
	}
}

func TestRTC(t *testing.T) {
	r := captures(t)
	if err := r.PutFile(chronytest.NoKey, filepath.Join(handmadeDir, "rtc.hex")); err != nil {
		t.Fatal(err)
	}
	f := chronytest.NewFake(t, "unixgram", r)
	p := newTestPage(t, collector.Config{Address: f.Addr()})
	page := p.page(t)
	// rtc.hex: fast by 0.5 s, gains -1.5 ppm, 10 samples, 4 runs, 3600 s.
	wantText(t, page, "Offset +500.000 ms (RTC fast)", "Drift -1.500 ppm (loses time)", "Samples 10", "Runs 4",
		"Span 1h", "Reference time 2026-01-01 01:02:03 UTC")
	st, _ := p.status(t)
	if st.RTC.Status != rtcOK || *st.RTC.Offset != 0.5 || *st.RTC.Drift != -1.5 || st.RTC.Samples != 10 || st.RTC.Runs != 4 || st.RTC.Span != 3600 ||
		!st.RTC.RefTime.Equal(time.Date(2026, 1, 1, 1, 2, 3, 0, time.UTC)) {
		t.Errorf("rtc = %+v", st.RTC)
	}
	// The rtc collector off: the page reads the RTC all the same.
	p = newTestPage(t, collector.Config{Address: f.Addr(), Enabled: map[string]bool{"rtc": false}})
	wantText(t, p.page(t), "Offset +500.000 ms (RTC fast)", "rtc off")
}

func TestNoSources(t *testing.T) {
	r, err := captures(t).WithSources(0)
	if err != nil {
		t.Fatal(err)
	}
	f := chronytest.NewFake(t, "unixgram", r)
	p := newTestPage(t, collector.Config{Address: f.Addr()})
	page := p.page(t)
	wantText(t, page, "No sources configured", "No statistics available")
	st, raw := p.status(t)
	if st.Sources == nil || len(st.Sources) != 0 || st.SourceStats == nil || len(st.SourceStats) != 0 {
		t.Errorf("sources %v, sourcestats %v; want empty lists", st.Sources, st.SourceStats)
	}
	if s, ok := raw["sources"].([]any); !ok || len(s) != 0 {
		t.Errorf("JSON sources = %#v, want []", raw["sources"])
	}
}

// TestNotSynchronized: leap status 3 is "Not synchronized", and a tracking
// report without a reference shows "None".
func TestNotSynchronized(t *testing.T) {
	r := captures(t)
	p, _ := r.Get(cmdTracking, chronytest.NoKey)
	clear(p[28:52])                       // ref_id and ip_addr (UNSPEC)
	binary.BigEndian.PutUint16(p[52:], 0) // stratum
	binary.BigEndian.PutUint16(p[54:], 3) // leap status: not synchronised
	clear(p[56:68])                       // ref_time: never
	r.Set(cmdTracking, chronytest.NoKey, p)
	f := chronytest.NewFake(t, "unixgram", r)
	tp := newTestPage(t, collector.Config{Address: f.Addr()})
	page := tp.page(t)
	wantText(t, page, "Status Not synchronized leap status: Not synchronised", "Stratum 0", "Reference None", "Reference time never")
	if !strings.Contains(page, `class="stat status bad"`) {
		t.Errorf("the status box is not marked bad")
	}
	st, raw := tp.status(t)
	if st.Tracking.Synchronized || st.Tracking.Reference != "" || st.Tracking.RefTime != nil {
		t.Errorf("tracking %+v", st.Tracking)
	}
	if v, ok := raw["tracking"].(map[string]any)["ref_time"]; !ok || v != nil {
		t.Errorf("ref_time = %v, want null", v)
	}
}

// TestLocalReference: a refclock or the local reference is named by its
// reference ID text.
func TestLocalReference(t *testing.T) {
	r := captures(t)
	p, _ := r.Get(cmdTracking, chronytest.NoKey)
	clear(p[28:52])
	binary.BigEndian.PutUint32(p[28:], 0x4C4F434C) // "LOCL"
	r.Set(cmdTracking, chronytest.NoKey, p)
	f := chronytest.NewFake(t, "unixgram", r)
	wantText(t, newTestPage(t, collector.Config{Address: f.Addr()}).page(t), "Reference LOCL ID 4C4F434C")
}

// TestNaNInJSON: the JSON of a status with numbers that are not finite
// is valid, with null for them.
func TestNaNInJSON(t *testing.T) {
	st := &status{Tracking: &tracking{Frequency: jsonFloat(nan), Skew: jsonFloat(posInf)}}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"frequency_ppm":null`) || !strings.Contains(string(b), `"skew_ppm":null`) {
		t.Errorf("JSON %s: want null for NaN and Inf", b)
	}
}

func TestConfiguredAddress(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/run/chrony/chronyd.sock", "unix:///run/chrony/chronyd.sock"},
		{"unix:///x.sock", "unix:///x.sock"},
		{"udp://127.0.0.1:323", "udp://127.0.0.1:323"},
		{"ntp.example.org", "udp://ntp.example.org"},
		{"", "unix:///run/chrony/chronyd.sock, unix:///var/run/chrony/chronyd.sock, udp://127.0.0.1:323, udp://[::1]:323"},
	} {
		if got := configuredAddress(tc.in); got != tc.want {
			t.Errorf("configuredAddress(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestNSourcesError: when N_SOURCES fails the page says the sources are
// unavailable rather than "No sources configured".
func TestNSourcesError(t *testing.T) {
	r := captures(t)
	r.DeleteCommand(cmdNSources)
	f := chronytest.NewFake(t, "unixgram", r)
	p := newTestPage(t, collector.Config{Address: f.Addr()})
	page := p.page(t)
	wantText(t, page, "Sources unavailable. chronyd did not send the sources report", "Statistics unavailable.")
	if strings.Contains(text(page), "No sources configured") {
		t.Errorf("page says no sources are configured when they could not be read")
	}
}

func TestSignWord(t *testing.T) {
	for _, tc := range []struct{ shown, want string }{
		{offsetText(3e-6), "fast"},
		{offsetText(-3e-6), "slow"},
		{offsetText(0), ""},
		{offsetText(-0.4e-9), ""}, // shown as +0 ns
		{ppmText(0.063), "fast"},
		{ppmText(-0.0004), ""}, // shown as +0.000 ppm
		{ppmText(-1.5), "slow"},
		{offsetText(nan), ""},
		{offsetText(posInf), ""},
		{ppmText(negInf), ""},
	} {
		if got := signWord(tc.shown, "fast", "slow"); got != tc.want {
			t.Errorf("signWord(%q) = %q, want %q", tc.shown, got, tc.want)
		}
	}
}

// TestProbeForm: the page has a form for the probe only when it is on.
func TestProbeForm(t *testing.T) {
	f := chronytest.NewFake(t, "unixgram", captures(t))
	p := newTestPage(t, collector.Config{Address: f.Addr()})
	if strings.Contains(p.page(t), "<form") {
		t.Errorf("a probe form without a probe")
	}
	p.h.info.ProbePath = "/probe"
	page := p.page(t)
	if !strings.Contains(page, `<form class="probe" action="/probe" method="get">`) || !strings.Contains(page, `name="target"`) {
		t.Errorf("no form for the probe at /probe")
	}
	if csp := p.get(t, http.MethodGet, "/").header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("Content-Security-Policy %q does not let the form submit", csp)
	}
}
