package collector_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/second-hand/chrony_exporter/chronyproto"
	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

// More request codes (§7.1).
const (
	cmdRTCReport = 35
)

// withRTC is the 4.3 capture (whose chronyd had no RTC) with the
// hand-made RTC report, so that every section of the page has data.
func withRTC(t *testing.T) *chronytest.Replies {
	r := loadCaptures(t, captures43)
	putHex(t, r, chronytest.NoKey, "rtc.hex")
	return r
}

// TestReadAsksForThePage: the status page's read asks for every report the
// page shows even with every collector turned off, while a scrape with the
// same flags asks chronyd for nothing, before and after page reads.
func TestReadAsksForThePage(t *testing.T) {
	ctx := context.Background()
	f := chronytest.NewFake(t, "unixgram", withRTC(t))
	e := newExporter(t, f, only(), scrapeTimeout)

	s, states := e.Read(ctx)
	if s.Err != nil || s.Snapshot == nil {
		t.Fatalf("page read: %v", s.Err)
	}
	snap := s.Snapshot
	if snap.Tracking == nil || snap.RTC == nil || len(snap.Sources) != 5 {
		t.Fatalf("page read: tracking %v, rtc %v, %d sources; want tracking, the RTC and 5 sources", snap.Tracking, snap.RTC, len(snap.Sources))
	}
	for _, src := range snap.Sources {
		if src.Stats == nil || src.Select == nil {
			t.Errorf("source %s: sourcestats %v, selectdata %v; want both", src.Name(), src.Stats, src.Select)
		}
	}
	if !snap.Asked(chronyproto.ReportSourceName) || f.RequestsFor(cmdSourceName) == 0 {
		t.Errorf("the page read did not ask for the configured names")
	}
	if len(states) != 0 {
		t.Errorf("states %+v with every collector off, want none", states)
	}

	for _, step := range []string{"first scrape", "scrape after a page read"} {
		f.ResetCounters()
		got, err := gatherText(e)
		if err != nil {
			t.Fatal(err)
		}
		if n := f.Requests(); n != 0 {
			t.Errorf("%s: %d requests to chronyd with every collector off, want 0", step, n)
		}
		if !strings.Contains(got, "chrony_up 1") || strings.Contains(got, "chrony_tracking") {
			t.Errorf("%s: exposition\n%s\nwant chrony_up 1 and no collector's series", step, got)
		}
		e.Read(ctx)
	}
}

// TestScrapeUnchangedByPageReads: page reads ask for more than a scrape,
// but a scrape after them asks chronyd for exactly what it asked before.
func TestScrapeUnchangedByPageReads(t *testing.T) {
	ctx := context.Background()
	f := chronytest.NewFake(t, "unixgram", withRTC(t))
	e := newExporter(t, f, map[string]bool{"selectdata": false}, scrapeTimeout)
	cmds := []uint16{cmdNSources, cmdSourceData, cmdTracking, cmdSourceStats, cmdSelectData, cmdSourceName, cmdAuthData, cmdNTPData, cmdRTCReport}
	counts := func() map[uint16]uint64 {
		m := map[uint16]uint64{}
		for _, c := range cmds {
			m[c] = f.RequestsFor(c)
		}
		return m
	}

	// The first scrape learns the source list; the second is the steady
	// state.
	e.Scrape(ctx)
	f.ResetCounters()
	e.Scrape(ctx)
	want, wantTotal := counts(), f.Requests()
	if want[cmdSelectData] != 0 {
		t.Fatalf("%d SELECT_DATA requests with selectdata off", want[cmdSelectData])
	}

	f.ResetCounters()
	if s, _ := e.Read(ctx); s.Err != nil || f.RequestsFor(cmdSelectData) == 0 {
		t.Fatalf("page read: %v, %d SELECT_DATA requests; want some", s.Err, f.RequestsFor(cmdSelectData))
	}
	e.Read(ctx)

	f.ResetCounters()
	e.Scrape(ctx)
	if got, total := counts(), f.Requests(); total != wantTotal || !mapsEqual(got, want) {
		t.Errorf("scrape after page reads asked %v (%d requests), before them %v (%d)", got, total, want, wantTotal)
	}
}

func mapsEqual(a, b map[uint16]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestReadRecordsNothing: a page read shows each collector's state from
// its own read, but only scrapes record the states and log their changes;
// the page keeps a state's Since when the scrapes saw the same.
func TestReadRecordsNothing(t *testing.T) {
	ctx := context.Background()
	r := loadCaptures(t, captures43)
	r.DeleteCommand(cmdAuthData) // INVALID, as chronyd 3.x answers
	f := chronytest.NewFake(t, "unixgram", r)
	var logs lockedLog
	e, err := collector.New(collector.Config{Address: f.Addr(), Timeout: scrapeTimeout, Enabled: only("authdata", "tracking")}, &logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })

	stateOf := func(states []collector.CollectorState, name string) collector.CollectorState {
		for _, st := range states {
			if st.Name == name {
				return st
			}
		}
		t.Fatalf("no state of %s in %+v", name, states)
		return collector.CollectorState{}
	}

	s, states := e.Read(ctx)
	page := stateOf(states, "authdata")
	if !errors.Is(page.Err, chronyproto.ErrTooOld) || page.Skipped != "" || !page.Since.Equal(s.Start) {
		t.Errorf("page state of authdata %+v, want ErrTooOld since the read (%v)", page, s.Start)
	}
	if logs.String() != "" {
		t.Errorf("a page read logged:\n%s", logs.String())
	}
	if rec := stateOf(e.States(), "authdata"); !rec.Since.IsZero() || rec.Err != nil {
		t.Errorf("a page read recorded authdata's state %+v", rec)
	}

	e.Scrape(ctx) // Scrape alone records nothing either: rendering does.
	if _, err := testutil.CollectAndFormat(e, expfmt.TypeTextPlain, successName); err != nil {
		t.Fatal(err)
	}
	rec := stateOf(e.States(), "authdata")
	if !errors.Is(rec.Err, chronyproto.ErrTooOld) || rec.Since.IsZero() {
		t.Fatalf("scraped state of authdata %+v, want ErrTooOld", rec)
	}
	if n := logs.count(`level=warn msg="collector failed" collector=authdata`); n != 1 {
		t.Errorf("%d warnings for authdata after a scrape, want 1:\n%s", n, logs.String())
	}
	if _, states = e.Read(ctx); !stateOf(states, "authdata").Since.Equal(rec.Since) {
		t.Errorf("page state of authdata since %v, want the scrapes' %v", stateOf(states, "authdata").Since, rec.Since)
	}
	if tr := stateOf(states, "tracking"); tr.Err != nil || tr.Skipped != "" {
		t.Errorf("tracking %+v, want fine", tr)
	}
}
