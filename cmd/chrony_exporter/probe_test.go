package main

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

// counterPort returns the counter's port, for a target.
func counterPort(u *chronytest.UDPCounter) string { return strconv.Itoa(int(u.AddrPort().Port())) }

func probeURL(e *exporter, target string) string {
	return e.url + "/probe?target=" + url.QueryEscape(target)
}

// TestProbeLab probes the lab's chronyd over UDP through /probe of an
// exporter that reads nothing itself.
func TestProbeLab(t *testing.T) {
	l := sharedLab.get(t)
	silent := chronytest.NewUDPCounter(t, "udp4", "127.0.0.1:0")
	e := startExporter(t, "--chrony.address=unix:///nonexistent/chronyd.sock", "--probe.allow=127.0.0.1/32", "--chrony.timeout=3s")
	client := &http.Client{}

	for range 2 { // each probe is a fresh read: the second is no different
		a := fetch(client, probeURL(e, l.UDPAddr.String()), nil)
		s, err := a.metrics()
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		if v, err := s.value("chrony_up", nil); err != nil || v != 1 {
			t.Errorf("chrony_up %v (%v), want 1", v, err)
		}
		if n := countSeries(s, "chrony_sources_state_info"); n != len(l.Reachable)+2 {
			t.Errorf("%d sources, the lab has %d", n, len(l.Reachable)+2)
		}
		for _, name := range []string{"tracking", "sources", "sourcestats"} {
			if v, err := s.value("chrony_scrape_collector_success", map[string]string{"collector": name}); err != nil || v != 1 {
				t.Errorf("collector %s: success %v (%v), want 1", name, v, err)
			}
		}
		if s.families["go_goroutines"] != nil || s.families["chrony_exporter_build_info"] != nil {
			t.Errorf("a probe carries the exporter's own metrics")
		}
	}
	// The status page offers the probe.
	if a := fetch(client, e.url+"/", nil); !strings.Contains(a.body, `<form class="probe" action="/probe"`) {
		t.Errorf("the status page has no probe form:\n%.2000s", a.body)
	}
	// The local read fails, the probe does not care.
	if v, err := fetch(client, e.url+"/metrics", nil).up(); err != nil || v != 0 {
		t.Errorf("/metrics: chrony_up %v (%v), want 0 (no local chronyd)", v, err)
	}

	// A silent target: the probe ends by Prometheus's timeout less the
	// margin, before --chrony.timeout.
	a := fetch(client, probeURL(e, "127.0.0.1:"+counterPort(silent)), http.Header{scrapeTimeoutHeader: {"1"}})
	if v, err := a.up(); err != nil || v != 0 || a.took > 1500*time.Millisecond {
		t.Errorf("silent target: chrony_up %v (%v) after %v, want 0 after 0.9 s (1.5 s allowed)", v, err, a.took)
	}
	if silent.Received() == 0 {
		t.Errorf("nothing was sent to the silent (allowed) target")
	}
	e.stop()
	checkProbesQuiet(t, e)
}

// TestProbeHostile: malformed targets get 400, targets outside
// --probe.allow 403, each with a reason, and nothing is sent anywhere.
func TestProbeHostile(t *testing.T) {
	v4 := chronytest.NewUDPCounter(t, "udp4", "127.0.0.1:0")
	v6 := chronytest.NewUDPCounter(t, "udp6", "[::1]:0")
	p := counterPort(v4)
	e := startExporter(t, "--chrony.address=unix:///nonexistent/chronyd.sock",
		"--probe.allow=10.0.0.0/8", "--probe.allow=ntp1.example.invalid")
	client := &http.Client{}
	for _, tc := range []struct {
		target string
		status int
	}{
		{"127.0.0.1:" + p, 403},
		{"localhost:" + p, 403}, // resolves to 127.0.0.1, outside the list
		{"[::1]:" + counterPort(v6), 403},
		{"[::ffff:127.0.0.1]:" + p, 403},
		{"ntp2.example.invalid:" + p, 400}, // does not resolve
		{"file:///etc/passwd", 400},
		{"http://127.0.0.1:" + p + "/", 400},
		{"udp://127.0.0.1:" + p, 400},
		{"//127.0.0.1:" + p, 400},
		{strings.Repeat("1", 8000), 400},
		{strings.Repeat("a.", 200) + "example:" + p, 400},
		{"127.0.0.1:65536", 400},
		{"127.0.0.1:0", 400},
		{"127.0.0.1:" + p + "0000000", 400},
		{"0.0.0.0:" + p, 400},
		{"127.1:" + p, 400},
		{"", 400},
	} {
		a := fetch(client, probeURL(e, tc.target), nil)
		if a.err != nil || a.status != tc.status || strings.TrimSpace(a.body) == "" {
			t.Errorf("target %.60q: %d %v %q, want %d with a reason", tc.target, a.status, a.err, a.body, tc.status)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := v4.Received() + v6.Received(); n != 0 {
		t.Errorf("%d datagrams reached the listeners", n)
	}
	e.stop()
	checkProbesQuiet(t, e)
}

// checkProbesQuiet fails t if the exporter logged anything of its probes
// above debug. The one line allowed is the local chronyd's absence, which
// the exporter warns about once when /metrics or / reads it.
func checkProbesQuiet(t *testing.T, e *exporter) {
	t.Helper()
	lines := e.logLines("warn", "error")
	for _, line := range lines {
		if strings.Contains(line, "target=") || !strings.Contains(line, `msg="chronyd did not answer"`) {
			t.Errorf("a probe logged above debug: %s", line)
		}
	}
	if len(lines) > 1 {
		t.Errorf("%d lines above debug, want at most the local chronyd's absence:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}

// TestProbeOff: without --probe.allow there is no /probe.
func TestProbeOff(t *testing.T) {
	v4 := chronytest.NewUDPCounter(t, "udp4", "127.0.0.1:0")
	e := startExporter(t, "--chrony.address=unix:///nonexistent/chronyd.sock")
	a := fetch(&http.Client{}, probeURL(e, "127.0.0.1:"+counterPort(v4)), nil)
	if a.status != http.StatusNotFound {
		t.Errorf("/probe without --probe.allow: %d, want 404", a.status)
	}
	if a := fetch(&http.Client{}, e.url+"/", nil); strings.Contains(a.body, `class="probe"`) || a.status != http.StatusOK {
		t.Errorf("status page without --probe.allow: %d, offers a probe form", a.status)
	}
	time.Sleep(50 * time.Millisecond)
	if n := v4.Received(); n != 0 {
		t.Errorf("%d datagrams sent", n)
	}
}
