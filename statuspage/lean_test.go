package statuspage

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

// More request codes (§7.1).
const (
	cmdAuthData = 67
	cmd43Dir    = "../chronyproto/testdata/captures/chrony-4.3"
)

// allOff turns every collector off.
func allOff() map[string]bool {
	m := map[string]bool{}
	for _, n := range collector.Names() {
		m[n] = false
	}
	return m
}

// TestPageWithEveryCollectorOff: the page shows everything it shows by
// default, whatever the metric flags, and says nothing of collectors
// turned off but in the Exporter section; /metrics with the same flags
// asks chronyd for nothing.
func TestPageWithEveryCollectorOff(t *testing.T) {
	r := captures(t)
	if err := r.PutFile(chronytest.NoKey, filepath.Join(handmadeDir, "rtc.hex")); err != nil {
		t.Fatal(err)
	}
	f := chronytest.NewFake(t, "unixgram", r)
	p := newTestPage(t, collector.Config{Address: f.Addr(), Enabled: allOff()})
	page := p.page(t)
	wantText(t, page,
		"Status Synchronized leap status: Normal", "Stratum 4",
		"^ server * current best 127.0.1.2 3 32s 017 12s +19 ns [-17 ns] ± 4.0 µs selected",
		"^ server ? unusable 127.0.2.1 0 2m 8s 000 never — missing samples",
		"127.0.1.1 4 3 6s +0.109 ppm 6.856 ppm +1.5 µs 688 ns",
		"Offset +500.000 ms (RTC fast)",
		"tracking off", "selectdata off", "rtc off",
	)
	if tx := text(page); strings.Contains(tx, "turned off") || strings.Contains(tx, "turns it on") || strings.Contains(page, `role="alert"`) {
		t.Errorf("the page speaks of turned-off collectors or has a banner:\n%s", tx)
	}
	st, _ := p.status(t)
	if st.Tracking == nil || len(st.Sources) != 5 || st.Sources[3].SelectReason != "missing samples" || len(st.SourceStats) != 5 ||
		st.RTC.Status != rtcOK || st.Unavailable != nil || len(st.Problems) != 0 {
		t.Errorf("status with every collector off: %+v", st)
	}
	for _, c := range st.Exporter.Collectors {
		if c.State != collectorOff {
			t.Errorf("collector %s: %q, want off", c.Name, c.State)
		}
	}

	f.ResetCounters()
	ch := make(chan prometheus.Metric, 64)
	p.e.Collect(ch)
	close(ch)
	if n := f.Requests(); n != 0 {
		t.Errorf("/metrics with every collector off sent chronyd %d requests, want 0", n)
	}
}

// TestOldChronyd: against a chronyd that answers the 4.0 reports with
// INVALID, as 3.5 does, the banner has one notice (info, no alert) naming
// them and what they cost, and the collector row says why authdata is
// skipped; turned on explicitly, authdata is a warning besides.
func TestOldChronyd(t *testing.T) {
	old := func(t *testing.T) *chronytest.Replies {
		r, err := chronytest.LoadCaptures(cmd43Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []uint16{cmdSelectData, cmdAuthData, cmdNTPSourceName} {
			r.DeleteCommand(cmd)
		}
		return r
	}

	t.Run("defaults", func(t *testing.T) {
		f := chronytest.NewFake(t, "unixgram", old(t))
		p := newTestPage(t, collector.Config{Address: f.Addr()})
		pr, page, st := problemsOf(t, p)
		want := "chronyd at " + f.Addr() + " is too old for the selectdata, authdata and sourcename reports (chrony 4.0 added them): " +
			"the sources show no selection reasons or configured names; the authdata collector is skipped. Upgrading chrony brings them; nothing else needs doing."
		if len(pr) != 1 || pr[0].Kind != kindMissingReports || pr[0].Severity != "info" || pr[0].Message != want {
			t.Fatalf("problems %+v, want one info notice: %q", pr, want)
		}
		if !strings.Contains(page, `<section id="problems" class="banner" role="status"`) || !strings.Contains(page, `class="problem info"`) {
			t.Errorf("the notice is not shown as an info status")
		}
		wantText(t, page, want, "authdata skipped this chronyd is too old for the authdata report (chrony 4.0 added it)")
		if len(st.Sources) != 5 || st.Sources[0].SelectReason != "" || st.Tracking == nil || len(st.SourceStats) != 5 {
			t.Errorf("sources %+v, tracking %v: want the sources without reasons, and tracking", st.Sources, st.Tracking)
		}
	})

	t.Run("authdata on", func(t *testing.T) {
		f := chronytest.NewFake(t, "unixgram", old(t))
		p := newTestPage(t, collector.Config{Address: f.Addr(), Enabled: map[string]bool{"authdata": true}})
		pr, page, _ := problemsOf(t, p)
		if len(pr) != 2 || pr[0].Kind != kindTooOld || pr[0].Collector != "authdata" || pr[0].Severity != "warning" ||
			pr[1].Kind != kindMissingReports || strings.Contains(pr[1].Message, "collector is skipped") {
			t.Fatalf("problems %+v, want authdata too old, then the notice without skipped collectors", pr)
		}
		if !strings.Contains(page, `role="alert"`) {
			t.Errorf("a warning in a banner that is no alert")
		}
		wantText(t, page, "authdata error")
	})
}
