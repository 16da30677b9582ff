//go:build linux && integration

package chronytest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/prometheus/procfs"
)

// labTestState returns the state letter of a process (R, S, T, …).
func labTestState(t *testing.T, pid int) string {
	t.Helper()
	// procfs, not a reader of our own: it is in the module graph already.
	p, err := procfs.NewProc(pid)
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return st.State
}

func TestLabControl(t *testing.T) {
	t.Parallel()
	l, err := Start(context.Background(), Config{Reachable: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()

	if err := l.RestartClient(ctx); err == nil {
		t.Errorf("RestartClient of a running chronyd succeeded")
	}

	pid := l.ClientPID()
	if err := l.StopClient(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for labTestState(t, pid) != "T" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := labTestState(t, pid); s != "T" {
		t.Errorf("after StopClient the state is %q, want T", s)
	}
	if err := l.ContClient(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.runChronyc(ctx, "tracking"); err != nil {
		t.Errorf("after ContClient: %v", err)
	}

	if err := l.KillClient(); err != nil {
		t.Fatal(err)
	}
	if labTestAlive(pid) {
		t.Errorf("pid %d alive after KillClient", pid)
	}
	if _, err := os.Stat(l.SocketPath); err != nil {
		t.Errorf("socket after SIGKILL: %v; a crash leaves it behind", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = l.runChronyc(cctx, "tracking")
	cancel()
	if err == nil {
		t.Errorf("chronyc answered with chronyd killed")
	}

	if err := l.RestartClient(ctx); err != nil {
		t.Fatal(err)
	}
	newPID := l.ClientPID()
	if newPID == pid || !labTestAlive(newPID) {
		t.Errorf("after RestartClient: pid %d (was %d)", newPID, pid)
	}
	if _, err := l.runChronyc(ctx, "tracking"); err != nil {
		t.Errorf("after RestartClient: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if labTestAlive(newPID) {
		t.Errorf("restarted chronyd %d alive after Close", newPID)
	}
}
