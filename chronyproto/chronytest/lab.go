//go:build linux

package chronytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/second-hand/chrony_exporter/internal/testenv"
)

// The lab is Linux-only: it uses binddevice, /proc and Linux's chronyd
// privilege drop.

const (
	labDefaultReachable = 3
	// Every reachable source needs its own 127.0.1.K address.
	labMaxReachable = 254
	// Settling 64 sources takes 33-40 s (see labClientConf), so 60 s leaves
	// room on a loaded machine without letting a broken lab hang a test.
	// Beyond 64 sources the time grows by about 0.4-0.6 s per source.
	labStartTimeout   = 60 * time.Second
	labPerExtraSource = 750 * time.Millisecond
	labPollEvery      = 200 * time.Millisecond
	// chronyd needs well under a second to exit on SIGTERM; longer means it
	// is stuck and must not outlive the test.
	labTermGrace = 5 * time.Second
	// chronyc gives up on its own after a few seconds of retries; this only
	// guards against a chronyc that hangs.
	labChronycTimeout = 20 * time.Second
	labInstallHint    = "apt-get install -y chrony"
)

// Config says what the lab's client chronyd is configured with.
type Config struct {
	Reachable int // reachable sources 127.0.1.1..; 0 means 3

	// labServerExtra is appended to the server's chrony.conf, so that tests
	// can make it fail.
	labServerExtra string
}

// Lab is a running chronyd pair.
type Lab struct {
	Dir         string         // the lab's private directory
	SocketPath  string         // the client chronyd's Unix command socket, made by chronyd as a stock chronyd makes it
	User        string         // the user chronyd runs as (_chrony, or chrony)
	UID, GID    int            // that user's ids
	UDPAddr     netip.AddrPort // the client chronyd's UDP command address (127.0.0.1:port)
	Reachable   []netip.Addr   // 127.0.1.1 ...
	Unreachable netip.Addr     // 127.0.2.1
	NoSelect    netip.Addr     // 127.0.2.2

	ntpPort uint16 // the server chronyd's NTP port, shared by all reachable sources
	chronyc string

	server *labDaemon
	client *labDaemon

	watchdog     *exec.Cmd
	watchdogPipe *os.File // never written; closing it fires the watchdog

	closeOnce sync.Once
	closeErr  error
}

// labDaemon is one chronyd process and everything it printed.
type labDaemon struct {
	name    string
	cmd     *exec.Cmd
	conf    string          // its chrony.conf, for errors: chronyd reports only a line number
	out     *testenv.Buffer // stdout and stderr, which exec copies in from its own goroutine
	done    chan struct{}   // closed once Wait has returned
	waitErr error           // valid after done is closed
}

func (d *labDaemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Start starts the pair and waits until the client chronyd has selected a source (state '*'), or ctx ends.
//
// It also waits until every reachable source is combined ('*' or '+'), so
// that tests see the same source states every time. Without a deadline in
// ctx it gives up after 60 s (plus 0.75 s per source beyond 64).
func Start(ctx context.Context, cfg Config) (*Lab, error) {
	n := cfg.Reachable
	if n == 0 {
		n = labDefaultReachable
	}
	if n < 0 || n > labMaxReachable {
		return nil, fmt.Errorf("chronytest: Config.Reachable = %d, want 0..%d (one 127.0.1.K address each)", cfg.Reachable, labMaxReachable)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, labDefaultTimeout(n))
		defer cancel()
	}

	chronyd, err := labFindBinary("chronyd", "/usr/sbin/chronyd")
	if err != nil {
		return nil, err
	}
	chronyc, err := labFindBinary("chronyc", "/usr/bin/chronyc")
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("chronytest: the chronyd lab needs root (running as uid %d): chronyd must start as root to drop to the _chrony user, and its command socket directory must be owned by _chrony", os.Geteuid())
	}
	chronyUser, uid, gid, err := labLookupChronyUser()
	if err != nil {
		return nil, err
	}

	dir, err := labMakeDir(uid, gid)
	if err != nil {
		return nil, err
	}
	l := &Lab{
		Dir:         dir,
		User:        chronyUser,
		UID:         uid,
		GID:         gid,
		SocketPath:  filepath.Join(dir, "run", "chronyd.sock"),
		Unreachable: netip.AddrFrom4([4]byte{127, 0, 2, 1}),
		NoSelect:    netip.AddrFrom4([4]byte{127, 0, 2, 2}),
		chronyc:     chronyc,
	}
	for k := 1; k <= n; k++ {
		l.Reachable = append(l.Reachable, netip.AddrFrom4([4]byte{127, 0, 1, byte(k)}))
	}
	fail := func(err error) (*Lab, error) {
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}

	ports, err := labFreePorts()
	if err != nil {
		return fail(err)
	}
	l.ntpPort = ports[0]
	silentPort := ports[1]
	l.UDPAddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), ports[2])

	serverConf := filepath.Join(dir, "server.conf")
	clientConf := filepath.Join(dir, "client.conf")
	serverText := labServerConf(dir, l.ntpPort) + cfg.labServerExtra
	clientText := labClientConf(l, silentPort)
	if err := os.WriteFile(serverConf, []byte(serverText), 0o644); err != nil {
		return fail(fmt.Errorf("chronytest: %w", err))
	}
	if err := os.WriteFile(clientConf, []byte(clientText), 0o644); err != nil {
		return fail(fmt.Errorf("chronytest: %w", err))
	}

	// -4 keeps both daemons off IPv6, so nothing binds [::]:port or
	// [::1]:cmdport, which the free-port probe did not check. -x leaves the
	// system clock alone. -d keeps chronyd in the foreground so its PID is
	// ours and its log goes to our buffers.
	// The shell sets the umask chronyd makes its files under (labUmask).
	command := func(conf string) *exec.Cmd {
		return exec.Command("/bin/sh", "-c", "umask "+labUmask+" && exec \"$0\" \"$@\"",
			chronyd, "-4", "-d", "-x", "-u", chronyUser, "-f", conf)
	}
	l.server = &labDaemon{name: "server chronyd", conf: serverText, cmd: command(serverConf)}
	l.client = &labDaemon{name: "client chronyd", conf: clientText, cmd: command(clientConf)}
	for _, d := range []*labDaemon{l.server, l.client} {
		if err := d.start(); err != nil {
			return fail(err)
		}
	}
	if err := l.labStartWatchdog(); err != nil {
		return fail(err)
	}

	if err := l.waitSelected(ctx); err != nil {
		return fail(err)
	}
	return l, nil
}

func labDefaultTimeout(reachable int) time.Duration {
	if reachable <= 64 {
		return labStartTimeout
	}
	return labStartTimeout + time.Duration(reachable-64)*labPerExtraSource
}

// labFindBinary looks in PATH first and then where Debian installs chrony,
// because root's PATH in containers sometimes lacks /usr/sbin.
func labFindBinary(name, fallback string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if fi, err := os.Stat(fallback); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return fallback, nil
	}
	return "", fmt.Errorf("chronytest: %s not found in PATH or at %s; the chronyd lab needs chrony installed: %s", name, fallback, labInstallHint)
}

// labLookupChronyUser finds the account chronyd drops to: Debian's package
// uses _chrony, Fedora/Arch use chrony. The socket directory must belong to it.
func labLookupChronyUser() (name string, uid, gid int, err error) {
	for _, name := range []string{"_chrony", "chrony"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil {
			continue
		}
		return name, uid, gid, nil
	}
	return "", 0, 0, fmt.Errorf("chronytest: no _chrony (or chrony) user; the chrony package creates it: %s", labInstallHint)
}

// labMakeDir creates the lab directory outside t.TempDir (whose 0700 parents
// _chrony cannot traverse). It leaves run/, the socket directory, to chronyd,
// which makes it and its socket as a stock chronyd does under umask 022:
// directory 0750 and socket 0755, both owned by the chronyd user, so that
// only root and that user can use the socket. Tests see the modes operators
// have.
//
// The server chronyd, which has no socket, keeps its pid file in server/,
// owned by the chronyd user so that it can remove the file at exit.
func labMakeDir(uid, gid int) (string, error) {
	dir, err := os.MkdirTemp("", "chronytest-lab-")
	if err != nil {
		return "", fmt.Errorf("chronytest: %w", err)
	}
	cleanup := func(err error) (string, error) {
		os.RemoveAll(dir)
		return "", fmt.Errorf("chronytest: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return cleanup(err)
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return cleanup(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return cleanup(fmt.Errorf("%s (mode %v) is not searchable by others, so chronyd cannot reach its socket under %s after dropping to _chrony; set TMPDIR to a world-searchable directory", p, fi.Mode().Perm(), dir))
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	server := filepath.Join(dir, "server")
	if err := os.Mkdir(server, 0o755); err != nil {
		return cleanup(err)
	}
	if err := os.Chown(server, uid, gid); err != nil {
		return cleanup(err)
	}
	return dir, nil
}

// labUmask is the umask chronyd starts with: systemd's default and a login
// shell's, under which chronyd makes its socket directory 0750 and its
// socket 0755.
const labUmask = "022"

// labPortsMu and labPortsTaken stop two labs in one test binary from getting
// the same port: a port probed and closed by one lab can be handed straight
// to the next probe before the first lab's chronyd has bound it.
var (
	labPortsMu    sync.Mutex
	labPortsTaken = map[uint16]bool{}
)

// labFreePorts returns three distinct free UDP ports: the server's NTP port
// (probed on 0.0.0.0 because the server binds the wildcard address so that
// every 127.0.1.K reaches it), a port nobody will answer on, and the client's
// command port (probed on 127.0.0.1, where it binds).
func labFreePorts() ([3]uint16, error) {
	labPortsMu.Lock()
	defer labPortsMu.Unlock()
	var ports [3]uint16
	var held []net.PacketConn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	hosts := [3]string{"0.0.0.0", "0.0.0.0", "127.0.0.1"}
	for i := 0; i < len(ports); {
		c, err := net.ListenPacket("udp4", net.JoinHostPort(hosts[i], "0"))
		if err != nil {
			return ports, fmt.Errorf("chronytest: finding a free UDP port: %w", err)
		}
		held = append(held, c)
		p := uint16(c.LocalAddr().(*net.UDPAddr).Port)
		if labPortsTaken[p] {
			if len(held) > 64 {
				return ports, errors.New("chronytest: no free UDP port that another lab has not used")
			}
			continue
		}
		labPortsTaken[p] = true
		ports[i] = p
		i++
	}
	return ports, nil
}

// labServerConf is the one chronyd that answers for all reachable sources.
func labServerConf(dir string, port uint16) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# chronytest lab: NTP server for every 127.0.1.K source\n")
	// Serve time without any source of its own.
	fmt.Fprintf(&b, "local stratum 3\n")
	fmt.Fprintf(&b, "allow all\n")
	// The server binds 0.0.0.0:port so that any 127.0.1.K reaches it;
	// binddevice keeps it off every interface but loopback.
	fmt.Fprintf(&b, "port %d\n", port)
	fmt.Fprintf(&b, "binddevice lo\n")
	// No command access at all: only the client chronyd is asked.
	fmt.Fprintf(&b, "cmdport 0\n")
	fmt.Fprintf(&b, "bindcmdaddress /\n")
	// The built-in /run/chrony/chronyd.pid would clash with a system chronyd
	// and other labs. In a directory of the chronyd user because chronyd
	// removes it at exit as that user and cannot in a root-owned directory
	// ("Could not remove ...").
	fmt.Fprintf(&b, "pidfile %s\n", filepath.Join(dir, "server", "server.pid"))
	return b.String()
}

// labClientConf is the chronyd that tests query.
//
// minpoll 0 is the shortest interval that works: sub-second polling (minpoll
// < 0, allowed down to -6 in 4.3) selects a source sooner but then keeps
// most sources at '-' or 'D' for a minute or more because of jitter. Each
// source needs three samples before chronyd selects anything, and chronyd
// spaces all client requests by 2^(poll-3) s = 125 ms, so the first '*'
// comes after about 3*(N+2)*0.125 s: ~2 s for 3 sources, 24.8 s for 64.
// With 64 a few sources then stay '-' until their next sample, so all are
// combined after 33-40 s. maxpoll (0, 2 or 4) makes no difference to that;
// 4 keeps the load low once the lab has settled.
func labClientConf(l *Lab, silentPort uint16) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# chronytest lab: the chronyd that tests query\n")
	for _, a := range l.Reachable {
		fmt.Fprintf(&b, "server %s port %d iburst minpoll 0 maxpoll 4\n", a, l.ntpPort)
	}
	// Nobody listens on silentPort, so these never get a reply.
	fmt.Fprintf(&b, "server %s port %d\n", l.Unreachable, silentPort)
	fmt.Fprintf(&b, "server %s port %d noselect\n", l.NoSelect, silentPort)
	// A client only: no NTP server socket.
	fmt.Fprintf(&b, "port 0\n")
	fmt.Fprintf(&b, "bindcmdaddress %s\n", l.UDPAddr.Addr())
	fmt.Fprintf(&b, "cmdport %d\n", l.UDPAddr.Port())
	// chronyd makes the socket's directory, run/, itself; the pid file goes
	// there too, so that chronyd can remove it at exit.
	fmt.Fprintf(&b, "bindcmdaddress %s\n", l.SocketPath)
	fmt.Fprintf(&b, "pidfile %s\n", filepath.Join(l.Dir, "run", "client.pid"))
	return b.String()
}

// labWatchdogScript cleans up after a test binary that dies without calling
// Close (panic, -timeout, SIGKILL). chronyd cannot be tied to our lifetime
// with Pdeathsig: the kernel clears it when chronyd drops to _chrony. So a
// small shell waits for EOF on a pipe whose only writer is this process,
// which the kernel closes however we die; it then stops the daemons and
// removes the lab directory. Checking the name keeps a recycled PID safe.
const labWatchdogScript = `dir=$1; shift
# A zombie counts as gone: init reaps the orphans when it gets to it.
running() {
	read -r _ c st _ </proc/"$1"/stat 2>/dev/null && [ "$c" = "(chronyd)" ] && [ "$st" != Z ]
}
read -r _
for p in "$@"; do running "$p" && kill -TERM "$p" 2>/dev/null; done
n=0
while [ $n -lt 50 ]; do
	alive=
	for p in "$@"; do running "$p" && alive=1; done
	[ -z "$alive" ] && break
	sleep 0.1
	n=$((n + 1))
done
for p in "$@"; do running "$p" && kill -KILL "$p" 2>/dev/null; done
rm -rf -- "$dir"
`

// labStartWatchdog starts labWatchdogScript for the running daemons.
func (l *Lab) labStartWatchdog() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("chronytest: watchdog pipe: %w", err)
	}
	args := []string{"-c", labWatchdogScript, "chronytest-watchdog", l.Dir}
	for _, d := range []*labDaemon{l.server, l.client} {
		args = append(args, strconv.Itoa(d.cmd.Process.Pid))
	}
	cmd := exec.Command("/bin/sh", args...)
	cmd.Stdin = r
	// Its own process group, so that the ^C which kills `go test` does not
	// kill the watchdog before it has cleaned up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return fmt.Errorf("chronytest: starting watchdog: %w", err)
	}
	l.watchdog, l.watchdogPipe = cmd, w
	return nil
}

// labStopWatchdog kills the watchdog without letting it act: Close is doing
// its job. It sits in the shell's read builtin, so it has no children.
func (l *Lab) labStopWatchdog() {
	if l.watchdog == nil {
		return
	}
	_ = l.watchdog.Process.Kill()
	_ = l.watchdog.Wait()
	l.watchdogPipe.Close()
	l.watchdog = nil
}

func (d *labDaemon) start() error {
	d.out = &testenv.Buffer{}
	d.done = make(chan struct{})
	d.cmd.Stdout = d.out
	d.cmd.Stderr = d.out
	if err := d.cmd.Start(); err != nil {
		close(d.done)
		return fmt.Errorf("chronytest: starting %s: %w", d.name, err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.done)
	}()
	return nil
}

// waitSelected polls the client's sources until the lab is in its steady
// state, failing fast if a daemon dies.
func (l *Lab) waitSelected(ctx context.Context) error {
	t := time.NewTicker(labPollEvery)
	defer t.Stop()
	var last string
	for {
		for _, d := range []*labDaemon{l.server, l.client} {
			if d.exited() {
				return fmt.Errorf("chronytest: %s exited early (%v)%s%s", d.name, d.waitErr, l.outputs(), d.numberedConf())
			}
		}
		out, err := l.runChronyc(ctx, "sources")
		if err == nil {
			last = out
			if l.labReady(out) {
				return nil
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chronytest: client chronyd did not select and combine all %d reachable sources: %w\nlast chronyc sources:\n%s%s", len(l.Reachable), context.Cause(ctx), last, l.outputs())
		case <-t.C:
		}
	}
}

// labReady reports whether one source is selected and every reachable one
// is combined with it.
func (l *Lab) labReady(sources string) bool {
	st := labSourceStates(sources)
	selected := false
	for _, s := range st {
		if s == "*" {
			selected = true
		}
	}
	if !selected {
		return false
	}
	for _, a := range l.Reachable {
		if s := st[a]; s != "*" && s != "+" {
			return false
		}
	}
	return true
}

// labSourceStates maps each address in `chronyc -c -n sources` output to its
// state column.
func labSourceStates(out string) map[netip.Addr]string {
	st := map[netip.Addr]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		if a, err := netip.ParseAddr(f[2]); err == nil {
			st[a] = f[1]
		}
	}
	return st
}

// runChronyc asks the client chronyd over its Unix socket.
func (l *Lab) runChronyc(ctx context.Context, args ...string) (string, error) {
	return l.labChronycAt(ctx, []string{"-h", l.SocketPath}, args...)
}

// labChronycAt runs chronyc in CSV, numeric mode against the given
// -h/-p options and returns its stdout.
func (l *Lab) labChronycAt(ctx context.Context, target []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, labChronycTimeout)
	defer cancel()
	full := append(append(append([]string{}, target...), "-n", "-c"), args...)
	cmd := exec.CommandContext(ctx, l.chronyc, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("chronyc %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(full, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// outputs formats what both daemons printed, for error messages.
func (l *Lab) outputs() string {
	var b strings.Builder
	for _, d := range []*labDaemon{l.server, l.client} {
		if d == nil || d.out == nil {
			continue
		}
		fmt.Fprintf(&b, "\n--- %s output (%s):\n%s", d.name, strings.Join(d.cmd.Args, " "), d.out.String())
	}
	return b.String()
}

// numberedConf formats the daemon's chrony.conf the way chronyd counts lines.
func (d *labDaemon) numberedConf() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n--- %s config:\n", d.name)
	for i, line := range strings.Split(strings.TrimSuffix(d.conf, "\n"), "\n") {
		fmt.Fprintf(&b, "%4d  %s\n", i+1, line)
	}
	return b.String()
}

// PIDs returns the process IDs of the server chronyd and the client
// chronyd, e.g. to place them on CPUs of their own in a benchmark.
func (l *Lab) PIDs() []int {
	return []int{l.server.cmd.Process.Pid, l.client.cmd.Process.Pid}
}

// Close stops both chronyd (SIGTERM, then SIGKILL after a few seconds), waits for them and removes Dir. Idempotent. After it returns no process and no file of the lab remains.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() {
		var errs []error
		l.labStopWatchdog()
		for _, d := range []*labDaemon{l.client, l.server} {
			if err := d.stop(); err != nil {
				errs = append(errs, err)
			}
		}
		if l.Dir != "" {
			if err := os.RemoveAll(l.Dir); err != nil {
				errs = append(errs, fmt.Errorf("chronytest: removing lab dir: %w", err))
			}
		}
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

// stop ends the daemon and waits for it. An exit status after SIGTERM or
// SIGKILL is expected and not an error; a daemon that survives SIGKILL is.
func (d *labDaemon) stop() error {
	if d == nil || d.done == nil {
		return nil
	}
	if d.exited() {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(labTermGrace):
	}
	return d.kill()
}

// kill sends SIGKILL and waits for the daemon to exit.
func (d *labDaemon) kill() error {
	if err := d.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("chronytest: killing %s: %w", d.name, err)
	}
	select {
	case <-d.done:
		return nil
	case <-time.After(labTermGrace):
		return fmt.Errorf("chronytest: %s (pid %d) survived SIGKILL", d.name, d.cmd.Process.Pid)
	}
}

// StartLab starts a lab for a test or benchmark and closes it in tb.Cleanup. It calls tb.Fatal (never Skip) when chronyd cannot be started, with chronyd's own output in the message and, if chronyd is not installed, the exact command to install it (apt-get install -y chrony).
func StartLab(tb testing.TB, cfg Config) *Lab {
	tb.Helper()
	l, err := Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("chronyd lab failed to start: %v", err)
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Errorf("closing chronyd lab: %v", err)
		}
	})
	return l
}

// Chronyc runs `chronyc -h <SocketPath> -n -c <args...>` and returns its stdout (fails the test on error).
func (l *Lab) Chronyc(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := l.runChronyc(context.Background(), args...)
	if err != nil {
		tb.Fatalf("%v%s", err, l.outputs())
	}
	return out
}
