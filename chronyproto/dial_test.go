package chronyproto

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSplitHostPort(t *testing.T) {
	for in, want := range map[string]struct {
		host string
		port uint16
	}{
		"127.0.0.1":          {"127.0.0.1", 323},
		"127.0.0.1:1323":     {"127.0.0.1", 1323},
		"ntp.example.com":    {"ntp.example.com", 323},
		"ntp.example.com:99": {"ntp.example.com", 99},
		"::1":                {"::1", 323},
		"[::1]":              {"::1", 323},
		"[::1]:1323":         {"::1", 1323},
		"fe80::1%eth0":       {"fe80::1%eth0", 323},
		"2001:db8::1":        {"2001:db8::1", 323},
	} {
		host, port, err := SplitHostPort(in)
		if err != nil || host != want.host || port != want.port {
			t.Errorf("SplitHostPort(%q) = %q, %d, %v; want %q, %d", in, host, port, err, want.host, want.port)
		}
	}
	for _, in := range []string{"", "host:0", "host:65536", "host:http", ":323", "file:///etc/passwd", "a/b"} {
		if _, _, err := SplitHostPort(in); err == nil {
			t.Errorf("SplitHostPort(%q) accepted", in)
		}
	}
}

func TestDialMissingSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chronyd.sock")
	for _, addr := range []string{path, "unix://" + path} {
		_, err := Dial(context.Background(), addr)
		if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), path) {
			t.Errorf("Dial(%q) = %v, want ErrNotRunning naming the path", addr, err)
		}
	}
}

// A socket file nobody listens on (chronyd killed) is "not running" too.
func TestDialStaleSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chronyd.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := Dial(context.Background(), path); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Dial of a stale socket = %v, want ErrNotRunning", err)
	}
	assertOnly(t, dir, "chronyd.sock")
}

func TestUDPNotRunning(t *testing.T) {
	// A port nobody listens on: the kernel answers ICMP port unreachable.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := Dial(ctx, "udp://"+addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Tracking(ctx); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Tracking against a closed port = %v, want ErrNotRunning", err)
	}
	if got, want := c.Address(), "udp://"+addr; got != want {
		t.Errorf("Address() = %q, want %q", got, want)
	}
}

func TestUnixDialErrorPermission(t *testing.T) {
	dir := t.TempDir()
	err := unixDialError(filepath.Join(dir, "chronyd.sock"), &os.PathError{Op: "dial", Err: syscall.EACCES})
	var pe *PermissionError
	if !errors.As(err, &pe) || !errors.Is(err, ErrPermission) {
		t.Fatalf("EACCES gave %v, want a *PermissionError matching ErrPermission", err)
	}
	// The test's temporary directory belongs to our own group.
	if pe.Group == "" || !strings.Contains(err.Error(), pe.Group) {
		t.Errorf("error %q does not name the group owning %s", err, dir)
	}
}

func TestStatusErrorKinds(t *testing.T) {
	for status, want := range map[Status]error{
		StatusUnauth:       ErrNeedsUnixSocket,
		StatusInvalid:      ErrTooOld,
		StatusNoSuchSource: ErrNoSuchSource,
		StatusNotEnabled:   ErrNotEnabled,
		StatusNoRTC:        ErrNotEnabled,
		StatusInactive:     ErrNotEnabled,
	} {
		err := &StatusError{Report: ReportRTC, Status: status}
		if !errors.Is(err, want) {
			t.Errorf("status %d does not match %v", status, want)
		}
		if !strings.Contains(err.Error(), status.String()) {
			t.Errorf("status %d: %q lacks chronyc's message", status, err)
		}
	}
	if errors.Is(&StatusError{Status: StatusFailed}, ErrNotEnabled) {
		t.Error("FAILED matches ErrNotEnabled")
	}
	if got := Status(20).String(); !strings.HasPrefix(got, "520 ") {
		t.Errorf("unknown status = %q", got)
	}
}

// assertOnly fails unless dir holds exactly the named entries.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}
