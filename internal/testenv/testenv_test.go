package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary a child for the process tests: "serve"
// says so and waits for SIGTERM, "deaf" ignores SIGTERM.
const childEnv = "TESTENV_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "serve":
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		fmt.Println("serving")
		<-term
		fmt.Fprintln(os.Stderr, "stopped")
		os.Exit(0)
	case "deaf":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("serving")
		// Asleep, not blocked for good, which the runtime would call a
		// deadlock.
		for {
			time.Sleep(time.Minute)
		}
	}
	os.Exit(m.Run())
}

func child(t *testing.T, kind string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), childEnv+"="+kind)
	return cmd
}

// waitServing waits until the child has said it serves.
func waitServing(t *testing.T, p *Process) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitFor(ctx, "it to serve", func() error {
		if !strings.Contains(p.Out.String(), "serving") {
			return errors.New("not yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestProcessStop(t *testing.T) {
	p := StartProcess(t, "child", child(t, "serve"))
	waitServing(t, p)
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if !p.Exited() || !strings.Contains(p.Out.String(), "stopped") {
		t.Errorf("after Stop: exited %v, output %q; want both lines of the child", p.Exited(), p.Out)
	}
}

func TestProcessStopKills(t *testing.T) {
	p := StartProcess(t, "deaf child", child(t, "deaf"))
	p.Grace = 200 * time.Millisecond
	waitServing(t, p)
	if err := p.Stop(); err == nil || !strings.Contains(err.Error(), "killed it") {
		t.Errorf("Stop of a process that ignores SIGTERM: %v, want that it was killed", err)
	}
	if !p.Exited() {
		t.Error("the process still runs")
	}
}

func TestWaitForExit(t *testing.T) {
	p := StartProcess(t, "child", child(t, "serve"))
	p.Kill()
	err := p.WaitFor(context.Background(), "something", func() error { return errors.New("never") })
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("WaitFor on a killed process: %v, want that it exited", err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("Stop after Kill: %v, want nothing done", err)
	}
}

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Want") != "ok" {
			http.Error(w, "no header", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, "hello")
	}))
	defer srv.Close()
	r := Get(context.Background(), nil, srv.URL, http.Header{"X-Want": {"ok"}})
	if body, err := r.OK(); err != nil || body != "hello" {
		t.Errorf("Get with the header: %q, %v; want hello", body, err)
	}
	r = Get(context.Background(), nil, srv.URL, nil)
	if _, err := r.OK(); r.Status != http.StatusBadRequest || err == nil || !strings.Contains(err.Error(), "HTTP 400: no header") {
		t.Errorf("Get without the header: %d, %v; want 400 and its body in the error", r.Status, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := Get(ctx, nil, srv.URL, nil); r.Err == nil {
		t.Error("Get with a cancelled context succeeded")
	}
}

func TestFreeTCPAddr(t *testing.T) {
	addr := FreeTCPAddr(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("FreeTCPAddr = %q, want an address on 127.0.0.1", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	l.Close()
}
