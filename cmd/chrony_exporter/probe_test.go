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
		if a.Err != nil || a.Status != tc.status || strings.TrimSpace(a.Body) == "" {
			t.Errorf("target %.60q: %d %v %q, want %d with a reason", tc.target, a.Status, a.Err, a.Body, tc.status)
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
	if a.Status != http.StatusNotFound {
		t.Errorf("/probe without --probe.allow: %d, want 404", a.Status)
	}
	if a := fetch(&http.Client{}, e.url+"/", nil); strings.Contains(a.Body, `class="probe"`) || a.Status != http.StatusOK {
		t.Errorf("status page without --probe.allow: %d, offers a probe form", a.Status)
	}
	time.Sleep(50 * time.Millisecond)
	if n := v4.Received(); n != 0 {
		t.Errorf("%d datagrams sent", n)
	}
}
