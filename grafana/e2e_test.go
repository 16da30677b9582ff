//go:build linux

package grafana_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

const (
	prometheusHint = "prometheus is missing; install it with: apt-get install -y prometheus (make test-deps does)"
	// The whole test: chronyd lab, exporter build, Prometheus, queries.
	e2eTimeout = 120 * time.Second
	// How many scrapes to wait for before querying, so that rate() over
	// the substituted $__rate_interval has several samples.
	e2eScrapes = 5
	// What $__rate_interval becomes: Grafana makes it at least four scrape
	// intervals; one minute covers every sample of the test.
	e2eRateInterval = "1m"
	stopGrace       = 10 * time.Second
)

// noDataHere lists the metrics that the test's chronyd cannot have, with the
// reason. A query that uses only these must return nothing; every other
// query must return data.
var noDataHere = []struct{ prefix, why string }{
	// The RTC panels: chronyd here has no RTC device (and no rtcfile), so it
	// answers that RTC tracking is not running, and the rtc collector
	// succeeds without any series. Grafana shows "RTC tracking not
	// configured" for them.
	{"chrony_rtc_", "no RTC device here: chronyd does not track the RTC"},
	// The lab's sources are not authenticated (no NTS, no symmetric key),
	// and these series exist only for authenticated sources.
	{"chrony_authdata_nts_", "no NTS source in the lab"},
	{"chrony_authdata_key_id", "no authenticated source in the lab"},
}

// optIn returns the collectors, off by default, that the metrics need.
func optIn(metrics []string) []string {
	var out []string
	for _, m := range metrics {
		if c, ok := collector.MetricCollector(m); ok && c != "" && !collector.DefaultEnabled(c) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// everyCollector is the flags that turn on every collector off by
// default.
func everyCollector() []string {
	var flags []string
	for _, name := range collector.Names() {
		if !collector.DefaultEnabled(name) {
			flags = append(flags, "--collector."+name)
		}
	}
	return flags
}

func expectedEmpty(metrics []string) (string, bool) {
	var why string
	for _, m := range metrics {
		found := false
		for _, n := range noDataHere {
			if strings.HasPrefix(m, n.prefix) {
				found, why = true, n.why
				break
			}
		}
		if !found {
			return "", false
		}
	}
	return why, len(metrics) > 0
}

// TestEndToEnd runs the dashboard's queries and the rules on real data: a
// chronyd lab, the exporter built from this tree with its default flags
// and a second one with every collector on, and Debian's Prometheus
// scraping both every second with rules/chrony.rules.yml loaded. On the
// defaults every panel of the default rows has data, and a query that
// needs a collector off by default has none, names the flag in its panel's
// description, and has data from the second exporter.
func TestEndToEnd(t *testing.T) {
	prometheus, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal(prometheusHint)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the exporter: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	d, _ := loadDashboard(t)
	rulesFile, err := filepath.Abs(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	// Build while the lab starts.
	exporter := filepath.Join(dir, "chrony_exporter")
	built := make(chan error, 1)
	go func() {
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", exporter, "./cmd/chrony_exporter")
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("go build ./cmd/chrony_exporter: %v\n%s", err, out)
		}
		built <- err
	}()
	lab := chronytest.StartLab(t, chronytest.Config{})
	if err := <-built; err != nil {
		t.Fatal(err)
	}

	exporterAddr, fullAddr := freeTCPAddr(t), freeTCPAddr(t)
	exp := startProcess(t, "chrony_exporter", exporter,
		"--chrony.address=unix://"+lab.SocketPath,
		"--web.listen-address="+exporterAddr,
		"--chrony.timeout=2s",
	)
	full := startProcess(t, "chrony_exporter with every collector", exporter, append([]string{
		"--chrony.address=unix://" + lab.SocketPath,
		"--web.listen-address=" + fullAddr,
		"--chrony.timeout=2s",
	}, everyCollector()...)...)
	for _, e := range []struct {
		p    *process
		addr string
	}{{exp, exporterAddr}, {full, fullAddr}} {
		waitFor(t, ctx, e.p, e.p.name+" to serve chrony_up 1", func() error {
			body, err := httpGet(ctx, "http://"+e.addr+"/metrics")
			if err != nil {
				return err
			}
			if !regexp.MustCompile(`(?m)^chrony_up 1$`).Match(body) {
				return fmt.Errorf("no chrony_up 1 in /metrics")
			}
			return nil
		})
	}

	promAddr := freeTCPAddr(t)
	config := filepath.Join(dir, "prometheus.yml")
	writeFile(t, config, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: chrony
    static_configs:
      - targets: [%q, %q]
`, rulesFile, exporterAddr, fullAddr))
	prom := startProcess(t, "prometheus", prometheus,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr,
		"--log.level=warn",
	)
	api := &promAPI{ctx: ctx, base: "http://" + promAddr}
	instance := exporterAddr

	waitFor(t, ctx, prom, fmt.Sprintf("%d scrapes of the exporter", e2eScrapes), func() error {
		q := fmt.Sprintf(`count_over_time(chrony_up{job="chrony", instance=%q}[1m]) >= %d`, instance, e2eScrapes)
		res, err := api.query(q)
		if err != nil {
			return err
		}
		if len(res) == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	waitFor(t, ctx, prom, "every rule to be evaluated", func() error {
		rules, err := api.rules()
		if err != nil {
			return err
		}
		for _, r := range rules {
			if r.Health != "ok" {
				return fmt.Errorf("rule %s%s: health %q %s", r.Name, r.Record(), r.Health, r.LastError)
			}
		}
		return nil
	})

	t.Run("rules", func(t *testing.T) {
		rules, err := api.rules()
		if err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(rulesFile)
		if err != nil {
			t.Fatal(err)
		}
		want := len(regexp.MustCompile(`(?m)^\s*- (alert|record):`).FindAll(src, -1))
		if len(rules) != want || want == 0 {
			t.Errorf("Prometheus loaded %d rules, the file has %d", len(rules), want)
		}
		for _, r := range rules {
			if r.Health != "ok" || r.LastError != "" {
				t.Errorf("rule %s: health %q, error %q", r.Name, r.Health, r.LastError)
			}
		}
		res, err := api.query(fmt.Sprintf(`instance:chrony_clock_error_seconds:abs{job="chrony", instance=%q}`, instance))
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 {
			t.Fatalf("recording rule instance:chrony_clock_error_seconds:abs has %d series, want 1: %v", len(res), res)
		}
		v := res[0].value()
		if math.IsNaN(v) || v <= 0 || v > 1 {
			t.Errorf("instance:chrony_clock_error_seconds:abs = %v, want a small positive error bound", v)
		}
	})

	// The job and instance variables, as Grafana runs label_values(): the
	// label's values among the series the selector matches.
	t.Run("variables", func(t *testing.T) {
		want := map[string][]string{"job": {"chrony"}, "instance": {instance, fullAddr}}
		labelValues := regexp.MustCompile(`^label_values\((.+), *(\w+)\)$`)
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			m := labelValues.FindStringSubmatch(v.Definition)
			if m == nil {
				t.Errorf("variable %s: cannot read %q as label_values(selector, label)", v.Name, v.Definition)
				continue
			}
			match := substitute(m[1], "chrony", grafanaRegexValue(instance), e2eRateInterval)
			body, err := httpGet(ctx, api.base+"/api/v1/label/"+m[2]+"/values?match[]="+url.QueryEscape(match))
			if err != nil {
				t.Errorf("variable %s: %v", v.Name, err)
				continue
			}
			var r struct{ Data []string }
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			slices.Sort(r.Data)
			if w := slices.Sorted(slices.Values(want[v.Name])); !slices.Equal(r.Data, w) {
				t.Errorf("variable %s (%s) offers %v, want %v", v.Name, match, r.Data, w)
			}
		}
	})

	// Every query of every panel, with the variables set as Grafana sets
	// them: to the exporter on defaults, to the one with every collector,
	// and to All.
	choices := []struct {
		name, job, instance string
		full                bool // every collector on
	}{
		{"defaults", "chrony", grafanaRegexValue(instance), false},
		{"every collector", "chrony", grafanaRegexValue(fullAddr), true},
		{"All", ".+", ".+", true},
	}
	queried := 0
	defaultRows := map[string]bool{"Time synchronization": true, "NTP sources": true, "Source statistics": true}
	for _, p := range panelsByRow(d) {
		withData := false
		for _, tg := range p.Targets {
			sels, err := parseSelectors(tg.Expr)
			if err != nil {
				t.Errorf("panel %q query %s: %v", p.Title, tg.RefID, err)
				continue
			}
			var metrics []string
			for _, s := range sels {
				metrics = append(metrics, s.Metric)
			}
			why, empty := expectedEmpty(metrics)
			if p.Row == "Hardware RTC" && !empty {
				t.Errorf("panel %q query %s is in the RTC row but is expected to have data here", p.Title, tg.RefID)
			}
			needs := optIn(metrics)
			for _, c := range needs {
				if !strings.Contains(p.Description, "--collector."+c) {
					t.Errorf("panel %q query %s needs the %s collector, off by default, and the description does not name --collector.%s", p.Title, tg.RefID, c, c)
				}
			}
			for _, c := range choices {
				expr := substitute(tg.Expr, c.job, c.instance, e2eRateInterval)
				res, err := api.query(expr)
				queried++
				wantEmpty, whyEmpty := empty, why
				if len(needs) > 0 && !c.full {
					wantEmpty, whyEmpty = true, "off by default: needs --collector."+strings.Join(needs, ", --collector.")
				}
				switch {
				case err != nil:
					t.Errorf("panel %q (row %q) query %s (%s): %v\n\texpr: %s", p.Title, p.Row, tg.RefID, c.name, err, expr)
				case wantEmpty && len(res) != 0:
					t.Errorf("panel %q query %s (%s) returned %d series, want none (%s): has the lab changed?\n\texpr: %s", p.Title, tg.RefID, c.name, len(res), whyEmpty, expr)
				case !wantEmpty && len(res) == 0:
					t.Errorf("panel %q (row %q) query %s (%s) returned no data\n\texpr: %s", p.Title, p.Row, tg.RefID, c.name, expr)
				case !wantEmpty:
					if !c.full {
						withData = true
					}
					for _, s := range res {
						if (s.Metric["instance"] != instance && s.Metric["instance"] != fullAddr) || s.Metric["job"] != "chrony" {
							t.Errorf("panel %q query %s (%s) returned a series without job and instance: %v", p.Title, tg.RefID, c.name, s.Metric)
							break
						}
					}
				}
			}
		}
		if defaultRows[p.Row] && !withData {
			t.Errorf("panel %q of the default row %q has no data on the default flags", p.Title, p.Row)
		}
	}
	t.Logf("ran %d panel queries, on defaults, with every collector and for All; those of only RTC or NTS metrics must return nothing here, and those of collectors off by default nothing on defaults", queried)

	// Stop both now, to see them go and leave nothing behind.
	prom.stop(t)
	exp.stop(t)
	full.stop(t)
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(lab.SocketPath), "chrony_exporter.*"))
	if len(left) != 0 {
		t.Errorf("the exporter left its client socket behind: %v", left)
	}
}

// ---- processes ----

type process struct {
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error
	once sync.Once
}

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

// startProcess starts a command that lives until the test ends; the kernel
// kills it too if the test binary dies first.
func startProcess(t *testing.T, name, path string, args ...string) *process {
	t.Helper()
	p := &process{name: name, out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL, and waits for the process.
func (p *process) stop(t *testing.T) {
	p.once.Do(func() {
		if p.exited() {
			return
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(stopGrace):
		}
		t.Errorf("%s (pid %d) ignored SIGTERM for %v; killing it\n%s", p.name, p.cmd.Process.Pid, stopGrace, p.out)
		_ = p.cmd.Process.Kill()
		<-p.done
	})
}

// waitFor polls check until it succeeds, failing the test when ctx ends or
// the process dies first.
func waitFor(t *testing.T, ctx context.Context, p *process, what string, check func() error) {
	t.Helper()
	var last error
	for {
		if p.exited() {
			t.Fatalf("%s exited (%v) while waiting for %s\n%s", p.name, p.err, what, p.out)
		}
		if last = check(); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last: %v)\n%s output:\n%s", what, ctx.Err(), last, p.name, p.out)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// freeTCPAddr returns 127.0.0.1:port for a port free right now.
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func httpGet(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: %s: %s", u, resp.Status, body)
	}
	return body, nil
}

// ---- Prometheus's HTTP API ----

type promAPI struct {
	ctx  context.Context
	base string
}

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s promSeries) value() float64 {
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

type promRule struct {
	Name      string  `json:"name"`
	Type      string  `json:"type"`
	Health    string  `json:"health"`
	LastError string  `json:"lastError"`
	Query     string  `json:"query"`
	Duration  float64 `json:"duration"`
}

func (r promRule) Record() string {
	if r.Type == "recording" {
		return " (recording)"
	}
	return ""
}

// query runs an instant query and returns its vector.
func (a *promAPI) query(expr string) ([]promSeries, error) {
	body, err := httpGet(a.ctx, a.base+"/api/v1/query?query="+url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSeries `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%v: %s", err, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query failed: %s", r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("result type %q, want vector", r.Data.ResultType)
	}
	return r.Data.Result, nil
}

// rules returns every rule Prometheus loaded.
func (a *promAPI) rules() ([]promRule, error) {
	body, err := httpGet(a.ctx, a.base+"/api/v1/rules")
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Groups []struct {
				Name  string     `json:"name"`
				Rules []promRule `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%v: %s", err, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("rules: status %q", r.Status)
	}
	var out []promRule
	for _, g := range r.Data.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}
