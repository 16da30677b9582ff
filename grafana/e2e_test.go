//go:build linux && integration

package grafana_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
	"github.com/second-hand/chrony_exporter/internal/testenv"
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

// TestMain removes the exporter the tests built, if they built one.
func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
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
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	d, _ := loadDashboard(t)
	rulesFile, err := filepath.Abs(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	// Build, unless make test has, while the lab starts.
	type build struct {
		path string
		err  error
	}
	built := make(chan build, 1)
	go func() {
		path, err := testenv.Exporter()
		built <- build{path, err}
	}()
	lab := chronytest.StartLab(t, chronytest.Config{})
	b := <-built
	if b.err != nil {
		t.Fatal(b.err)
	}
	exporter := b.path

	exporterAddr, fullAddr := testenv.FreeTCPAddr(t), testenv.FreeTCPAddr(t)
	exp := testenv.StartProcess(t, "chrony_exporter", exec.Command(exporter,
		"--chrony.address=unix://"+lab.SocketPath,
		"--web.listen-address="+exporterAddr,
		"--chrony.timeout=2s",
	))
	full := testenv.StartProcess(t, "chrony_exporter with every collector", exec.Command(exporter, append([]string{
		"--chrony.address=unix://" + lab.SocketPath,
		"--web.listen-address=" + fullAddr,
		"--chrony.timeout=2s",
	}, everyCollector()...)...))
	for _, e := range []struct {
		p    *testenv.Process
		addr string
	}{{exp, exporterAddr}, {full, fullAddr}} {
		waitFor(t, ctx, e.p, e.p.Name+" to serve chrony_up 1", func() error {
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

	promAddr := testenv.FreeTCPAddr(t)
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
	prom := testenv.StartProcess(t, "prometheus", exec.Command(prometheus,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr,
		"--log.level=warn",
	))
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
	for _, p := range []*testenv.Process{prom, exp, full} {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(lab.SocketPath), "chrony_exporter.*"))
	if len(left) != 0 {
		t.Errorf("the exporter left its client socket behind: %v", left)
	}
}

// waitFor polls check until it succeeds, failing the test when ctx ends or
// the process dies first.
func waitFor(t *testing.T, ctx context.Context, p *testenv.Process, what string, check func() error) {
	t.Helper()
	if err := p.WaitFor(ctx, what, check); err != nil {
		t.Fatalf("%v\n%s output:\n%s", err, p.Name, p.Out)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// httpGet returns the body of a 200 answer to GET u.
func httpGet(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	body, err := testenv.Get(ctx, nil, u, nil).OK()
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return []byte(body), nil
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
