// Package proc reads what Linux says of a process in /proc: its state,
// CPU time and start time (stat), its memory (status) and open files. The
// tests, the demo and the scrape benchmark watch chronyd and the exporter
// through it.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of stat's times: USER_HZ, 100 on every Linux
// architecture Go supports.
const clockTick = 10 * time.Millisecond

// Stat is what /proc/<pid>/stat says of a process.
type Stat struct {
	// State is the state letter: R running, S sleeping, T stopped, Z
	// zombie…
	State string
	// CPU is the user and system time the process has used, in clock
	// ticks of 10 ms: meaningful over many scrapes, not over one.
	CPU time.Duration
	// StartTicks is when the process started, in clock ticks after boot:
	// with the PID, it tells a process from a later one given the same
	// PID.
	StartTicks uint64
}

// ReadStat reads /proc/<pid>/stat.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	// The command name, field 2, is in parentheses and may hold spaces
	// and parentheses: the fields after it start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	// f[0] is field 3 (state): field n is f[n-3].
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return Stat{}, fmt.Errorf("/proc/%d/stat: %d fields after the name, want 20 or more", pid, len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Stat{}, fmt.Errorf("/proc/%d/stat: unreadable times %q %q %q", pid, f[11], f[12], f[19])
	}
	return Stat{State: f[0], CPU: time.Duration(utime+stime) * clockTick, StartTicks: start}, nil
}

// Memory is a process's resident memory, from /proc/<pid>/status.
type Memory struct {
	RSSKiB int // VmRSS: resident now
	HWMKiB int // VmHWM: the peak of VmRSS
}

// ReadMemory reads VmRSS and VmHWM from /proc/<pid>/status.
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for _, line := range strings.Split(string(b), "\n") {
		name, value, _ := strings.Cut(line, ":")
		kib, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(value), " kB"))
		switch name {
		case "VmRSS":
			m.RSSKiB = kib
		case "VmHWM":
			m.HWMKiB = kib
		}
	}
	if m.RSSKiB == 0 || m.HWMKiB == 0 {
		return Memory{}, fmt.Errorf("/proc/%d/status: no VmRSS or VmHWM", pid)
	}
	return m, nil
}

// OpenFiles returns how many file descriptors a process holds open.
func OpenFiles(pid int) (int, error) {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	return len(ents), err
}
