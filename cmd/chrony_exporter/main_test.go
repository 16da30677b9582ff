package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log/level"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

// The integration tests run the built binary against a real chronyd pair
// (chronytest.Lab). They fail, never skip, when chronyd or promtool is
// missing: `make test` installs both.

var (
	// exporterBin is the binary built once by TestMain.
	exporterBin string
	// wantVersion is what the binary was built to call itself.
	wantVersion string
	// raceBuild is set by race_test.go under -race.
	raceBuild bool
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "chrony_exporter-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Other identities run the binary too (unprivileged_test.go).
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := buildExporter(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer sharedLab.close()
	defer lab64.close()
	return m.Run()
}

// buildExporter builds the binary as `make build` does, with a version
// the tests can recognise.
func buildExporter(dir string) error {
	v, err := os.ReadFile("../../VERSION")
	if err != nil {
		return err
	}
	wantVersion = strings.TrimSpace(string(v)) + "-test"
	exporterBin = filepath.Join(dir, "chrony_exporter")
	return goBuild(exporterBin, raceBuild)
}

// goBuild builds the binary at path with the tests' version and any
// further ldflags, with the race detector when race is set.
func goBuild(path string, race bool, ldflags ...string) error {
	args := []string{"build", "-o", path,
		"-ldflags", strings.Join(append([]string{"-X github.com/prometheus/common/version.Version=" + wantVersion}, ldflags...), " ")}
	if race {
		args = append(args, "-race")
	}
	// go test puts its own go first in PATH.
	cmd := exec.Command("go", append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building chrony_exporter (race %v): %v\n%s", race, err, out)
	}
	return nil
}

// exporterCommand runs the binary built by TestMain.
func exporterCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, exporterBin, args...)
	// Under -race every exit would otherwise wait a second for reports.
	cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return cmd
}

// sharedLab is one chronyd pair for the whole package: starting one takes
// seconds. lab64 is the 64-source pair the benchmarks share: it takes
// about 35 s to settle.
var (
	sharedLab labOnce
	lab64     = labOnce{cfg: chronytest.Config{Reachable: 64}}
)

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
func udpAddr(l *chronytest.Lab) string    { return "udp://" + l.UDPAddr.String() }

// lockedBuffer collects the exporter's stderr while exec copies into it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// exporter is a running chrony_exporter.
type exporter struct {
	t      testing.TB
	cmd    *exec.Cmd
	url    string
	stderr *lockedBuffer
	done   chan struct{}
	err    error // from Wait, once done is closed

	stopOnce sync.Once
}

// startExporter runs the binary on a free port with args and waits until
// it answers. It is stopped, and must exit cleanly, at the end of the test.
func startExporter(t testing.TB, args ...string) *exporter {
	t.Helper()
	return launchExporter(t, launch{}, args...)
}

// launch says how launchExporter runs and reaches an exporter; the zero
// value is the binary TestMain built, over plain HTTP.
type launch struct {
	bin    string       // the binary; "" is exporterBin
	scheme string       // "" is http
	client *http.Client // nil is http.DefaultClient
	// cred is the identity the exporter runs as; nil is the test's.
	cred *syscall.Credential
}

// launchExporter is startExporter for another binary (plainExporter) or
// for a server behind --web.config.file: the exporter is ready once its
// client gets any HTTP answer from scheme://addr. It is stopped, and must
// exit cleanly, at the end of the test.
func launchExporter(t testing.TB, how launch, args ...string) *exporter {
	t.Helper()
	bin, scheme, client := how.bin, how.scheme, how.client
	if bin == "" {
		bin = exporterBin
	}
	if scheme == "" {
		scheme = "http"
	}
	if client == nil {
		client = http.DefaultClient
	}
	for attempt := 0; ; attempt++ {
		addr := freeTCPAddr(t)
		e := &exporter{t: t, url: scheme + "://" + addr, stderr: &lockedBuffer{}, done: make(chan struct{})}
		e.cmd = exporterCommand(context.Background(), append([]string{"--web.listen-address=" + addr}, args...)...)
		e.cmd.Path, e.cmd.Args[0] = bin, bin
		e.cmd.Stderr = e.stderr
		if how.cred != nil {
			e.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: how.cred}
		}
		if err := e.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			e.err = e.cmd.Wait()
			close(e.done)
		}()
		err := e.waitAnswer(client)
		if err == nil {
			t.Cleanup(e.stop)
			return e
		}
		e.kill()
		// Someone took the free port between our probe and the exporter.
		if attempt < 2 && strings.Contains(e.stderr.String(), "address already in use") {
			continue
		}
		t.Fatalf("chrony_exporter %s: %v\nstderr:\n%s", strings.Join(args, " "), err, e.stderr)
	}
}

// readyPath is a path the router refuses at once: / and the metrics read
// chronyd, which may stay silent for the whole --chrony.timeout.
const readyPath = "/no-such-page"

// waitAnswer waits until client gets any HTTP answer from e.
func (e *exporter) waitAnswer(client *http.Client) error {
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-e.done:
			return fmt.Errorf("exited early: %v", e.err)
		default:
		}
		if resp, err := client.Get(e.url + readyPath); err == nil {
			resp.Body.Close()
			return nil
		}
	}
	return errors.New("no HTTP answer within 15 s")
}

func (e *exporter) kill() {
	_ = e.cmd.Process.Kill()
	<-e.done
}

// stop sends SIGTERM, as systemd does, and checks the exporter shuts down
// cleanly; the race detector would also make it exit non-zero.
func (e *exporter) stop() {
	e.stopOnce.Do(func() {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.done:
		case <-time.After(10 * time.Second):
			e.kill()
			e.t.Errorf("chrony_exporter did not exit within 10 s of SIGTERM\nstderr:\n%s", e.stderr)
			return
		}
		if e.err != nil {
			e.t.Errorf("chrony_exporter exited with %v after SIGTERM\nstderr:\n%s", e.err, e.stderr)
		}
	})
}

// logLines returns the stderr lines at the given levels.
func (e *exporter) logLines(levels ...string) []string {
	re := regexp.MustCompile(`(^|\s)level=(` + strings.Join(levels, "|") + `)(\s|$)`)
	var out []string
	for _, line := range strings.Split(e.stderr.String(), "\n") {
		if re.MatchString(line) {
			out = append(out, line)
		}
	}
	return out
}

func freeTCPAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// scrape is one answer of /metrics.
type scrape struct {
	raw      string
	families map[string]*dto.MetricFamily
	took     time.Duration
}

func (e *exporter) scrape(t *testing.T, header http.Header) scrape {
	t.Helper()
	s, err := fetch(http.DefaultClient, e.url+"/metrics", header).metrics()
	if err != nil {
		t.Fatalf("GET /metrics: %v\nstderr:\n%s", err, e.stderr)
	}
	return s
}

// series returns the samples of a metric whose labels include want.
func (s scrape) series(name string, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
	fam := s.families[name]
	if fam == nil {
		return nil
	}
next:
	for _, m := range fam.Metric {
		have := labels(m)
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// labels returns a sample's labels.
func labels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, lp := range m.Label {
		l[lp.GetName()] = lp.GetValue()
	}
	return l
}

// sampleValue returns the value of a gauge, counter or untyped sample.
func sampleValue(m *dto.Metric) (float64, bool) {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

// value returns the one sample of name with the labels want.
func (s scrape) value(name string, want map[string]string) (float64, error) {
	ms := s.series(name, want)
	if len(ms) != 1 {
		return 0, fmt.Errorf("%s%s: %d series, want 1", name, labelText(want), len(ms))
	}
	if v, ok := sampleValue(ms[0]); ok {
		return v, nil
	}
	return 0, fmt.Errorf("%s%s: not a gauge, counter or untyped", name, labelText(want))
}

func labelText(l map[string]string) string {
	if len(l) == 0 {
		return ""
	}
	var parts []string
	for k, v := range l {
		parts = append(parts, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

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
			resp, err := http.Get(e.url + "/metrics")
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			parser := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := parser.TextToMetricFamilies(resp.Body)
			if err != nil {
				errs[i] = err
				return
			}
			ups[i], errs[i] = scrape{families: fams}.value("chrony_up", nil)
		})
	}
	wg.Wait()
	for i := range ups {
		if errs[i] != nil || ups[i] != 1 {
			t.Errorf("scrape %d: chrony_up = %v (%v), want 1", i, ups[i], errs[i])
		}
	}
}

// TestChronydDown checks that a scrape without chronyd answers in time
// with chrony_up 0, not an HTTP error.
func TestChronydDown(t *testing.T) {
	udpPort := func(t *testing.T) (string, net.PacketConn) {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return c.LocalAddr().String(), c
	}
	for _, tc := range []struct {
		name    string
		addr    func(t *testing.T) string
		timeout string
		header  string
		within  time.Duration
	}{
		{name: "no socket", timeout: "2s", within: 3 * time.Second, addr: func(t *testing.T) string {
			return "unix://" + filepath.Join(t.TempDir(), "chronyd.sock")
		}},
		{name: "closed UDP port", timeout: "2s", within: 3 * time.Second, addr: func(t *testing.T) string {
			addr, c := udpPort(t)
			c.Close()
			return "udp://" + addr
		}},
		// Bound but silent, so the kernel sends no "port unreachable":
		// only the deadline ends the scrape, and Prometheus's is the
		// shorter one.
		{name: "silent UDP port, scrape timeout header", timeout: "20s", header: "2", within: 3 * time.Second, addr: func(t *testing.T) string {
			addr, c := udpPort(t)
			t.Cleanup(func() { c.Close() })
			return "udp://" + addr
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startExporter(t, "--chrony.address="+tc.addr(t), "--chrony.timeout="+tc.timeout)
			h := http.Header{}
			if tc.header != "" {
				h.Set(scrapeTimeoutHeader, tc.header)
			}
			s := e.scrape(t, h)
			if s.took > tc.within {
				t.Errorf("scrape took %v, want within %v", s.took, tc.within)
			}
			if v, err := s.value("chrony_up", nil); err != nil || v != 0 {
				t.Errorf("chrony_up = %v (%v), want 0", v, err)
			}
			if s.families["chrony_exporter_build_info"] == nil {
				t.Errorf("chrony_exporter_build_info missing")
			}
		})
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

func TestScrapeTimeout(t *testing.T) {
	const limit = 5 * time.Second
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		// Absent or unusable: the flag.
		{"", limit},
		{"garbage", limit},
		{"10s", limit}, // Prometheus sends seconds, not a Go duration
		{"0", limit},
		{"-3", limit},
		{"NaN", limit},
		{"+Inf", limit},
		{"1e300", limit},
		// Prometheus waits longer than the flag: the flag.
		{"10", limit},
		{"5.5", limit}, // 5.5 s - 0.5 s
		// Prometheus gives up sooner: its timeout less 10 %, at most 0.5 s.
		{"5.2", 4700 * time.Millisecond},
		{"4", 3600 * time.Millisecond},
		{" 4 ", 3600 * time.Millisecond},
		{"1", 900 * time.Millisecond},
		{"0.5", 450 * time.Millisecond},
		{"2.5e0", 2250 * time.Millisecond},
	} {
		got := scrapeTimeout(tc.header, limit)
		if diff := got - tc.want; diff < -time.Microsecond || diff > time.Microsecond {
			t.Errorf("scrapeTimeout(%q, %v) = %v, want %v", tc.header, limit, got, tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	out, err := exporterCommand(context.Background(), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	if want := "chrony_exporter, version " + wantVersion; !strings.Contains(string(out), want) {
		t.Errorf("--version printed %q, want it to contain %q", out, want)
	}
}

// TestGOMAXPROCS checks that the exporter runs on one CPU unless told
// otherwise, by the flag or, as node_exporter reads it, the environment.
func TestGOMAXPROCS(t *testing.T) {
	// The other tests' exporters inherit the environment; this one must
	// not, to see the default.
	t.Setenv("GOMAXPROCS", "")
	os.Unsetenv("GOMAXPROCS")
	silent := "--chrony.address=unix://" + filepath.Join(t.TempDir(), "none.sock")
	for _, tc := range []struct {
		env  string
		args []string
		want float64
	}{
		{"", nil, 1},
		{"", []string{"--runtime.gomaxprocs=2"}, 2},
		{"3", nil, 3},
	} {
		if tc.env != "" {
			t.Setenv("GOMAXPROCS", tc.env)
		}
		e := startExporter(t, append([]string{silent}, tc.args...)...)
		got, err := e.scrape(t, nil).value("go_sched_gomaxprocs_threads", nil)
		if err != nil || got != tc.want {
			t.Errorf("GOMAXPROCS=%q %v: go_sched_gomaxprocs_threads %v (%v), want %v", tc.env, tc.args, got, err, tc.want)
		}
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

// TestUserErrors checks that mistakes on the command line stop the
// exporter at once with a message that says what to change.
func TestUserErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--chrony.timeout=soon"}, []string{"--chrony.timeout", "5s", "try --help"}},
		{[]string{"--chrony.timeout=0s"}, []string{"--chrony.timeout", "positive"}},
		{[]string{"--chrony.address=http://localhost:323"}, []string{"--chrony.address", "unix:///path", "host:port"}},
		{[]string{"--chrony.address=unix://run/chrony/chronyd.sock"}, []string{"--chrony.address", "unix:///run/chrony/chronyd.sock"}},
		{[]string{"--chrony.address=localhost:99999"}, []string{"--chrony.address", "1-65535"}},
		{[]string{"--log.level=loud"}, []string{"debug,info,warn,error", "try --help"}},
		{[]string{"--log.format=xml"}, []string{"logfmt,json"}},
		{[]string{"--runtime.gomaxprocs=0"}, []string{"--runtime.gomaxprocs", "GOMAXPROCS", "1 or more"}},
		{[]string{"--runtime.gomaxprocs=two"}, []string{"--runtime.gomaxprocs", "1 or more"}},
		{[]string{"--collector.nosuch"}, []string{"unknown long flag '--collector.nosuch'", "try --help"}},
		{[]string{"--web.telemetry-path=metrics"}, []string{"--web.telemetry-path", "/metrics"}},
		{[]string{"--no-collector.ntpdata", "--collector.sources.with-ntpdata"}, []string{"--collector.ntpdata", "--collector.sources.with-ntpdata", "only one"}},
		{[]string{"--web.listen-address=" + busy.Addr().String()}, []string{"address already in use", "--web.listen-address"}},
		{[]string{"--probe.allow=10.0.0.0/33"}, []string{"--probe.allow", "10.0.0.0/8"}},
		{[]string{"--probe.allow=http://ntp1"}, []string{"--probe.allow", "host name"}},
		{[]string{"--probe.allow="}, []string{"--probe.allow", "empty"}},
		{[]string{"--probe.allow=10.0.0.0/8", "--web.telemetry-path=/probe"}, []string{"--web.telemetry-path", "/probe"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exporterCommand(ctx, tc.args...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
				t.Fatalf("exit: %v, want a non-zero exit status\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestCollectorFlags checks that only the flags given reach
// collector.Config.Enabled: the collector package treats an explicit
// "on" differently from a default one.
func TestCollectorFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want map[string]bool
		dns  bool
	}{
		{nil, map[string]bool{}, false},
		{[]string{"--collector.serverstats"}, map[string]bool{"serverstats": true}, false},
		{[]string{"--no-collector.tracking", "--collector.clients"}, map[string]bool{"tracking": false, "clients": true}, false},
		{[]string{"--no-collector.sources.with-ntpdata"}, map[string]bool{"ntpdata": false}, false},
		{[]string{"--collector.sources.with-ntpdata", "--collector.ntpdata"}, map[string]bool{"ntpdata": true}, false},
		{[]string{"--collector.chmod-socket", "--collector.dns-lookups"}, map[string]bool{}, true},
	} {
		app, o := newApp()
		if _, err := app.Parse(tc.args); err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		cfg, err := o.config()
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if fmt.Sprint(cfg.Enabled) != fmt.Sprint(tc.want) || cfg.DNSLookups != tc.dns {
			t.Errorf("%q: Enabled = %v, DNSLookups = %v; want %v, %v", tc.args, cfg.Enabled, cfg.DNSLookups, tc.want, tc.dns)
		}
		if _, err := collector.New(cfg, nil); err != nil {
			t.Errorf("%q: collector.New: %v", tc.args, err)
		}
	}
}

// TestLogFormat checks that our lines and exporter-toolkit's (through
// slog) look alike and are filtered by the same level.
func TestLogFormat(t *testing.T) {
	var buf bytes.Buffer
	logs, err := newLoggers(&buf, "info", "logfmt")
	if err != nil {
		t.Fatal(err)
	}
	level.Info(logs.kit).Log("msg", "from go-kit")
	logs.slog.Info("from slog", "k", "v")
	level.Debug(logs.kit).Log("msg", "hidden")
	logs.slog.Debug("hidden")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf.String())
	}
	re := regexp.MustCompile(`^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z caller=main_test\.go:\d+ level=info msg="from (go-kit|slog)"`)
	for _, l := range lines {
		if !re.MatchString(l) {
			t.Errorf("line %q does not match %s", l, re)
		}
	}
	if !strings.HasSuffix(lines[1], " k=v") {
		t.Errorf("slog attributes lost: %q", lines[1])
	}
}
