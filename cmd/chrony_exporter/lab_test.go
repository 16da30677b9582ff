//go:build integration

package main

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

// The exporter against a real chronyd pair (chronytest.Lab): its values
// agree with chronyc's, every collector succeeds, promtool accepts what
// it serves. chronyd must start as root; the tests fail, never skip,
// when it cannot.

// sharedLab is one chronyd pair for the whole package, since a pair is slow
// to start. lab64 is the 64-source pair the benchmarks share, slower still
// to settle.
var (
	sharedLab labOnce
	lab64     = labOnce{cfg: chronytest.Config{Reachable: 64}}
)

func init() { afterTests = append(afterTests, sharedLab.close, lab64.close) }

type labOnce struct {
	cfg  chronytest.Config
	once sync.Once
	lab  *chronytest.Lab
	err  error
}

func (o *labOnce) get(t testing.TB) *chronytest.Lab {
	t.Helper()
	o.once.Do(func() {
		// Start's own default deadline, which grows with the sources.
		o.lab, o.err = chronytest.Start(context.Background(), o.cfg)
	})
	if o.err != nil {
		t.Fatalf("starting the chronyd lab: %v", o.err)
	}
	return o.lab
}

func (o *labOnce) close() {
	if o.lab != nil {
		if err := o.lab.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing the chronyd lab:", err)
		}
	}
}

func socketAddr(l *chronytest.Lab) string { return "unix://" + l.SocketPath }

func udpAddr(l *chronytest.Lab) string { return "udp://" + l.UDPAddr.String() }

// How far a value may be from chronyc's: the rounding of what chronyc
// printed, plus for values that move between two readings (offsets,
// frequencies, dispersion) 2e-5 + 5 %.
type tolerance int

const (
	exact tolerance = iota
	drift
)

// near compares a metric with a number chronyc printed.
func near(got float64, printed string, tol tolerance) error {
	want, err := strconv.ParseFloat(printed, 64)
	if err != nil {
		return fmt.Errorf("chronyc printed %q, not a number", printed)
	}
	// Half the last printed digit, and float64's precision on timestamps.
	limit := 1e-9 + 2e-15*math.Abs(want)
	if i := strings.IndexByte(printed, '.'); i >= 0 {
		limit += 0.5 * math.Pow10(-(len(printed) - i - 1))
	}
	if tol == drift {
		limit += 2e-5 + 0.05*math.Abs(want)
	}
	if math.Abs(got-want) > limit {
		return fmt.Errorf("metric %v, chronyc %s", got, printed)
	}
	return nil
}

// checker collects the differences of one comparison.
type checker struct {
	s    scrape
	errs []string
}

func (c *checker) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// number compares metric name{labels} with a field chronyc printed.
func (c *checker) number(name string, labels map[string]string, printed string, tol tolerance) {
	got, err := c.s.value(name, labels)
	if err == nil {
		err = near(got, printed, tol)
	}
	if err != nil {
		c.errorf("%s%s: %v", name, labelText(labels), err)
	}
}

// is compares metric name{labels} with a value computed from chronyc's.
func (c *checker) is(name string, labels map[string]string, want float64) {
	got, err := c.s.value(name, labels)
	if err == nil && got != want {
		err = fmt.Errorf("metric %v, want %v from chronyc", got, want)
	}
	if err != nil {
		c.errorf("%s%s: %v", name, labelText(labels), err)
	}
}

func (c *checker) absent(name string, labels map[string]string, why string) {
	if n := len(c.s.series(name, labels)); n != 0 {
		c.errorf("%s%s: %d series, want none (%s)", name, labelText(labels), n, why)
	}
}

// count checks that a per-source metric has a series per chronyc line.
func (c *checker) count(name string, want int) {
	if n := len(c.s.series(name, nil)); n != want {
		c.errorf("%s: %d series, chronyc printed %d sources", name, n, want)
	}
}

func csvLines(out string) [][]string {
	var lines [][]string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			lines = append(lines, strings.Split(l, ","))
		}
	}
	return lines
}

// leapValues are chronyc's leap status texts, numbered as on the wire.
var leapValues = map[string]float64{"Normal": 0, "Insert second": 1, "Delete second": 2, "Not synchronised": 3}

func (c *checker) tracking(out string) {
	lines := csvLines(out)
	if len(lines) != 1 || len(lines[0]) != 14 {
		c.errorf("chronyc tracking printed %q, want one line of 14 fields", out)
		return
	}
	f := lines[0]
	if n := len(c.s.series("chrony_tracking_info", map[string]string{"tracking_refid": f[0], "tracking_address": f[1]})); n != 1 {
		c.errorf("chrony_tracking_info{tracking_refid=%q,tracking_address=%q}: %d series, want 1; have %v",
			f[0], f[1], n, c.s.series("chrony_tracking_info", nil))
	}
	for _, m := range []struct {
		field int
		name  string
		tol   tolerance
	}{
		{2, "chrony_tracking_stratum", exact},
		{3, "chrony_tracking_reference_timestamp_seconds", exact},
		{4, "chrony_tracking_system_time_seconds", drift},
		{5, "chrony_tracking_last_offset_seconds", drift},
		{6, "chrony_tracking_rms_offset_seconds", drift},
		{7, "chrony_tracking_frequency_ppms", drift},
		{8, "chrony_tracking_residual_frequency_ppms", exact},
		{9, "chrony_tracking_skew_ppms", exact},
		{10, "chrony_tracking_root_delay_seconds", exact},
		{11, "chrony_tracking_root_dispersion_seconds", drift},
		{12, "chrony_tracking_update_interval_seconds", exact},
	} {
		c.number(m.name, nil, f[m.field], m.tol)
	}
	leap, ok := leapValues[f[13]]
	if !ok {
		c.errorf("chronyc tracking: unknown leap status %q", f[13])
		return
	}
	c.is("chrony_tracking_leap_status", nil, leap)
}

// The label values of SuperQ/chrony_exporter for chronyc's symbols.
var (
	modeLabels  = map[string]string{"^": "client", "=": "peer", "#": "reference clock"}
	stateLabels = map[string]string{"*": "sync", "?": "unreach", "x": "falseticker", "~": "jittery", "+": "candidate", "-": "outlier"}
)

// noSample is chronyc's LastRx while a source has no sample.
const noSample = "4294967295"

func (c *checker) sources(out string) {
	lines := csvLines(out)
	c.count("chrony_sources_state_info", len(lines))
	for _, f := range lines {
		if len(f) != 10 {
			c.errorf("chronyc sources printed %q, want 10 fields", strings.Join(f, ","))
			continue
		}
		src := map[string]string{"source_address": f[2]}
		state := map[string]string{"source_address": f[2], "source_mode": modeLabels[f[0]], "source_state": stateLabels[f[1]]}
		c.is("chrony_sources_state_info", state, 1)
		c.number("chrony_sources_stratum", src, f[3], exact)
		poll, err := strconv.Atoi(f[4])
		if err != nil {
			c.errorf("chronyc sources: poll %q", f[4])
			continue
		}
		c.is("chrony_sources_polling_interval_seconds", src, math.Ldexp(1, poll))
		reach, err := strconv.ParseUint(f[5], 8, 8)
		if err != nil {
			c.errorf("chronyc sources: reach %q", f[5])
			continue
		}
		c.is("chrony_sources_reachability_ratio", src, float64(bits.OnesCount8(uint8(reach)))/8)
		if f[6] == noSample {
			c.absent("chrony_sources_last_sample_age_seconds", src, "chronyc LastRx "+noSample)
			continue
		}
		lastRx, err := strconv.ParseFloat(f[6], 64)
		if err != nil {
			c.errorf("chronyc sources: LastRx %q", f[6])
			continue
		}
		if age, err := c.s.value("chrony_sources_last_sample_age_seconds", src); err != nil {
			c.errorf("%v", err)
		} else if math.Abs(age-lastRx) > 5 {
			c.errorf("chrony_sources_last_sample_age_seconds%s: metric %v, chronyc LastRx %s", labelText(src), age, f[6])
		}
		c.number("chrony_sources_last_sample_offset_seconds", src, f[7], drift)
		c.number("chrony_sources_last_sample_raw_offset_seconds", src, f[8], drift)
		c.number("chrony_sources_last_sample_error_margin_seconds", src, f[9], drift)
	}
}

func (c *checker) sourcestats(out string) {
	lines := csvLines(out)
	c.count("chrony_sourcestats_samples", len(lines))
	for _, f := range lines {
		if len(f) != 8 {
			c.errorf("chronyc sourcestats printed %q, want 8 fields", strings.Join(f, ","))
			continue
		}
		src := map[string]string{"source_address": f[0]}
		c.number("chrony_sourcestats_samples", src, f[1], exact)
		c.number("chrony_sourcestats_runs", src, f[2], exact)
		c.number("chrony_sourcestats_span_seconds", src, f[3], exact)
		if f[1] == "0" {
			// No samples: chronyc prints chronyd's placeholders (2000 ppm,
			// 4 s); the collector sends no estimates.
			for _, name := range []string{"chrony_sourcestats_frequency_ppms", "chrony_sourcestats_frequency_skew_ppms",
				"chrony_sourcestats_offset", "chrony_sourcestats_stddev"} {
				c.absent(name, src, "chronyc NP 0")
			}
			continue
		}
		c.number("chrony_sourcestats_frequency_ppms", src, f[4], drift)
		c.number("chrony_sourcestats_frequency_skew_ppms", src, f[5], drift)
		c.number("chrony_sourcestats_offset", src, f[6], drift)
		c.number("chrony_sourcestats_stddev", src, f[7], drift)
	}
}

// TestAgreesWithChronyc holds every value of chronyc's tracking, sources
// and sourcestats against the metrics, over the socket and over UDP.
func TestAgreesWithChronyc(t *testing.T) {
	l := sharedLab.get(t)
	for _, tc := range []struct{ name, addr string }{{"unix", socketAddr(l)}, {"udp", udpAddr(l)}} {
		t.Run(tc.name, func(t *testing.T) {
			e := startExporter(t, "--chrony.address="+tc.addr)
			var errs []string
			// chronyd may update its clock or take a sample between the
			// scrape and chronyc; the next try falls between two.
			for try := 0; try < 10; try++ {
				c := &checker{s: e.scrape(t, nil)}
				c.tracking(l.Chronyc(t, "tracking"))
				c.sources(l.Chronyc(t, "sources"))
				c.sourcestats(l.Chronyc(t, "sourcestats"))
				if errs = c.errs; errs == nil {
					return
				}
				time.Sleep(300 * time.Millisecond)
			}
			t.Errorf("metrics differ from chronyc -c -n:\n%s", strings.Join(errs, "\n"))
		})
	}
}

// TestCollectorsSucceed checks which collectors run over each transport,
// and that a healthy chronyd makes the exporter log no warning.
func TestCollectorsSucceed(t *testing.T) {
	l := sharedLab.get(t)
	up := func(t *testing.T, s scrape, want float64) {
		t.Helper()
		if v, err := s.value("chrony_up", nil); err != nil || v != want {
			t.Errorf("chrony_up = %v (%v), want %v", v, err, want)
		}
	}
	success := func(t *testing.T, s scrape, name string) (float64, bool) {
		t.Helper()
		ms := s.series("chrony_scrape_collector_success", map[string]string{"collector": name})
		if len(ms) == 0 {
			return 0, false
		}
		return ms[0].GetGauge().GetValue(), true
	}

	t.Run("unix", func(t *testing.T) {
		e := startExporter(t, "--chrony.address="+socketAddr(l))
		s := e.scrape(t, nil)
		up(t, s, 1)
		for _, name := range collector.Names() {
			v, ok := success(t, s, name)
			switch {
			case collector.DefaultEnabled(name) && (!ok || v != 1):
				t.Errorf("chrony_scrape_collector_success{collector=%q} = %v (present %v), want 1", name, v, ok)
			case !collector.DefaultEnabled(name) && ok:
				t.Errorf("collector %q is off by default but has chrony_scrape_collector_success", name)
			}
		}
		e.stop()
		if lines := e.logLines("warn", "error"); lines != nil {
			t.Errorf("warnings or errors logged:\n%s", strings.Join(lines, "\n"))
		}
	})

	t.Run("udp", func(t *testing.T) {
		e := startExporter(t, "--chrony.address="+udpAddr(l))
		e.scrape(t, nil)
		s := e.scrape(t, nil) // a client's second snapshot takes another path
		up(t, s, 1)
		for _, name := range collector.Names() {
			v, ok := success(t, s, name)
			switch {
			case collector.UnixOnly(name) && ok:
				t.Errorf("unix-only collector %q has chrony_scrape_collector_success over UDP", name)
			case !collector.UnixOnly(name) && collector.DefaultEnabled(name) && (!ok || v != 1):
				t.Errorf("chrony_scrape_collector_success{collector=%q} = %v (present %v), want 1", name, v, ok)
			}
		}
		e.stop()
		if lines := e.logLines("warn", "error"); lines != nil {
			t.Errorf("warnings or errors logged:\n%s", strings.Join(lines, "\n"))
		}
	})

	t.Run("udp explicit serverstats", func(t *testing.T) {
		e := startExporter(t, "--chrony.address="+udpAddr(l), "--collector.serverstats")
		var s scrape
		for range 3 {
			s = e.scrape(t, nil)
		}
		up(t, s, 1)
		if v, ok := success(t, s, "serverstats"); !ok || v != 0 {
			t.Errorf(`chrony_scrape_collector_success{collector="serverstats"} = %v (present %v), want 0`, v, ok)
		}
		e.stop()
		lines := e.logLines("warn", "error")
		if len(lines) != 1 || !strings.Contains(lines[0], "level=warn") || !strings.Contains(lines[0], "needs the Unix socket") {
			t.Errorf("want one warning that says serverstats needs the Unix socket, logged once for 3 scrapes; got:\n%s", strings.Join(lines, "\n"))
		}
	})
}

// TestConcurrentScrapes runs scrapes at once, as several Prometheus
// servers do; they share reads of chronyd, under the race detector.
func TestConcurrentScrapes(t *testing.T) {
	l := sharedLab.get(t)
	e := startExporter(t, "--chrony.address="+socketAddr(l))
	var wg sync.WaitGroup
	ups := make([]float64, 8)
	errs := make([]error, len(ups))
	for i := range ups {
		wg.Go(func() {
			s, err := fetch(http.DefaultClient, e.url+"/metrics", nil).metrics()
			if err != nil {
				errs[i] = err
				return
			}
			ups[i], errs[i] = s.value("chrony_up", nil)
		})
	}
	wg.Wait()
	for i := range ups {
		if errs[i] != nil || ups[i] != 1 {
			t.Errorf("scrape %d: chrony_up = %v (%v), want 1", i, ups[i], errs[i])
		}
	}
}

// TestPromtoolCheckMetrics lints a live scrape with every default
// collector and the clients collector.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (%v); install it with: apt-get install -y prometheus", err)
	}
	l := sharedLab.get(t)
	e := startExporter(t, "--chrony.address="+socketAddr(l), "--collector.clients")
	s := e.scrape(t, nil)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(s.raw)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestDisableExporterMetrics checks that the exporter's own metrics are
// served unless --web.disable-exporter-metrics leaves them out, and that
// the build information and chronyd's metrics stay either way.
func TestDisableExporterMetrics(t *testing.T) {
	l := sharedLab.get(t)
	for _, own := range []bool{true, false} {
		args := []string{"--chrony.address=" + socketAddr(l)}
		if !own {
			args = append(args, "--web.disable-exporter-metrics")
		}
		s := startExporter(t, args...).scrape(t, nil)
		for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "promhttp_metric_handler_requests_total"} {
			if got := s.families[name] != nil; got != own {
				t.Errorf("%v: %s served: %v, want %v", args, name, got, own)
			}
		}
		for _, name := range []string{"chrony_exporter_build_info", "chrony_up", "chrony_sources_state_info"} {
			if s.families[name] == nil {
				t.Errorf("%v: no %s", args, name)
			}
		}
	}
}

// TestProbeLab probes the lab's chronyd over UDP through /probe of an
// exporter that reads nothing itself.
func TestProbeLab(t *testing.T) {
	l := sharedLab.get(t)
	silent := chronytest.NewUDPCounter(t, "udp4", "127.0.0.1:0")
	e := startExporter(t, "--chrony.address=unix:///nonexistent/chronyd.sock", "--probe.allow=127.0.0.1/32", "--chrony.timeout=3s")
	client := &http.Client{}

	for range 2 { // each probe is a fresh read: the second is no different
		a := fetch(client, probeURL(e, l.UDPAddr.String()), nil)
		s, err := a.metrics()
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		if v, err := s.value("chrony_up", nil); err != nil || v != 1 {
			t.Errorf("chrony_up %v (%v), want 1", v, err)
		}
		if n := countSeries(s, "chrony_sources_state_info"); n != len(l.Reachable)+2 {
			t.Errorf("%d sources, the lab has %d", n, len(l.Reachable)+2)
		}
		for _, name := range []string{"tracking", "sources", "sourcestats"} {
			if v, err := s.value("chrony_scrape_collector_success", map[string]string{"collector": name}); err != nil || v != 1 {
				t.Errorf("collector %s: success %v (%v), want 1", name, v, err)
			}
		}
		if s.families["go_goroutines"] != nil || s.families["chrony_exporter_build_info"] != nil {
			t.Errorf("a probe carries the exporter's own metrics")
		}
	}
	// The status page offers the probe.
	if a := fetch(client, e.url+"/", nil); !strings.Contains(a.Body, `<form class="probe" action="/probe"`) {
		t.Errorf("the status page has no probe form:\n%.2000s", a.Body)
	}
	// The local read fails, the probe does not care.
	if v, err := fetch(client, e.url+"/metrics", nil).up(); err != nil || v != 0 {
		t.Errorf("/metrics: chrony_up %v (%v), want 0 (no local chronyd)", v, err)
	}

	// A silent target: the probe ends by Prometheus's timeout less the
	// margin, before --chrony.timeout.
	a := fetch(client, probeURL(e, "127.0.0.1:"+counterPort(silent)), http.Header{scrapeTimeoutHeader: {"1"}})
	if v, err := a.up(); err != nil || v != 0 || a.Took > 1500*time.Millisecond {
		t.Errorf("silent target: chrony_up %v (%v) after %v, want 0 after 0.9 s (1.5 s allowed)", v, err, a.Took)
	}
	if silent.Received() == 0 {
		t.Errorf("nothing was sent to the silent (allowed) target")
	}
	e.stop()
	checkProbesQuiet(t, e)
}
