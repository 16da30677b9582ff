// Package grafana_test checks the shipped Grafana dashboard: a lint with the
// rules of grafana/dashboard-linter (which cannot be installed here), and,
// with the integration tag, promtool's parse of every query
// (promtool_test.go) and an end-to-end run of every panel query on a real
// Prometheus (e2e_test.go).
package grafana_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	promparser "github.com/prometheus/prometheus/promql/parser"
)

const (
	dashboardPath = "dashboards/chrony.json"
	metricsDoc    = "../docs/metrics.md"
	rulesPath     = "../rules/chrony.rules.yml"

	dashboardUID   = "chrony-exporter"
	datasourceUID  = "${datasource}"
	rateInterval   = "$__rate_interval"
	rtcNoValue     = "RTC tracking not configured"
	schemaVersion  = 39
	gridColumns    = 24
	jobMatcher     = `job=~"$job"`
	instanceMatch  = `instance=~"$instance"`
	variableJob    = `label_values(chrony_up{job=~".*chrony.*"}, job)`
	variableInst   = `label_values(chrony_up{job=~".*chrony.*", job=~"$job"}, instance)`
	provisionedUID = "prometheus" // grafana/provisioning/datasources/prometheus.yml
)

// The rows, top to bottom, and whether each is collapsed.
var wantRows = []struct {
	title     string
	collapsed bool
}{
	{"Time synchronization", false},
	{"NTP sources", false},
	{"Source statistics", false},
	{"Hardware RTC", false},
	{"NTP server", true},
	{"NTS / authentication", true},
	{"Exporter health", true},
}

// validUnits are the unit ids of Grafana's valueFormats/categories.ts that a
// chrony dashboard can use; dashboard-linter's panel-units-rule takes the
// whole list. A unit not here is a typo or a unit to check and add.
var validUnits = map[string]bool{
	"none": true, "string": true, "short": true, "percent": true, "percentunit": true, "sci": true, "locale": true,
	"ppm":   true,
	"hertz": true, "ns": true, "µs": true, "ms": true, "s": true, "m": true, "h": true, "d": true,
	"dtdurationms": true, "dtdurations": true, "dthms": true, "dtdhms": true, "clockms": true, "clocks": true,
	"dateTimeAsIso": true, "dateTimeAsLocal": true, "dateTimeAsSystem": true, "dateTimeFromNow": true,
	"bytes": true, "decbytes": true, "bits": true, "decbits": true,
	"pps": true, "cps": true, "ops": true, "reqps": true, "rps": true, "wps": true, "iops": true,
	"cpm": true, "opm": true, "rpm": true, "wpm": true,
	"bool": true, "bool_yes_no": true, "bool_on_off": true,
}

// Panel types that show query results and must have a unit
// (dashboard-linter's panel-units-rule checks these).
var unitPanelTypes = map[string]bool{"stat": true, "timeseries": true, "table": true, "gauge": true, "bargauge": true}

type dashboard struct {
	UID           string                    `json:"uid"`
	Title         string                    `json:"title"`
	Tags          []string                  `json:"tags"`
	Editable      *bool                     `json:"editable"`
	SchemaVersion int                       `json:"schemaVersion"`
	Inputs        json.RawMessage           `json:"__inputs"`
	Requires      json.RawMessage           `json:"__requires"`
	Panels        []panel                   `json:"panels"`
	Templating    struct{ List []variable } `json:"templating"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID          int                      `json:"id"`
	Type        string                   `json:"type"`
	Title       string                   `json:"title"`
	Description string                   `json:"description"`
	Collapsed   bool                     `json:"collapsed"`
	Datasource  *datasourceRef           `json:"datasource"`
	GridPos     struct{ H, W, X, Y int } `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit     string            `json:"unit"`
			NoValue  string            `json:"noValue"`
			Mappings []json.RawMessage `json:"mappings"`
		} `json:"defaults"`
		Overrides []struct {
			Properties []struct {
				ID    string `json:"id"`
				Value any    `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
	Targets []target `json:"targets"`
	Panels  []panel  `json:"panels"` // a collapsed row's panels
}

type target struct {
	RefID      string         `json:"refId"`
	Expr       string         `json:"expr"`
	Datasource *datasourceRef `json:"datasource"`
}

type variable struct {
	Name       string         `json:"name"`
	Label      string         `json:"label"`
	Type       string         `json:"type"`
	Query      any            `json:"query"`
	Definition string         `json:"definition"`
	Datasource *datasourceRef `json:"datasource"`
	Multi      bool           `json:"multi"`
	IncludeAll bool           `json:"includeAll"`
	AllValue   string         `json:"allValue"`
	Refresh    int            `json:"refresh"`
	Current    struct {
		Value any `json:"value"`
	} `json:"current"`
}

// placedPanel is a panel with the row it sits in.
type placedPanel struct {
	panel
	Row string
}

func loadDashboard(t *testing.T) (*dashboard, []byte) {
	t.Helper()
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	d := &dashboard{}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	return d, raw
}

// panelsByRow flattens the dashboard: every panel but the rows, in order,
// with its row's title. Panels of collapsed rows are included.
func panelsByRow(d *dashboard) []placedPanel {
	var out []placedPanel
	row := ""
	for _, p := range d.Panels {
		if p.Type == "row" {
			row = p.Title
			for _, c := range p.Panels {
				out = append(out, placedPanel{c, row})
			}
			continue
		}
		out = append(out, placedPanel{p, row})
	}
	return out
}

// metricInfo is one metric of docs/metrics.md.
type metricInfo struct {
	Type string // gauge, counter, histogram; "recording rule" or "prometheus" for the others
}

// knownMetrics reads every metric name of docs/metrics.md, the recording
// rules of rules/chrony.rules.yml, and Prometheus's own up.
func knownMetrics(t *testing.T) map[string]metricInfo {
	t.Helper()
	doc, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]metricInfo{"up": {Type: "prometheus"}}
	row := regexp.MustCompile("(?m)^\\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \\| (\\w+) \\|")
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		known[m[1]] = metricInfo{Type: m[2]}
		if m[2] == "histogram" {
			known[m[1]+"_bucket"] = metricInfo{Type: "counter"}
			known[m[1]+"_sum"] = metricInfo{Type: "counter"}
			known[m[1]+"_count"] = metricInfo{Type: "counter"}
		}
	}
	if len(known) < 50 {
		t.Fatalf("found only %d metrics in %s: has its table format changed?", len(known), metricsDoc)
	}
	rules, err := os.ReadFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	rec := regexp.MustCompile(`(?m)^\s*- record:\s*(\S+)\s*$`)
	for _, m := range rec.FindAllStringSubmatch(string(rules), -1) {
		known[m[1]] = metricInfo{Type: "recording rule"}
	}
	return known
}

func isCounter(name string, known map[string]metricInfo) bool {
	return strings.HasSuffix(name, "_total") || known[name].Type == "counter"
}

// TestDashboardLint applies dashboard-linter's rules and this project's
// conventions to grafana/dashboards/chrony.json.
func TestDashboardLint(t *testing.T) {
	d, raw := loadDashboard(t)
	known := knownMetrics(t)

	// uid-rule, title, tags; a dashboard provisioned from a file must not
	// be an export with inputs (grafana/grafana#10786).
	if d.UID != dashboardUID {
		t.Errorf("uid = %q, want the fixed %q", d.UID, dashboardUID)
	}
	if strings.TrimSpace(d.Title) == "" {
		t.Error("dashboard has no title")
	}
	if len(d.Tags) == 0 {
		t.Error("dashboard has no tags")
	}
	if d.SchemaVersion < schemaVersion {
		t.Errorf("schemaVersion = %d, want >= %d", d.SchemaVersion, schemaVersion)
	}
	// uneditable-dashboard
	if d.Editable == nil || *d.Editable {
		t.Error(`dashboard must have "editable": false`)
	}
	if d.Inputs != nil || d.Requires != nil {
		t.Error("dashboard has __inputs or __requires: it is an export for import, not for file provisioning")
	}
	if strings.Contains(string(raw), "${DS_") {
		t.Error("dashboard refers to an import-time data source input ${DS_...}, which file provisioning never fills in")
	}

	lintVariables(t, d)
	lintRows(t, d)

	ids := map[int]string{}
	var walkIDs func([]panel)
	walkIDs = func(ps []panel) {
		for _, p := range ps {
			if prev, dup := ids[p.ID]; dup || p.ID == 0 {
				t.Errorf("panel %q has id %d, already used by %q (or 0)", p.Title, p.ID, prev)
			}
			ids[p.ID] = p.Title
			walkIDs(p.Panels)
		}
	}
	walkIDs(d.Panels)

	for _, p := range panelsByRow(d) {
		lintPanel(t, p, known)
	}
	lintLayout(t, d)
}

// lintVariables: template-datasource-rule, template-job-rule,
// template-instance-rule, template-label-promql-rule and
// template-on-time-change-reload-rule.
func lintVariables(t *testing.T, d *dashboard) {
	vars := map[string]variable{}
	var names []string
	for _, v := range d.Templating.List {
		vars[v.Name] = v
		names = append(names, v.Name)
	}
	if want := []string{"datasource", "job", "instance"}; !slices.Equal(names, want) {
		t.Errorf("template variables = %v, want %v", names, want)
	}
	ds, ok := vars["datasource"]
	switch {
	case !ok:
		t.Error("no datasource variable")
	case ds.Type != "datasource" || ds.Query != "prometheus":
		t.Errorf("datasource variable: type %q query %v, want a datasource variable of query prometheus", ds.Type, ds.Query)
	case ds.Label != "Data source":
		t.Errorf("datasource variable label = %q, want %q", ds.Label, "Data source")
	case ds.Current.Value != provisionedUID:
		t.Errorf("datasource variable defaults to %v, want the provisioned data source's uid %q", ds.Current.Value, provisionedUID)
	}
	for _, c := range []struct{ name, label, query string }{
		{"job", "Job", variableJob},
		{"instance", "Instance", variableInst},
	} {
		v, ok := vars[c.name]
		if !ok {
			t.Errorf("no %s variable", c.name)
			continue
		}
		if v.Type != "query" {
			t.Errorf("%s variable has type %q, want query", c.name, v.Type)
		}
		if v.Label != c.label {
			t.Errorf("%s variable label = %q, want %q", c.name, v.Label, c.label)
		}
		if v.Datasource == nil || v.Datasource.UID != datasourceUID {
			t.Errorf("%s variable must query the data source %s, has %+v", c.name, datasourceUID, v.Datasource)
		}
		if !v.Multi || !v.IncludeAll || v.AllValue != ".+" {
			t.Errorf("%s variable: multi %v, includeAll %v, allValue %q; want multi-value with All meaning .+", c.name, v.Multi, v.IncludeAll, v.AllValue)
		}
		if v.Refresh != 2 {
			t.Errorf("%s variable refresh = %d, want 2 (on time range change)", c.name, v.Refresh)
		}
		q := v.Definition
		if m, ok := v.Query.(map[string]any); ok {
			if s, _ := m["query"].(string); s != q {
				t.Errorf("%s variable: query %q differs from its definition %q", c.name, s, q)
			}
		} else if s, _ := v.Query.(string); s != q {
			t.Errorf("%s variable: query %v differs from its definition %q", c.name, v.Query, q)
		}
		if q != c.query {
			t.Errorf("%s variable query = %q, want %q", c.name, q, c.query)
		}
	}
}

func lintRows(t *testing.T, d *dashboard) {
	var rows []panel
	for _, p := range d.Panels {
		if p.Type == "row" {
			rows = append(rows, p)
		}
	}
	if len(d.Panels) == 0 || d.Panels[0].Type != "row" {
		t.Error("the dashboard must start with a row")
	}
	if len(rows) != len(wantRows) {
		t.Fatalf("dashboard has %d rows, want %d: %v", len(rows), len(wantRows), wantRows)
	}
	for i, r := range rows {
		w := wantRows[i]
		if r.Title != w.title || r.Collapsed != w.collapsed {
			t.Errorf("row %d is %q (collapsed %v), want %q (collapsed %v)", i, r.Title, r.Collapsed, w.title, w.collapsed)
		}
		if r.Collapsed && len(r.Panels) == 0 {
			t.Errorf("collapsed row %q holds no panels", r.Title)
		}
		if !r.Collapsed && len(r.Panels) != 0 {
			t.Errorf("expanded row %q holds panels of its own; they belong after it", r.Title)
		}
	}
	perRow := map[string]int{}
	for _, p := range panelsByRow(d) {
		perRow[p.Row]++
	}
	for _, w := range wantRows {
		if perRow[w.title] == 0 {
			t.Errorf("row %q has no panels", w.title)
		}
	}
}

func lintPanel(t *testing.T, p placedPanel, known map[string]metricInfo) {
	where := fmt.Sprintf("panel %q (row %q)", p.Title, p.Row)
	// panel-title-description-rule
	if strings.TrimSpace(p.Title) == "" || strings.TrimSpace(p.Description) == "" {
		t.Errorf("%s needs a title and a description", where)
	}
	// panel-datasource-rule
	if p.Datasource == nil || p.Datasource.UID != datasourceUID {
		t.Errorf("%s does not use the templated data source %s: %+v", where, datasourceUID, p.Datasource)
	}
	// panel-units-rule, also for every unit override.
	if unitPanelTypes[p.Type] {
		if !validUnits[p.FieldConfig.Defaults.Unit] {
			t.Errorf("%s has no or an unknown unit %q", where, p.FieldConfig.Defaults.Unit)
		}
	} else {
		t.Errorf("%s has type %q; the lint knows stat, timeseries and table", where, p.Type)
	}
	for _, o := range p.FieldConfig.Overrides {
		for _, prop := range o.Properties {
			if u, _ := prop.Value.(string); prop.ID == "unit" && !validUnits[u] {
				t.Errorf("%s overrides a unit with unknown %q", where, u)
			}
		}
	}
	if p.Row == "Hardware RTC" && p.FieldConfig.Defaults.NoValue != rtcNoValue {
		t.Errorf("%s: noValue = %q, want %q", where, p.FieldConfig.Defaults.NoValue, rtcNoValue)
	}
	// panel-no-targets-rule
	if len(p.Targets) == 0 {
		t.Errorf("%s has no queries", where)
	}
	refs := map[string]bool{}
	for _, tg := range p.Targets {
		tw := fmt.Sprintf("%s, query %s", where, tg.RefID)
		if tg.RefID == "" || refs[tg.RefID] {
			t.Errorf("%s: empty or repeated refId", tw)
		}
		refs[tg.RefID] = true
		if tg.Datasource == nil || tg.Datasource.UID != datasourceUID {
			t.Errorf("%s does not use the templated data source: %+v", tw, tg.Datasource)
		}
		for _, problem := range lintExpr(tg.Expr, known) {
			t.Errorf("%s: %s\n\texpr: %s", tw, problem, tg.Expr)
		}
	}
}

// lintLayout checks that panels fit the 24 columns and do not overlap,
// among the panels shown at once (the expanded rows), and within each
// collapsed row.
func lintLayout(t *testing.T, d *dashboard) {
	overlap := func(group []panel) {
		for i, a := range group {
			g := a.GridPos
			if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > gridColumns {
				t.Errorf("panel %q: gridPos %+v is outside the %d columns", a.Title, g, gridColumns)
			}
			for _, b := range group[i+1:] {
				h := b.GridPos
				if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
					t.Errorf("panels %q %+v and %q %+v overlap", a.Title, g, b.Title, h)
				}
			}
		}
	}
	var top []panel
	for _, p := range d.Panels {
		top = append(top, p)
		if p.Type == "row" && p.Collapsed {
			inner := append([]panel{}, p.Panels...)
			overlap(inner)
			for _, c := range inner {
				if c.GridPos.Y <= p.GridPos.Y {
					t.Errorf("panel %q is above its collapsed row %q", c.Title, p.Title)
				}
			}
		}
	}
	overlap(top)
}

// substitute replaces the dashboard variables in a query the way Grafana
// does for Prometheus: a multi-value variable becomes a regex with its
// special characters escaped (and the backslashes escaped for PromQL's
// string), which callers pass already escaped.
func substitute(expr, job, instance, rateInterval string) string {
	r := strings.NewReplacer(
		"$__rate_interval", rateInterval,
		"${job}", job, "$job", job,
		"${instance}", instance, "$instance", instance,
	)
	return r.Replace(expr)
}

// grafanaRegexValue escapes a single value of a multi-value variable as
// Grafana's Prometheus data source does inside =~ matchers.
func grafanaRegexValue(v string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(v), `\`, `\\`)
}

// ---- The queries' selectors, read with Prometheus's own PromQL parser. ----

type promMatcher struct{ Label, Op, Value string }

// promSelector is one vector selector of an expression.
type promSelector struct {
	Metric   string
	Matchers []promMatcher
	Range    string // the range right after it, as written, if any
	// Func is the function the selector (with its range) is an argument
	// of, as in rate(x[5m]); "" otherwise.
	Func string
}

// rangeVariable is a Grafana variable standing for a range, such as
// [$__rate_interval], which PromQL cannot parse.
var rangeVariable = regexp.MustCompile(`\[\s*(\$\w+|\$\{\w+\})\s*\]`)

// parseSelectors finds every vector selector of a PromQL expression,
// Grafana's variables left in it. The parser is Prometheus's, so that the
// lint reads a query as Prometheus will; a variable in a string stays as it
// is, and one in a range becomes a duration no query uses, read back as the
// variable.
func parseSelectors(expr string) ([]promSelector, error) {
	variables := map[time.Duration]string{}
	expr = rangeVariable.ReplaceAllStringFunc(expr, func(m string) string {
		name := strings.TrimSpace(m[1 : len(m)-1])
		d := (999_000 + time.Duration(len(variables))) * time.Millisecond
		for k, v := range variables {
			if v == name {
				d = k
			}
		}
		variables[d] = name
		return "[" + model.Duration(d).String() + "]"
	})
	root, err := promparser.NewParser(promparser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	rangeText := func(d time.Duration) string {
		if v, ok := variables[d]; ok {
			return v
		}
		return model.Duration(d).String()
	}
	var sels []promSelector
	err = promparser.Walk(selectorVisitor(func(vs *promparser.VectorSelector, path []promparser.Node) error {
		if vs.Name == "" {
			return fmt.Errorf("a selector without a metric name: %s", vs)
		}
		s := promSelector{Metric: vs.Name}
		for _, m := range vs.LabelMatchers {
			if m.Name != model.MetricNameLabel {
				s.Matchers = append(s.Matchers, promMatcher{m.Name, m.Type.String(), m.Value})
			}
		}
		parent := func() promparser.Node {
			if len(path) == 0 {
				return nil
			}
			p := path[len(path)-1]
			path = path[:len(path)-1]
			return p
		}
		up := parent()
		switch n := up.(type) {
		case *promparser.MatrixSelector:
			s.Range = rangeText(n.Range)
			up = parent()
		case *promparser.SubqueryExpr:
			s.Range = rangeText(n.Range) + ":"
			if n.Step != 0 {
				s.Range += rangeText(n.Step)
			}
			up = parent()
		}
		if call, ok := up.(*promparser.Call); ok {
			s.Func = call.Func.Name
		}
		sels = append(sels, s)
		return nil
	}), root, nil)
	return sels, err
}

// selectorVisitor calls itself on every vector selector of a syntax tree,
// with the nodes above it.
type selectorVisitor func(*promparser.VectorSelector, []promparser.Node) error

// Visit implements promparser.Visitor.
func (f selectorVisitor) Visit(node promparser.Node, path []promparser.Node) (promparser.Visitor, error) {
	if vs, ok := node.(*promparser.VectorSelector); ok {
		return f, f(vs, path)
	}
	return f, nil
}

// lintExpr returns what is wrong with one panel query: target-job-rule,
// target-instance-rule, target-rate-interval-rule, target-counter-agg-rule,
// and metrics that the exporter does not export.
func lintExpr(expr string, known map[string]metricInfo) []string {
	sels, err := parseSelectors(expr)
	if err != nil {
		return []string{"cannot read the query: " + err.Error()}
	}
	if len(sels) == 0 {
		return []string{"the query selects no metric"}
	}
	var problems []string
	for _, s := range sels {
		if _, ok := known[s.Metric]; !ok {
			problems = append(problems, fmt.Sprintf("%s is neither in docs/metrics.md nor a recording rule of rules/chrony.rules.yml", s.Metric))
		}
		has := map[string]bool{}
		for _, m := range s.Matchers {
			has[m.Label+m.Op+`"`+m.Value+`"`] = true
		}
		if !has[jobMatcher] {
			problems = append(problems, fmt.Sprintf("%s lacks the matcher %s", s.Metric, jobMatcher))
		}
		if !has[instanceMatch] {
			problems = append(problems, fmt.Sprintf("%s lacks the matcher %s", s.Metric, instanceMatch))
		}
		switch {
		case isCounter(s.Metric, known) && (s.Range == "" || (s.Func != "rate" && s.Func != "irate" && s.Func != "increase")):
			problems = append(problems, fmt.Sprintf("counter %s must be used only as rate(%s[%s])", s.Metric, s.Metric, rateInterval))
		case s.Range != "" && s.Func != "rate" && s.Func != "irate" && s.Func != "increase":
			problems = append(problems, fmt.Sprintf("%s has a range [%s] outside rate, irate or increase", s.Metric, s.Range))
		case (s.Func == "rate" || s.Func == "irate") && s.Range != rateInterval:
			problems = append(problems, fmt.Sprintf("%s(%s[%s]) should use [%s]", s.Func, s.Metric, s.Range, rateInterval))
		}
	}
	return problems
}

// TestLintCatches shows that lintExpr finds each kind of mistake.
func TestLintCatches(t *testing.T) {
	known := map[string]metricInfo{
		"chrony_up":                               {"gauge"},
		"chrony_serverstats_ntp_drops":            {"counter"},
		"chrony_sources_peer_requests_sent_total": {"counter"},
		"instance:chrony_clock_error_seconds:abs": {"recording rule"},
	}
	m := `{job=~"$job", instance=~"$instance"}`
	cases := []struct {
		expr string
		want string // a substring of a problem; "" for none
	}{
		{`chrony_up` + m, ""},
		{`instance:chrony_clock_error_seconds:abs` + m, ""},
		{`sum by (instance) (chrony_up` + m + `)`, ""},
		{`rate(chrony_sources_peer_requests_sent_total` + m + `[$__rate_interval])`, ""},
		{`chrony_up{job=~"$job"}`, `lacks the matcher instance=~"$instance"`},
		{`chrony_up{instance=~"$instance"}`, `lacks the matcher job=~"$job"`},
		{`chrony_up{job="$job", instance=~"$instance"}`, `lacks the matcher job=~"$job"`},
		{`chrony_up` + m + ` and on (instance) chrony_up`, "lacks the matcher"},
		{`chrony_sources_peer_requests_sent_total` + m, "counter"},
		{`chrony_serverstats_ntp_drops` + m, "counter"},
		{`max_over_time(chrony_sources_peer_requests_sent_total` + m + `[5m])`, "counter"},
		{`rate(chrony_sources_peer_requests_sent_total` + m + `[5m])`, "should use [$__rate_interval]"},
		{`avg_over_time(chrony_up` + m + `[5m])`, "outside rate"},
		{`chrony_no_such_metric` + m, "neither in docs/metrics.md"},
		{`{__name__="chrony_up"}`, "without a metric name"},
		{`sum(rate(chrony_up` + m + `[$__rate_interval])`, "unclosed left parenthesis"},
	}
	for _, c := range cases {
		problems := strings.Join(lintExpr(c.expr, known), "; ")
		if c.want == "" && problems != "" || !strings.Contains(problems, c.want) {
			t.Errorf("lintExpr(%s) = %q, want a problem containing %q", c.expr, problems, c.want)
		}
	}
}

// TestProvisioning checks that the provisioning files fit the dashboard:
// the data source uid the dashboard defaults to, and a file provider.
func TestProvisioning(t *testing.T) {
	ds, err := os.ReadFile("provisioning/datasources/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"apiVersion: 1", "type: prometheus", "uid: " + provisionedUID, "url: http://prometheus:9090",
	} {
		if !regexp.MustCompile(`(?m)^\s*-?\s*` + regexp.QuoteMeta(want) + `\s*$`).Match(ds) {
			t.Errorf("provisioning/datasources/prometheus.yml lacks %q", want)
		}
	}
	db, err := os.ReadFile("provisioning/dashboards/chrony.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apiVersion: 1", "type: file", "path: /var/lib/grafana/dashboards"} {
		if !regexp.MustCompile(`(?m)^\s*-?\s*` + regexp.QuoteMeta(want) + `\s*$`).Match(db) {
			t.Errorf("provisioning/dashboards/chrony.yml lacks %q", want)
		}
	}
}
