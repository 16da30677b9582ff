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
	// The state is the main thread's, which sleeps while a test runs on
	// another thread.
	if (st.State != "R" && st.State != "S") || st.StartTicks == 0 {
		t.Errorf("own stat: %+v, want state R or S and a start time", st)
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
	// The count leaves out the descriptor a listing of /proc/self/fd
	// needs, whichever way it is made.
	ents, err := os.ReadDir("/proc/self/fd")
	if m, _ := OpenFiles(pid); err != nil || m != len(ents)-1 {
		t.Errorf("open files %d; a listing of /proc/self/fd has %d (%v)", m, len(ents), err)
	}
}

func TestOpenSelf(t *testing.T) {
	s, err := OpenSelf()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Stat()
	if err != nil {
		t.Fatal(err)
	}
	byPID, err := ReadStat(os.Getpid())
	if err != nil || st.StartTicks != byPID.StartTicks || st.VirtualBytes == 0 {
		t.Errorf("stat kept open %+v, read by PID %+v (%v)", st, byPID, err)
	}
	mem, err := ReadMemory(os.Getpid())
	if rss := int(st.ResidentPages) * os.Getpagesize() / 1024; err != nil || rss < mem.RSSKiB/2 || rss > mem.RSSKiB*2 {
		t.Errorf("resident %d KiB from stat, VmRSS %d KiB (%v)", rss, mem.RSSKiB, err)
	}
	// The test binary started less than a minute ago.
	start, err := StartTime(st)
	if age := time.Since(start); err != nil || age < 0 || age > time.Minute {
		t.Errorf("start time %v, %v ago (%v)", start, age, err)
	}
	// Read again, the file says more: it is not the first reading kept.
	for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); {
	}
	if later, err := s.Stat(); err != nil || later.CPU <= st.CPU {
		t.Errorf("after 50 ms of work: CPU %v, before %v (%v)", later.CPU, st.CPU, err)
	}
	in, out, err := s.NetworkBytes()
	if err != nil || in == 0 || out == 0 {
		t.Errorf("network bytes in %d, out %d (%v)", in, out, err)
	}
}

func TestParseNetworkBytes(t *testing.T) {
	for _, tc := range []struct {
		text    string
		in, out uint64
		wantErr bool
	}{
		{text: "TcpExt: A B\nTcpExt: 1 2\nIpExt: InNoRoutes InOctets OutOctets\nIpExt: 7 100 200\n", in: 100, out: 200},
		{text: "IpExt: OutOctets InOctets\nIpExt: 5 6", in: 6, out: 5},
		{text: "IpExt: InOctets\nIpExt: 100\n", wantErr: true},
		{text: "IpExt: InOctets OutOctets\nIpExt: 100\n", wantErr: true},
		{text: "IpExt: InOctets OutOctets\nIpExt: 100 -1\n", wantErr: true},
		{text: "", wantErr: true},
	} {
		in, out, err := parseNetworkBytes("netstat", []byte(tc.text))
		if (err != nil) != tc.wantErr || in != tc.in || out != tc.out {
			t.Errorf("%q: in %d, out %d, err %v; want %d, %d, error %v", tc.text, in, out, err, tc.in, tc.out, tc.wantErr)
		}
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
