//go:build integration

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/internal/testenv"
)

// The status page's browser tests: Debian's headless chromium, driven by
// chromedp, loads the page from the shared binary, against the
// chronyd lab or the fake chronyd. They fail, never skip, when chromium is
// missing: `make test-deps` installs it.

const (
	chromiumPath = "/usr/bin/chromium"
	handmadeDir  = "../../chronyproto/testdata/handmade"
	// screenshotDir is git-ignored: the pictures are for people to look at.
	screenshotDir = "../../screenshots"
	xssName       = "<script>alert(1)</script>"
	// cmdNTPSourceName is the request code of NTP_SOURCE_NAME (§7.1).
	cmdNTPSourceName = 65
)

// The four sections every load shows, in order, then the exporter's own.
var sectionHeadings = []string{"Time synchronization", "NTP sources", "Source statistics", "Hardware RTC", "Exporter"}

// newBrowser starts a headless chromium with a fresh profile, ended with
// the test.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatalf("chromium not found at %s or in PATH; install it with: apt-get install -y chromium (make test-deps does)", chromiumPath)
		}
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 720),
	)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// Start the browser now, so that its failure is reported as such.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium (%s): %v", path, err)
	}
	return ctx
}

// browse loads url at the given viewport and returns the HTTP status.
func browse(t testing.TB, ctx context.Context, url string, width, height int64) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("viewport %dx%d: %v", width, height, err)
	}
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("loading %s: %v", url, err)
	}
	return resp.Status
}

// view is what a person sees on the page, read from the DOM.
type view struct {
	Headings  []string  `json:"headings"`
	Status    string    `json:"status"`
	Offset    string    `json:"offset"`
	Stratum   string    `json:"stratum"`
	Reference string    `json:"reference"`
	Banner    []string  `json:"banner"`
	Rows      []viewRow `json:"rows"`
	StatRows  int       `json:"statRows"`
	RTC       string    `json:"rtc"`
	RTCFields []string  `json:"rtcFields"`
	Exporter  string    `json:"exporter"`
	Scripts   int       `json:"scripts"`
	Body      string    `json:"body"`
	// Layout: the page's width against the viewport's, and where the stat
	// boxes end.
	ScrollWidth int     `json:"scrollWidth"`
	InnerWidth  int     `json:"innerWidth"`
	InnerHeight int     `json:"innerHeight"`
	StatsBottom float64 `json:"statsBottom"`
}

type viewRow struct {
	Address     string `json:"address"`
	Name        string `json:"name"`
	Text        string `json:"text"`
	Selected    bool   `json:"selected"`
	Unreachable bool   `json:"unreachable"`
	Color       string `json:"color"`      // of the first cell's text
	Background  string `json:"background"` // of the row
}

const viewJS = `(() => {
  const q = s => document.querySelector(s);
  const txt = e => e ? e.textContent.replace(/\s+/g, ' ').trim() : '';
  const stats = q('#tracking .stats');
  return {
    headings: [...document.querySelectorAll('main h2:not(.visually-hidden)')].map(txt),
    status: txt(q('#stat-status .value')),
    offset: txt(q('#stat-offset .value')),
    stratum: txt(q('#stat-stratum .value')),
    reference: txt(q('#stat-reference .value')),
    banner: [...document.querySelectorAll('#problems li .message')].map(txt),
    rows: [...document.querySelectorAll('table.sources tbody tr')].map(r => ({
      address: r.dataset.address || '',
      name: txt(r.querySelector('.src-name')),
      text: txt(r),
      selected: r.classList.contains('selected'),
      unreachable: r.classList.contains('unreachable'),
      color: getComputedStyle(r.querySelector('td')).color,
      background: getComputedStyle(r).backgroundColor,
    })),
    statRows: document.querySelectorAll('table.stats-table tbody tr').length,
    rtc: txt(q('#rtc')),
    rtcFields: [...document.querySelectorAll('#rtc dl > div')].map(d => [...d.children].map(txt).join(' ')),
    exporter: txt(q('#exporter')),
    scripts: document.querySelectorAll('script').length,
    body: txt(document.body),
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    innerHeight: window.innerHeight,
    statsBottom: stats ? stats.getBoundingClientRect().bottom : -1,
  };
})()`

func look(t testing.TB, ctx context.Context) view {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[view](viewJS))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	return v
}

func (v view) checkHeadings(t *testing.T) {
	t.Helper()
	if !slices.Equal(v.Headings, sectionHeadings) {
		t.Errorf("section headings %q, want %q", v.Headings, sectionHeadings)
	}
}

func (v view) addresses(unreachable bool) []string {
	var out []string
	for _, r := range v.Rows {
		if r.Unreachable == unreachable {
			out = append(out, r.Address)
		}
	}
	sort.Strings(out)
	return out
}

func screenshot(t testing.TB, ctx context.Context, name string, full bool) {
	t.Helper()
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100) // 100: PNG
	}
	buf, err := chromedp.Run(ctx, shot)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(screenshotDir, name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("screenshot: %s", abs)
}

// TestStatusPageLab loads the page of an exporter reading the real chronyd
// lab: 3 reachable sources, 127.0.2.1 unreachable, 127.0.2.2 unreachable
// and noselect, no RTC.
func TestStatusPageLab(t *testing.T) {
	l := sharedLab.get(t)
	e := startExporter(t, "--chrony.address="+socketAddr(l))
	ctx := newBrowser(t)
	if code := browse(t, ctx, e.url+"/", 1280, 720); code != http.StatusOK {
		t.Fatalf("GET /: %d, want 200", code)
	}
	v := look(t, ctx)
	v.checkHeadings(t)
	if v.Status != "Synchronized" {
		t.Errorf("Status %q, want Synchronized", v.Status)
	}
	if len(v.Banner) != 0 {
		t.Errorf("banner %q for a healthy chronyd", v.Banner)
	}
	// One row per source chronyc lists.
	want := len(csvLines(l.Chronyc(t, "sources")))
	if len(v.Rows) != want || want != len(l.Reachable)+2 {
		t.Errorf("%d source rows, chronyc lists %d sources, the lab has %d", len(v.Rows), want, len(l.Reachable)+2)
	}
	var selected []viewRow
	for _, r := range v.Rows {
		if r.Selected {
			selected = append(selected, r)
		}
	}
	if len(selected) != 1 {
		t.Errorf("%d rows marked selected, want 1: %+v", len(selected), selected)
	} else if a, err := netip.ParseAddr(selected[0].Address); err != nil || !slices.Contains(l.Reachable, a) {
		t.Errorf("selected row %q is not a reachable source", selected[0].Address)
	} else if !strings.Contains(selected[0].Text, "* current best") || selected[0].Background == "rgba(0, 0, 0, 0)" {
		t.Errorf("selected row not shown as such: %+v", selected[0])
	}
	if got, want := v.addresses(true), []string{l.Unreachable.String(), l.NoSelect.String()}; !slices.Equal(got, want) {
		t.Errorf("rows marked unreachable %q, want %q", got, want)
	}
	// Dimmed: their text is another colour than a reachable row's.
	for _, r := range v.Rows {
		if r.Unreachable && (r.Color == selected[0].Color || !strings.Contains(r.Text, "000 never")) {
			t.Errorf("unreachable row %s: colour %s (a reachable row: %s), text %q", r.Address, r.Color, selected[0].Color, r.Text)
		}
	}
	if v.StatRows != len(v.Rows) {
		t.Errorf("%d statistics rows, want %d", v.StatRows, len(v.Rows))
	}
	if !strings.Contains(v.RTC, "RTC tracking not configured") {
		t.Errorf("RTC section %q, want it to say RTC tracking is not configured", v.RTC)
	}
	// The stat boxes are seen without scrolling at 1280×720.
	if v.StatsBottom <= 0 || v.StatsBottom > float64(v.InnerHeight) || v.InnerHeight != 720 {
		t.Errorf("stat boxes end at %v px in a %d px high window, want them visible without scrolling", v.StatsBottom, v.InnerHeight)
	}
	if !strings.Contains(v.Exporter, wantVersion) || !strings.Contains(v.Exporter, "Unix socket") || !strings.Contains(v.Exporter, socketAddr(l)) {
		t.Errorf("Exporter section %q lacks the version %s, the transport or the address", v.Exporter, wantVersion)
	}
	if v.Scripts != 0 {
		t.Errorf("%d script elements, want none: the page works without JavaScript", v.Scripts)
	}
}

// TestStatusPageChronydRestart stops chronyd under a running exporter and
// starts it again. The exporter reads a socket through a symbolic link to
// the fake's directory, so that a new fake appears at the same path.
func TestStatusPageChronydRestart(t *testing.T) {
	replies := fakeReplies(t)
	// Short: the client's socket path goes beside chronyd's, and a Unix
	// socket path has 108 bytes at most.
	dir, err := os.MkdirTemp("", "sp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	link := filepath.Join(dir, "run")
	sock := filepath.Join(link, "chronyd.sock")
	first := chronytest.NewFake(t, "unixgram", replies)
	if err := os.Symlink(first.Dir(), link); err != nil {
		t.Fatal(err)
	}
	e := startExporter(t, "--chrony.address=unix://"+sock, "--chrony.timeout=2s")
	ctx := newBrowser(t)

	if code := browse(t, ctx, e.url+"/", 1280, 720); code != http.StatusOK {
		t.Fatalf("GET / with chronyd up: %d", code)
	}
	if v := look(t, ctx); v.Status != "Synchronized" || len(v.Rows) != 5 || len(v.Banner) != 0 {
		t.Fatalf("with chronyd up: status %q, %d rows, banner %q", v.Status, len(v.Rows), v.Banner)
	}

	first.Close() // chronyd stops: its socket is gone
	if code := browse(t, ctx, e.url+"/", 1280, 720); code != http.StatusOK {
		t.Errorf("GET / with chronyd stopped: %d, want 200", code)
	}
	v := look(t, ctx)
	want := "Unable to connect to chronyd at unix://" + sock + ". Is the service running?"
	if len(v.Banner) != 1 || v.Banner[0] != want {
		t.Errorf("banner %q, want %q", v.Banner, want)
	}
	v.checkHeadings(t)
	if v.Status != "" || len(v.Rows) != 0 || !strings.Contains(v.RTC, "chronyd did not answer") {
		t.Errorf("with chronyd stopped: status %q, %d rows, RTC %q; want no data", v.Status, len(v.Rows), v.RTC)
	}
	screenshot(t, ctx, "not-running-1280x720.png", false)

	second := chronytest.NewFake(t, "unixgram", replies) // chronyd is back
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(second.Dir(), link); err != nil {
		t.Fatal(err)
	}
	if code := browse(t, ctx, e.url+"/", 1280, 720); code != http.StatusOK {
		t.Errorf("GET / with chronyd back: %d, want 200", code)
	}
	if v := look(t, ctx); v.Status != "Synchronized" || len(v.Rows) != 5 || len(v.Banner) != 0 {
		t.Errorf("with chronyd back: status %q, %d rows, banner %q; want the data on the next load", v.Status, len(v.Rows), v.Banner)
	}
}

// TestStatusPageRTC shows an RTC report (hand-made: fast by 0.5 s, gains
// -1.5 ppm, 10 samples, 4 runs over 3600 s), formatted.
func TestStatusPageRTC(t *testing.T) {
	replies := fakeReplies(t)
	if err := replies.PutFile(chronytest.NoKey, filepath.Join(handmadeDir, "rtc.hex")); err != nil {
		t.Fatal(err)
	}
	f := chronytest.NewFake(t, "unixgram", replies)
	e := startExporter(t, "--chrony.address="+f.Addr())
	ctx := newBrowser(t)
	if code := browse(t, ctx, e.url+"/", 1440, 900); code != http.StatusOK {
		t.Fatalf("GET /: %d", code)
	}
	v := look(t, ctx)
	want := []string{
		"Offset +500.000 ms (RTC fast)",
		"Drift -1.500 ppm (loses time)",
		"Samples 10",
		"Runs 4",
		"Span 1h",
		"Reference time 2026-01-01 01:02:03 UTC",
	}
	if !slices.Equal(v.RTCFields, want) {
		t.Errorf("RTC fields %q, want %q", v.RTCFields, want)
	}
}

// TestStatusPageScriptName gives a source the configured name
// <script>alert(1)</script>: the page shows it as text and runs nothing.
func TestStatusPageScriptName(t *testing.T) {
	replies := fakeReplies(t)
	key := chronytest.AddrKey(netip.MustParseAddr("127.0.1.2")) // the selected source
	p, ok := replies.Get(cmdNTPSourceName, key)
	if !ok || len(p) != 284 {
		t.Fatal("no captured NTP_SOURCE_NAME reply for 127.0.1.2")
	}
	clear(p[28:])
	copy(p[28:], xssName)
	replies.Set(cmdNTPSourceName, key, p)
	f := chronytest.NewFake(t, "unixgram", replies)
	e := startExporter(t, "--chrony.address="+f.Addr())
	ctx := newBrowser(t)

	var dialogs atomic.Int32
	opened := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range opened {
			if err != nil {
				return
			}
			dialogs.Add(1)
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	if code := browse(t, ctx, e.url+"/", 1440, 900); code != http.StatusOK {
		t.Fatalf("GET /: %d", code)
	}
	v := look(t, ctx)
	var row *viewRow
	for i := range v.Rows {
		if v.Rows[i].Address == "127.0.1.2" {
			row = &v.Rows[i]
		}
	}
	if row == nil || row.Name != xssName {
		t.Errorf("source 127.0.1.2 shown as %+v, want the name %q as text", row, xssName)
	}
	if v.Reference != xssName {
		t.Errorf("Reference %q, want %q as text", v.Reference, xssName)
	}
	if v.Scripts != 0 {
		t.Errorf("%d script elements in the DOM, want none", v.Scripts)
	}
	// A dialog would have been reported while the page loaded; give a
	// late one a moment.
	time.Sleep(300 * time.Millisecond)
	if n := dialogs.Load(); n != 0 {
		t.Errorf("%d JavaScript dialogs opened", n)
	}
	screenshot(t, ctx, "script-name-1440x900.png", false)
}

// TestStatusPageScreenshots writes the page of the lab at a phone's and a
// desktop's size for people to look at, and checks the page itself never
// scrolls sideways (wide tables scroll in their card).
func TestStatusPageScreenshots(t *testing.T) {
	l := sharedLab.get(t)
	e := startExporter(t, "--chrony.address="+socketAddr(l))
	ctx := newBrowser(t)
	for _, size := range []struct {
		w, h int64
		shot bool
	}{{375, 812, true}, {1440, 900, true}, {320, 640, false}, {1920, 1080, false}} {
		if code := browse(t, ctx, e.url+"/", size.w, size.h); code != http.StatusOK {
			t.Fatalf("GET /: %d", code)
		}
		v := look(t, ctx)
		v.checkHeadings(t)
		if v.ScrollWidth > v.InnerWidth {
			t.Errorf("at %dx%d the page is %d px wide: it scrolls sideways", size.w, size.h, v.ScrollWidth)
		}
		if size.shot {
			screenshot(t, ctx, fmt.Sprintf("lab-%dx%d.png", size.w, size.h), false)
			screenshot(t, ctx, fmt.Sprintf("lab-%dx%d-full.png", size.w, size.h), true)
		}
	}
}

// TestStatusPageRouting: the page at /, its JSON, the metrics, and 404 for
// the rest, also with another telemetry path.
func TestStatusPageRouting(t *testing.T) {
	l := sharedLab.get(t)
	get := func(t *testing.T, url string) (int, string, string) {
		t.Helper()
		r := testenv.Get(context.Background(), nil, url, nil)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		return r.Status, r.Header.Get("Content-Type"), r.Body
	}
	for _, tc := range []struct {
		path      string
		telemetry string
	}{{"", "/metrics"}, {"--web.telemetry-path=/custom", "/custom"}} {
		args := []string{"--chrony.address=" + socketAddr(l)}
		if tc.path != "" {
			args = append(args, tc.path)
		}
		e := startExporter(t, args...)
		code, ctype, body := get(t, e.url+"/")
		if code != 200 || ctype != "text/html; charset=utf-8" || !strings.Contains(body, `href="`+tc.telemetry+`"`) {
			t.Errorf("GET /: %d %q, want 200 text/html linking to %s", code, ctype, tc.telemetry)
		}
		code, ctype, body = get(t, e.url+"/api/status")
		var st struct {
			Chronyd struct{ Up bool }
			Sources []json.RawMessage
		}
		if err := json.Unmarshal([]byte(body), &st); code != 200 || ctype != "application/json" || err != nil || !st.Chronyd.Up || len(st.Sources) != len(l.Reachable)+2 {
			t.Errorf("GET /api/status: %d %q %v: %s", code, ctype, err, body)
		}
		if code, _, body := get(t, e.url+tc.telemetry); code != 200 || !strings.Contains(body, "chrony_up 1") {
			t.Errorf("GET %s: %d, want the metrics", tc.telemetry, code)
		}
		for _, p := range []string{"/nope", "/index.html", "/api/status/x"} {
			if code, _, _ := get(t, e.url+p); code != 404 {
				t.Errorf("GET %s: %d, want 404", p, code)
			}
		}
		if tc.telemetry != "/metrics" {
			if code, _, _ := get(t, e.url+"/metrics"); code != 404 {
				t.Errorf("GET /metrics with --web.telemetry-path=%s: %d, want 404", tc.telemetry, code)
			}
		}
	}
}

// BenchmarkStatusPage64 loads the status page of an exporter reading a
// real chronyd with 66 sources (64 reachable) over its Unix socket, as a
// browser does: one GET of /, read in full. It reports the median and the
// 95th percentile of the load times.
func BenchmarkStatusPage64(b *testing.B) {
	l := lab64.get(b)
	e := startExporter(b, "--chrony.address="+socketAddr(l))
	load := func() time.Duration {
		start := time.Now()
		resp, err := http.Get(e.url + "/")
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || n == 0 {
			b.Fatalf("GET /: %d, %d bytes, %v", resp.StatusCode, n, err)
		}
		return time.Since(start)
	}
	// The first read of a client is three round trips deep; the next
	// ones one.
	load()
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		times = append(times, load())
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(times[len(times)*95/100])/1e6, "p95-ms")
	e.stop()
}
