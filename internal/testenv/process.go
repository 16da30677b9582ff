package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StopGrace is how long Stop waits after SIGTERM before it sends SIGKILL,
// unless a Process says otherwise.
const StopGrace = 10 * time.Second

// Process is a started command whose output is kept in Out.
type Process struct {
	// Name names the process in messages.
	Name string
	// Cmd is the command, started.
	Cmd *exec.Cmd
	// Out holds what the process wrote to the stdout and stderr that Start
	// gave it.
	Out *Buffer
	// Grace is how long Stop waits for the process to exit after SIGTERM;
	// zero is StopGrace.
	Grace time.Duration

	done chan struct{}
	err  error // from Wait, once done is closed

	stopOnce sync.Once
	stopErr  error
}

// Start starts cmd. Its stdout and stderr, where the caller set neither,
// go to the Process's Out; the kernel kills it if the test process dies
// first, so that no child outlives a crashed test; a Go child built with
// the race detector exits at once rather than waiting for reports.
func Start(name string, cmd *exec.Cmd) (*Process, error) {
	p := &Process{Name: name, Cmd: cmd, Out: &Buffer{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.Out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.Out
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// StartProcess starts cmd as Start does, failing t if it cannot, and
// stops it at the end of t unless the test stopped or killed it before; a
// process that then ignores SIGTERM or exits with an error fails t.
func StartProcess(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	p, err := Start(name, cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		first := false
		p.stopOnce.Do(func() { first, p.stopErr = true, p.stop() })
		if first && p.stopErr != nil {
			t.Error(p.stopErr)
		}
	})
	return p
}

// Done is closed once the process has exited and been waited for.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is the error of the process's exit (nil for status 0); it is valid
// once Done is closed.
func (p *Process) Err() error { return p.err }

// Wait waits up to timeout for the process to exit by itself and returns
// the error of its exit, or one saying it still runs.
func (p *Process) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s (pid %d) did not exit within %v", p.Name, p.Cmd.Process.Pid, timeout)
	}
}

// WaitFor calls check until it returns nil. It returns an error when the
// process exits first or ctx ends, with check's last error.
func (p *Process) WaitFor(ctx context.Context, what string, check func() error) error {
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited (%v) while waiting for %s", p.Name, p.err, what)
		}
		last := check()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %v (last: %v)", what, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM, as systemd does, waits for the process to exit, and
// sends SIGKILL after its Grace. It returns an error, with the output, if
// the process needed SIGKILL or exited with an error. Only the first Stop
// or Kill acts; later ones return what it returned.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop() })
	return p.stopErr
}

func (p *Process) stop() error {
	grace := p.Grace
	if grace == 0 {
		grace = StopGrace
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
		return fmt.Errorf("%s (pid %d) did not exit within %v of SIGTERM; killed it\noutput:\n%s", p.Name, p.Cmd.Process.Pid, grace, p.Out)
	}
	if p.err != nil {
		return fmt.Errorf("%s exited with %v\noutput:\n%s", p.Name, p.err, p.Out)
	}
	return nil
}

// Kill sends SIGKILL, as the OOM killer would, and waits for the process;
// a Stop afterwards does nothing.
func (p *Process) Kill() {
	p.stopOnce.Do(func() {})
	p.kill()
}

func (p *Process) kill() {
	_ = p.Cmd.Process.Kill()
	<-p.done
}
