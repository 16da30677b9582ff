package chronyproto

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

func loadCaptures(t testing.TB, version string) *chronytest.Replies {
	t.Helper()
	r, err := chronytest.LoadCaptures(filepath.Join("testdata", "captures", version))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func dialFake(t testing.TB, f *chronytest.Fake, d Dialer) *Client {
	t.Helper()
	c, err := d.Dial(context.Background(), f.Addr())
	if err != nil {
		t.Fatalf("dial %s: %v", f.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// wantTracking is the tracking report of the chrony-4.8 capture, decoded
// on its own.
func wantTracking(t *testing.T) Tracking {
	t.Helper()
	tr, err := replyOf(t, TrackingCall(), readPacket(t, filepath.Join("testdata", "captures", "chrony-4.8", "tracking.bin")))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestSnapshotFake takes a whole snapshot from a fake chronyd serving the
// captures, over both transports, and counts what it cost chronyd.
func TestSnapshotFake(t *testing.T) {
	for _, version := range []string{"chrony-4.3", "chrony-4.8"} {
		for _, network := range []string{"unixgram", "udp"} {
			t.Run(version+"/"+network, func(t *testing.T) {
				f := chronytest.NewFake(t, network, loadCaptures(t, version))
				c := dialFake(t, f, Dialer{})
				s, err := c.Snapshot(ctxTimeout(t, 5*time.Second), AllReports()...)
				if err != nil {
					t.Fatal(err)
				}
				if s.Tracking == nil || s.Activity == nil || s.ServerStats == nil || len(s.Sources) != 5 {
					t.Fatalf("snapshot incomplete: %+v", s)
				}
				for _, r := range []Report{ReportRTC, ReportSmoothing} {
					if !errors.Is(s.Err(r), ErrNotEnabled) {
						t.Errorf("%s: err %v, want ErrNotEnabled", r, s.Err(r))
					}
				}
				for _, r := range []Report{ReportTracking, ReportSources, ReportSourceStats, ReportSelectData, ReportNTPData, ReportAuthData, ReportSourceName, ReportActivity, ReportServerStats} {
					if err := s.Err(r); err != nil {
						t.Errorf("%s: %v", r, err)
					}
				}
				for i, src := range s.Sources {
					if want := fmt.Sprintf("127.0.%d.%d", 1+i/3, 1+i%3); src.Name() != want {
						t.Errorf("source %d is %s, want %s", i, src.Name(), want)
					}
					if src.Stats == nil || src.Select == nil || src.NTP == nil || src.Auth == nil || src.ConfiguredName != src.Name() {
						t.Errorf("source %s lacks a per-source report: %+v", src.Name(), src)
					}
				}
				if got := s.Sources[4].Select.ConfOptions; got != OptionNoSelect {
					t.Errorf("127.0.2.2 options %v, want noselect", got)
				}
				// 11 first-round requests (6 reports, N_SOURCES, 4 probes)
				// and 6 per source: nothing asked twice.
				if got := f.Requests(); got != 11+6*5 {
					t.Errorf("snapshot cost %d requests, want %d", got, 11+6*5)
				}
			})
		}
	}
}

// Asked over UDP, a fake that refuses the Unix-only reports the way chronyd
// does costs one probe per report, not one request per source.
func TestSnapshotProbesRefusedReports(t *testing.T) {
	f := chronytest.NewFake(t, "udp", loadCaptures(t, "chrony-4.8"))
	for _, cmd := range []uint16{uint16(cmdNTPData), uint16(cmdAuthData), uint16(cmdSelectData), uint16(cmdServerStats)} {
		f.SetFault(cmd, chronytest.FaultSpec{Fault: chronytest.FaultUnauth})
	}
	c := dialFake(t, f, Dialer{})
	s, err := c.Snapshot(ctxTimeout(t, 5*time.Second), AllReports()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Report{ReportNTPData, ReportAuthData, ReportSelectData, ReportServerStats} {
		if !errors.Is(s.Err(r), ErrNeedsUnixSocket) {
			t.Errorf("%s: %v, want ErrNeedsUnixSocket", r, s.Err(r))
		}
	}
	for _, cmd := range []command{cmdNTPData, cmdAuthData, cmdSelectData, cmdServerStats} {
		if n := f.RequestsFor(uint16(cmd)); n != 1 {
			t.Errorf("command %d asked %d times, want once", cmd, n)
		}
	}
	if len(s.Sources) != 5 || s.Sources[0].Stats == nil || s.Tracking == nil {
		t.Errorf("refused reports blanked others: %d sources, tracking %v", len(s.Sources), s.Tracking)
	}
}

// TestSnapshotTimeout is the "never hang" promise: a chronyd that never
// answers costs a snapshot its deadline and not a moment more, and leaves
// no goroutine behind.
// TestSnapshotOfNothing: a snapshot that names no report asks chronyd for
// nothing, so that an exporter with every collector off reads nothing.
func TestSnapshotOfNothing(t *testing.T) {
	f := chronytest.NewFake(t, "unixgram", loadCaptures(t, "chrony-4.8"))
	c := dialFake(t, f, Dialer{})
	s, err := c.Snapshot(ctxTimeout(t, 5*time.Second))
	if err != nil || s == nil {
		t.Fatalf("Snapshot() = %v, %v; want an empty snapshot", s, err)
	}
	if n := f.Requests(); n != 0 || c.Sent() != 0 || s.Tracking != nil || len(s.Sources) != 0 || s.Asked(ReportTracking) {
		t.Errorf("a snapshot of no report sent %d requests (the fake saw %d) and holds %+v", c.Sent(), n, s)
	}
}

func TestSnapshotTimeout(t *testing.T) {
	for _, network := range []string{"unixgram", "udp"} {
		t.Run(network, func(t *testing.T) {
			f := chronytest.NewFake(t, network, loadCaptures(t, "chrony-4.8"))
			f.SetFault(chronytest.AnyCommand, chronytest.FaultSpec{Fault: chronytest.FaultNoReply})
			c := dialFake(t, f, Dialer{})
			ignore := goleak.IgnoreCurrent()

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			start := time.Now()
			s, err := c.Snapshot(ctx, AllReports()...)
			took := time.Since(start)
			if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want ErrTimeout", err)
			}
			t.Logf("a snapshot of a silent chronyd returned after %v (deadline 2s): %v", took, err)
			if took > 2100*time.Millisecond {
				t.Errorf("snapshot returned after %v, deadline 2s", took)
			}
			if s == nil || !errors.Is(s.Err(ReportTracking), ErrTimeout) {
				t.Errorf("tracking error %v, want ErrTimeout", s.Err(ReportTracking))
			}
			// Retries went on until the deadline: 200ms, 400ms, 800ms, …
			if n := f.RequestsFor(uint16(cmdTracking)); n < 3 {
				t.Errorf("tracking sent %d times in 2s, want retries", n)
			}
			c.Close()
			goleak.VerifyNone(t, ignore)
		})
	}
}

func TestCancel(t *testing.T) {
	f := chronytest.NewFake(t, "unixgram", loadCaptures(t, "chrony-4.8"))
	f.SetFault(chronytest.AnyCommand, chronytest.FaultSpec{Fault: chronytest.FaultNoReply})
	c := dialFake(t, f, Dialer{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Tracking(ctx)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("cancel took %v", took)
	}
}

// TestFaults: whatever a broken or hostile chronyd sends, the client never
// takes a wrong value, and a valid reply that follows is used.
func TestFaults(t *testing.T) {
	want := wantTracking(t)
	for _, tc := range []struct {
		name string
		spec chronytest.FaultSpec
		// minimum requests chronyd must see: retransmissions
		requests uint64
		err      error
	}{
		{"truncated then whole", chronytest.FaultSpec{Fault: chronytest.FaultTruncated, ThenReply: true, Count: 1}, 1, nil},
		{"truncated only", chronytest.FaultSpec{Fault: chronytest.FaultTruncated, Count: 2}, 3, nil},
		{"wrong sequence then right", chronytest.FaultSpec{Fault: chronytest.FaultWrongSeq, ThenReply: true, Count: 1}, 1, nil},
		{"wrong sequence only", chronytest.FaultSpec{Fault: chronytest.FaultWrongSeq, Count: 2}, 3, nil},
		{"duplicated", chronytest.FaultSpec{Fault: chronytest.FaultDuplicate, Count: 1}, 1, nil},
		{"late", chronytest.FaultSpec{Fault: chronytest.FaultLate, Delay: 300 * time.Millisecond, Count: 1}, 2, nil},
		{"garbage then reply", chronytest.FaultSpec{Fault: chronytest.FaultGarbage, ThenReply: true, Count: 1}, 1, nil},
		{"garbage only", chronytest.FaultSpec{Fault: chronytest.FaultGarbage, Count: 2}, 3, nil},
		{"flood", chronytest.FaultSpec{Fault: chronytest.FaultFlood, Flood: 500, Count: 1}, 1, nil},
		{"no reply twice", chronytest.FaultSpec{Fault: chronytest.FaultNoReply, Count: 2}, 3, nil},
		{"unauth", chronytest.FaultSpec{Fault: chronytest.FaultUnauth}, 1, ErrNeedsUnixSocket},
		{"nortc", chronytest.FaultSpec{Fault: chronytest.FaultNoRTC}, 1, ErrNotEnabled},
	} {
		for _, network := range []string{"unixgram", "udp"} {
			t.Run(tc.name+"/"+network, func(t *testing.T) {
				f := chronytest.NewFake(t, network, loadCaptures(t, "chrony-4.8"))
				f.SetFault(uint16(cmdTracking), tc.spec)
				c := dialFake(t, f, Dialer{RetryInterval: 100 * time.Millisecond})
				got, err := c.Tracking(ctxTimeout(t, 3*time.Second))
				if tc.err != nil {
					if !errors.Is(err, tc.err) {
						t.Fatalf("err = %v, want %v", err, tc.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("got %+v\nwant %+v", got, want)
				}
				if n := f.RequestsFor(uint16(cmdTracking)); n < tc.requests {
					t.Errorf("chronyd saw %d requests, want at least %d", n, tc.requests)
				}
				// The client is still in step: the next call gets its own
				// reply, not a leftover of this one.
				act, err := c.Activity(ctxTimeout(t, 3*time.Second))
				if err != nil || act.Online != 5 {
					t.Errorf("next call: %+v, %v", act, err)
				}
			})
		}
	}
}

// A source that vanishes between N_SOURCES and its SOURCE_DATA is left
// out without failing the report; a reply by index that names another
// source (the list changed) is dropped with ErrSourceChanged.
func TestSnapshotSourceListChanges(t *testing.T) {
	r := loadCaptures(t, "chrony-4.8")
	r.Delete(uint16(cmdSourceData), chronytest.IndexKey(4))
	one, _ := r.Get(uint16(cmdSourceStats), chronytest.IndexKey(1))
	two, _ := r.Get(uint16(cmdSourceStats), chronytest.IndexKey(2))
	r.Set(uint16(cmdSourceStats), chronytest.IndexKey(1), two)
	r.Set(uint16(cmdSourceStats), chronytest.IndexKey(2), one)
	f := chronytest.NewFake(t, "unixgram", r)
	c := dialFake(t, f, Dialer{})
	s, err := c.Snapshot(ctxTimeout(t, 5*time.Second), AllReports()...)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Sources) != 4 {
		t.Fatalf("%d sources, want the 4 that still exist", len(s.Sources))
	}
	if err := s.Err(ReportSources); err != nil {
		t.Errorf("a vanished source failed the report: %v", err)
	}
	for i, src := range s.Sources {
		swapped := i == 1 || i == 2
		if swapped != (src.Stats == nil) || swapped != errors.Is(src.Err(ReportSourceStats), ErrSourceChanged) {
			t.Errorf("source %s: stats %v, err %v", src.Name(), src.Stats, src.Err(ReportSourceStats))
		}
	}
}

// A hostile N_SOURCES cannot make a snapshot allocate or ask without bound.
func TestSnapshotTooManySources(t *testing.T) {
	r := loadCaptures(t, "chrony-4.8")
	p, _ := r.Get(uint16(cmdNSources), chronytest.NoKey)
	p = append([]byte(nil), p...)
	putU32(p, 28, 0xFFFFFFFF)
	r.Set(uint16(cmdNSources), chronytest.NoKey, p)
	f := chronytest.NewFake(t, "udp", r)
	c := dialFake(t, f, Dialer{})
	s, err := c.Snapshot(ctxTimeout(t, 5*time.Second), AllReports()...)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(s.Err(ReportSources), ErrBadReply) || len(s.Sources) != 0 || s.Tracking == nil {
		t.Errorf("sources err %v, %d sources, tracking %v", s.Err(ReportSources), len(s.Sources), s.Tracking)
	}
}

// A client reuses what its last snapshot learnt to ask for everything at
// once. When the source list has changed since, the result must still be
// exactly what a fresh client sees.
func TestSnapshotHintStale(t *testing.T) {
	five := loadCaptures(t, "chrony-4.8")
	seven, err := five.WithSources(7)
	if err != nil {
		t.Fatal(err)
	}
	two, err := five.WithSources(2)
	if err != nil {
		t.Fatal(err)
	}
	f := chronytest.NewFake(t, "unixgram", five)
	reused := dialFake(t, f, Dialer{})
	for _, replies := range []*chronytest.Replies{five, seven, two, five, five} {
		f.SetReplies(replies)
		got, err := reused.Snapshot(ctxTimeout(t, 5*time.Second), AllReports()...)
		if err != nil {
			t.Fatal(err)
		}
		fresh := dialFake(t, f, Dialer{})
		want, err := fresh.Snapshot(ctxTimeout(t, 5*time.Second), AllReports()...)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Sources) != len(want.Sources) {
			t.Fatalf("reused client: %d sources, fresh: %d", len(got.Sources), len(want.Sources))
		}
		for i := range want.Sources {
			g, w := got.Sources[i], want.Sources[i]
			if g.SourceData != w.SourceData || *g.Stats != *w.Stats || *g.Select != *w.Select ||
				*g.NTP != *w.NTP || *g.Auth != *w.Auth || g.ConfiguredName != w.ConfiguredName || g.errs != w.errs {
				t.Errorf("source %d: reused client %+v\nfresh client %+v", i, g, w)
			}
		}
		for _, r := range AllReports() {
			if (got.Err(r) == nil) != (want.Err(r) == nil) {
				t.Errorf("%s: reused client err %v, fresh %v", r, got.Err(r), want.Err(r))
			}
		}
	}
}

// The client log comes in pages of 8, each naming where the next starts.
func TestSnapshotClientPages(t *testing.T) {
	last, err := chronytest.ReadHex(filepath.Join("testdata", "handmade", "client_accesses-21.hex"))
	if err != nil {
		t.Fatal(err)
	}
	first := append([]byte(nil), last...)
	putU32(first, 28, 16) // n_indices
	putU32(first, 32, 8)  // next_index
	putU32(first, 36, 8)  // n_clients: 2 records, 6 empty slots
	r := loadCaptures(t, "chrony-4.8")
	r.Set(uint16(cmdClientAccesses), chronytest.IndexKey(0), first)
	r.Set(uint16(cmdClientAccesses), chronytest.IndexKey(8), last)
	f := chronytest.NewFake(t, "unixgram", r)
	c := dialFake(t, f, Dialer{})
	s, err := c.Snapshot(ctxTimeout(t, 5*time.Second), ReportClients)
	if err != nil || s.Err(ReportClients) != nil {
		t.Fatal(err, s.Err(ReportClients))
	}
	if len(s.Clients) != 4 || s.Clients[0].Address.String() != "192.0.2.50" || s.Clients[3].NTPHits != 200 {
		t.Errorf("clients %+v", s.Clients)
	}
	if n := f.RequestsFor(uint16(cmdClientAccesses)); n != 2 {
		t.Errorf("%d pages asked, want 2", n)
	}
	all, err := c.ClientAccesses(ctxTimeout(t, 5*time.Second))
	if err != nil || len(all) != 4 {
		t.Errorf("ClientAccesses: %d, %v", len(all), err)
	}
}

// TestDialUDPFirst: an address that refuses at once (no one on the port)
// gives way to the next; one that is silent spends the context, and the
// addresses after it get nothing; the last address is not asked before
// the caller's first request.
func TestDialUDPFirst(t *testing.T) {
	f := chronytest.NewFake(t, "udp", loadCaptures(t, "chrony-4.8"))
	silent := chronytest.NewUDPCounter(t, "udp4", "127.0.0.1:0")

	t.Run("refused, then chronyd", func(t *testing.T) {
		// A port bound a moment ago and closed: the kernel refuses it.
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gone := pc.LocalAddr().(*net.UDPAddr).AddrPort()
		pc.Close()
		before := f.Requests()
		var d Dialer
		c, err := d.DialUDPFirst(ctxTimeout(t, 2*time.Second), []netip.AddrPort{gone, f.AddrPort()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got, want := c.Address(), "udp://"+f.AddrPort().String(); got != want {
			t.Errorf("connected to %s, want %s", got, want)
		}
		if n := f.Requests() - before; n != 0 {
			t.Errorf("the last address was asked %d requests before use, want 0", n)
		}
	})
	t.Run("silent, then chronyd", func(t *testing.T) {
		before := f.Requests()
		var d Dialer
		start := time.Now()
		_, err := d.DialUDPFirst(ctxTimeout(t, 500*time.Millisecond), []netip.AddrPort{silent.AddrPort(), f.AddrPort()})
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("err = %v, want ErrTimeout", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("took %v with a 500 ms context", took)
		}
		if silent.Received() == 0 {
			t.Errorf("the silent address was not asked")
		}
		if n := f.Requests() - before; n != 0 {
			t.Errorf("after the timeout, %d requests went to the next address", n)
		}
	})
}

// slowWriter is a connection whose writes take a while, as a write to a
// full Unix socket queue does.
type slowWriter struct {
	net.Conn
	wait time.Duration
}

func (w slowWriter) Write(p []byte) (int, error) {
	time.Sleep(w.wait)
	return w.Conn.Write(p)
}

// TestRoundTripStartsWhenWritten: the round trip a reply measures (and the
// wait before a request is sent again) starts once the request is written,
// not when the write began, so a slow write does not count as a slow
// chronyd. Stamped before the write, the sample is at least the write's
// 300 ms; stamped after it, it is the fake's answer on loopback.
func TestRoundTripStartsWhenWritten(t *testing.T) {
	const wait = 300 * time.Millisecond
	f := chronytest.NewFake(t, "unixgram", loadCaptures(t, "chrony-4.8"))
	c := dialFake(t, f, Dialer{})
	c.conn = slowWriter{Conn: c.conn, wait: wait}
	if _, err := c.Tracking(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if c.srtt <= 0 || c.srtt >= wait {
		t.Errorf("round trip %v after a write of %v: it counts the write", c.srtt, wait)
	}
}
