package collector

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// metricsDoc is the metrics reference, generated from the descriptors.
var metricsDoc = filepath.Join("..", "docs", "metrics.md")

const regenerateDoc = "go test ./collector -run TestMetricsDoc -update"

// TestMetricsDoc holds docs/metrics.md to the metrics the exporter makes:
// it fails when the file is stale, and -update rewrites it.
func TestMetricsDoc(t *testing.T) {
	got, err := renderMetricsDoc()
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
	doc, err := renderMetricsDoc()
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
	again, err := renderMetricsDoc()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, again) {
		t.Error("two renderings differ")
	}
}

// renderMetricsDoc writes the metrics reference in Markdown: an
// introduction, a summary of the collectors, the exporter's own metrics,
// then a section per collector with a table of its metrics.
func renderMetricsDoc() ([]byte, error) {
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
	p("  open to root and the chrony group), unless chronyd 4.7+ allows them over UDP\n")
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
		if len(byCollector[name]) == 0 {
			p("No metrics.\n")
			continue
		}
		writeMetricTable(&b, byCollector[name], "")
	}
	return b.Bytes(), nil
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
