//go:build linux

// Command demo shows chrony_exporter working on real data: a sealed chronyd
// pair on loopback (chronytest.Start, -x: the system clock is never
// touched), the exporter against its Unix socket, and Debian's Prometheus
// with rules/chrony.rules.yml when it is installed.
//
//	make demo        # go run ./internal/demo; Ctrl-C stops it
//	make demo-stop   # go run ./internal/demo -stop, from another shell
//
// Everything it creates lives in -state-dir (Prometheus's configuration and
// data, the logs, the state file that -stop reads) and in the lab's own
// directory; both are removed when it stops, as are all its processes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

const (
	defaultListen     = ":9123"
	defaultPromListen = ":9090"
	// How long the exporter and Prometheus get to become ready, and to
	// exit on SIGTERM.
	readyTimeout = 30 * time.Second
	stopGrace    = 10 * time.Second
	// How long -stop waits for the demo to clean up and exit.
	stopWait = 30 * time.Second
	// stateFile is the file in the state directory that -stop reads.
	stateFile = "state.json"
)

// State is what a running demo records in <state dir>/state.json, for
// -stop and for tests.
type State struct {
	PID        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"` // /proc/<pid>/stat field 22, against a recycled PID
	Ready      bool   `json:"ready"`
	LabDir     string `json:"lab_dir,omitempty"`
	Socket     string `json:"socket,omitempty"`
	Exporter   string `json:"exporter_url,omitempty"`
	Prometheus string `json:"prometheus_url,omitempty"`
	PIDs       []int  `json:"pids,omitempty"` // exporter and Prometheus
}

type options struct {
	exporter      string
	listen        string
	promListen    string
	prometheus    string
	rules         string
	stateDir      string
	scrape        time.Duration
	reachable     int
	stop          bool
	listenSet     bool // -listen given: no fallback to a free port
	promListenSet bool // -prometheus.listen given: no fallback
}

func main() {
	var o options
	flag.StringVar(&o.exporter, "exporter", "./chrony_exporter", "the exporter binary to run (make demo builds it)")
	flag.StringVar(&o.listen, "listen", defaultListen, "the exporter's --web.listen-address; when the default is taken, a free port is used instead")
	flag.StringVar(&o.promListen, "prometheus.listen", defaultPromListen, "Prometheus's --web.listen-address; when the default is taken, a free port is used instead")
	flag.StringVar(&o.prometheus, "prometheus", "auto", `the prometheus binary; "auto" looks in PATH, "none" runs without Prometheus`)
	flag.StringVar(&o.rules, "rules", "rules/chrony.rules.yml", "the rule file Prometheus loads")
	flag.StringVar(&o.stateDir, "state-dir", filepath.Join(os.TempDir(), "chrony_exporter-demo"), "where the demo keeps its state, logs and Prometheus data; removed at exit")
	flag.DurationVar(&o.scrape, "scrape-interval", 5*time.Second, "Prometheus's scrape and rule evaluation interval")
	flag.IntVar(&o.reachable, "reachable", 6, "reachable sources; chronyd also gets one unreachable and one noselect source")
	flag.BoolVar(&o.stop, "stop", false, "stop the demo running with this -state-dir, and wait until it has cleaned up")
	flag.Parse()
	flag.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			o.listenSet = true
		case "prometheus.listen":
			o.promListenSet = true
		}
	})
	if flag.NArg() > 0 {
		fatalf("unexpected arguments: %q", flag.Args())
	}
	var err error
	if o.stop {
		err = stop(o.stateDir)
	} else {
		err = run(o)
	}
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Printf(">> "+format+"\n", args...)
}

// run starts everything, waits for a signal or for a process to die, and
// stops everything. Every resource is registered in cleanups as soon as it
// exists, so an error at any step leaves nothing behind either.
func run(o options) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("the demo needs root: chronyd must start as root to drop to its _chrony user (it runs with -x and never touches the clock). Run: sudo make demo")
	}
	exporter, err := filepath.Abs(o.exporter)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(exporter); err != nil || fi.IsDir() {
		return fmt.Errorf("no exporter binary at %s: `make demo` builds it (go build -o chrony_exporter ./cmd/chrony_exporter)", o.exporter)
	}
	prometheus, err := findPrometheus(o.prometheus)
	if err != nil {
		return err
	}
	rules, err := filepath.Abs(o.rules)
	if err != nil {
		return err
	}
	if prometheus != "" {
		if _, err := os.Stat(rules); err != nil {
			return fmt.Errorf("rule file: %w", err)
		}
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	if err := claimStateDir(o.stateDir); err != nil {
		return err
	}
	var cleanups []func() error
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			if cerr := cleanups[i](); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
		if err == nil {
			logf("demo stopped; no process or file of it is left")
		}
	}()
	cleanups = append(cleanups, func() error {
		if err := os.RemoveAll(o.stateDir); err != nil {
			return fmt.Errorf("removing %s: %w", o.stateDir, err)
		}
		return nil
	})
	st := State{PID: os.Getpid(), StartTicks: startTicks(os.Getpid())}
	if err := writeState(o.stateDir, st); err != nil {
		return err
	}

	listen, err := pickListen(o.listen, !o.listenSet, "the exporter")
	if err != nil {
		return err
	}
	var promListen string
	if prometheus != "" {
		promListen, err = pickListen(o.promListen, !o.promListenSet, "Prometheus")
		if err != nil {
			return err
		}
	}

	logf("starting a sealed chronyd pair on loopback: %d reachable sources, one unreachable, one noselect (chronyd -x: the clock is not touched)", o.reachable)
	t0 := time.Now()
	lab, err := chronytest.Start(ctx, chronytest.Config{Reachable: o.reachable})
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted while chronyd was starting")
		}
		return err
	}
	cleanups = append(cleanups, lab.Close)
	st.LabDir, st.Socket = lab.Dir, lab.SocketPath
	if err := writeState(o.stateDir, st); err != nil {
		return err
	}
	logf("chronyd has selected its sources after %.1fs", time.Since(t0).Seconds())

	exp, err := startProcess("chrony_exporter", filepath.Join(o.stateDir, "exporter.log"), exporter,
		"--chrony.address=unix://"+lab.SocketPath,
		"--web.listen-address="+listen,
	)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, exp.stop)
	st.PIDs = append(st.PIDs, exp.cmd.Process.Pid)
	expURL := "http://" + hostPort(listen)
	st.Exporter = expURL
	if err := writeState(o.stateDir, st); err != nil {
		return err
	}
	if err := waitReady(ctx, exp, "the exporter to report chrony_up 1", func(ctx context.Context) error {
		body, err := httpGet(ctx, expURL+"/metrics")
		if err != nil {
			return err
		}
		if !regexp.MustCompile(`(?m)^chrony_up 1$`).Match(body) {
			return errors.New("no chrony_up 1 yet")
		}
		return nil
	}); err != nil {
		return err
	}

	var prom *process
	var promURL string
	if prometheus != "" {
		config := filepath.Join(o.stateDir, "prometheus.yml")
		if err := os.WriteFile(config, []byte(prometheusConfig(o.scrape, rules, hostPort(listen))), 0o644); err != nil {
			return err
		}
		prom, err = startProcess("prometheus", filepath.Join(o.stateDir, "prometheus.log"), prometheus,
			"--config.file="+config,
			"--storage.tsdb.path="+filepath.Join(o.stateDir, "prometheus-data"),
			"--web.listen-address="+promListen,
		)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, prom.stop)
		st.PIDs = append(st.PIDs, prom.cmd.Process.Pid)
		promURL = "http://" + hostPort(promListen)
		st.Prometheus = promURL
		if err := writeState(o.stateDir, st); err != nil {
			return err
		}
		if err := waitReady(ctx, prom, "Prometheus to be ready", func(ctx context.Context) error {
			_, err := httpGet(ctx, promURL+"/-/ready")
			return err
		}); err != nil {
			return err
		}
	}

	st.Ready = true
	if err := writeState(o.stateDir, st); err != nil {
		return err
	}
	fmt.Printf("\nchrony_exporter demo, ready after %.1fs (Ctrl-C or `make demo-stop` stops it):\n\n", time.Since(t0).Seconds())
	fmt.Printf("  status page  %s/\n", expURL)
	fmt.Printf("  metrics      %s/metrics\n", expURL)
	if prom != nil {
		fmt.Printf("  Prometheus   %s/   (rules: %s/rules, alerts: %s/alerts)\n", promURL, promURL, promURL)
	} else {
		fmt.Printf("  Prometheus   not installed; apt-get install -y prometheus adds it to the demo\n")
	}
	fmt.Printf("  chronyd      %d sources: %s..%s reachable, %s unreachable, %s noselect\n",
		len(lab.Reachable)+2, lab.Reachable[0], lab.Reachable[len(lab.Reachable)-1], lab.Unreachable, lab.NoSelect)
	fmt.Printf("               chronyc -h %s sources\n", lab.SocketPath)
	fmt.Printf("  logs         %s\n\n", o.stateDir)

	procs := []*process{exp}
	if prom != nil {
		procs = append(procs, prom)
	}
	return waitEnd(ctx, procs)
}

// waitEnd returns nil when the demo is asked to stop, and an error when one
// of its processes dies first.
func waitEnd(ctx context.Context, procs []*process) error {
	died := make(chan *process, len(procs))
	for _, p := range procs {
		go func() {
			<-p.done
			died <- p
		}()
	}
	select {
	case <-ctx.Done():
		fmt.Println()
		logf("stopping")
		return nil
	case p := <-died:
		return fmt.Errorf("%s exited (%v); its log:\n%s", p.name, p.err, p.tail())
	}
}

func findPrometheus(flagValue string) (string, error) {
	switch flagValue {
	case "none":
		return "", nil
	case "auto":
		p, err := exec.LookPath("prometheus")
		if err != nil {
			logf("prometheus is not installed: the demo runs without it (apt-get install -y prometheus adds it)")
			return "", nil
		}
		return p, nil
	}
	return exec.LookPath(flagValue)
}

// claimStateDir makes sure no other demo uses dir and creates it. A state
// directory whose demo is dead (SIGKILL) is removed: chronytest's watchdog
// and Pdeathsig have already ended its processes.
func claimStateDir(dir string) error {
	if st, err := readState(dir); err == nil {
		if alive(st) {
			return fmt.Errorf("a demo is already running (pid %d, state in %s); stop it with: make demo-stop", st.PID, dir)
		}
		logf("removing the state of a demo that died (pid %d): %s", st.PID, dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("creating the state directory: %w", err)
	}
	return nil
}

func writeState(dir string, st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, stateFile))
}

func readState(dir string) (State, error) {
	var st State
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	return st, nil
}

// startTicks returns when a process started, or 0 when it does not exist
// or has exited (a zombie).
func startTicks(pid int) uint64 {
	// procfs, not a reader of our own: it is in the module graph already.
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0
	}
	st, err := p.Stat()
	if err != nil || st.State == "Z" {
		return 0
	}
	return st.Starttime
}

// alive reports whether the demo that wrote st is still running.
func alive(st State) bool {
	return st.PID > 0 && st.StartTicks != 0 && startTicks(st.PID) == st.StartTicks
}

// stop asks the demo recorded in dir to stop and waits until it has exited
// and removed its state directory.
func stop(dir string) error {
	st, err := readState(dir)
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(dir); serr == nil {
			return fmt.Errorf("%s exists but has no %s; remove it if no demo runs", dir, stateFile)
		}
		fmt.Println("no demo is running")
		return nil
	}
	if err != nil {
		return err
	}
	if !alive(st) {
		logf("the demo (pid %d) is not running; removing its state %s", st.PID, dir)
		return os.RemoveAll(dir)
	}
	logf("stopping the demo (pid %d)", st.PID)
	if err := syscall.Kill(st.PID, syscall.SIGTERM); err != nil {
		return fmt.Errorf("signalling pid %d: %w", st.PID, err)
	}
	deadline := time.Now().Add(stopWait)
	for alive(st) {
		if time.Now().After(deadline) {
			return fmt.Errorf("the demo (pid %d) did not exit within %v of SIGTERM", st.PID, stopWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("the demo exited but left %s behind", dir)
	}
	logf("demo stopped; no process or file of it is left")
	return nil
}

// pickListen returns addr when it can be listened on. When it is taken and
// fallback is set, it returns a free port on the same host and says so.
func pickListen(addr string, fallback bool, who string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err == nil {
		l.Close()
		return addr, nil
	}
	if !fallback {
		return "", fmt.Errorf("%s cannot listen on %s: %w", who, addr, err)
	}
	host, _, _ := net.SplitHostPort(addr)
	l, err2 := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err2 != nil {
		return "", fmt.Errorf("%s cannot listen on %s (%v), nor on a free port: %w", who, addr, err, err2)
	}
	free := l.Addr().(*net.TCPAddr).Port
	l.Close()
	picked := net.JoinHostPort(host, strconv.Itoa(free))
	logf("%s is taken (%v): %s listens on %s instead", addr, errors.Unwrap(err), who, picked)
	if who == "Prometheus" {
		logf("(Debian's prometheus service holds :9090 when installed; `systemctl stop prometheus` frees it)")
	}
	return picked, nil
}

// hostPort turns a listen address into one to connect to: an empty or
// wildcard host becomes localhost.
func hostPort(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func prometheusConfig(interval time.Duration, rules, target string) string {
	return fmt.Sprintf(`# Written by the chrony_exporter demo; removed when it stops.
global:
  scrape_interval: %[1]s
  evaluation_interval: %[1]s
rule_files:
  - %[2]q
scrape_configs:
  - job_name: chrony
    static_configs:
      - targets: [%[3]q]
`, interval, rules, target)
}

// process is a child that dies with the demo: Pdeathsig kills it if the
// demo is killed before it can stop it.
type process struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProcess(name, logPath, path string, args ...string) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	p := &process{name: name, log: logPath, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	// Its own process group, so that the terminal's Ctrl-C reaches only the
	// demo, which then stops its children in order.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	err = p.cmd.Start()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL, and waits.
func (p *process) stop() error {
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s (pid %d) ignored SIGTERM for %v and was killed", p.name, p.cmd.Process.Pid, stopGrace)
}

// tail returns the end of the process's log.
func (p *process) tail() string {
	f, err := os.Open(p.log)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > 20 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// waitReady polls check until it succeeds, the process dies, ctx ends or
// readyTimeout passes.
func waitReady(ctx context.Context, p *process, what string, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		if p.exited() {
			return fmt.Errorf("%s exited (%v) while waiting for %s; its log:\n%s", p.name, p.err, what, p.tail())
		}
		last := check(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("waiting for %s: gave up after %v (%v); its log:\n%s", what, readyTimeout, last, p.tail())
			}
			return fmt.Errorf("interrupted while waiting for %s", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func httpGet(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return body, nil
}
