package proc

import (
	"os"
	"testing"
	"time"
)

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	st, err := ReadStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "R" || st.StartTicks == 0 {
		t.Errorf("own stat: %+v, want state R and a start time", st)
	}
	// Burn a few clock ticks: the CPU time must grow with them.
	for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); {
	}
	later, err := ReadStat(pid)
	if err != nil || later.CPU <= st.CPU || later.StartTicks != st.StartTicks {
		t.Errorf("after 50 ms of work: %+v (%v), before %+v", later, err, st)
	}

	mem, err := ReadMemory(pid)
	if err != nil || mem.RSSKiB <= 0 || mem.HWMKiB < mem.RSSKiB {
		t.Errorf("own memory: %+v (%v)", mem, err)
	}

	n, err := OpenFiles(pid)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if m, err := OpenFiles(pid); err != nil || m != n+1 {
		t.Errorf("open files %d, then %d after opening one (%v)", n, m, err)
	}
}

func TestGone(t *testing.T) {
	// Above the kernel's pid_max limit (4194304): no process has it.
	const pid = 1 << 23
	if _, err := ReadStat(pid); err == nil {
		t.Error("ReadStat of a PID no process has: no error")
	}
	if _, err := ReadMemory(pid); err == nil {
		t.Error("ReadMemory of a PID no process has: no error")
	}
	if _, err := OpenFiles(pid); err == nil {
		t.Error("OpenFiles of a PID no process has: no error")
	}
}
