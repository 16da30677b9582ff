//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// placement keeps chronyd on a CPU of its own and the measured processes
// (the exporter, the raw-snapshot process, this scraper) on the others.
// Left to the kernel on a 2-CPU machine, rounds of the same binary
// differed widely, as the scheduler now and then put the exporter beside
// chronyd for a whole round: the exporter and chronyd then take turns on
// one CPU instead of working side by side. Placed, both contenders see the
// same machine in every round.
type placement struct {
	chronyd, measured unix.CPUSet
}

// newPlacement splits the CPUs this process may use: the first for
// chronyd, the rest for the measured processes.
func newPlacement() (*placement, error) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		return nil, fmt.Errorf("reading this process's CPUs: %w", err)
	}
	if allowed.Count() < 2 {
		return nil, fmt.Errorf("-place needs 2 CPUs, this process may use %d (run with -place=false)", allowed.Count())
	}
	var p placement
	for cpu, found := 0, 0; found < allowed.Count(); cpu++ {
		if !allowed.IsSet(cpu) {
			continue
		}
		if found == 0 {
			p.chronyd.Set(cpu)
		} else {
			p.measured.Set(cpu)
		}
		found++
	}
	return &p, nil
}

// placeChronyd moves every thread of the processes pids to chronyd's CPU;
// a nil placement leaves them where they are.
func (p *placement) placeChronyd(pids []int) error {
	if p == nil {
		return nil
	}
	for _, pid := range pids {
		if err := setTasks(pid, &p.chronyd); err != nil {
			return err
		}
	}
	return nil
}

// placeSelf moves every thread of this process to the measured CPUs;
// threads started later inherit them.
func (p *placement) placeSelf() error { return setTasks(os.Getpid(), &p.measured) }

// start starts cmd on the measured CPUs (a nil placement just starts it):
// a child inherits the CPUs of the thread that forks it, so every thread
// it ever has is placed.
func (p *placement) start(cmd *exec.Cmd) error {
	if p == nil {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return err
	}
	if err := unix.SchedSetaffinity(0, &p.measured); err != nil {
		return err
	}
	err := cmd.Start()
	if rerr := unix.SchedSetaffinity(0, &old); err == nil {
		err = rerr
	}
	return err
}

// setTasks sets the CPUs of every thread of process pid.
func setTasks(pid int, set *unix.CPUSet) error {
	tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		return fmt.Errorf("placing process %d: %w", pid, err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil {
			return fmt.Errorf("placing thread %d of process %d: %w", tid, pid, err)
		}
	}
	return nil
}
