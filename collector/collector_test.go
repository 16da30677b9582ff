package collector_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/second-hand/chrony_exporter/chronyproto"
	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
	"github.com/second-hand/chrony_exporter/internal/testenv"
)

func capture48(t *testing.T) *chronytest.Replies { return loadCaptures(t, captures48) }

// TestUpGolden: chrony_up says whether chronyd answered; a chronyd that
// never answers fails every collector and leaves no other series.
func TestUpGolden(t *testing.T) {
	for _, g := range []golden{{
		file:    "up",
		about:   "chrony-4.8 capture, default collectors: chronyd answers and every collector succeeds.",
		replies: capture48,
		names:   []string{upName, successName},
	}, {
		file: "up-noreply",
		about: "chrony-4.8 capture, default collectors, but the fake never answers (FaultNoReply)\n" +
			"and the timeout is 1 s: chrony_up 0, every collector fails, no other series.",
		replies: capture48,
		setup: func(f *chronytest.Fake) {
			f.SetFault(chronytest.AnyCommand, chronytest.FaultSpec{Fault: chronytest.FaultNoReply})
		},
		timeout: time.Second,
		names:   goldenNames(collector.Names()...),
	}} {
		t.Run(g.file, func(t *testing.T) { g.run(t) })
	}
}

// TestUDPGolden: over UDP the collectors that need the Unix socket are
// skipped unless the user turned them on, in which case they fail.
func TestUDPGolden(t *testing.T) {
	var unixOnly []string
	for _, n := range collector.Names() {
		if collector.UnixOnly(n) {
			unixOnly = append(unixOnly, n)
		}
	}
	// chronyd without opencommands refuses these over UDP (§6).
	refuse := func(f *chronytest.Fake) {
		for _, cmd := range unixOnlyCommands {
			f.SetFault(cmd, chronytest.FaultSpec{Fault: chronytest.FaultUnauth})
		}
	}

	t.Run("udp-defaults", func(t *testing.T) {
		g := golden{
			file: "udp-defaults",
			about: "chrony-4.8 capture over UDP, default collectors; the fake answers UNAUTH to the\n" +
				"commands that need the Unix socket. Those collectors are skipped: no series, no success.",
			replies: capture48,
			network: "udp",
			setup:   refuse,
			names:   goldenNames(unixOnly...),
		}
		f, _ := g.run(t)
		for _, cmd := range unixOnlyCommands {
			if n := f.RequestsFor(cmd); n != 0 {
				t.Errorf("%d requests of command %d, which no collector run over UDP needs", n, cmd)
			}
		}
	})

	t.Run("udp-serverstats", func(t *testing.T) {
		g := golden{
			file: "udp-serverstats",
			about: "chrony-4.8 capture over UDP, default collectors and serverstats turned on explicitly;\n" +
				"the fake answers UNAUTH to SERVER_STATS as chronyd does: serverstats fails.",
			replies: capture48,
			network: "udp",
			setup:   refuse,
			enabled: map[string]bool{"serverstats": true},
			names:   goldenNames(unixOnly...),
		}
		_, e := g.run(t)
		for _, st := range e.States() {
			if st.Name != "serverstats" {
				continue
			}
			if !errors.Is(st.Err, chronyproto.ErrNeedsUnixSocket) || !strings.Contains(st.Err.Error(), "unix://") {
				t.Errorf("serverstats state error %v, want ErrNeedsUnixSocket saying how to use the Unix socket", st.Err)
			}
			return
		}
		t.Error("no state for serverstats")
	})
}

// TestConcurrentScrapesShareOneSnapshot: scrapes that arrive while a read
// of chronyd is in flight wait for it and get its values.
func TestConcurrentScrapesShareOneSnapshot(t *testing.T) {
	ctx := context.Background()
	f := chronytest.NewFake(t, "unixgram", capture48(t))

	// What one scrape shows and what its (first) snapshot costs chronyd.
	want, err := gatherText(newExporter(t, f, nil, scrapeTimeout).ForContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	perSnapshot := f.Requests()

	// A new exporter, whose first snapshot costs the same. The first two
	// TRACKING requests go unanswered, so the read takes the 200 + 400 ms
	// of two retransmissions, while all the scrapes below start.
	f.ResetCounters()
	f.SetFault(cmdTracking, chronytest.FaultSpec{Fault: chronytest.FaultNoReply, Count: 2})
	e := newExporter(t, f, nil, scrapeTimeout)
	const n = 20
	got := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = gatherText(e.ForContext(ctx))
		})
	}
	close(start)
	wg.Wait()

	for i := range n {
		if errs[i] != nil {
			t.Errorf("scrape %d: %v", i, errs[i])
		} else if got[i] != want {
			t.Errorf("scrape %d differs from a lone scrape:\n%s\nwant:\n%s", i, got[i], want)
		}
	}
	if !strings.Contains(want, "chrony_up 1") || !strings.Contains(want, "chrony_tracking_stratum 4") {
		t.Errorf("the lone scrape did not read the capture:\n%s", want)
	}
	if s := f.RequestsFor(cmdNSources); s != 1 {
		t.Errorf("%d snapshots (N_SOURCES requests) for %d concurrent scrapes, want 1", s, n)
	}
	if r := f.Requests(); r >= 2*perSnapshot {
		t.Errorf("%d requests for %d concurrent scrapes, one snapshot costs %d", r, n, perSnapshot)
	}
}

// TestDuplicateRefclocksGolden: two refclocks with one reference ID have
// the same labels; each collector sends the first one's series only, as
// two series with one label set fail a scrape.
func TestDuplicateRefclocksGolden(t *testing.T) {
	refclockSelect := func(t *testing.T) []byte {
		p := readHex(t, "select_data.hex")
		binary.BigEndian.PutUint32(p[28:], 0x50505330) // "PPS0"
		putIPAddr(p, 32, netip.Addr{})                 // refclocks have no address
		return p
	}
	g := golden{
		file: "duplicate-refclocks",
		about: "chrony-4.8 capture, N_SOURCES 2, SOURCE_DATA, SOURCESTATS and SELECT_DATA #0 and #1 both\n" +
			"the refclock PPS0: handmade/source_data-refclock.hex, sourcestats-refclock.hex and\n" +
			"select_data.hex with ref_id PPS0 and no address. #1 differs from #0: reach 0o17,\n" +
			"16 -> 4 samples, state 'x' -> '*'. Only #0 shows.",
		replies: func(t *testing.T) *chronytest.Replies {
			r := capture48(t)
			setNSources(t, r, 2)
			for i := range uint32(2) {
				sd := readHex(t, "source_data-refclock.hex")
				ss := readHex(t, "sourcestats-refclock.hex")
				sel := refclockSelect(t)
				if i == 1 {
					binary.BigEndian.PutUint16(sd[58:], 0o17)
					binary.BigEndian.PutUint32(ss[52:], 4)
					sel[52] = '*'
				}
				r.Set(cmdSourceData, chronytest.IndexKey(i), sd)
				r.Set(cmdSourceStats, chronytest.IndexKey(i), ss)
				r.Set(cmdSelectData, chronytest.IndexKey(i), sel)
			}
			return r
		},
		enabled: only("sources", "sourcestats", "selectdata"),
		names:   goldenNames("sources", "sourcestats", "selectdata"),
	}
	_, e := g.run(t)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.ForContext(context.Background()))
	if _, err := reg.Gather(); err != nil {
		t.Errorf("pedantic gather: %v", err)
	}
}

// TestScrapeAfterTimeoutReadsAgain: a scrape that starts after one that
// timed out reads chronyd again; it does not get the old read's result.
func TestScrapeAfterTimeoutReadsAgain(t *testing.T) {
	ctx := context.Background()
	f := chronytest.NewFake(t, "unixgram", capture48(t))
	f.SetFault(chronytest.AnyCommand, chronytest.FaultSpec{Fault: chronytest.FaultNoReply})
	e := newExporter(t, f, only("tracking"), 500*time.Millisecond)
	if s := e.Scrape(ctx); !errors.Is(s.Err, chronyproto.ErrTimeout) {
		t.Fatalf("scrape of a chronyd that does not answer: %v, want ErrTimeout", s.Err)
	}
	f.ClearFaults()
	s := e.Scrape(ctx)
	if s.Err != nil || s.Snapshot == nil || s.Snapshot.Tracking == nil {
		t.Errorf("scrape once chronyd answers again got no tracking report: %v", s.Err)
	}
}

// TestTransportGolden: chrony_exporter_transport_info names the transport
// and address; when the automatic address finds a Unix socket it cannot
// use and falls back to UDP, it names the socket and why, the collectors
// that need the socket are skipped, and the fall-back is logged once at
// warn. The fake's random addresses are written down as FAKE_* in the
// golden file.
func TestTransportGolden(t *testing.T) {
	refuse := func(f *chronytest.Fake) {
		for _, cmd := range unixOnlyCommands {
			f.SetFault(cmd, chronytest.FaultSpec{Fault: chronytest.FaultUnauth})
		}
	}
	// A socket file nobody listens on: connecting is refused, as when
	// chronyd has stopped without removing its socket.
	dead := filepath.Join(t.TempDir(), "chronyd.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: dead, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()

	for _, tc := range []struct {
		file, about string
		network     string
		auto        bool // the automatic address, finding the dead socket first
		wantSkipped bool
	}{
		{"transport-unix", "chrony-4.8 capture over the Unix socket, given as the address.", "unixgram", false, false},
		{"transport-udp", "chrony-4.8 capture over UDP, given as the address: no fall-back.", "udp", false, true},
		{"transport-fallback", "chrony-4.8 capture; the automatic address finds a socket that refuses the connection,\n" +
			"then the fake over UDP: the fall-back is named, and the collectors that need the socket are skipped.", "udp", true, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := chronytest.NewFake(t, tc.network, capture48(t))
			if tc.network == "udp" {
				refuse(f)
			}
			cfg := collector.Config{Address: f.Addr(), Timeout: scrapeTimeout}
			if tc.auto {
				savedPaths, savedUDP := chronyproto.DefaultSocketPaths, chronyproto.DefaultUDPAddrs
				t.Cleanup(func() { chronyproto.DefaultSocketPaths, chronyproto.DefaultUDPAddrs = savedPaths, savedUDP })
				chronyproto.DefaultSocketPaths = []string{filepath.Join(t.TempDir(), "missing.sock"), dead}
				chronyproto.DefaultUDPAddrs = []netip.AddrPort{f.AddrPort()}
				cfg.Address = ""
			}
			var logs lockedLog
			e, err := collector.New(cfg, &logs)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			// As served, twice, and through the Collector: the fall-back is
			// logged once, not per scrape.
			names := []string{transportName, upName, successName}
			servedGolden(t, e, tc.file, tc.about, names, strings.NewReplacer(f.Addr(), "FAKE_ADDRESS", dead, "FAKE_DEAD_SOCKET").Replace)

			var skipped []string
			for _, st := range e.States() {
				if st.Skipped != "" {
					skipped = append(skipped, st.Name)
				}
			}
			if (len(skipped) > 0) != tc.wantSkipped {
				t.Errorf("skipped collectors %v, want some: %v", skipped, tc.wantSkipped)
			}
			warns := logs.count(`level=warn msg="chronyd's Unix socket refused the exporter`)
			if want := map[bool]int{true: 1}[tc.auto]; warns != want {
				t.Errorf("%d fall-back warnings in the log, want %d:\n%s", warns, want, logs.String())
			}
			if tc.auto && !strings.Contains(logs.String(), "skipped_collectors="+strings.Join(skipped, ",")) {
				t.Errorf("the warning does not name the skipped collectors %v:\n%s", skipped, logs.String())
			}
		})
	}
}

// lockedLog is a go-kit logger writing logfmt lines that a test reads.
type lockedLog struct{ testenv.Buffer }

func (l *lockedLog) Log(kv ...any) error { return log.NewLogfmtLogger(&l.Buffer).Log(kv...) }

func (l *lockedLog) count(s string) int { return strings.Count(l.String(), s) }
