//go:build linux && integration

package chronytest

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// labTestUDP asks the lab's client chronyd over its UDP command port, the
// way chronyc reaches a remote daemon.
func labTestUDP(t *testing.T, l *Lab, args ...string) string {
	t.Helper()
	out, err := l.labChronycAt(context.Background(),
		[]string{"-h", l.UDPAddr.Addr().String(), "-p", strconv.Itoa(int(l.UDPAddr.Port()))}, args...)
	if err != nil {
		t.Fatalf("%v%s", err, l.outputs())
	}
	return out
}

// labTestCSV splits chronyc -c output into records keyed by the field at
// index key.
func labTestCSV(t *testing.T, out string, key int) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, ",")
		if len(f) <= key {
			t.Fatalf("short chronyc -c line %q in:\n%s", line, out)
		}
		if _, dup := m[f[key]]; dup {
			t.Fatalf("duplicate %q in:\n%s", f[key], out)
		}
		m[f[key]] = f
	}
	return m
}

// labTestCheckSources checks the lab's promise about `sources`: every
// reachable source selected or combined, exactly one selected, the other two
// unreachable.
func labTestCheckSources(t *testing.T, l *Lab, out string) {
	t.Helper()
	recs := labTestCSV(t, out, 2)
	if want := len(l.Reachable) + 2; len(recs) != want {
		t.Fatalf("sources: %d lines, want %d:\n%s", len(recs), want, out)
	}
	selected := 0
	for _, a := range l.Reachable {
		r, ok := recs[a.String()]
		if !ok {
			t.Fatalf("sources: %v missing:\n%s", a, out)
		}
		if r[0] != "^" || (r[1] != "*" && r[1] != "+") {
			t.Errorf("sources: %v is mode %q state %q, want ^ and * or +", a, r[0], r[1])
		}
		if r[1] == "*" {
			selected++
		}
		if r[3] != "3" {
			t.Errorf("sources: %v has stratum %s, want 3 (local stratum 3)", a, r[3])
		}
	}
	if selected != 1 {
		t.Errorf("sources: %d selected sources, want 1:\n%s", selected, out)
	}
	for _, a := range []netip.Addr{l.Unreachable, l.NoSelect} {
		r, ok := recs[a.String()]
		if !ok {
			t.Fatalf("sources: %v missing:\n%s", a, out)
		}
		if r[1] != "?" || r[5] != "0" {
			t.Errorf("sources: %v is state %q reach %s, want ? and 0", a, r[1], r[5])
		}
	}
}

func TestLabDefault(t *testing.T) {
	t.Parallel()
	l := StartLab(t, Config{})

	if len(l.Reachable) != 3 {
		t.Fatalf("Reachable = %v, want 3 addresses", l.Reachable)
	}
	for i, a := range l.Reachable {
		if want := netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)}); a != want {
			t.Errorf("Reachable[%d] = %v, want %v", i, a, want)
		}
	}
	if l.Unreachable.String() != "127.0.2.1" || l.NoSelect.String() != "127.0.2.2" {
		t.Errorf("Unreachable, NoSelect = %v, %v", l.Unreachable, l.NoSelect)
	}
	if l.UDPAddr.Addr().String() != "127.0.0.1" || l.UDPAddr.Port() == 0 {
		t.Errorf("UDPAddr = %v", l.UDPAddr)
	}
	if fi, err := os.Stat(l.SocketPath); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("SocketPath %s: %v %v", l.SocketPath, fi, err)
	}

	// Fields: ref ID, address, stratum, ...; the lab's reference is one of
	// the reachable sources and the server is stratum 3.
	for name, out := range map[string]string{
		"unix": l.Chronyc(t, "tracking"),
		"udp":  labTestUDP(t, l, "tracking"),
	} {
		f := strings.Split(strings.TrimSpace(out), ",")
		if len(f) != 14 {
			t.Fatalf("%s tracking: %d fields, want 14: %q", name, len(f), out)
		}
		if a, err := netip.ParseAddr(f[1]); err != nil || !labTestContains(l.Reachable, a) {
			t.Errorf("%s tracking: reference %q is not a reachable source", name, f[1])
		}
		if f[2] != "4" {
			t.Errorf("%s tracking: stratum %s, want 4", name, f[2])
		}
		if f[13] != "Normal" {
			t.Errorf("%s tracking: leap %q, want Normal", name, f[13])
		}
	}

	labTestCheckSources(t, l, l.Chronyc(t, "sources"))
	labTestCheckSources(t, l, labTestUDP(t, l, "sources"))

	// selectdata is Unix-socket only in 4.3; its option columns are
	// state, address, auth, then the configured N,P,T,R,- flags.
	sel := labTestCSV(t, l.Chronyc(t, "selectdata"), 1)
	if r := sel[l.NoSelect.String()]; len(r) < 4 || r[0] != "N" || r[3] != "N" {
		t.Errorf("selectdata: %v = %q, want state N with configured option N", l.NoSelect, r)
	}
	if r := sel[l.Unreachable.String()]; len(r) < 4 || r[0] == "N" || r[0] == "*" || r[0] == "+" || r[3] != "-" {
		t.Errorf("selectdata: %v = %q, want an unselectable state that is not N, no options", l.Unreachable, r)
	}
	for _, a := range l.Reachable {
		if r := sel[a.String()]; len(r) < 1 || (r[0] != "*" && r[0] != "+") {
			t.Errorf("selectdata: %v = %q, want * or +", a, r)
		}
	}
}

func labTestContains(as []netip.Addr, a netip.Addr) bool {
	for _, b := range as {
		if a == b {
			return true
		}
	}
	return false
}

// labTestAlive reports whether pid still exists as a process that is not a
// zombie. Close must have reaped its children, so even a zombie is a leak;
// signal 0 reports zombies as alive.
func labTestAlive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestLabClose(t *testing.T) {
	t.Parallel()
	l, err := Start(context.Background(), Config{Reachable: 1})
	if err != nil {
		t.Fatal(err)
	}
	pids := []int{l.server.cmd.Process.Pid, l.client.cmd.Process.Pid}
	for _, pid := range pids {
		if !labTestAlive(pid) {
			t.Fatalf("pid %d not running before Close", pid)
		}
		if comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); err != nil || strings.TrimSpace(string(comm)) != "chronyd" {
			t.Errorf("pid %d is %q (%v), want chronyd", pid, comm, err)
		}
	}

	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("Close took %v", time.Since(start))
	for _, pid := range pids {
		if labTestAlive(pid) {
			t.Errorf("pid %d still exists after Close", pid)
		}
	}
	if _, err := os.Stat(l.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Dir %s after Close: %v, want not exist", l.Dir, err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestLabTwoAtOnce(t *testing.T) {
	t.Parallel()
	a := StartLab(t, Config{Reachable: 2})
	b := StartLab(t, Config{Reachable: 2})
	if a.Dir == b.Dir || a.SocketPath == b.SocketPath || a.UDPAddr == b.UDPAddr || a.ntpPort == b.ntpPort {
		t.Fatalf("labs share a resource: %+v and %+v", a, b)
	}
	for _, l := range []*Lab{a, b} {
		labTestCheckSources(t, l, l.Chronyc(t, "sources"))
		labTestCheckSources(t, l, labTestUDP(t, l, "sources"))
	}
}

// TestLabMany checks the 64-source configuration and records how long
// selection takes, since that is the slowest lab tests will ask for.
func TestLabMany(t *testing.T) {
	t.Parallel()
	start := time.Now()
	l := StartLab(t, Config{Reachable: 64})
	t.Logf("64 sources selected after %v", time.Since(start))
	labTestCheckSources(t, l, l.Chronyc(t, "sources"))
	if got := strings.Count(strings.TrimSpace(l.Chronyc(t, "sourcestats")), "\n") + 1; got != 66 {
		t.Errorf("sourcestats: %d lines, want 66", got)
	}
}

func TestLabStartupTime(t *testing.T) {
	t.Parallel()
	start := time.Now()
	StartLab(t, Config{})
	t.Logf("3 sources selected after %v", time.Since(start))
}

func TestLabBadConfig(t *testing.T) {
	t.Parallel()
	for _, n := range []int{-1, 255} {
		if l, err := Start(context.Background(), Config{Reachable: n}); err == nil {
			l.Close()
			t.Errorf("Start with Reachable=%d succeeded", n)
		}
	}
}

func TestLabEarlyExit(t *testing.T) {
	t.Parallel()
	start := time.Now()
	l, err := Start(context.Background(), Config{Reachable: 1, labServerExtra: "nosuchdirective 1\n"})
	if err == nil {
		l.Close()
		t.Fatal("Start succeeded with a broken server config")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Start took %v to notice", d)
	}
	msg := err.Error()
	for _, want := range []string{"server chronyd exited early", "nosuchdirective"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("error:\n%s", msg)
}

func TestLabNotInstalled(t *testing.T) {
	_, err := labFindBinary("chronyd-not-here", "/nonexistent/chronyd")
	if err == nil || !strings.Contains(err.Error(), "apt-get install -y chrony") {
		t.Errorf("labFindBinary error %v, want the install command", err)
	}
}
