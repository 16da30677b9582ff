package collector

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

// metricsDoc is the metrics reference, generated from the descriptors.
var metricsDoc = filepath.Join("..", "docs", "metrics.md")

const regenerateDoc = "go test ./collector -run TestMetricsDoc -update"

// TestMetricsDoc holds docs/metrics.md to the metrics the exporter makes:
// it fails when the file is stale, and -update rewrites it.
func TestMetricsDoc(t *testing.T) {
	got, err := renderMetricsDoc(measureSeriesCost(t))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(metricsDoc), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(metricsDoc, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatalf("%v: run `%s`", err, regenerateDoc)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/metrics.md is stale: run `%s`\n%s", regenerateDoc, firstDifference(want, got))
	}
}

// TestRenderMetricsDoc checks the renderer itself, so that a stale check
// against a broken document cannot pass.
func TestRenderMetricsDoc(t *testing.T) {
	cost := measureSeriesCost(t)
	doc, err := renderMetricsDoc(cost)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	for _, m := range metrics {
		if !strings.Contains(text, "| `"+m.name+"` | "+m.kind.String()+" |") {
			t.Errorf("no table row for %s (%s)", m.name, m.kind)
		}
	}
	for _, name := range Names() {
		if !strings.Contains(text, "\n## "+name+"\n") {
			t.Errorf("no section for collector %s", name)
		}
	}
	for _, s := range []string{regenerateDoc, "chrony_exporter_build_info", "source_address", "source_name", "Unix socket"} {
		if !strings.Contains(text, s) {
			t.Errorf("the document does not mention %q", s)
		}
	}
	if !strings.Contains(text, "\n## Series per scrape\n") {
		t.Error("no section on the series per scrape")
	}
	for _, name := range Names() {
		row := fmt.Sprintf("| [%s](#%s) | %s | %d | %d | %d |", name, name, onOff(DefaultEnabled(name)),
			cost.collectors[name].perSource, cost.collectors[name].perUnreachable, cost.collectors[name].host)
		if !strings.Contains(text, row) {
			t.Errorf("the series table has no row %q", row)
		}
		if !strings.Contains(text, reasonMarker(name)) {
			t.Errorf("the section of %s does not say why it is %s by default", name, onOff(DefaultEnabled(name)))
		}
	}
	again, err := renderMetricsDoc(cost)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, again) {
		t.Error("two renderings differ")
	}
}

// defaultReason says, per collector, why it is on or off by default; the
// metrics reference prints it in the collector's section, under a marker
// that names this map, and TestDefaultReasons wants one for every
// collector.
var defaultReason = map[string]string{
	"activity":    "A few series per host, whatever the number of sources, read in the same pass as the others: a source that is offline or whose name never resolved shows here first.",
	"authdata":    "Says per source whether it is authenticated and, for NTS, whether NTS-KE and cookies are healthy: the one way to see NTS failing before the source goes unreachable." + " An unauthenticated source costs a single series.",
	"clients":     "For chronyd as a server only, and its client log can be large to read (one request per 8 clients): turn it on where chronyd serves NTP to others.",
	"ntpdata":     "Detail of the last NTP response per source (delays, dispersions, packet tests, where timestamps were taken): the most series per source of any collector, for debugging one source rather than for alerting; the offsets, error estimates and reachability that alerts need are in sources and sourcestats. SuperQ/chrony_exporter's --collector.sources.with-ntpdata turns it on too.",
	"rtc":         "No series on hosts without an RTC driver (most), a handful on those with one, where the RTC's drift matters.",
	"selectdata":  "Why chronyd selects or rejects each source: for investigating a selection, not for alerting; sources already has each source's state.",
	"serverstats": "A few counters per host of the NTP and command packets chronyd received and dropped: cheap, and the first sign of a server being overloaded or attacked.",
	"smoothing":   "No series unless chronyd runs with smoothtime, a handful when it does.",
	"sources":     "The sources, their state, reachability and last offsets: what every dashboard and alert starts from.",
	"sourcestats": "Each source's offset, frequency and their error estimates from the regression over its samples: what an alert on a drifting or noisy source needs.",
	"tracking":    "The system clock against its reference: offset, frequency, stratum, leap status. The exporter's reason to exist.",
}

// reasonMarker is the comment that says where a collector's reason for
// its default comes from.
func reasonMarker(name string) string {
	return fmt.Sprintf("<!-- why %s is %s by default: defaultReason[%q] in collector/docs_test.go -->", name, onOff(DefaultEnabled(name)), name)
}

// TestDefaultReasons wants a reason for every collector's default, and
// none for a collector that does not exist.
func TestDefaultReasons(t *testing.T) {
	for _, name := range Names() {
		if strings.TrimSpace(defaultReason[name]) == "" {
			t.Errorf("defaultReason has no reason why %s is %s by default", name, onOff(DefaultEnabled(name)))
		}
	}
	for name := range defaultReason {
		if collectors[name] == nil {
			t.Errorf("defaultReason names %q, which is no collector", name)
		}
	}
}

// The sources of the chrony-4.8 captures that measureSeriesCost counts
// (chronyc.txt beside them): 127.0.1.1 to .3 are reachable NTP servers with
// samples and no authentication, 127.0.2.1 never answered.
var (
	typicalSource     = netip.MustParseAddr("127.0.1.1")
	reachableSources  = []string{"127.0.1.1", "127.0.1.2", "127.0.1.3"}
	unreachableSource = "127.0.2.1"
)

// collectorCost is one collector's series in the exposition
// measureSeriesCost makes.
type collectorCost struct {
	perSource      int // series of one reachable NTP source with samples, not authenticated
	perUnreachable int // series of one source that never answered
	host           int // series without source_address
	nts            int // series an NTS source has beyond perSource
}

// seriesCost is what measureSeriesCost counts.
type seriesCost struct {
	collectors map[string]collectorCost
	exporter   int // the exporter's own series that belong to no collector
}

// measureSeriesCost counts, per collector, the series of a real /metrics
// exposition: the exporter's text handler with every collector on, against
// a fake chronyd serving the chrony-4.8 captures, with hand-made RTC,
// smoothing and client replies in place of the captures' "not enabled" and
// missing ones, so that every collector has data. A second exposition with
// the typical source's AUTH_DATA replaced by a hand-made NTS one gives what
// NTS adds. Counting a real exposition follows whatever the collectors
// emit, defaults and removed metrics included, with no count written down
// by hand.
func measureSeriesCost(t testing.TB) seriesCost {
	t.Helper()
	plain, err := scrapeCaptures(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	nts, err := scrapeCaptures(t, func(r *chronytest.Replies) error {
		return r.PutFile(chronytest.AddrKey(typicalSource), filepath.Join(handmadeDir, "auth_data-nts.hex"))
	})
	if err != nil {
		t.Fatal(err)
	}
	cost := seriesCost{collectors: map[string]collectorCost{}}
	for _, name := range Names() {
		p, n := plain[name], nts[name]
		if p == nil || n == nil {
			t.Fatalf("collector %s has no series at all, not even its success", name)
		}
		c := collectorCost{
			perSource:      p.PerSource[typicalSource.String()],
			perUnreachable: p.PerSource[unreachableSource],
			host:           p.Host,
		}
		c.nts = n.PerSource[typicalSource.String()] - c.perSource
		for _, a := range reachableSources {
			if p.PerSource[a] != c.perSource {
				t.Fatalf("collector %s: %d series for %s, %d for %s: the reachable sources of the capture no longer cost alike, so one number per source says too little",
					name, c.perSource, typicalSource, p.PerSource[a], a)
			}
		}
		cost.collectors[name] = c
	}
	for name := range plain {
		if name != "" && collectors[name] == nil {
			t.Fatalf("series counted for %q, which is no collector", name)
		}
	}
	if own := plain[""]; own != nil {
		cost.exporter = own.Host
	}
	return cost
}

var (
	captures48Dir = filepath.Join("..", "chronyproto", "testdata", "captures", "chrony-4.8")
	handmadeDir   = filepath.Join("..", "chronyproto", "testdata", "handmade")
)

// scrapeCaptures serves the chrony-4.8 captures (with the hand-made
// replies measureSeriesCost describes, then adjust) from a fake chronyd,
// scrapes the text handler with every collector on, and counts the series.
func scrapeCaptures(t testing.TB, adjust func(*chronytest.Replies) error) (map[string]*SeriesCount, error) {
	r, err := chronytest.LoadCaptures(captures48Dir)
	if err != nil {
		return nil, err
	}
	for _, h := range []struct {
		key  chronytest.Key
		file string
	}{
		{chronytest.NoKey, "rtc.hex"},
		{chronytest.NoKey, "smoothing.hex"},
		{chronytest.IndexKey(0), "client_accesses-21.hex"},
	} {
		if err := r.PutFile(h.key, filepath.Join(handmadeDir, h.file)); err != nil {
			return nil, err
		}
	}
	if adjust != nil {
		if err := adjust(r); err != nil {
			return nil, err
		}
	}
	f := chronytest.NewFake(t, "unixgram", r)
	all := map[string]bool{}
	for _, name := range Names() {
		all[name] = true
	}
	e, err := New(Config{Address: f.Addr(), Enabled: all}, nil)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	rec := httptest.NewRecorder()
	e.Handler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %d", rec.Code)
	}
	text := rec.Body.Bytes()
	for _, name := range Names() {
		if !bytes.Contains(text, []byte(fmt.Sprintf("chrony_scrape_collector_success{collector=%q} 1\n", name))) {
			return nil, fmt.Errorf("collector %s did not succeed on the captures, so its series would be undercounted:\n%s", name, text)
		}
	}
	return CountSeries(text)
}

// TestCountSeries checks the counting the metrics reference and the
// scrape benchmark rely on, on a handmade exposition.
func TestCountSeries(t *testing.T) {
	text := `# HELP chrony_up x
chrony_up 1
chrony_scrape_collector_success{collector="sources"} 1
chrony_scrape_collector_duration_seconds{collector="sources"} 0.001
chrony_sources_stratum{source_address="192.0.2.1",source_name="a \"quoted\", name"} 3
chrony_sources_stratum{source_address="192.0.2.2",source_name="b"} 2
chrony_sources_state_info{source_address="192.0.2.1",source_name="a",source_state="sync",source_mode="client"} 1
chrony_tracking_stratum 3
# TYPE chrony_clients_ntp_drops histogram
chrony_clients_ntp_drops_bucket{le="0"} 1
chrony_clients_ntp_drops_bucket{le="+Inf"} 1
chrony_clients_ntp_drops_sum 0
chrony_clients_ntp_drops_count 1
chrony_no_such_metric 1
go_goroutines 8
`
	got, err := CountSeries([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]SeriesCount{
		"":         {PerSource: map[string]int{}, Host: 1},
		"sources":  {PerSource: map[string]int{"192.0.2.1": 2, "192.0.2.2": 1}, Host: 2},
		"tracking": {PerSource: map[string]int{}, Host: 1},
		"clients":  {PerSource: map[string]int{}, Host: 4},
	}
	if len(got) != len(want) {
		t.Errorf("counted collectors %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for name, w := range want {
		g := got[name]
		if g == nil || g.Host != w.Host || fmt.Sprint(g.PerSource) != fmt.Sprint(w.PerSource) {
			t.Errorf("collector %q: got %+v, want %+v", name, g, w)
		}
	}
	if _, err := CountSeries([]byte("chrony_up{source_address=\"x} 1\n")); err == nil {
		t.Error("an unterminated label value was counted")
	}
	for name, want := range map[string]string{"chrony_tracking_stratum": "tracking", "chrony_clients_ntp_drops_bucket": "clients", "chrony_up": ""} {
		if got, ok := MetricCollector(name); !ok || got != want {
			t.Errorf("MetricCollector(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, name := range []string{"chrony_tracking_stratum_count", "go_goroutines", "chrony_exporter_build_info"} {
		if c, ok := MetricCollector(name); ok {
			t.Errorf("MetricCollector(%q) = %q, want none", name, c)
		}
	}
}

// renderMetricsDoc writes the metrics reference in Markdown: an
// introduction, a summary of the collectors, the series each costs (cost,
// from measureSeriesCost), the exporter's own metrics, then a section per
// collector with its cost, why it is on or off by default, and a table of
// its metrics.
func renderMetricsDoc(cost seriesCost) ([]byte, error) {
	byCollector := map[string][]*metric{}
	seen := map[string]bool{}
	for _, m := range sortedMetrics() {
		if m.collector != "" && collectors[m.collector] == nil {
			return nil, fmt.Errorf("metric %s belongs to the unknown collector %q", m.name, m.collector)
		}
		if seen[m.name] {
			return nil, fmt.Errorf("metric %s is defined twice", m.name)
		}
		seen[m.name] = true
		byCollector[m.collector] = append(byCollector[m.collector], m)
	}

	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Metrics\n\n")
	p("<!-- Generated from the metric descriptors in collector/ by `%s`. Do not edit. -->\n\n", regenerateDoc)
	p("Every metric of chrony_exporter, generated from the descriptors the exporter\n")
	p("itself uses. After changing a metric, regenerate this file with\n\n")
	p("```\n%s\n```\n\n", regenerateDoc)
	p("`go test ./collector` fails while it is stale.\n\n")
	p("Each scrape reads chronyd once; the collectors turn that one read into\n")
	p("metrics. Each collector is turned on or off with `--collector.<name>` or\n")
	p("`--no-collector.<name>`.\n\n")
	p("* **Unix socket.** Collectors marked so read reports that chronyd answers\n")
	p("  only on its Unix socket (`--chrony.address=unix:///run/chrony/chronyd.sock`,\n")
	p("  open to root and chronyd's own user), unless chronyd 4.7+ allows them over UDP\n")
	p("  with `opencommands`. Over UDP such a collector is skipped when it is on by\n")
	p("  default, and fails (`chrony_scrape_collector_success` 0) when turned on\n")
	p("  explicitly.\n")
	p("* **Source labels.** Metrics of a source carry `source_address`, its IP\n")
	p("  address, and `source_name`, the name it has in chronyd's configuration (or its\n")
	p("  reverse DNS name with `--collector.dns-lookups` when the configuration names\n")
	p("  only the address). A reference clock has its reference ID, e.g. `PPS0`, in\n")
	p("  both. A source whose name chronyd has not resolved yet has no series.\n")
	p("* **Precision.** chronyd sends its measurements as a 32-bit float of its own\n")
	p("  (a 25-bit coefficient), which the exporter writes as the shortest decimal\n")
	p("  that reads back as the same value, e.g. `3.28e-07`: at most nine significant\n")
	p("  digits, all that chronyd sent. These metrics hold such values: ")
	var floats []string
	for _, m := range sortedMetrics() {
		if m.chronyFloat {
			floats = append(floats, "`"+m.name+"`")
		}
	}
	p("%s.\n\n", strings.Join(floats, ", "))

	p("## Collectors\n\n")
	p("| collector | default | needs the Unix socket | reports |\n")
	p("|---|---|---|---|\n")
	for _, name := range Names() {
		p("| [%s](#%s) | %s | %s | %s |\n", name, name, onOff(DefaultEnabled(name)), yesNoDoc(UnixOnly(name)), cell(Help(name)))
	}
	p("\n")

	writeSeriesCost(&b, cost)

	p("## Exporter\n\n")
	p("The exporter's own metrics. `chrony_exporter_build_info` comes from\n")
	p("client_golang's version collector (`prometheus/collectors/version`).\n\n")
	writeMetricTable(&b, byCollector[""], "| `chrony_exporter_build_info` | gauge | "+
		labelList([]string{"version", "revision", "branch", "goversion", "goos", "goarch", "tags"})+
		" | A constant 1 labelled with how the exporter was built. |\n")

	for _, name := range Names() {
		p("\n## %s\n\n", name)
		p("%s. %s by default", capitalize(Help(name)), capitalize(onOff(DefaultEnabled(name))))
		if UnixOnly(name) {
			p("; needs the Unix socket")
		}
		p(".\n\n")
		c := cost.collectors[name]
		p("Series: %d per reachable NTP source, %d per unreachable one, %d per host", c.perSource, c.perUnreachable, c.host)
		if c.nts != 0 {
			p("; an NTS source has %d more", c.nts)
		}
		p(" ([how they are counted](#series-per-scrape)).\n\n")
		p("%s\n", reasonMarker(name))
		p("**Why %s by default:** %s\n\n", onOff(DefaultEnabled(name)), cell(defaultReason[name]))
		if len(byCollector[name]) == 0 {
			p("No metrics.\n")
			continue
		}
		writeMetricTable(&b, byCollector[name], "")
	}
	return b.Bytes(), nil
}

// writeSeriesCost writes the section on how many series each collector
// adds to a scrape.
func writeSeriesCost(b *bytes.Buffer, cost seriesCost) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## Series per scrape\n\n")
	p("What each collector adds to every scrape, counted in a real exposition: the\n")
	p("exporter's `/metrics` text with every collector on, against a fake chronyd\n")
	p("serving replies captured from chrony 4.8, with hand-made RTC, smoothing and\n")
	p("client-log replies where that chronyd had none, so that every collector has\n")
	p("data. A histogram counts one series per bucket, `+Inf` included, plus `_sum`\n")
	p("and `_count`.\n\n")
	p("* **Per reachable source:** the series carrying `source_address` of one NTP\n")
	p("  source that answers and has samples, without authentication; every such\n")
	p("  source of the capture has as many.\n")
	p("* **Per unreachable source:** the same of a source that never answered.\n")
	p("* **Per host:** the series without `source_address`, whatever the number of\n")
	p("  sources, including the collector's own `chrony_scrape_collector_success`\n")
	p("  and `chrony_scrape_collector_duration_seconds`.\n")
	var ntsCollectors []string
	ntsTotal := 0
	for _, name := range Names() {
		if n := cost.collectors[name].nts; n != 0 {
			ntsCollectors = append(ntsCollectors, fmt.Sprintf("%d of %s", n, name))
			ntsTotal += n
		}
	}
	if ntsTotal != 0 {
		p("* **NTS.** An authenticated source has more: counted with a hand-made\n")
		p("  AUTH_DATA reply of an NTS source, one has %d more series (%s).\n", ntsTotal, strings.Join(ntsCollectors, ", "))
	}
	p("\n")
	p("| collector | default | series per reachable source | per unreachable source | per host |\n")
	p("|---|---|--:|--:|--:|\n")
	var def, all collectorCost
	for _, name := range Names() {
		c := cost.collectors[name]
		p("| [%s](#%s) | %s | %d | %d | %d |\n", name, name, onOff(DefaultEnabled(name)), c.perSource, c.perUnreachable, c.host)
		all.perSource += c.perSource
		all.perUnreachable += c.perUnreachable
		all.host += c.host
		if DefaultEnabled(name) {
			def.perSource += c.perSource
			def.perUnreachable += c.perUnreachable
			def.host += c.host
		}
	}
	p("| [exporter](#exporter) | always | 0 | 0 | %d |\n", cost.exporter)
	p("| **defaults** | | **%d** | **%d** | **%d** |\n", def.perSource, def.perUnreachable, def.host+cost.exporter)
	p("| **every collector** | | **%d** | **%d** | **%d** |\n\n", all.perSource, all.perUnreachable, all.host+cost.exporter)
	p("With the defaults, a host with N reachable sources serves %d + %d·N series of\n", def.host+cost.exporter, def.perSource)
	p("chrony's; with every collector on, %d + %d·N. The Go runtime, process and\n", all.host+cost.exporter, all.perSource)
	p("build-information metrics (`go_*`, `process_*`, `chrony_exporter_build_info`)\n")
	p("come on top, as with any Go exporter.\n\n")
}

func writeMetricTable(b *bytes.Buffer, ms []*metric, extraRow string) {
	b.WriteString("| metric | type | labels | help |\n|---|---|---|---|\n")
	for _, m := range ms {
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", m.name, m.kind, labelList(m.labels), cell(m.help))
	}
	b.WriteString(extraRow)
}

func labelList(labels []string) string {
	var out []string
	for _, l := range labels {
		out = append(out, "`"+l+"`")
	}
	return strings.Join(out, ", ")
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func yesNoDoc(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// firstDifference shows where two texts part, for the stale message.
func firstDifference(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			return fmt.Sprintf("first difference at line %d:\n  docs/metrics.md: %s\n  generated:       %s", i+1, a, c)
		}
	}
	return ""
}

// maxDefaultSeriesPerSource is the budget of series one NTP source may cost
// with the default flags, NTS included: for a fleet, series are the cost
// that counts.
const maxDefaultSeriesPerSource = 24

// TestDefaultSeriesBudget holds the defaults to the budget, for a plain
// source and for an NTS source, counted as docs/metrics.md counts them.
func TestDefaultSeriesBudget(t *testing.T) {
	cost := measureSeriesCost(t)
	var plain, nts int
	for _, name := range Names() {
		if c := cost.collectors[name]; DefaultEnabled(name) {
			plain += c.perSource
			nts += c.perSource + c.nts
		}
	}
	if plain == 0 || plain > maxDefaultSeriesPerSource || nts > maxDefaultSeriesPerSource {
		t.Errorf("with default flags a source costs %d series, an NTS source %d; the budget is 1 to %d", plain, nts, maxDefaultSeriesPerSource)
	}
}
