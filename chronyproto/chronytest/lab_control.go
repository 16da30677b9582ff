//go:build linux

package chronytest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// Fault injection on the lab's client chronyd, the one tests query: kill
// it, stop and continue it, and start it again at the same socket path and
// UDP port. The server chronyd keeps running throughout.

// ClientPID returns the process ID of the client chronyd.
func (l *Lab) ClientPID() int { return l.client.cmd.Process.Pid }

// KillClient kills the client chronyd with SIGKILL, as a crash would, and
// waits for it to exit. Its socket file stays behind, as after a crash.
func (l *Lab) KillClient() error {
	d := l.client
	if d.exited() {
		return fmt.Errorf("chronytest: %s already exited (%v)", d.name, d.waitErr)
	}
	return d.kill()
}

// StopClient freezes the client chronyd with SIGSTOP: it stays bound to
// its socket and port but answers nothing until ContClient.
func (l *Lab) StopClient() error {
	return l.signalClient(syscall.SIGSTOP)
}

// ContClient resumes a client chronyd frozen by StopClient.
func (l *Lab) ContClient() error {
	return l.signalClient(syscall.SIGCONT)
}

func (l *Lab) signalClient(sig syscall.Signal) error {
	d := l.client
	if d.exited() {
		return fmt.Errorf("chronytest: %s exited (%v)", d.name, d.waitErr)
	}
	if err := d.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("chronytest: sending %v to %s: %w", sig, d.name, err)
	}
	return nil
}

// RestartClient starts the client chronyd again, with the same
// configuration (socket path, UDP port, sources), after KillClient or after
// it exited otherwise, and waits until it answers on its socket. It does
// not wait for a source to be selected.
func (l *Lab) RestartClient(ctx context.Context) error {
	old := l.client
	if !old.exited() {
		return fmt.Errorf("chronytest: %s (pid %d) is still running; KillClient first", old.name, old.cmd.Process.Pid)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, labStartTimeout)
		defer cancel()
	}
	d := &labDaemon{name: old.name, conf: old.conf, cmd: exec.Command(old.cmd.Path, old.cmd.Args[1:]...)}
	if err := d.start(); err != nil {
		return err
	}
	l.client = d
	// The watchdog holds the daemons' PIDs: give it the new one.
	l.labStopWatchdog()
	if err := l.labStartWatchdog(); err != nil {
		return err
	}
	t := time.NewTicker(labPollEvery / 4)
	defer t.Stop()
	var last error
	for {
		if d.exited() {
			return fmt.Errorf("chronytest: restarted %s exited (%v)%s", d.name, d.waitErr, l.outputs())
		}
		_, err := l.runChronyc(ctx, "tracking")
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("chronytest: restarted %s does not answer: %w", d.name, errors.Join(context.Cause(ctx), last))
		case <-t.C:
		}
	}
}
