package collector_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

// Golden exposition tests: each case serves hand-picked reply packets from
// a fake chronyd and compares what the exporter's /metrics handler serves,
// plain and gzipped, byte for byte with testdata/<case>.prom (the case's
// families only, after the file's comment heading); the
// prometheus.Collector, which production does not serve but others may
// register, must yield the same families and values. The golden files are
// the contract: after
//
//	go test ./collector -run Golden -update
//
// review every changed value against the packets before keeping it, and
// that a change of order alone changed no value: parse the old and the new
// file and compare the families, not the text.

// Request codes of the replies the tests store or patch (protocol
// reference §7.1).
const (
	cmdNSources    = 14
	cmdSourceData  = 15
	cmdTracking    = 33
	cmdSourceStats = 34
	cmdServerStats = 54
	cmdNTPData     = 57
	cmdSourceName  = 65
	cmdAuthData    = 67
	cmdClients     = 68
	cmdSelectData  = 69
)

// unixOnlyCommands are the requests chronyd refuses over UDP unless
// opencommands allows them (§6).
var unixOnlyCommands = []uint16{cmdServerStats, cmdNTPData, cmdAuthData, cmdClients, cmdSelectData}

const scrapeTimeout = 3 * time.Second

var (
	captures43 = filepath.Join("..", "chronyproto", "testdata", "captures", "chrony-4.3")
	captures48 = filepath.Join("..", "chronyproto", "testdata", "captures", "chrony-4.8")
	handmade   = filepath.Join("..", "chronyproto", "testdata", "handmade")
)

// Metric names the golden files are compared on besides a collector's own.
const (
	upName        = "chrony_up"
	successName   = "chrony_scrape_collector_success"
	durationName  = "chrony_scrape_collector_duration_seconds"
	transportName = "chrony_exporter_transport_info"
)

func loadCaptures(t *testing.T, dir string) *chronytest.Replies {
	t.Helper()
	r, err := chronytest.LoadCaptures(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// readHex returns a hand-made packet.
func readHex(t *testing.T, name string) []byte {
	t.Helper()
	p, err := chronytest.ReadHex(filepath.Join(handmade, name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// putHex stores a hand-made packet under the command in its header.
func putHex(t *testing.T, r *chronytest.Replies, key chronytest.Key, name string) {
	t.Helper()
	if err := r.PutFile(key, filepath.Join(handmade, name)); err != nil {
		t.Fatal(err)
	}
}

// stored returns a copy of a stored reply, which must exist.
func stored(t *testing.T, r *chronytest.Replies, cmd uint16, key chronytest.Key) []byte {
	t.Helper()
	p, ok := r.Get(cmd, key)
	if !ok {
		t.Fatalf("no reply stored for command %d key %v", cmd, key)
	}
	return p
}

// setNSources makes the N_SOURCES reply say n.
func setNSources(t *testing.T, r *chronytest.Replies, n int) {
	t.Helper()
	p := stored(t, r, cmdNSources, chronytest.NoKey)
	binary.BigEndian.PutUint32(p[28:], uint32(n))
	r.Set(cmdNSources, chronytest.NoKey, p)
}

// putIPAddr writes a as the wire IPAddr (§5.4) at off: 16 address bytes,
// the family, a pad. The invalid netip.Addr writes UNSPEC.
func putIPAddr(p []byte, off int, a netip.Addr) {
	clear(p[off : off+20])
	switch {
	case a.Is4():
		b := a.As4()
		copy(p[off:], b[:])
		p[off+17] = 1
	case a.Is6():
		b := a.As16()
		copy(p[off:], b[:])
		p[off+17] = 2
	}
}

// sourceAt returns the 4.8 capture's SOURCE_DATA of 127.0.1.1 (a
// reachable server with samples) moved to address a.
func sourceAt(t *testing.T, a netip.Addr) []byte {
	t.Helper()
	p, err := os.ReadFile(filepath.Join(captures48, "source_data-0.bin"))
	if err != nil {
		t.Fatal(err)
	}
	putIPAddr(p, 28, a)
	return p
}

// only enables the named collectors and disables every other one.
func only(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range collector.Names() {
		m[n] = slices.Contains(names, n)
	}
	return m
}

func newExporter(t *testing.T, f *chronytest.Fake, enabled map[string]bool, timeout time.Duration) *collector.Exporter {
	t.Helper()
	e, err := collector.New(collector.Config{Address: f.Addr(), Timeout: timeout, Enabled: enabled}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// goldenNames returns the metric names a golden file of the given
// collectors holds: theirs, chrony_up and the success of every collector.
// The duration varies from run to run: checkScrape looks at it instead.
// The transport's labels hold the fake's random address:
// TestTransportGolden writes them down in its own way.
func goldenNames(collectors ...string) []string {
	names := collector.MetricNames(append(collectors, "")...)
	return slices.DeleteFunc(names, func(n string) bool { return n == durationName || n == transportName })
}

// golden is one golden exposition case.
type golden struct {
	file  string // testdata/<file>.prom
	about string // how the replies were made, the golden file's heading
	// replies builds what the fake chronyd serves.
	replies func(t *testing.T) *chronytest.Replies
	// network is the fake's, "unixgram" when empty.
	network string
	// setup adjusts the fake (faults) before the first scrape.
	setup   func(f *chronytest.Fake)
	enabled map[string]bool
	names   []string // compared metric names
	timeout time.Duration
}

// run scrapes the fake through a new exporter as /metrics serves it, the
// first time plainly and without the source list the client remembers, the
// second time gzipped and with it, and compares both expositions with the
// golden file (servedGolden); then it checks that the prometheus.Collector
// path yields the same families and values.
func (g golden) run(t *testing.T) (*chronytest.Fake, *collector.Exporter) {
	t.Helper()
	network := g.network
	if network == "" {
		network = "unixgram"
	}
	f := chronytest.NewFake(t, network, g.replies(t))
	if g.setup != nil {
		g.setup(f)
	}
	timeout := g.timeout
	if timeout == 0 {
		timeout = scrapeTimeout
	}
	e := newExporter(t, f, g.enabled, timeout)
	servedGolden(t, e, g.file, g.about, g.names, nil)
	return f, e
}

// goldenHeading is the comment that opens every golden file, before the
// lines of the case's about.
const goldenHeading = "# Golden exposition; regenerate with go test ./collector -run Golden -update\n" +
	"# and review every value against the packets.\n"

// servedGolden holds what e's /metrics handler serves to the golden file
// testdata/<file>.prom, whose heading is about: the families named in
// names, byte for byte, from a plain scrape and then from a gzipped one
// (the first scrape of a new exporter reads chronyd without a remembered
// source list, the second with it). replace, when not nil, rewrites the
// served text before the comparison (a fake's random address); an empty
// about keeps the file's heading. The whole
// exposition is then held to the prometheus.Collector's (ForContext), and
// both to checkScrape. -update rewrites the file from a plain scrape.
func servedGolden(t *testing.T, e *collector.Exporter, file, about string, names []string, replace func(string) string) {
	t.Helper()
	path := filepath.Join("testdata", file+".prom")
	if replace == nil {
		replace = func(s string) string { return s }
	}
	if *collector.Update {
		var b strings.Builder
		b.WriteString(goldenHeadingOf(path, about))
		b.WriteString(keepFamilies(t, replace(scrapeServed(t, e, false)), names))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readGolden(t, path)
	var served string
	for _, scrape := range []struct {
		what    string
		gzipped bool
	}{{"plain scrape", false}, {"gzipped scrape", true}} {
		served = scrapeServed(t, e, scrape.gzipped)
		if got := keepFamilies(t, replace(served), names); got != want {
			t.Errorf("%s of /metrics differs from %s:\n%s", scrape.what, path, lineDiff(want, got))
		}
	}
	fromText := parseText(t, "the served exposition", served)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.ForContext(context.Background()))
	gathered, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	checkScrape(t, "served", fromText)
	checkScrape(t, "gathered", gathered)
	if w, g := canonicalText(t, gathered), canonicalText(t, fromText); w != g {
		t.Errorf("the prometheus.Collector's families (-) differ from the served ones (+):\n%s", lineDiff(w, g))
	}
}

// scrapeServed scrapes e's /metrics handler, as cmd/chrony_exporter mounts
// it but without the exporter's own Go and process metrics, asking for gzip
// when gzipped is set; it checks the status and headers and returns the
// text, decompressed (with the standard library, not the encoder's gzip).
func scrapeServed(t *testing.T, e *collector.Exporter, gzipped bool) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	rec := httptest.NewRecorder()
	e.Handler(nil).ServeHTTP(rec, req)
	res := rec.Result()
	body := rec.Body.Bytes()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics answered %s:\n%s", res.Status, body)
	}
	if ct, want := res.Header.Get("Content-Type"), string(expfmt.NewFormat(expfmt.TypeTextPlain)); ct != want {
		t.Errorf("Content-Type %q, want %q", ct, want)
	}
	if cl, want := res.Header.Get("Content-Length"), strconv.Itoa(len(body)); cl != want {
		t.Errorf("Content-Length %q, the body has %s bytes", cl, want)
	}
	ce := res.Header.Get("Content-Encoding")
	if !gzipped {
		if ce != "" {
			t.Errorf("Content-Encoding %q for a scrape that did not ask for gzip", ce)
		}
		return string(body)
	}
	if ce != "gzip" {
		t.Fatalf("Content-Encoding %q for a scrape that asked for gzip, want gzip", ce)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("gzipped body: %v", err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzipped body: %v", err)
	}
	return string(text)
}

// keepFamilies returns the blocks of the named families in an exposition
// as the handler writes it (each family's HELP line, TYPE line and
// samples), unchanged and in their order.
func keepFamilies(t *testing.T, text string, names []string) string {
	t.Helper()
	var b strings.Builder
	keep, seen := false, false
	for _, line := range strings.SplitAfter(text, "\n") {
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, _, _ := strings.Cut(rest, " ")
			keep, seen = slices.Contains(names, name), true
		} else if !seen {
			t.Fatalf("exposition does not start with a HELP line: %q", line)
		}
		if keep {
			b.WriteString(line)
		}
	}
	return b.String()
}

// parseText reads an exposition in the text format with client_golang's
// own parser, which what names in a failure.
func parseText(t *testing.T, what, text string) []*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("%s does not parse: %v\n%s", what, err, text)
	}
	var list []*dto.MetricFamily
	for _, mf := range mfs {
		list = append(list, mf)
	}
	return list
}

// readGolden returns the body of a golden file, after the comment lines of
// its heading.
func readGolden(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	_, body := splitGolden(string(b))
	return body
}

// splitGolden cuts a golden file into its heading (the comment lines
// before the first HELP or TYPE line) and its body.
func splitGolden(text string) (heading, body string) {
	body = text
	for strings.HasPrefix(body, "# ") && !strings.HasPrefix(body, "# HELP ") && !strings.HasPrefix(body, "# TYPE ") {
		_, body, _ = strings.Cut(body, "\n")
	}
	return text[:len(text)-len(body)], body
}

// goldenHeadingOf returns the heading of a golden file about a case: the
// common lines, then about's. An empty about keeps the heading the file
// has, for a file whose heading another test writes.
func goldenHeadingOf(path, about string) string {
	if about == "" {
		if old, err := os.ReadFile(path); err == nil {
			heading, _ := splitGolden(string(old))
			return heading
		}
	}
	var b strings.Builder
	b.WriteString(goldenHeading)
	for _, l := range strings.Split(about, "\n") {
		b.WriteString("# " + l + "\n")
	}
	return b.String()
}

// canonicalText writes families as the registry's text encoder does, after
// putting what may legitimately differ between two expositions of the same
// metrics in one order: families by name, samples by labels, labels by
// name. Durations, which differ from one scrape to the next, become 0. It
// changes mfs in place.
func canonicalText(t *testing.T, mfs []*dto.MetricFamily) string {
	t.Helper()
	mfs = slices.Clone(mfs)
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	var out strings.Builder
	for _, mf := range mfs {
		key := func(m *dto.Metric) string {
			var s []string
			for _, l := range m.GetLabel() {
				s = append(s, l.GetName()+"\xff"+l.GetValue())
			}
			return strings.Join(s, "\xfe")
		}
		for _, m := range mf.Metric {
			slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
			if mf.GetName() == durationName && m.Gauge != nil {
				m.Gauge.Value = new(float64)
			}
		}
		slices.SortFunc(mf.Metric, func(a, b *dto.Metric) int { return strings.Compare(key(a), key(b)) })
		if _, err := expfmt.MetricFamilyToText(&out, mf); err != nil {
			t.Fatalf("family %s: %v", mf.GetName(), err)
		}
	}
	return out.String()
}

// lineDiff shows where two texts differ: the lines of each that the other
// lacks, in order, - for want and + for got.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	if b.Len() == 0 {
		return "(the same lines in another order)\n--- want\n" + want + "\n--- got\n" + got
	}
	return b.String()
}

// checkScrape checks in the families of one scrape what the golden files
// leave out: every collector that reports success also reports a
// duration, and only those.
func checkScrape(t *testing.T, what string, mfs []*dto.MetricFamily) {
	t.Helper()
	byCollector := func(name string) map[string]float64 {
		out := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "collector" {
						out[l.GetValue()] = m.GetGauge().GetValue()
					}
				}
			}
		}
		return out
	}
	success, duration := byCollector(successName), byCollector(durationName)
	for name := range success {
		d, ok := duration[name]
		if !ok {
			t.Errorf("%s: collector %s reports success but no duration", what, name)
			continue
		}
		if !(d > 0) || math.IsInf(d, 0) {
			t.Errorf("%s: %s{collector=%q} = %v, want a positive duration", what, durationName, name, d)
		}
	}
	for name := range duration {
		if _, ok := success[name]; !ok {
			t.Errorf("%s: collector %s reports a duration but no success", what, name)
		}
	}
}

// gatherText gathers c and returns its exposition without the durations,
// which differ from scrape to scrape.
func gatherText(c prometheus.Collector) (string, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		return "", err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if mf.GetName() == durationName {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
