//go:build integration

package chronyproto

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

// These tests run against a real chronyd pair (chronytest.Lab). They fail,
// never skip, when chronyd cannot be started.

// childEnv makes the test binary act as a helper process (see TestMain).
const childEnv = "CHRONYPROTO_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode, os.Args[len(os.Args)-1]))
	}
	code := m.Run()
	labs.closeAll()
	os.Exit(code)
}

// runChild dials the socket given as the last argument and then, by mode,
// reports the error (or asks for tracking, when there is none) or holds the
// connection until it is killed.
func runChild(mode, socket string) int {
	c, err := Dial(context.Background(), socket)
	switch mode {
	case "dial-error":
		if err == nil {
			defer c.Close()
			if _, err := c.Tracking(context.Background()); err != nil {
				fmt.Println("tracking:", err)
				return 0
			}
			fmt.Println("no error")
			return 0
		}
		fmt.Printf("permission=%v %s\n", errors.Is(err, ErrPermission), err)
		return 0
	case "hold":
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("ready")
		defer c.Close()
		select {}
	}
	return 2
}

// labs shares one running lab per configuration among the tests of this
// package: starting one costs seconds.
var labs = labSet{m: map[int]*labEntry{}}

type labSet struct {
	mu sync.Mutex
	m  map[int]*labEntry
}

type labEntry struct {
	once sync.Once
	lab  *chronytest.Lab
	err  error
}

func (s *labSet) get(tb testing.TB, reachable int) *chronytest.Lab {
	tb.Helper()
	s.mu.Lock()
	e := s.m[reachable]
	if e == nil {
		e = &labEntry{}
		s.m[reachable] = e
	}
	s.mu.Unlock()
	e.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		e.lab, e.err = chronytest.Start(ctx, chronytest.Config{Reachable: reachable})
	})
	if e.err != nil {
		tb.Fatalf("starting the chronyd lab: %v", e.err)
	}
	return e.lab
}

func (s *labSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.m {
		if e.lab != nil {
			e.lab.Close()
		}
	}
}

// labAddrs are the lab's two ways in.
func labAddrs(l *chronytest.Lab) map[string]string {
	return map[string]string{"unix": "unix://" + l.SocketPath, "udp": "udp://" + l.UDPAddr.String()}
}

func dialLab(t testing.TB, addr string) *Client {
	t.Helper()
	c, err := Dial(ctxTimeout(t, 5*time.Second), addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// agree reads a report from us and from chronyc until both readings fall
// between the same clock updates (at most a few tries), then compares.
func agree(t *testing.T, what string, ours func() ([][]string, error), chronyc func() []string, tol tolerance) {
	t.Helper()
	var last error
	for try := 0; try < 5; try++ {
		got, err := ours()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		lines := chronyc()
		if len(lines) != len(got) {
			last = fmt.Errorf("%s: we read %d entries, chronyc printed %d", what, len(got), len(lines))
			continue
		}
		last = nil
		for i := range got {
			if err := compareCSV(got[i], lines[i], tol); err != nil {
				last = fmt.Errorf("%s entry %d: %w", what, i, err)
				break
			}
		}
		if last == nil {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Error(last)
}

func chronycLines(t *testing.T, l *chronytest.Lab, cmd string) func() []string {
	return func() []string {
		return strings.Split(strings.TrimSpace(l.Chronyc(t, cmd)), "\n")
	}
}

// TestLabAgreesWithChronyc holds every field of tracking, sources and
// sourcestats (and, over the socket, the socket-only reports) against what
// chronyc -c prints for the same live chronyd, over both transports.
func TestLabAgreesWithChronyc(t *testing.T) {
	l := labs.get(t, 3)
	for network, addr := range labAddrs(l) {
		t.Run(network, func(t *testing.T) {
			c := dialLab(t, addr)
			ctx := ctxTimeout(t, 20*time.Second)
			agree(t, "tracking", func() ([][]string, error) {
				tr, err := c.Tracking(ctx)
				return [][]string{chronycTracking(tr)}, err
			}, chronycLines(t, l, "tracking"), drift)
			agree(t, "sources", func() ([][]string, error) {
				s, err := c.Snapshot(ctx, ReportSources)
				var out [][]string
				for _, src := range s.Sources {
					out = append(out, chronycSource(src.SourceData))
				}
				return out, errors.Join(err, s.Err(ReportSources))
			}, chronycLines(t, l, "sources"), driftSources)
			agree(t, "sourcestats", func() ([][]string, error) {
				s, err := c.Snapshot(ctx, ReportSourceStats)
				var out [][]string
				for _, src := range s.Sources {
					if src.Stats == nil {
						return nil, fmt.Errorf("%s: no stats: %v", src.Name(), src.Err(ReportSourceStats))
					}
					out = append(out, chronycSourceStats(*src.Stats))
				}
				return out, errors.Join(err, s.Err(ReportSourceStats))
			}, chronycLines(t, l, "sourcestats"), drift)
			agree(t, "activity", func() ([][]string, error) {
				a, err := c.Activity(ctx)
				return [][]string{chronycActivity(a)}, err
			}, chronycLines(t, l, "activity"), exact)
			if network != "unix" {
				return
			}
			agree(t, "selectdata", func() ([][]string, error) {
				s, err := c.Snapshot(ctx, ReportSelectData)
				var out [][]string
				for _, src := range s.Sources {
					if src.Select == nil {
						return nil, fmt.Errorf("%s: no selectdata: %v", src.Name(), src.Err(ReportSelectData))
					}
					out = append(out, chronycSelectData(*src.Select))
				}
				return out, errors.Join(err, s.Err(ReportSelectData))
			}, chronycLines(t, l, "selectdata"), driftSources)
			agree(t, "authdata", func() ([][]string, error) {
				s, err := c.Snapshot(ctx, ReportAuthData)
				var out [][]string
				for _, src := range s.Sources {
					if src.Auth == nil {
						return nil, fmt.Errorf("%s: no authdata: %v", src.Name(), src.Err(ReportAuthData))
					}
					out = append(out, chronycAuthData(src.Name(), *src.Auth))
				}
				return out, errors.Join(err, s.Err(ReportAuthData))
			}, chronycLines(t, l, "authdata"), exact)
			agree(t, "ntpdata", func() ([][]string, error) {
				s, err := c.Snapshot(ctx, ReportNTPData)
				var out [][]string
				for _, src := range s.Sources {
					if src.NTP == nil {
						return nil, fmt.Errorf("%s: no ntpdata: %v", src.Name(), src.Err(ReportNTPData))
					}
					out = append(out, chronycNTPData(*src.NTP))
				}
				return out, errors.Join(err, s.Err(ReportNTPData))
			}, chronycLines(t, l, "ntpdata"), drift)
		})
	}
}

// TestLabSnapshot checks what a whole snapshot of the lab holds over each
// transport, including the reports chronyd refuses or has not enabled.
func TestLabSnapshot(t *testing.T) {
	l := labs.get(t, 3)
	for network, addr := range labAddrs(l) {
		t.Run(network, func(t *testing.T) {
			c := dialLab(t, addr)
			s, err := c.Snapshot(ctxTimeout(t, 5*time.Second), AllReports()...)
			if err != nil {
				t.Fatal(err)
			}
			if s.Tracking == nil || s.Tracking.Stratum != 4 || s.Activity == nil {
				t.Fatalf("tracking %+v, activity %+v", s.Tracking, s.Activity)
			}
			// chronyd 4.3 has no RTC here and no smoothtime.
			if !errors.Is(s.Err(ReportRTC), ErrNotEnabled) || !errors.Is(s.Err(ReportSmoothing), ErrNotEnabled) {
				t.Errorf("rtc %v, smoothing %v: want ErrNotEnabled", s.Err(ReportRTC), s.Err(ReportSmoothing))
			}
			unixOnly := []Report{ReportSelectData, ReportNTPData, ReportAuthData, ReportServerStats}
			for _, r := range unixOnly {
				if network == "udp" && !errors.Is(s.Err(r), ErrNeedsUnixSocket) {
					t.Errorf("%s over UDP: %v, want ErrNeedsUnixSocket", r, s.Err(r))
				}
				if network == "unix" && s.Err(r) != nil {
					t.Errorf("%s over the socket: %v", r, s.Err(r))
				}
			}
			if network == "unix" && !s.ServerStats.Has(StatNTPSpanSeconds) {
				t.Errorf("chronyd 4.3 sends SERVER_STATS3, got fields %b", s.ServerStats.Fields)
			}
			var names []string
			selected := 0
			for _, src := range s.Sources {
				names = append(names, src.Name())
				if src.State == StateSelected {
					selected++
				}
				if src.ConfiguredName != src.Name() {
					t.Errorf("%s: configured name %q", src.Name(), src.ConfiguredName)
				}
				unreachable := src.Address == AddressFrom(l.Unreachable) || src.Address == AddressFrom(l.NoSelect)
				if unreachable != (src.Reachability == 0) {
					t.Errorf("%s: reach %o", src.Name(), src.Reachability)
				}
				if network == "unix" && src.Address == AddressFrom(l.NoSelect) &&
					(src.Select == nil || src.Select.State != 'N' || src.Select.ConfOptions&OptionNoSelect == 0) {
					t.Errorf("noselect source: %+v", src.Select)
				}
			}
			want := []string{"127.0.1.1", "127.0.1.2", "127.0.1.3", "127.0.2.1", "127.0.2.2"}
			if !slices.Equal(names, want) || selected != 1 {
				t.Errorf("sources %v with %d selected, want %v with 1", names, selected, want)
			}
		})
	}
}

// clientDirs lists what this package created beside a socket.
func clientDirs(t *testing.T, socket string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(socket))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), clientDirPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestLabDialCloseCycles: nothing of ours is left beside chronyd's socket
// after Close, however many clients came and went.
func TestLabDialCloseCycles(t *testing.T) {
	l := labs.get(t, 3)
	ctx := ctxTimeout(t, 60*time.Second)
	for i := 0; i < 1000; i++ {
		c, err := Dial(ctx, l.SocketPath)
		if err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if _, err := c.NSources(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if left := clientDirs(t, l.SocketPath); len(left) != 0 {
		t.Errorf("left behind after 1000 Dial/Close: %v", left)
	}
}

// copyTestBinary puts this test binary where another user can run it.
func copyTestBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "chronyproto-child-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	path := filepath.Join(dir, "child")
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
	return path
}

// TestLabLeftoversAfterKill: a client killed with SIGKILL cannot clean up;
// the next Dial of any process removes what it left.
func TestLabLeftoversAfterKill(t *testing.T) {
	l := labs.get(t, 3)
	before := clientDirs(t, l.SocketPath)
	for i := 0; i < 3; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$", l.SocketPath)
		cmd.Env = append(os.Environ(), childEnv+"=hold")
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		if strings.TrimSpace(line) != "ready" {
			t.Fatalf("child said %q", line)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	left := clientDirs(t, l.SocketPath)
	if len(left) != len(before)+3 {
		t.Fatalf("killed children left %v (before: %v)", left, before)
	}
	// The cleaner spares directories younger than leftoverAge, which may be
	// a live client's between mkdir and flock; age them.
	old := time.Now().Add(-2 * leftoverAge)
	for _, d := range left {
		subs, _ := os.ReadDir(filepath.Join(filepath.Dir(l.SocketPath), d))
		for _, s := range subs {
			os.Chtimes(filepath.Join(filepath.Dir(l.SocketPath), d, s.Name()), old, old)
		}
	}
	c := dialLab(t, l.SocketPath)
	if _, err := c.NSources(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if left := clientDirs(t, l.SocketPath); len(left) != 0 {
		t.Errorf("leftovers survived the next dial: %v", left)
	}
}

// TestLabPermissionDenied runs clients as other users against a socket
// chronyd made itself (directory 0750, socket 0755): chronyd's own user
// gets in, and others, in its group or not, get an error that says what
// was found, who may use the socket, and what to do.
func TestLabPermissionDenied(t *testing.T) {
	l := labs.get(t, 3)
	if os.Geteuid() != 0 {
		t.Fatal("this test runs a client as another user and needs root, as the lab does")
	}
	bin := copyTestBinary(t)
	stock := fmt.Sprintf("directory %s 0750 %s:%s", filepath.Dir(l.SocketPath), l.User, l.User)
	for _, tc := range []struct {
		name string
		cred *syscall.Credential
		want []string
	}{{
		name: "chronyd's user",
		cred: &syscall.Credential{Uid: uint32(l.UID), Gid: uint32(l.GID)},
		want: []string{"no error"},
	}, {
		name: "nobody in chronyd's group",
		cred: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{uint32(l.GID)}},
		want: []string{"permission=true ", stock, "socket 0755 " + l.User + ":" + l.User,
			"only root and user " + l.User + " can use it", "run as user " + l.User},
	}, {
		name: "nobody",
		cred: &syscall.Credential{Uid: 65534, Gid: 65534},
		want: []string{"permission=true ", stock, "socket unknown (permission denied)",
			"only root and user " + l.User + " can use it", "run as user " + l.User},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "-test.run=^$", l.SocketPath)
			cmd.Env = append(os.Environ(), childEnv+"=dial-error")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: tc.cred}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v: %s", err, out)
			}
			got := strings.TrimSpace(string(out))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("got: %s\nwant it to contain %q", got, w)
				}
			}
		})
	}
	if left := clientDirs(t, l.SocketPath); len(left) != 0 {
		t.Errorf("clients left behind %v", left)
	}
}

// TestLabDialForms: every address form reaches the lab, and the automatic
// default tries the sockets, then UDP, as chronyc does.
func TestLabDialForms(t *testing.T) {
	l := labs.get(t, 3)
	port := strconv.Itoa(int(l.UDPAddr.Port()))
	for _, addr := range []string{
		l.SocketPath, "unix://" + l.SocketPath,
		"udp://127.0.0.1:" + port, "127.0.0.1:" + port, "localhost:" + port,
	} {
		c := dialLab(t, addr)
		if _, err := c.Tracking(ctxTimeout(t, 5*time.Second)); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}

	savedPaths, savedUDP := DefaultSocketPaths, DefaultUDPAddrs
	t.Cleanup(func() { DefaultSocketPaths, DefaultUDPAddrs = savedPaths, savedUDP })
	missing := filepath.Join(t.TempDir(), "chronyd.sock")

	DefaultSocketPaths = []string{missing, l.SocketPath}
	c := dialLab(t, "")
	if c.Address() != "unix://"+l.SocketPath {
		t.Errorf("automatic address chose %s, want the second socket", c.Address())
	}

	DefaultSocketPaths = []string{missing}
	DefaultUDPAddrs = []netip.AddrPort{l.UDPAddr}
	c = dialLab(t, "")
	if c.Address() != "udp://"+l.UDPAddr.String() {
		t.Errorf("automatic address chose %s, want UDP", c.Address())
	}

	closed, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	DefaultUDPAddrs = []netip.AddrPort{closed.LocalAddr().(*net.UDPAddr).AddrPort()}
	closed.Close()
	if _, err := Dial(ctxTimeout(t, 5*time.Second), ""); !errors.Is(err, ErrNotRunning) {
		t.Errorf("automatic address with nothing running: %v, want ErrNotRunning", err)
	}
}
