// Package proc reads what Linux says of a process in /proc: its state,
// CPU time, start time and memory (stat, status), its open files and its
// network namespace's traffic (net/netstat). The tests, the demo and the
// scrape benchmark watch chronyd and the exporter through it, and the
// exporter reports its own process metrics from it.
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
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
	// VirtualBytes is the size of the process's virtual memory.
	VirtualBytes uint64
	// ResidentPages is how many pages of it are in memory, of
	// os.Getpagesize() bytes each.
	ResidentPages uint64
}

// ReadStat reads /proc/<pid>/stat.
func ReadStat(pid int) (Stat, error) {
	name := "/proc/" + strconv.Itoa(pid) + "/stat"
	b, err := os.ReadFile(name)
	if err != nil {
		return Stat{}, err
	}
	return parseStat(name, b)
}

func parseStat(name string, b []byte) (Stat, error) {
	// The command name, field 2, is in parentheses and may hold spaces
	// and parentheses: the fields after it start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("%s: no command name", name)
	}
	// f[0] is field 3 (state): field n is f[n-3].
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 22 {
		return Stat{}, fmt.Errorf("%s: %d fields after the name, want 22 or more", name, len(f))
	}
	// utime, stime, starttime, vsize and rss: fields 14, 15, 22, 23, 24.
	var n [5]uint64
	for i, field := range [...]int{11, 12, 19, 20, 21} {
		var err error
		if n[i], err = strconv.ParseUint(f[field], 10, 64); err != nil {
			return Stat{}, fmt.Errorf("%s: field %d is %q, want a number", name, field+3, f[field])
		}
	}
	return Stat{
		State:         f[0],
		CPU:           time.Duration(n[0]+n[1]) * clockTick,
		StartTicks:    n[2],
		VirtualBytes:  n[3],
		ResidentPages: n[4],
	}, nil
}

// StartTime returns when a process started: the machine's boot time in
// /proc/stat plus its StartTicks.
func StartTime(st Stat) (time.Time, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("/proc/stat: btime is %q, want seconds", v)
			}
			return time.Unix(boot, 0).Add(time.Duration(st.StartTicks) * clockTick), nil
		}
	}
	return time.Time{}, fmt.Errorf("/proc/stat: no btime line")
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
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	// Since Linux 6.2 the directory's size is the count, without a
	// listing.
	if fi, err := os.Stat(dir); err == nil && fi.Size() > 0 {
		return int(fi.Size()), nil
	}
	ents, err := os.ReadDir(dir)
	n := len(ents)
	if pid == os.Getpid() && n > 0 {
		n-- // the listing's own descriptor
	}
	return n, err
}

// parseNetworkBytes returns InOctets and OutOctets of the IpExt lines of
// a net/netstat file.
func parseNetworkBytes(name string, b []byte) (in, out uint64, err error) {
	// A protocol has two lines: "IpExt: Name…", then "IpExt: value…".
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "IpExt:")
		if !ok {
			continue
		}
		if names == nil {
			names = strings.Fields(rest)
			continue
		}
		values := strings.Fields(rest)
		if len(values) != len(names) {
			break
		}
		var found int
		for i, field := range names {
			var dst *uint64
			switch field {
			case "InOctets":
				dst = &in
			case "OutOctets":
				dst = &out
			default:
				continue
			}
			if *dst, err = strconv.ParseUint(values[i], 10, 64); err != nil {
				return 0, 0, fmt.Errorf("%s: %s is %q, want a number", name, field, values[i])
			}
			found++
		}
		if found == 2 {
			return in, out, nil
		}
		break
	}
	return 0, 0, fmt.Errorf("%s: no IpExt InOctets and OutOctets", name)
}

// Self is the calling process's stat and net/netstat files, kept open and
// read again from their start each time: for what a process reports of
// itself at every scrape, opening costs more than reading (measured here:
// /proc/self/net/netstat 78 µs opened and read, 34 µs read again).
type Self struct {
	mu      sync.Mutex
	stat    *os.File
	netstat *os.File
	buf     []byte
}

// OpenSelf opens the calling process's files. The network namespace is
// the one it is in now.
func OpenSelf() (*Self, error) {
	stat, err := os.Open("/proc/self/stat")
	if err != nil {
		return nil, err
	}
	netstat, err := os.Open("/proc/self/net/netstat")
	if err != nil {
		stat.Close()
		return nil, err
	}
	return &Self{stat: stat, netstat: netstat, buf: make([]byte, 8192)}, nil
}

// Stat reads the process's stat.
func (s *Self) Stat() (Stat, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.read(s.stat)
	if err != nil {
		return Stat{}, err
	}
	return parseStat(s.stat.Name(), b)
}

// NetworkBytes returns the IP traffic of the process's network namespace
// (not of the process alone: Linux counts no finer), in bytes received
// and sent: InOctets and OutOctets of net/netstat's IpExt lines.
func (s *Self) NetworkBytes() (in, out uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.read(s.netstat)
	if err != nil {
		return 0, 0, err
	}
	return parseNetworkBytes(s.netstat.Name(), b)
}

// read reads f whole from its start. Linux makes these files afresh on a
// read at offset 0, and in one piece when the buffer holds them: a read
// that fills it is tried again with one twice the size.
func (s *Self) read(f *os.File) ([]byte, error) {
	for {
		n, err := f.ReadAt(s.buf, 0)
		if err != nil && err != io.EOF {
			return nil, err
		}
		if n < len(s.buf) {
			return s.buf[:n], nil
		}
		s.buf = make([]byte, 2*len(s.buf))
	}
}

// Close closes the files.
func (s *Self) Close() error {
	return errors.Join(s.stat.Close(), s.netstat.Close())
}
