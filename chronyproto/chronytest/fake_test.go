package chronytest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	fakeTestCaptures43 = "../testdata/captures/chrony-4.3"
	fakeTestCaptures48 = "../testdata/captures/chrony-4.8"
)

// fakeTestRequest builds a request by hand (docs §3.1): 20-byte header,
// body, zero padding to length.
func fakeTestRequest(cmd uint16, seq uint32, length int, body []byte) []byte {
	p := make([]byte, max(length, 20+len(body)))
	p[0], p[1] = 6, 1
	binary.BigEndian.PutUint16(p[4:], cmd)
	binary.BigEndian.PutUint32(p[8:], seq)
	copy(p[20:], body)
	return p
}

func fakeTestIndex(i uint32) []byte { return binary.BigEndian.AppendUint32(nil, i) }

func fakeTestIPv4(s string) []byte {
	b := make([]byte, 20)
	a := netip.MustParseAddr(s).As4()
	copy(b, a[:])
	b[17] = 1
	return b
}

type fakeTestClient struct {
	t    *testing.T
	conn net.PacketConn
	to   net.Addr
}

// fakeTestDial opens a client socket for f. For a Unix socket fake it binds
// <dir>/chrony_exporter.<pid>/<16 random>/sock beside the server socket,
// like the exporter (and chronyc 4.8) do.
func fakeTestDial(t *testing.T, f *Fake) *fakeTestClient {
	t.Helper()
	c := &fakeTestClient{t: t}
	switch f.Network() {
	case "udp":
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.conn, c.to = conn, net.UDPAddrFromAddrPort(f.AddrPort())
	case "unixgram":
		dir := filepath.Join(f.Dir(), fmt.Sprintf("chrony_exporter.%d", os.Getpid()))
		if err := os.Mkdir(dir, 0o711); err != nil && !errors.Is(err, os.ErrExist) {
			t.Fatal(err)
		}
		const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		var r [16]byte
		for i := range r {
			r[i] = alnum[rand.IntN(len(alnum))]
		}
		sub := filepath.Join(dir, string(r[:]))
		if err := os.Mkdir(sub, 0o711); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(sub, "sock")
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, 0o666)
		c.conn, c.to = conn, &net.UnixAddr{Name: f.SocketPath(), Net: "unixgram"}
		t.Cleanup(func() {
			os.Remove(path)
			os.Remove(sub)
			os.Remove(dir) // fails while other clients still use it
		})
	}
	t.Cleanup(func() { c.conn.Close() })
	return c
}

func (c *fakeTestClient) send(p []byte) {
	c.t.Helper()
	if _, err := c.conn.WriteTo(p, c.to); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// recv returns the next datagram, or nil after timeout.
func (c *fakeTestClient) recv(timeout time.Duration) []byte {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 2048)
	n, _, err := c.conn.ReadFrom(buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		c.t.Fatalf("recv: %v", err)
	}
	return buf[:n]
}

// exchange sends p and returns the first datagram back (failing after 2 s).
func (c *fakeTestClient) exchange(p []byte) []byte {
	c.t.Helper()
	c.send(p)
	r := c.recv(2 * time.Second)
	if r == nil {
		c.t.Fatalf("no reply to command %d", binary.BigEndian.Uint16(p[4:]))
	}
	return r
}

// fakeTestWithSeq returns a copy of a stored reply with the sequence of req.
func fakeTestWithSeq(reply, req []byte) []byte {
	w := bytes.Clone(reply)
	copy(w[16:20], req[8:12])
	return w
}

func fakeTestStatus(p []byte) uint16 { return binary.BigEndian.Uint16(p[8:]) }

func fakeTestLoad(t *testing.T, dir string) *Replies {
	t.Helper()
	r, err := LoadCaptures(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func fakeTestFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeTestNoLeak waits up to 2 s for the goroutine count to drop to n.
func fakeTestNoLeak(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d > %d\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFakeLoadCaptures(t *testing.T) {
	for _, dir := range []string{fakeTestCaptures43, fakeTestCaptures48} {
		r := fakeTestLoad(t, dir)
		if r.Len() != 37 {
			t.Errorf("%s: %d replies, want 37", dir, r.Len())
		}
		for _, c := range []struct {
			cmd  uint16
			key  Key
			file string
		}{
			{33, NoKey, "tracking.bin"},
			{14, NoKey, "n_sources.bin"},
			{15, IndexKey(3), "source_data-3.bin"},
			{34, IndexKey(4), "sourcestats-4.bin"},
			{69, IndexKey(0), "select_data-0.bin"},
			{57, AddrKey(netip.MustParseAddr("127.0.2.1")), "ntp_data-3.bin"},
			{67, AddrKey(netip.MustParseAddr("127.0.1.2")), "auth_data-1.bin"},
			{65, IPAddrKey(fakeTestIPv4("127.0.2.2")), "ntp_source_name-4.bin"},
		} {
			got, ok := r.Get(c.cmd, c.key)
			if !ok || !bytes.Equal(got, fakeTestFile(t, filepath.Join(dir, c.file))) {
				t.Errorf("%s: Get(%d, %v) = %v, want %s", dir, c.cmd, c.key, ok, c.file)
			}
		}
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "bogus.bin"), fakeHeader(33, 5, 0, 104), 0o644)
	if _, err := LoadCaptures(bad); err == nil {
		t.Error("unknown request name accepted")
	}
	os.Remove(filepath.Join(bad, "bogus.bin"))
	os.WriteFile(filepath.Join(bad, "ntp_data-0.bin"), fakeHeader(57, 26, 0, 172), 0o644)
	if _, err := LoadCaptures(bad); err == nil {
		t.Error("ntp_data without source_data accepted")
	}
	os.WriteFile(filepath.Join(bad, "ntp_data-0.bin"), fakeHeader(33, 5, 0, 104), 0o644)
	if _, err := LoadCaptures(bad); err == nil {
		t.Error("file with a different command accepted")
	}
	if _, err := LoadCaptures(t.TempDir()); err == nil {
		t.Error("empty folder accepted")
	}
}

func TestFakeKeys(t *testing.T) {
	a := fakeTestIPv4("192.0.2.1")
	dirty := bytes.Clone(a)
	dirty[9], dirty[19] = 0xAA, 0x55 // unused byte and pad: ignored like chronyd
	if IPAddrKey(dirty) != AddrKey(netip.MustParseAddr("192.0.2.1")) {
		t.Error("IPAddrKey does not ignore unused bytes")
	}
	unknownFam := make([]byte, 20)
	unknownFam[0], unknownFam[17] = 1, 9
	if IPAddrKey(unknownFam) != AddrKey(netip.Addr{}) {
		t.Error("unknown family is not UNSPEC")
	}
	for k, s := range map[Key]string{NoKey: "-", IndexKey(7): "#7", IDKey(1): "ID#0000000001",
		AddrKey(netip.MustParseAddr("2001:db8::1")): "2001:db8::1", AddrKey(netip.Addr{}): "[UNSPEC]"} {
		if k.String() != s {
			t.Errorf("Key.String() = %q, want %q", k.String(), s)
		}
	}
}

func TestFakeServe(t *testing.T) {
	for _, network := range []string{"udp", "unixgram"} {
		t.Run(network, func(t *testing.T) {
			f := NewFake(t, network, fakeTestLoad(t, fakeTestCaptures48))
			switch network {
			case "udp":
				if !strings.HasPrefix(f.Addr(), "udp://127.0.0.1:") || f.AddrPort().Port() == 0 || f.SocketPath() != "" {
					t.Errorf("Addr %q AddrPort %v SocketPath %q", f.Addr(), f.AddrPort(), f.SocketPath())
				}
			case "unixgram":
				if f.Addr() != "unix://"+f.SocketPath() || !filepath.IsAbs(f.SocketPath()) {
					t.Errorf("Addr %q SocketPath %q", f.Addr(), f.SocketPath())
				}
				if fi, err := os.Stat(f.Dir()); err != nil || fi.Mode().Perm() != 0o755 {
					t.Errorf("socket dir: %v %v", fi.Mode(), err)
				}
			}
			c := fakeTestDial(t, f)
			for _, tc := range []struct {
				cmd    uint16
				length int
				body   []byte
				file   string
			}{
				{33, 104, nil, "tracking.bin"},
				{14, 32, nil, "n_sources.bin"},
				{15, 76, fakeTestIndex(3), "source_data-3.bin"},
				{34, 84, fakeTestIndex(1), "sourcestats-1.bin"},
				{69, 76, fakeTestIndex(4), "select_data-4.bin"},
				{57, 172, fakeTestIPv4("127.0.1.1"), "ntp_data-0.bin"},
				{67, 52, fakeTestIPv4("127.0.2.2"), "auth_data-4.bin"},
				{65, 284, fakeTestIPv4("127.0.1.3"), "ntp_source_name-2.bin"},
				{54, 196, nil, "server_stats.bin"},
				{35, 56, nil, "rtcreport.bin"},
				{51, 52, nil, "smoothing.bin"},
				{41, 416, nil, "manual_list.bin"},
				{44, 48, nil, "activity.bin"},
			} {
				req := fakeTestRequest(tc.cmd, rand.Uint32(), tc.length, tc.body)
				got := c.exchange(req)
				want := fakeTestWithSeq(fakeTestFile(t, filepath.Join(fakeTestCaptures48, tc.file)), req)
				if !bytes.Equal(got, want) {
					t.Errorf("%s: reply\n%x\nwant\n%x", tc.file, got, want)
				}
				if extra := c.recv(20 * time.Millisecond); extra != nil {
					t.Errorf("%s: extra datagram %x", tc.file, extra)
				}
			}
			if f.RequestsFor(33) != 1 || f.Requests() != 13 || f.Sent() != 13 {
				t.Errorf("counters: tracking %d total %d sent %d", f.RequestsFor(33), f.Requests(), f.Sent())
			}
			f.ResetCounters()
			if f.Requests() != 0 || f.RequestsFor(33) != 0 || f.Sent() != 0 {
				t.Error("ResetCounters")
			}
		})
	}
}

func TestFakeValidation(t *testing.T) {
	f := NewFake(t, "udp", fakeTestLoad(t, fakeTestCaptures48))
	c := fakeTestDial(t, f)
	noReply := func(name string, req []byte) {
		t.Helper()
		c.send(req)
		if r := c.recv(150 * time.Millisecond); r != nil {
			t.Errorf("%s: got reply %x, want none", name, r)
		}
	}
	status := func(name string, req []byte, want uint16) {
		t.Helper()
		r := c.exchange(req)
		if len(r) != 28 || fakeTestStatus(r) != want || binary.BigEndian.Uint16(r[6:]) != 1 ||
			!bytes.Equal(r[16:20], req[8:12]) || !bytes.Equal(r[4:6], req[4:6]) || r[0] != 6 || r[1] != 2 {
			t.Errorf("%s: reply %x, want 28-byte status %d", name, r, want)
		}
	}
	noReply("20-byte header only", fakeTestRequest(33, 1, 20, nil))
	noReply("27 bytes", fakeTestRequest(33, 1, 27, nil))
	noReply("861 bytes", fakeTestRequest(33, 1, 861, nil))
	req := fakeTestRequest(33, 2, 104, nil)
	req[1] = 2
	noReply("pkt_type 2", req)
	req = fakeTestRequest(33, 3, 104, nil)
	req[2] = 1
	noReply("res1 1", req)
	req = fakeTestRequest(33, 3, 104, nil)
	req[3] = 1
	noReply("res2 1", req)
	req = fakeTestRequest(33, 4, 104, nil)
	req[0] = 4
	noReply("version 4", req)
	req = fakeTestRequest(33, 5, 104, nil)
	req[0] = 5
	status("version 5", req, 18)
	status("tracking in 60 bytes", fakeTestRequest(33, 6, 60, nil), 19)
	status("ntp_data in 152 bytes (4.8 needs 172)", fakeTestRequest(57, 7, 152, fakeTestIPv4("127.0.1.1")), 19)
	status("command 200", fakeTestRequest(200, 8, 104, nil), 3)
	status("no such index", fakeTestRequest(15, 9, 76, fakeTestIndex(5)), 4)
	status("no such address", fakeTestRequest(57, 10, 172, fakeTestIPv4("192.0.2.1")), 4)
	if r := c.exchange(fakeTestRequest(33, 11, 860, nil)); len(r) != 104 {
		t.Errorf("860-byte request: reply of %d bytes", len(r))
	}
	// unused address bytes are ignored like chronyd does
	body := fakeTestIPv4("127.0.1.2")
	body[10] = 0x77
	if r := c.exchange(fakeTestRequest(57, 12, 172, body)); fakeTestStatus(r) != 0 || len(r) != 172 {
		t.Errorf("address with dirty unused bytes: %x", r)
	}
	// 4.3 rules: 152-byte NTP_DATA is enough
	f.SetReplies(fakeTestLoad(t, fakeTestCaptures43))
	if r := c.exchange(fakeTestRequest(57, 13, 152, fakeTestIPv4("127.0.1.1"))); fakeTestStatus(r) != 0 || len(r) != 152 {
		t.Errorf("4.3 ntp_data: %x", r)
	}
	if n := f.Replies().RequiredLength(54); n != 72 {
		t.Errorf("4.3 SERVER_STATS required length %d, want 72", n)
	}
	// anti-amplification (4.0+): a reply longer than the request is not sent
	f.Replies().SetRequiredLength(33, 28)
	noReply("tracking in 28 bytes with required length 28", fakeTestRequest(33, 14, 28, nil))
	f.Replies().SetRequiredLength(33, 0)
	status("required length restored", fakeTestRequest(33, 15, 28, nil), 19)
	// SELECT_DATA unknown to a 3.x-like set
	f.Replies().DeleteCommand(69)
	status("select_data removed", fakeTestRequest(69, 16, 76, fakeTestIndex(0)), 3)
}

func TestFakeUnboundUnixClient(t *testing.T) {
	f := NewFake(t, "unixgram", fakeTestLoad(t, fakeTestCaptures48))
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: f.SocketPath(), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(fakeTestRequest(33, 1, 104, nil))
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := conn.Read(make([]byte, 200)); err == nil {
		t.Errorf("unbound client got %d bytes", n)
	}
	if f.Requests() != 1 {
		t.Errorf("Requests = %d, want 1", f.Requests())
	}
}

func TestFakeOverride(t *testing.T) {
	f := NewFake(t, "unixgram", fakeTestLoad(t, fakeTestCaptures48))
	c := fakeTestDial(t, f)
	if err := f.Replies().PutFile(NoKey, "../testdata/handmade/tracking-refclock.hex"); err != nil {
		t.Fatal(err)
	}
	want, _ := ReadHex("../testdata/handmade/tracking-refclock.hex")
	req := fakeTestRequest(33, 0xDEADBEEF, 104, nil)
	if got := c.exchange(req); !bytes.Equal(got, fakeTestWithSeq(want, req)) {
		t.Errorf("override: %x", got)
	}
	// an unresolved source asked by ID address
	r := f.Replies()
	r.Set(57, IDKey(1), fakeHeader(57, 1, 4, 28))
	if got := c.exchange(fakeTestRequest(57, 1, 172, []byte{0, 0, 0, 1, 15: 0, 17: 3, 19: 0})); fakeTestStatus(got) != 4 {
		t.Errorf("ID key: %x", got)
	}
	r.Set(44, NoKey, fakeHeader(44, 12, 0, 48))
	if got, _ := r.Get(44, NoKey); len(got) != 48 {
		t.Error("Set/Get")
	}
	r.Delete(44, NoKey)
	if r.Has(44) {
		t.Error("Delete")
	}
	// a deliberately malformed (short) stored reply is sent as is
	r.Set(44, NoKey, []byte{6, 2, 0, 0, 0, 0, 0, 12, 0, 0})
	r.SetRequiredLength(44, 48)
	if got := c.exchange(fakeTestRequest(44, 3, 48, nil)); !bytes.Equal(got, []byte{6, 2, 0, 0, 0, 44, 0, 12, 0, 0}) {
		t.Errorf("short reply: %x", got)
	}
	if err := r.Put(NoKey, []byte{1}); err == nil {
		t.Error("Put of a 1-byte packet accepted")
	}
}

func TestFakeWithSources(t *testing.T) {
	base := fakeTestLoad(t, fakeTestCaptures48)
	r, err := base.WithSources(64)
	if err != nil {
		t.Fatal(err)
	}
	if base.Len() != 37 {
		t.Error("WithSources changed its receiver")
	}
	if n := len(r.Keys(15)); n != 64 {
		t.Errorf("%d SOURCE_DATA replies", n)
	}
	for _, c := range []uint16{34, 69, 57, 67, 65} {
		if n := len(r.Keys(c)); n != 64 {
			t.Errorf("command %d: %d replies", c, n)
		}
	}
	f := NewFake(t, "udp", r)
	c := fakeTestDial(t, f)
	ns := c.exchange(fakeTestRequest(14, 1, 32, nil))
	if binary.BigEndian.Uint32(ns[28:]) != 64 {
		t.Errorf("n_sources = %d", binary.BigEndian.Uint32(ns[28:]))
	}
	for i := range uint32(64) {
		addr := netip.AddrFrom4([4]byte{127, 0, 1, byte(1 + i)})
		sd := c.exchange(fakeTestRequest(15, i, 76, fakeTestIndex(i)))
		if fakeTestStatus(sd) != 0 || fakeIPString(sd[28:48]) != addr.String() {
			t.Fatalf("source %d: %s", i, fakeIPString(sd[28:48]))
		}
		// the address the client copies from SOURCE_DATA finds the other replies
		for _, cmd := range []uint16{57, 67, 65} {
			rp := c.exchange(fakeTestRequest(cmd, i, 284, sd[28:48]))
			if fakeTestStatus(rp) != 0 {
				t.Fatalf("source %d command %d: status %d", i, cmd, fakeTestStatus(rp))
			}
			switch cmd {
			case 57:
				if fakeIPString(rp[28:48]) != addr.String() {
					t.Errorf("ntp_data %d remote %s", i, fakeIPString(rp[28:48]))
				}
			case 65:
				if name, _, _ := bytes.Cut(rp[28:], []byte{0}); string(name) != addr.String() {
					t.Errorf("name %d = %q", i, name)
				}
			}
		}
		for _, cmd := range []uint16{34, 69} {
			rp := c.exchange(fakeTestRequest(cmd, i, 84, fakeTestIndex(i)))
			if fakeIPString(rp[32:52]) != addr.String() || binary.BigEndian.Uint32(rp[28:]) != 0x7F000101+i {
				t.Errorf("command %d index %d: %s", cmd, i, fakeIPString(rp[32:52]))
			}
		}
	}
	if st := fakeTestStatus(c.exchange(fakeTestRequest(15, 0, 76, fakeTestIndex(64)))); st != 4 {
		t.Errorf("index 64: status %d", st)
	}
	if _, err := NewReplies().WithSources(3); err == nil {
		t.Error("WithSources without templates succeeded")
	}
}

func TestFakeFaults(t *testing.T) {
	tracking := fakeTestFile(t, filepath.Join(fakeTestCaptures48, "tracking.bin"))
	f := NewFake(t, "udp", fakeTestLoad(t, fakeTestCaptures48))
	c := fakeTestDial(t, f)
	newReq := func() ([]byte, []byte) {
		req := fakeTestRequest(33, rand.Uint32(), 104, nil)
		return req, fakeTestWithSeq(tracking, req)
	}
	expect := func(name string, want []byte) {
		t.Helper()
		got := c.recv(time.Second)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: got %x\nwant %x", name, got, want)
		}
	}
	quiet := func(name string) {
		t.Helper()
		if got := c.recv(100 * time.Millisecond); got != nil {
			t.Errorf("%s: unexpected datagram %x", name, got)
		}
	}

	t.Run("noreply", func(t *testing.T) {
		f.ResetCounters()
		f.SetFault(33, FaultSpec{Fault: FaultNoReply, Count: 1})
		req, _ := newReq()
		c.send(req)
		quiet("first request")
		req, want := newReq()
		c.send(req) // the retransmission is answered
		expect("second request", want)
		if f.RequestsFor(33) != 2 {
			t.Errorf("RequestsFor(33) = %d", f.RequestsFor(33))
		}
	})
	t.Run("truncated", func(t *testing.T) {
		f.SetFault(33, FaultSpec{Fault: FaultTruncated, Count: 1})
		req, want := newReq()
		c.send(req)
		expect("half", want[:52])
		quiet("after half")
		req, want = newReq()
		c.send(req)
		expect("next", want)
		f.SetFault(33, FaultSpec{Fault: FaultTruncated, Count: 1, ThenReply: true})
		req, want = newReq()
		c.send(req)
		expect("half", want[:52])
		expect("then full", want)
	})
	t.Run("wrongseq", func(t *testing.T) {
		f.SetFault(33, FaultSpec{Fault: FaultWrongSeq, Count: 1, ThenReply: true})
		req, want := newReq()
		bad := bytes.Clone(want)
		binary.BigEndian.PutUint32(bad[16:], binary.BigEndian.Uint32(req[8:])+1)
		c.send(req)
		expect("seq+1", bad)
		expect("right seq", want)
		quiet("after")
		f.SetFault(33, FaultSpec{Fault: FaultWrongSeq, Count: 1})
		req, want = newReq()
		binary.BigEndian.PutUint32(want[16:], binary.BigEndian.Uint32(req[8:])+1)
		c.send(req)
		expect("seq+1 only", want)
		quiet("no right one")
	})
	t.Run("duplicate", func(t *testing.T) {
		f.SetFault(33, FaultSpec{Fault: FaultDuplicate, Count: 1})
		req, want := newReq()
		c.send(req)
		expect("first", want)
		expect("second", want)
		quiet("after")
	})
	t.Run("late", func(t *testing.T) {
		f.SetFault(33, FaultSpec{Fault: FaultLate, Delay: 300 * time.Millisecond, Count: 1})
		start := time.Now()
		req1, want1 := newReq()
		c.send(req1)
		quiet("before delay")
		req2, want2 := newReq()
		c.send(req2) // retransmission: answered at once
		expect("retransmission", want2)
		expect("late reply to the first", want1)
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("late reply after %v", d)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		f.SetFault(33, FaultSpec{Fault: FaultGarbage, Count: 1, ThenReply: true})
		req, want := newReq()
		c.send(req)
		g := c.recv(time.Second)
		if len(g) != len(want) || bytes.Equal(g, want) {
			t.Errorf("garbage %x", g)
		}
		expect("then reply", want)
	})
	t.Run("unauth-nortc", func(t *testing.T) {
		for _, tc := range []struct {
			fault  Fault
			status uint16
		}{{FaultUnauth, 2}, {FaultNoRTC, 13}} {
			f.SetFault(33, FaultSpec{Fault: tc.fault, Count: 1})
			req, _ := newReq()
			c.send(req)
			want := fakeHeader(33, 1, tc.status, 28)
			copy(want[16:], req[8:12])
			expect(tc.fault.String(), want)
		}
	})
	t.Run("flood", func(t *testing.T) {
		f.SetFault(33, FaultSpec{Fault: FaultFlood, Flood: 50, Count: 1})
		req, want := newReq()
		c.send(req)
		for i := range 50 {
			s := c.recv(time.Second)
			if len(s) != len(want) || bytes.Equal(s[16:20], want[16:20]) || !bytes.Equal(s[:16], want[:16]) {
				t.Fatalf("stray %d: %x", i, s)
			}
		}
		expect("real reply", want)
	})
	t.Run("any-and-clear", func(t *testing.T) {
		f.SetFault(AnyCommand, FaultSpec{Fault: FaultUnauth})
		f.SetFault(33, FaultSpec{Fault: FaultDuplicate})
		r := c.exchange(fakeTestRequest(14, 1, 32, nil))
		if fakeTestStatus(r) != 2 {
			t.Errorf("AnyCommand: %x", r)
		}
		r = c.exchange(fakeTestRequest(44, 2, 48, nil))
		if fakeTestStatus(r) != 2 {
			t.Errorf("AnyCommand, second time (no Count): %x", r)
		}
		req, want := newReq()
		c.send(req)
		expect("own fault first", want)
		expect("own fault second", want)
		f.SetFault(33, FaultSpec{}) // removes the per-command fault: AnyCommand applies
		req, _ = newReq()
		if r := c.exchange(req); fakeTestStatus(r) != 2 {
			t.Errorf("after removing own fault: %x", r)
		}
		f.ClearFaults()
		req, want = newReq()
		c.send(req)
		expect("cleared", want)
		quiet("cleared")
	})
	t.Run("error-replies-too", func(t *testing.T) {
		f.SetFault(15, FaultSpec{Fault: FaultNoReply, Count: 1})
		c.send(fakeTestRequest(15, 1, 76, fakeTestIndex(99)))
		quiet("nosuchsource dropped")
		if r := c.exchange(fakeTestRequest(15, 2, 76, fakeTestIndex(99))); fakeTestStatus(r) != 4 {
			t.Errorf("%x", r)
		}
	})
	if FaultFlood.String() != "flood" || Fault(99).String() != "Fault(99)" {
		t.Error("Fault.String")
	}
}

func TestFakeCleanup(t *testing.T) {
	before := runtime.NumGoroutine()
	var dir string
	t.Run("inner", func(t *testing.T) {
		f := NewFake(t, "unixgram", fakeTestLoad(t, fakeTestCaptures48))
		dir = f.Dir()
		c := fakeTestDial(t, f)
		f.SetFault(33, FaultSpec{Fault: FaultLate, Delay: time.Hour})
		c.send(fakeTestRequest(33, 1, 104, nil)) // leaves a pending late reply
		if f.RequestsFor(33) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
		u := NewFake(t, "udp", nil)
		p := NewDelayProxy(t, u.AddrPort(), time.Hour, 0)
		pc := fakeTestDial(t, u)
		pc.to = net.UDPAddrFromAddrPort(p.Addr())
		pc.send(fakeTestRequest(33, 1, 104, nil)) // pending delayed datagram
		time.Sleep(50 * time.Millisecond)
	})
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("fake dir %s still exists: %v", dir, err)
	}
	fakeTestNoLeak(t, before)
}

func TestProxyDelay(t *testing.T) {
	f := NewFake(t, "udp", fakeTestLoad(t, fakeTestCaptures48))
	const delay = 50 * time.Millisecond
	p := NewDelayProxy(t, f.AddrPort(), delay, 0)
	if p.URL() != "udp://"+p.Addr().String() {
		t.Errorf("URL %q", p.URL())
	}
	c1, c2 := fakeTestDial(t, f), fakeTestDial(t, f)
	c1.to = net.UDPAddrFromAddrPort(p.Addr())
	c2.to = c1.to
	start := time.Now()
	req := fakeTestRequest(33, 42, 104, nil)
	r := c1.exchange(req)
	rtt := time.Since(start)
	if !bytes.Equal(r[16:20], req[8:12]) || len(r) != 104 {
		t.Errorf("reply through proxy: %x", r)
	}
	if rtt < 2*delay || rtt > 2*delay+time.Second {
		t.Errorf("RTT %v, want >= %v", rtt, 2*delay)
	}
	// many datagrams in flight keep their own timers; two clients get
	// their own replies
	const n = 20
	start = time.Now()
	for i := range n {
		c1.send(fakeTestRequest(33, uint32(1000+i), 104, nil))
		c2.send(fakeTestRequest(14, uint32(2000+i), 32, nil))
	}
	var wg sync.WaitGroup
	for _, tc := range []struct {
		c    *fakeTestClient
		base uint32
		size int
	}{{c1, 1000, 104}, {c2, 2000, 32}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := map[uint32]bool{}
			for range n {
				tc.c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				buf := make([]byte, 512)
				m, _, err := tc.c.conn.ReadFrom(buf)
				if err != nil {
					t.Errorf("client %d: %v after %d replies", tc.base, err, len(seen))
					return
				}
				s := binary.BigEndian.Uint32(buf[16:])
				if m != tc.size || s < tc.base || s >= tc.base+n {
					t.Errorf("client %d got %d bytes seq %d", tc.base, m, s)
				}
				seen[s] = true
			}
			if len(seen) != n {
				t.Errorf("client %d: %d distinct replies", tc.base, len(seen))
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d < 2*delay || d > 2*delay+600*time.Millisecond {
		t.Errorf("%d concurrent round trips took %v; serialised delays?", 2*n, d)
	}
	st := p.Stats()
	if st.Forwarded != 2*n+1 || st.Returned != 2*n+1 || st.DroppedUp != 0 || st.DroppedDown != 0 ||
		p.Forwarded() != st.Forwarded || p.Returned() != st.Returned {
		t.Errorf("stats %+v", st)
	}
}

func TestProxyLoss(t *testing.T) {
	f := NewFake(t, "udp", fakeTestLoad(t, fakeTestCaptures48))
	const loss, n = 0.2, 1000
	p := NewDelayProxy(t, f.AddrPort(), time.Millisecond, loss)
	c := fakeTestDial(t, f)
	c.to = net.UDPAddrFromAddrPort(p.Addr())
	got := make(chan int)
	go func() {
		k := 0
		buf := make([]byte, 512)
		for {
			c.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if _, _, err := c.conn.ReadFrom(buf); err != nil {
				got <- k
				return
			}
			k++
		}
	}()
	for i := range n {
		c.send(fakeTestRequest(14, uint32(i), 32, nil))
		if i%50 == 49 {
			time.Sleep(2 * time.Millisecond) // stay well within socket buffers
		}
	}
	received := <-got
	st := p.Stats()
	up := float64(st.DroppedUp) / n
	down := float64(st.DroppedDown) / float64(st.Forwarded)
	t.Logf("stats %+v, received %d, loss up %.3f down %.3f", st, received, up, down)
	if up < loss-0.08 || up > loss+0.08 || down < loss-0.08 || down > loss+0.08 {
		t.Errorf("loss up %.3f down %.3f, want about %.2f", up, down, loss)
	}
	if st.Forwarded+st.DroppedUp != n || f.Requests() != st.Forwarded {
		t.Errorf("forwarded %d + dropped %d != %d, fake saw %d", st.Forwarded, st.DroppedUp, n, f.Requests())
	}
	if uint64(received) != st.Returned || st.Returned+st.DroppedDown != st.Forwarded {
		t.Errorf("received %d, returned %d, dropped down %d, forwarded %d", received, st.Returned, st.DroppedDown, st.Forwarded)
	}
}
