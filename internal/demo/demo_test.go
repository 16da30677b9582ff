//go:build linux && integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/second-hand/chrony_exporter/internal/testenv"
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
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

const (
	// The lab settling its sources, the exporter and Prometheus starting,
	// with room for a loaded machine.
	demoReadyTimeout = 60 * time.Second
	demoExitTimeout  = 40 * time.Second
)

// TestDemo runs the demo twice, as a user would: started in the background,
// checked over HTTP, then stopped with -stop (make demo-stop) once and with
// SIGINT (Ctrl-C) once. Each time, no process and no file may remain.
func TestDemo(t *testing.T) {
	exporter, err := testenv.Exporter()
	if err != nil {
		t.Fatal(err)
	}
	_, err = exec.LookPath("prometheus")
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
		out, err := demoCommand(t, "-exporter", exporter, "-state-dir", stateDir, "-listen", testenv.FreeTCPAddr(t), "-prometheus", "none").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "already running") {
			t.Errorf("a second demo on the same state directory: err %v, output:\n%s\nwant a refusal saying a demo is already running", err, out)
		}

		stop := demoCommand(t, "-stop", "-state-dir", stateDir)
		if out, err := stop.CombinedOutput(); err != nil {
			t.Fatalf("demo -stop: %v\n%s\ndemo output:\n%s", err, out, d.Out)
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
		if err := d.Cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		d.waitExit(t)
		checkNothingLeft(t, stateDir, st)
	})
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

// demo is a running demo; its output is in Out.
type demo struct {
	*testenv.Process
	stateDir string
}

// startDemo starts a demo, stopped at the end of the test if the test has
// not stopped it, which its own clean-up may take a while to do.
func startDemo(t *testing.T, exporter, stateDir string) *demo {
	t.Helper()
	cmd := demoCommand(t,
		"-exporter", exporter,
		"-state-dir", stateDir,
		"-listen", testenv.FreeTCPAddr(t),
		"-prometheus.listen", testenv.FreeTCPAddr(t),
		"-scrape-interval", "1s",
	)
	d := &demo{Process: testenv.StartProcess(t, "the demo", cmd), stateDir: stateDir}
	d.Grace = demoExitTimeout
	return d
}

// waitReady waits until the demo's state file says everything is up.
func (d *demo) waitReady(t *testing.T) State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), demoReadyTimeout)
	defer cancel()
	var st State
	err := d.WaitFor(ctx, "the demo to be ready", func() error {
		s, err := readState(d.stateDir)
		if err != nil {
			return err
		}
		if !s.Ready {
			return fmt.Errorf("state %+v", s)
		}
		st = s
		return nil
	})
	if err != nil {
		t.Fatalf("%v:\n%s", err, d.Out)
	}
	return st
}

func (d *demo) waitExit(t *testing.T) {
	t.Helper()
	if err := d.Wait(demoExitTimeout); err != nil {
		if !d.Exited() {
			t.Fatalf("%v:\n%s", err, d.Out)
		}
		t.Errorf("the demo exited with %v:\n%s", err, d.Out)
	}
	if !strings.Contains(d.Out.String(), "no process or file of it is left") {
		t.Errorf("the demo did not report a clean stop:\n%s", d.Out)
	}
}

// check looks at what the demo serves: the exporter with 8 sources of which
// 6 reachable, the status page, and Prometheus scraping it with the rules.
func (d *demo) check(t *testing.T, st State, withPrometheus bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), demoReadyTimeout)
	defer cancel()
	if !strings.Contains(d.Out.String(), st.Exporter+"/") {
		t.Errorf("the demo did not print the status page URL %s/:\n%s", st.Exporter, d.Out)
	}

	body, err := httpGet(ctx, st.Exporter+"/metrics")
	if err != nil {
		t.Fatalf("%v\n%s", err, d.Out)
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
		t.Fatalf("prometheus is installed but the demo did not start it:\n%s", d.Out)
	}
	// A scrape of the exporter and an evaluation of the rules.
	for {
		err := promHasData(ctx, st.Prometheus)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Prometheus: %v\n%s", err, d.Out)
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
