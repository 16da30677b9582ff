package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log/level"
	dto "github.com/prometheus/client_model/go"

	"github.com/second-hand/chrony_exporter/collector"
	"github.com/second-hand/chrony_exporter/internal/testenv"
)

// The tests run the built binary. Those in files without a build tag need
// nothing but Go: fakes, flags, the exporter without chronyd. Those with
// the integration tag also run it against a real chronyd pair
// (chronytest.Lab, lab_test.go), as other identities, in a browser or
// through promtool; they fail, never skip, when a tool is missing: `make
// test` installs them.

var (
	// exporterBin is the binary the tests share (testenv.Exporter): the
	// one `make test` built, or one TestMain builds.
	exporterBin string
	// wantVersion is what the binary was built to call itself.
	wantVersion string
	// afterTests are run by TestMain once the tests are done: the
	// integration tests' labs close there.
	afterTests []func()
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	defer testenv.Cleanup()
	var err error
	if wantVersion, err = testenv.ExporterVersion(); err == nil {
		exporterBin, err = testenv.Exporter()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		for _, f := range afterTests {
			f()
		}
	}()
	return m.Run()
}

// buildVariant builds the exporter with further ldflags, or without the
// race detector, beside the shared one's builds, and returns its path.
func buildVariant(t testing.TB, name string, race bool, ldflags ...string) string {
	t.Helper()
	dir, err := testenv.BuildDir()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := testenv.BuildExporter(path, race, ldflags...); err != nil {
		t.Fatal(err)
	}
	return path
}

// exporterCommand runs the shared binary, for a command that ends by
// itself (testenv.StartProcess runs the ones that serve).
func exporterCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, exporterBin, args...)
	// Under -race every exit would otherwise wait a second for reports.
	cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return cmd
}

// exporter is a running chrony_exporter; its stderr is in Out.
type exporter struct {
	*testenv.Process
	t   testing.TB
	url string
}

// startExporter runs the binary on a free port with args and waits until
// it answers. It is stopped, and must exit cleanly, at the end of the test.
func startExporter(t testing.TB, args ...string) *exporter {
	t.Helper()
	return launchExporter(t, launch{}, args...)
}

// launch says how launchExporter runs and reaches an exporter; the zero
// value is the shared binary, over plain HTTP.
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
		addr := testenv.FreeTCPAddr(t)
		cmd := exporterCommand(context.Background(), append([]string{"--web.listen-address=" + addr}, args...)...)
		cmd.Path, cmd.Args[0] = bin, bin
		if how.cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: how.cred}
		}
		e := &exporter{Process: testenv.StartProcess(t, "chrony_exporter", cmd), t: t, url: scheme + "://" + addr}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err := e.WaitFor(ctx, "an HTTP answer", func() error {
			resp, err := client.Get(e.url + readyPath)
			if err == nil {
				resp.Body.Close()
			}
			return err
		})
		cancel()
		if err == nil {
			return e
		}
		e.Kill()
		// Someone took the free port between our probe and the exporter.
		if attempt < 2 && strings.Contains(e.Out.String(), "address already in use") {
			continue
		}
		t.Fatalf("chrony_exporter %s: %v\nstderr:\n%s", strings.Join(args, " "), err, e.Out)
	}
}

// stop sends SIGTERM, as systemd does, and checks the exporter shuts down
// cleanly; the race detector would also make it exit non-zero.
func (e *exporter) stop() {
	e.t.Helper()
	if err := e.Stop(); err != nil {
		e.t.Error(err)
	}
}

// readyPath is a path the router refuses at once: / and the metrics read
// chronyd, which may stay silent for the whole --chrony.timeout.
const readyPath = "/no-such-page"

// logLines returns the stderr lines at the given levels.
func (e *exporter) logLines(levels ...string) []string {
	re := regexp.MustCompile(`(^|\s)level=(` + strings.Join(levels, "|") + `)(\s|$)`)
	var out []string
	for _, line := range strings.Split(e.Out.String(), "\n") {
		if re.MatchString(line) {
			out = append(out, line)
		}
	}
	return out
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
		t.Fatalf("GET /metrics: %v\nstderr:\n%s", err, e.Out)
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
