package chronyproto

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
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
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	err := unixDialError(filepath.Join(dir, "chronyd.sock"), &os.PathError{Op: "dial", Err: syscall.EACCES})
	var pe *PermissionError
	if !errors.As(err, &pe) || !errors.Is(err, ErrPermission) {
		t.Fatalf("EACCES gave %v, want a *PermissionError matching ErrPermission", err)
	}
	// The directory is ours; the socket is not there.
	if !pe.Dir.Known || pe.Dir.Mode.Perm() != 0o750 || pe.Dir.UID != uint32(os.Geteuid()) {
		t.Errorf("directory found as %+v, want mode 0750 owned by uid %d", pe.Dir, os.Geteuid())
	}
	if pe.Socket.Known || !strings.Contains(pe.Socket.String(), "no such file") {
		t.Errorf("missing socket found as %q, want unknown with the reason", pe.Socket)
	}
	if pe.Self.UID != uint32(os.Geteuid()) || len(pe.Self.Groups) == 0 {
		t.Errorf("identity %+v, want uid %d with its groups", pe.Self, os.Geteuid())
	}
	if !strings.Contains(err.Error(), dir+" 0750 ") {
		t.Errorf("error %q does not give the directory's mode", err)
	}
}

// TestPermissionErrorText: who may use the socket follows from the modes
// and owners found, and the advice from who that is.
func TestPermissionErrorText(t *testing.T) {
	chrony := func(mode fs.FileMode) FileOwner {
		return FileOwner{Known: true, Mode: mode, UID: 102, GID: 105, User: "_chrony", Group: "_chrony"}
	}
	nobody := Identity{UID: 65534, User: "nobody", Groups: []string{"nogroup", "_chrony"}}
	for _, tc := range []struct {
		name        string
		dir, socket FileOwner
		self        Identity
		allowed     []string
		want        []string
	}{{
		name: "stock chronyd", dir: chrony(fs.ModeDir | 0o750), socket: chrony(fs.ModeSocket | 0o755), self: nobody,
		allowed: []string{"root", "user _chrony"},
		want: []string{
			"permission denied on chronyd's socket /run/chrony/chronyd.sock",
			"directory /run/chrony 0750 _chrony:_chrony, socket 0755 _chrony:_chrony",
			"this process: user nobody (uid 65534), groups nogroup, _chrony",
			"only root and user _chrony can use it",
			"run as user _chrony, which owns it (the shipped systemd unit does), or use UDP",
		},
	}, {
		name: "systemd RuntimeDirectoryMode=0700", dir: chrony(fs.ModeDir | 0o700), socket: FileOwner{Why: "permission denied"}, self: nobody,
		allowed: []string{"root", "user _chrony"},
		want:    []string{"directory /run/chrony 0700 _chrony:_chrony, socket unknown (permission denied)", "only root and user _chrony can use it"},
	}, {
		name: "opened to the group", dir: chrony(fs.ModeDir | 0o770), socket: chrony(fs.ModeSocket | 0o775), self: Identity{UID: 1000, User: "alice"},
		allowed: []string{"root", "user _chrony", "members of group _chrony"},
		want:    []string{"only root, user _chrony and members of group _chrony can use it", "run as user _chrony"},
	}, {
		name: "open to all", dir: chrony(fs.ModeDir | 0o777), socket: chrony(fs.ModeSocket | 0o777), self: Identity{UID: 1000, User: "alice"},
		allowed: []string{"root", "user _chrony", "members of group _chrony", "everyone"},
		want:    []string{"only root, user _chrony, members of group _chrony and everyone can use it", "something else refuses it"},
	}, {
		name: "refused in an allowed group", dir: chrony(fs.ModeDir | 0o770), socket: chrony(fs.ModeSocket | 0o770), self: Identity{UID: 1000, User: "alice", Groups: []string{"alice", "_chrony"}},
		allowed: []string{"root", "user _chrony", "members of group _chrony"},
		want:    []string{"something else refuses it"},
	}, {
		name: "a socket of another owner", dir: chrony(fs.ModeDir | 0o770), socket: FileOwner{Known: true, Mode: fs.ModeSocket | 0o700, User: "root", Group: "root"}, self: Identity{UID: 1000, User: "alice"},
		allowed: []string{"root"},
		want:    []string{"only root can use it", "run as root"},
	}, {
		name: "a root-owned directory", dir: FileOwner{Known: true, Mode: fs.ModeDir | 0o755, User: "root", Group: "root"}, socket: chrony(fs.ModeSocket | 0o755), self: nobody,
		allowed: []string{"root"},
		want:    []string{"only root can use it", "run as root, or use UDP"},
	}, {
		name: "refused by something else", dir: chrony(fs.ModeDir | 0o750), socket: chrony(fs.ModeSocket | 0o755), self: Identity{UID: 102, User: "_chrony"},
		allowed: []string{"root", "user _chrony"},
		want:    []string{"the modes let this process in, so something else refuses it"},
	}, {
		name: "directory not found", dir: FileOwner{Why: "no such file or directory"}, socket: FileOwner{Why: "no such file or directory"}, self: nobody,
		allowed: []string{"root"},
		want:    []string{"directory /run/chrony unknown (no such file or directory)"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			e := &PermissionError{Path: "/run/chrony/chronyd.sock", Dir: tc.dir, Socket: tc.socket, Self: tc.self, Err: syscall.EACCES}
			if got := e.Allowed(); !slices.Equal(got, tc.allowed) {
				t.Errorf("Allowed() = %q, want %q", got, tc.allowed)
			}
			if got, want := e.GroupAllowed(), slices.Contains(tc.allowed, "members of group _chrony"); got != want {
				t.Errorf("GroupAllowed() = %v, want %v", got, want)
			}
			for _, w := range tc.want {
				if !strings.Contains(e.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", e, w)
				}
			}
		})
	}
}

// TestParseDefaults: the link-time list of automatic addresses.
func TestParseDefaults(t *testing.T) {
	paths, addrs, err := parseDefaults("unix:///run/a.sock udp://127.0.0.1:10323  unix:///b.sock udp://[::1]:323")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/run/a.sock", "/b.sock"}; !slices.Equal(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
	if want := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:10323"), netip.MustParseAddrPort("[::1]:323")}; !slices.Equal(addrs, want) {
		t.Errorf("addresses %v, want %v", addrs, want)
	}
	for _, bad := range []string{"unix://relative.sock", "127.0.0.1:323", "udp://localhost:323", "tcp://127.0.0.1:323"} {
		if _, _, err := parseDefaults(bad); err == nil {
			t.Errorf("parseDefaults(%q) took it", bad)
		}
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
