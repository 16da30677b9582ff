package mixin

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	promparser "github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v2"
)

// The default selector, as config.libsonnet sets it.
const defaultSelector = `job=~".*chrony.*"`

func render(t *testing.T, config string) *Rendered {
	t.Helper()
	r, err := Render(config)
	if err != nil {
		t.Fatalf("rendering the mixin with %s: %v", config, err)
	}
	return r
}

func dashboardOf(t *testing.T, r *Rendered) []byte {
	t.Helper()
	d, ok := r.Dashboards[filepath.Base(DashboardFile)]
	if !ok || len(r.Dashboards) != 1 {
		t.Fatalf("the mixin renders %d dashboards, want only %s", len(r.Dashboards), filepath.Base(DashboardFile))
	}
	return d
}

// TestCommittedFilesAreRendered fails when the dashboard or the rule file
// was edited by hand, or the mixin changed without `make mixin`.
func TestCommittedFilesAreRendered(t *testing.T) {
	r := render(t, "")
	for file, want := range map[string][]byte{DashboardFile: dashboardOf(t, r), RulesFile: r.Rules} {
		got, err := os.ReadFile(filepath.Join("..", file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what the mixin renders: edit mixin/ and run `make mixin` (first difference at line %d)", file, firstDiffLine(got, want))
		}
	}
}

func firstDiffLine(a, b []byte) int {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

// TestRulesYAMLReadsBack reads the rule file with a YAML library: the
// hand-written emitter must give back exactly the mixin's rules.
func TestRulesYAMLReadsBack(t *testing.T) {
	for _, config := range []string{"", `{chronySelector: 'job="ntp", env!~"te:st #1"'}`} {
		r := render(t, config)
		var got struct{ Groups []Group }
		if err := yaml.UnmarshalStrict(r.Rules, &got); err != nil {
			t.Fatalf("%s: %v", config, err)
		}
		if !reflect.DeepEqual(got.Groups, r.Groups) {
			t.Errorf("%s: the YAML reads back as\n%+v\nwant\n%+v", config, got.Groups, r.Groups)
		}
	}
}

// TestYAMLScalar holds the emitter to strings YAML would read as something
// else when written plain.
func TestYAMLScalar(t *testing.T) {
	for _, s := range []string{
		"5m", "1h", "0.5", "3", "-1", "1e3", ".inf", "true", "No", "null", "~", "2026-12-04",
		"a: b", "a #b", "#a", "- a", "it's", `"q"`, "{a}", "[a]", "a:", " a", "a ", "*a", "&a", "!a", "%a", "@a", "`a",
		"up{job=~\".*chrony.*\"} == 0", "https://example.com/x.md#anchor",
		"one\ntwo", "one\ntwo\n", "one\n\n  indented\nlast", "",
	} {
		doc := "k: " + yamlScalar(s, 2) + "\n"
		var got map[string]any
		if err := yaml.Unmarshal([]byte(doc), &got); err != nil {
			t.Errorf("%q written as %q: %v", s, doc, err)
			continue
		}
		if v, ok := got["k"].(string); !ok || v != s {
			t.Errorf("%q written as %q reads back as %#v", s, doc, got["k"])
		}
	}
}

// selectors returns every vector selector of a PromQL expression, with the
// dashboard's variables replaced as Grafana would.
func selectors(t *testing.T, expr string) []*promparser.VectorSelector {
	t.Helper()
	expr = strings.NewReplacer("$__rate_interval", "1m", "$job", "chrony", "$instance", "a:9123").Replace(expr)
	root, err := promparser.NewParser(promparser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	var out []*promparser.VectorSelector
	promparser.Inspect(root, func(n promparser.Node, _ []promparser.Node) error {
		if vs, ok := n.(*promparser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	if len(out) == 0 {
		t.Errorf("%s selects nothing", expr)
	}
	return out
}

// hasMatchers reports whether vs has every matcher of want, a selector's
// inside such as job="ntp", env="prod".
func hasMatchers(t *testing.T, vs *promparser.VectorSelector, want string) bool {
	t.Helper()
	wanted, err := promparser.NewParser(promparser.Options{}).ParseMetricSelector("{" + want + "}")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wanted {
		found := false
		for _, m := range vs.LabelMatchers {
			found = found || m.String() == w.String()
		}
		if !found {
			return false
		}
	}
	return true
}

// panelExprs returns every query of every panel, rows' panels included.
func panelExprs(t *testing.T, dashboard []byte) map[string]string {
	t.Helper()
	type panel struct {
		ID      int
		Title   string
		Targets []struct{ RefID, Expr string }
		Panels  json.RawMessage
	}
	var d struct{ Panels []panel }
	if err := json.Unmarshal(dashboard, &d); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out[p.Title+" "+tg.RefID] = tg.Expr
			}
			var inner []panel
			if len(p.Panels) > 0 {
				if err := json.Unmarshal(p.Panels, &inner); err != nil {
					t.Fatal(err)
				}
			}
			walk(inner)
		}
	}
	walk(d.Panels)
	if len(out) < 50 {
		t.Fatalf("found only %d panel queries", len(out))
	}
	return out
}

// TestSelector renders the mixin with the default selector and with others,
// and finds the selector in every selector of every rule and every panel
// query, and the default one nowhere else.
func TestSelector(t *testing.T) {
	for _, sel := range []string{defaultSelector, `job="ntp"`, `job="ntp", env="prod"`} {
		config := "{chronySelector: '" + sel + "'}"
		r := render(t, config)
		n := 0
		for _, g := range r.Groups {
			for _, rule := range g.Rules {
				for _, vs := range selectors(t, rule.Expr) {
					n++
					if !hasMatchers(t, vs, sel) {
						t.Errorf("%s: rule %s%s selects %s without %s", config, rule.Alert, rule.Record, vs, sel)
					}
				}
			}
		}
		dashboard := dashboardOf(t, r)
		for where, expr := range panelExprs(t, dashboard) {
			for _, vs := range selectors(t, expr) {
				n++
				if !hasMatchers(t, vs, sel+`, job=~"chrony", instance=~"a:9123"`) {
					t.Errorf("%s: panel %s selects %s without %s and the variables", config, where, vs, sel)
				}
			}
		}
		if sel != defaultSelector {
			for file, text := range map[string][]byte{"dashboard": dashboard, "rules": r.Rules} {
				body := string(text)
				if file == "rules" {
					body = body[len(rulesHeader):] // the header names the default
				}
				if strings.Contains(body, ".*chrony.*") {
					t.Errorf("%s: the %s still has the default selector", config, file)
				}
			}
		}
		t.Logf("%s: %d selectors", sel, n)
	}
}

// TestAlertAnnotations checks the fields every alert needs, and that the
// runbook base URL of _config reaches them.
func TestAlertAnnotations(t *testing.T) {
	const base = "https://runbooks.example/chrony.md"
	for config, wantBase := range map[string]string{
		"":                                 "https://github.com/second-hand/chrony_exporter/blob/main/docs/runbooks.md",
		"{runbookBaseURL: '" + base + "'}": base,
	} {
		alerts := 0
		for _, g := range render(t, config).Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				alerts++
				for _, k := range []string{"summary", "description", "runbook_url"} {
					if strings.TrimSpace(r.Annotations[k]) == "" {
						t.Errorf("%s: alert %s has no %s", config, r.Alert, k)
					}
				}
				if r.Labels["severity"] == "" {
					t.Errorf("%s: alert %s has no severity", config, r.Alert)
				}
				if want := wantBase + "#" + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
					t.Errorf("%s: alert %s has runbook_url %q, want %q", config, r.Alert, r.Annotations["runbook_url"], want)
				}
			}
		}
		if alerts != 12 {
			t.Errorf("%s: %d alerts, want 12", config, alerts)
		}
	}
}

// TestThresholds changes every threshold and wait of _config and finds each
// new value in its alert, and none of the old ones left.
func TestThresholds(t *testing.T) {
	config := `{
		unreachableFor: '11m', exporterDownFor: '12m', notSynchronizedFor: '13m',
		clockOffsetSeconds: 0.25, clockOffsetFor: '14m', clockErrorSeconds: 0.75, clockErrorFor: '16m',
		noReachableSourcesFor: '17m', minReachableSources: 5, tooFewReachableSourcesFor: '18m',
		falsetickerFor: '19m', leapSecondPendingFor: '21m', rtcDriftPPM: 42.5, rtcDriftingFor: '2h',
		collectorFailingFor: '22m', ntsKEAttempts: 7, ntsFailingFor: '23m',
	}`
	// The new comparison, the default one, and the new wait.
	want := map[string]struct{ expr, old, wait string }{
		"ChronyUnreachable":            {"", "", "11m"},
		"ChronyExporterDown":           {"", "", "12m"},
		"ChronyNotSynchronized":        {"", "", "13m"},
		"ChronyClockOffsetHigh":        {"> 0.25", "> 0.05", "14m"},
		"ChronyClockErrorHigh":         {"> 0.75", "> 0.1", "16m"},
		"ChronyNoReachableSources":     {"", "", "17m"},
		"ChronyTooFewReachableSources": {"< 5", "< 3", "18m"},
		"ChronyFalseticker":            {"", "", "19m"},
		"ChronyLeapSecondPending":      {"", "", "21m"},
		"ChronyRTCDrifting":            {"> 42.5", "> 100", "2h"},
		"ChronyCollectorFailing":       {"", "", "22m"},
		"ChronyNTSFailing":             {">= 7", ">= 3", "23m"},
	}
	seen := 0
	r := render(t, config)
	dashboard := string(dashboardOf(t, r))
	for _, v := range []string{`"value": -0.25`, `"value": 0.25`, `"value": 0.75`} {
		if !strings.Contains(dashboard, v) {
			t.Errorf("the dashboard's offset and maximum error thresholds do not follow _config: no %s", v)
		}
	}
	for _, g := range r.Groups {
		for _, r := range g.Rules {
			w, ok := want[r.Alert]
			if !ok {
				continue
			}
			seen++
			if r.For != w.wait {
				t.Errorf("%s: for %s, want %s", r.Alert, r.For, w.wait)
			}
			if !strings.Contains(r.Expr, w.expr) {
				t.Errorf("%s: expr %q lacks %q", r.Alert, r.Expr, w.expr)
			}
			if w.old != "" && strings.Contains(r.Expr, w.old) {
				t.Errorf("%s: expr %q keeps the default %q", r.Alert, r.Expr, w.old)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d alerts", seen, len(want))
	}
}

// TestSourceShorterThanDashboard keeps the mixin worth having: its jsonnet
// is shorter than the dashboard JSON it makes.
func TestSourceShorterThanDashboard(t *testing.T) {
	source := 0
	err := fs.WalkDir(Source, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Source, path)
		source += len(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dashboard := len(dashboardOf(t, render(t, "")))
	t.Logf("jsonnet source %d bytes, dashboard JSON %d bytes", source, dashboard)
	if source >= dashboard {
		t.Errorf("the mixin's jsonnet (%d bytes) is not shorter than the dashboard JSON it makes (%d bytes)", source, dashboard)
	}
}
