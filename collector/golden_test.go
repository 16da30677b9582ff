package collector_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

// Golden exposition tests: each case serves hand-picked reply packets from
// a fake chronyd and compares what the exporter makes of them with
// testdata/<case>.prom. The golden files are the contract: after
//
//	go test ./collector -run Golden -update
//
// review every changed value against the packets before keeping it.

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

// run scrapes the fake twice through a new exporter, the first time
// without and the second with the source list the client remembers, and
// compares both expositions with the golden file.
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
	c := e.ForContext(context.Background())
	path := filepath.Join("testdata", g.file+".prom")
	if *collector.Update {
		got, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, g.names...)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.WriteString("# Golden exposition; regenerate with go test ./collector -run Golden -update\n")
		b.WriteString("# and review every value against the packets.\n")
		for _, l := range strings.Split(g.about, "\n") {
			b.WriteString("# " + l + "\n")
		}
		b.Write(got)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	for _, scrape := range []string{"first scrape", "second scrape"} {
		if err := testutil.CollectAndCompare(c, bytes.NewReader(want), g.names...); err != nil {
			t.Errorf("%s differs from %s:\n%v", scrape, path, err)
		}
	}
	checkScrape(t, c)
	return f, e
}

// checkScrape gathers c with a pedantic registry and checks what the
// golden files leave out: every collector that reports success also
// reports a duration, and only those.
func checkScrape(t *testing.T, c prometheus.Collector) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
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
			t.Errorf("collector %s reports success but no duration", name)
			continue
		}
		if !(d > 0) || math.IsInf(d, 0) {
			t.Errorf("%s{collector=%q} = %v, want a positive duration", durationName, name, d)
		}
	}
	for name := range duration {
		if _, ok := success[name]; !ok {
			t.Errorf("collector %s reports a duration but no success", name)
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

// compareGolden compares text made by a test itself with
// testdata/<file>.prom, whose heading is about; -update rewrites the file.
func compareGolden(t *testing.T, file, about, got string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# Golden exposition; regenerate with go test ./collector -run Golden -update\n")
	b.WriteString("# and review every value against the packets.\n")
	for _, l := range strings.Split(about, "\n") {
		b.WriteString("# " + l + "\n")
	}
	b.WriteString(got)
	path := filepath.Join("testdata", file+".prom")
	if *collector.Update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	if string(want) != b.String() {
		t.Errorf("exposition differs from %s:\n--- want\n%s\n--- got\n%s", path, want, b.String())
	}
}
