//go:build integration

package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
	"github.com/second-hand/chrony_exporter/internal/testenv"
)

// The exporter as operators run it: not as root. The lab's chronyd makes
// its socket directory and socket itself, 0750 and 0755 as a stock
// chronyd, so only root and chronyd's user may use the socket. The test
// process is root, as the lab needs; each exporter drops to another
// identity with SysProcAttr.Credential.

// nobodyInGroup is an identity in chronyd's group but not its user, which
// the old systemd unit (DynamicUser, SupplementaryGroups=_chrony) had.
func nobodyInGroup(l *chronytest.Lab) *syscall.Credential {
	return &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{uint32(l.GID)}}
}

// asChronyd is chronyd's own identity, which the shipped unit runs as.
func asChronyd(l *chronytest.Lab) *syscall.Credential {
	return &syscall.Credential{Uid: uint32(l.UID), Gid: uint32(l.GID)}
}

// statusOf fetches /api/status.
func (e *exporter) statusOf(t *testing.T) statusDoc {
	t.Helper()
	a := fetch(http.DefaultClient, e.url+"/api/status", nil)
	if a.Err != nil || a.Status != http.StatusOK {
		t.Fatalf("GET /api/status: %d %v", a.Status, a.Err)
	}
	var doc statusDoc
	if err := json.Unmarshal([]byte(a.Body), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// statusDoc is the part of /api/status these tests read.
type statusDoc struct {
	Chronyd struct {
		Transport    string `json:"transport"`
		FallbackFrom string `json:"fallback_from"`
		Up           bool   `json:"up"`
	} `json:"chronyd"`
	Problems []struct {
		Kind, Severity, Message string
	} `json:"problems"`
}

// successes returns chrony_scrape_collector_success by collector.
func (s scrape) successes() map[string]float64 {
	out := map[string]float64{}
	for _, m := range s.series("chrony_scrape_collector_success", nil) {
		v, _ := sampleValue(m)
		out[labels(m)["collector"]] = v
	}
	return out
}

// TestUnprivilegedChronydUser: run as chronyd's user, as the systemd unit,
// the packages and the container do, the exporter reads every default
// collector over the socket and leaves nothing beside it.
func TestUnprivilegedChronydUser(t *testing.T) {
	l := sharedLab.get(t)
	e := launchExporter(t, launch{cred: asChronyd(l)}, "--chrony.address="+socketAddr(l))
	s := e.scrape(t, nil)
	if v, err := s.value("chrony_up", nil); err != nil || v != 1 {
		t.Fatalf("chrony_up = %v (%v), want 1\nstderr:\n%s", v, err, e.Out)
	}
	got := s.successes()
	for _, name := range collector.Names() {
		if collector.DefaultEnabled(name) && got[name] != 1 {
			t.Errorf("chrony_scrape_collector_success{collector=%q} = %v, want 1", name, got[name])
		}
	}
	if v, err := s.value("chrony_exporter_transport_info", map[string]string{"transport": "unix", "address": socketAddr(l), "fallback_from": ""}); err != nil || v != 1 {
		t.Errorf("transport info: %v (%v)", v, err)
	}
	e.stop()
	if lines := e.logLines("warn", "error"); lines != nil {
		t.Errorf("warnings or errors logged:\n%s", strings.Join(lines, "\n"))
	}
	left, err := filepath.Glob(filepath.Join(filepath.Dir(l.SocketPath), "chrony_exporter.*"))
	if err != nil || len(left) != 0 {
		t.Errorf("left beside the socket: %v (%v)", left, err)
	}
}

// wantStockRefusal lists what an error about the lab's socket must say to
// an identity in chronyd's group: what was found, who may use it, what to
// do (udp is the UDP address the binary suggests).
func wantStockRefusal(l *chronytest.Lab, udp string) []string {
	owner := l.User + ":" + l.User
	return []string{
		filepath.Dir(l.SocketPath),
		"0750 " + owner,
		"0755 " + owner,
		"only root and user " + l.User + " can use it",
		"user nobody (uid 65534), groups nogroup, " + l.User,
		udp,
	}
}

// TestUnprivilegedGroupMember: in chronyd's group but not its user, with
// the socket given, the exporter cannot read chronyd, and the log and the
// status page say what is true and what to do.
func TestUnprivilegedGroupMember(t *testing.T) {
	l := sharedLab.get(t)
	e := launchExporter(t, launch{cred: nobodyInGroup(l)}, "--chrony.address="+socketAddr(l))
	for range 2 {
		s := e.scrape(t, nil)
		if v, err := s.value("chrony_up", nil); err != nil || v != 0 {
			t.Fatalf("chrony_up = %v (%v), want 0", v, err)
		}
	}
	doc := e.statusOf(t)
	if len(doc.Problems) != 1 || doc.Problems[0].Kind != "permission" || doc.Problems[0].Severity != "error" {
		t.Fatalf("problems %+v, want one permission error", doc.Problems)
	}
	msg := doc.Problems[0].Message
	for _, w := range append(wantStockRefusal(l, "udp://127.0.0.1:323"), "Run it as user "+l.User, "membership of group "+l.User+" is not enough") {
		if !strings.Contains(msg, w) {
			t.Errorf("status page message lacks %q:\n%s", w, msg)
		}
	}
	e.stop()
	lines := e.logLines("warn", "error")
	if len(lines) != 1 {
		t.Fatalf("want the refusal logged once for three reads; got:\n%s", strings.Join(lines, "\n"))
	}
	for _, w := range append(wantStockRefusal(l, "udp://127.0.0.1:323"), "run as user "+l.User) {
		if !strings.Contains(lines[0], w) {
			t.Errorf("log line lacks %q:\n%s", w, lines[0])
		}
	}
}

// TestUnprivilegedFallback: in chronyd's group, with the automatic
// address, the exporter falls back to UDP visibly: once at warn in the
// log, as a notice on the status page naming the skipped collectors, and
// in chrony_exporter_transport_info. The binary is built with the lab's
// addresses as its automatic ones (chronyproto's linkedDefaults), which is
// how a distribution with other paths builds it.
func TestUnprivilegedFallback(t *testing.T) {
	l := sharedLab.get(t)
	defaults := socketAddr(l) + " " + udpAddr(l)
	bin := buildVariant(t, "chrony_exporter-lab-defaults", testenv.Race, "-X 'github.com/second-hand/chrony_exporter/chronyproto.linkedDefaults="+defaults+"'")
	e := launchExporter(t, launch{bin: bin, cred: nobodyInGroup(l)})
	var s scrape
	for range 3 {
		s = e.scrape(t, nil)
	}
	if v, err := s.value("chrony_up", nil); err != nil || v != 1 {
		t.Fatalf("chrony_up = %v (%v), want 1\nstderr:\n%s", v, err, e.Out)
	}
	info := map[string]string{"transport": "udp", "address": udpAddr(l), "fallback_from": socketAddr(l), "fallback_reason": "permission_denied"}
	if v, err := s.value("chrony_exporter_transport_info", info); err != nil || v != 1 {
		t.Errorf("transport info %v (%v), want %v", v, err, info)
	}
	got := s.successes()
	var skipped []string
	for _, name := range collector.Names() {
		_, present := got[name]
		switch {
		case !collector.DefaultEnabled(name):
		case collector.UnixOnly(name):
			skipped = append(skipped, name)
			if present {
				t.Errorf("collector %s, which needs the socket, ran over UDP", name)
			}
		case got[name] != 1:
			t.Errorf("chrony_scrape_collector_success{collector=%q} = %v (present %v), want 1", name, got[name], present)
		}
	}
	if len(skipped) == 0 {
		t.Fatal("no default collector needs the socket: the test proves nothing")
	}

	doc := e.statusOf(t)
	if doc.Chronyd.Transport != "udp" || doc.Chronyd.FallbackFrom != l.SocketPath || !doc.Chronyd.Up {
		t.Errorf("chronyd on the page: %+v", doc.Chronyd)
	}
	i := slices.IndexFunc(doc.Problems, func(p struct{ Kind, Severity, Message string }) bool { return p.Kind == "udp_fallback" })
	if i < 0 || len(doc.Problems) != 1 || doc.Problems[i].Severity != "warning" {
		t.Fatalf("problems %+v, want one fall-back warning", doc.Problems)
	}
	msg := doc.Problems[i].Message
	for _, w := range append(wantStockRefusal(l, udpAddr(l)), "Run it as user "+l.User, "so the "+strings.Join(skipped[:len(skipped)-1], ", ")+" and "+skipped[len(skipped)-1]+" collectors are skipped", "--chrony.address="+udpAddr(l)) {
		if !strings.Contains(msg, w) {
			t.Errorf("fall-back notice lacks %q:\n%s", w, msg)
		}
	}

	e.stop()
	lines := e.logLines("warn", "error")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=warn") {
		t.Fatalf("want one warning for three scrapes and a page; got:\n%s", strings.Join(lines, "\n"))
	}
	for _, w := range append(wantStockRefusal(l, udpAddr(l)), "run as user "+l.User, "reading chronyd over UDP", "skipped_collectors="+strings.Join(skipped, ",")) {
		if !strings.Contains(lines[0], w) {
			t.Errorf("warning lacks %q:\n%s", w, lines[0])
		}
	}
	if _, err := os.Stat(l.SocketPath); err != nil {
		t.Errorf("chronyd's socket: %v", err)
	}
}
