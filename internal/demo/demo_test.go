//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// asMain makes the test binary run the demo's main: the test starts the
// demo as `make demo` does, in a process of its own, and stops it as
// `make demo-stop` does, from another process.
const asMain = "CHRONY_DEMO_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const (
	// The lab settles 6 sources in about 4 s; the rest is the exporter and
	// Prometheus starting. Generous for a loaded machine.
	demoReadyTimeout = 60 * time.Second
	demoExitTimeout  = 40 * time.Second
)

// TestDemo runs the demo twice, as a user would: started in the background,
// checked over HTTP, then stopped with -stop (make demo-stop) once and with
// SIGINT (Ctrl-C) once. Each time, no process and no file may remain.
func TestDemo(t *testing.T) {
	exporter := buildExporter(t)
	_, err := exec.LookPath("prometheus")
	withPrometheus := err == nil
	if !withPrometheus {
		t.Log("prometheus is not installed: testing the demo without it (make test-deps installs it)")
	}

	t.Run("make demo-stop", func(t *testing.T) {
		stateDir := filepath.Join(t.TempDir(), "state")
		d := startDemo(t, exporter, stateDir)
		st := d.waitReady(t)
		d.check(t, st, withPrometheus)

		// A second demo on the same state directory must refuse, and must
		// not disturb the first.
		out, err := demoCommand(t, "-exporter", exporter, "-state-dir", stateDir, "-listen", freeAddr(t), "-prometheus", "none").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "already running") {
			t.Errorf("a second demo on the same state directory: err %v, output:\n%s\nwant a refusal saying a demo is already running", err, out)
		}

		stop := demoCommand(t, "-stop", "-state-dir", stateDir)
		if out, err := stop.CombinedOutput(); err != nil {
			t.Fatalf("demo -stop: %v\n%s\ndemo output:\n%s", err, out, d.out)
		}
		// -stop returns once the demo has exited; Wait only reaps it.
		d.waitExit(t)
		checkNothingLeft(t, stateDir, st)

		// Stopping again says so and succeeds.
		if out, err := demoCommand(t, "-stop", "-state-dir", stateDir).CombinedOutput(); err != nil || !strings.Contains(string(out), "no demo is running") {
			t.Errorf("demo -stop with no demo: err %v, output:\n%s", err, out)
		}
	})

	t.Run("Ctrl-C", func(t *testing.T) {
		stateDir := filepath.Join(t.TempDir(), "state")
		d := startDemo(t, exporter, stateDir)
		st := d.waitReady(t)
		d.check(t, st, withPrometheus)
		if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		d.waitExit(t)
		checkNothingLeft(t, stateDir, st)
	})
}

// buildExporter builds the exporter of this tree, as make demo does.
func buildExporter(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the exporter: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "chrony_exporter")
	cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/chrony_exporter")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/chrony_exporter: %v\n%s", err, out)
	}
	return bin
}

// demoCommand runs the demo's main in a new process.
func demoCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), asMain+"=1")
	// The demo resolves the rule file relative to the repository root, as
	// make runs it.
	cmd.Dir = filepath.Join("..", "..")
	return cmd
}

type demo struct {
	cmd      *exec.Cmd
	out      *lockedBuffer
	stateDir string
	done     chan struct{}
	err      error
}

func startDemo(t *testing.T, exporter, stateDir string) *demo {
	t.Helper()
	d := &demo{out: &lockedBuffer{}, stateDir: stateDir, done: make(chan struct{})}
	d.cmd = demoCommand(t,
		"-exporter", exporter,
		"-state-dir", stateDir,
		"-listen", freeAddr(t),
		"-prometheus.listen", freeAddr(t),
		"-scrape-interval", "1s",
	)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
			return
		default:
		}
		// The test failed half-way: stop the demo so that it cleans up.
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(demoExitTimeout):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}

func (d *demo) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// waitReady waits until the demo's state file says everything is up.
func (d *demo) waitReady(t *testing.T) State {
	t.Helper()
	deadline := time.Now().Add(demoReadyTimeout)
	for {
		if d.exited() {
			t.Fatalf("the demo exited (%v) before it was ready:\n%s", d.err, d.out)
		}
		st, err := readState(d.stateDir)
		if err == nil && st.Ready {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo was not ready after %v (state %+v, %v):\n%s", demoReadyTimeout, st, err, d.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *demo) waitExit(t *testing.T) {
	t.Helper()
	select {
	case <-d.done:
	case <-time.After(demoExitTimeout):
		t.Fatalf("the demo did not exit within %v:\n%s", demoExitTimeout, d.out)
	}
	if d.err != nil {
		t.Errorf("the demo exited with %v:\n%s", d.err, d.out)
	}
	if !strings.Contains(d.out.String(), "no process or file of it is left") {
		t.Errorf("the demo did not report a clean stop:\n%s", d.out)
	}
}

// check looks at what the demo serves: the exporter with 8 sources of which
// 6 reachable, the status page, and Prometheus scraping it with the rules.
func (d *demo) check(t *testing.T, st State, withPrometheus bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), demoReadyTimeout)
	defer cancel()
	if !strings.Contains(d.out.String(), st.Exporter+"/") {
		t.Errorf("the demo did not print the status page URL %s/:\n%s", st.Exporter, d.out)
	}

	body, err := httpGet(ctx, st.Exporter+"/metrics")
	if err != nil {
		t.Fatalf("%v\n%s", err, d.out)
	}
	if !regexp.MustCompile(`(?m)^chrony_up 1$`).Match(body) {
		t.Errorf("no chrony_up 1 in /metrics")
	}
	sources, reachable := 0, 0
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, "chrony_sources_reachability_ratio{") {
			continue
		}
		sources++
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Errorf("cannot read %q: %v", line, err)
		}
		if v > 0 {
			reachable++
		}
	}
	if sources != 8 || reachable != 6 {
		t.Errorf("/metrics has %d sources of which %d reachable, want 8 and 6", sources, reachable)
	}
	if _, err := httpGet(ctx, st.Exporter+"/"); err != nil {
		t.Errorf("status page: %v", err)
	}

	if !withPrometheus {
		if st.Prometheus != "" {
			t.Errorf("the demo started Prometheus at %s, which is not installed", st.Prometheus)
		}
		return
	}
	if st.Prometheus == "" {
		t.Fatalf("prometheus is installed but the demo did not start it:\n%s", d.out)
	}
	// A scrape of the exporter and an evaluation of the rules.
	for {
		err := promHasData(ctx, st.Prometheus)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Prometheus: %v\n%s", err, d.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func promHasData(ctx context.Context, base string) error {
	body, err := httpGet(ctx, base+"/api/v1/query?query="+url.QueryEscape(`chrony_up{job="chrony"} == 1`))
	if err != nil {
		return err
	}
	var q struct {
		Data struct{ Result []json.RawMessage }
	}
	if err := json.Unmarshal(body, &q); err != nil {
		return err
	}
	if len(q.Data.Result) != 1 {
		return fmt.Errorf("chrony_up: %d series, want 1", len(q.Data.Result))
	}
	body, err = httpGet(ctx, base+"/api/v1/rules")
	if err != nil {
		return err
	}
	var r struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Health string
				}
			}
		}
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	n := 0
	for _, g := range r.Data.Groups {
		for _, rule := range g.Rules {
			if rule.Health != "ok" {
				return fmt.Errorf("rule health %q", rule.Health)
			}
			n++
		}
	}
	if n == 0 {
		return errors.New("no rules loaded")
	}
	return nil
}

// checkNothingLeft checks that the demo's directories are gone and that no
// process of it remains.
func checkNothingLeft(t *testing.T, stateDir string, st State) {
	t.Helper()
	for _, dir := range []string{stateDir, st.LabDir} {
		if dir == "" {
			t.Errorf("the state file names no lab directory: %+v", st)
			continue
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left behind (%v)", dir, err)
		}
		// chronyd's command line names its configuration in the lab
		// directory, the exporter's its socket, Prometheus's the state
		// directory.
		out, err := exec.Command("pgrep", "-a", "-f", dir).Output()
		if len(bytes.TrimSpace(out)) != 0 || err == nil {
			t.Errorf("processes left behind (pgrep -f %s):\n%s", dir, out)
		}
	}
	for _, pid := range append([]int{st.PID}, st.PIDs...) {
		if startTicks(pid) != 0 {
			t.Errorf("pid %d still runs", pid)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
