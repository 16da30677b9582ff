//go:build integration

package main

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// stableScrapes is how many scrapes in a row must give the same series.
const stableScrapes = 10

// movingLabels are the labels allowed to change between scrapes of a
// settled chronyd: a source moving between selection states.
var movingLabels = map[string][]string{
	"chrony_sources_state_info":    {"source_state"},
	"chrony_selectdata_state_info": {"state", "reason"},
}

// seriesSet returns every series of a scrape as name{labels}, without the
// labels that may move.
func (s scrape) seriesSet() map[string]bool {
	out := map[string]bool{}
	for name, fam := range s.families {
		for _, m := range fam.Metric {
			l := labels(m)
			for _, moving := range movingLabels[name] {
				delete(l, moving)
			}
			keys := slices.Sorted(maps.Keys(l))
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = k + "=" + l[k]
			}
			out[name+"{"+strings.Join(parts, ",")+"}"] = true
		}
	}
	return out
}

// TestSeriesStable: once chronyd has settled, consecutive scrapes give the
// same series, but for a source moving between selection states; nothing
// that changes with every sample is a label. Prometheus keeps every series
// it has seen for hours, so a label that changed with each poll would cost
// a fleet a new series per source per poll.
func TestSeriesStable(t *testing.T) {
	l := sharedLab.get(t)
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"defaults", nil},
		{"every collector", []string{"--collector.ntpdata", "--collector.selectdata", "--collector.clients"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startExporter(t, append([]string{"--chrony.address=" + socketAddr(l)}, tc.flags...)...)
			first := e.scrape(t, nil).seriesSet()
			for i := 1; i < stableScrapes; i++ {
				// Far enough apart that the lab's sources send new samples
				// (they poll every one to sixteen seconds).
				time.Sleep(500 * time.Millisecond)
				got := e.scrape(t, nil).seriesSet()
				var appeared, vanished []string
				for k := range got {
					if !first[k] {
						appeared = append(appeared, k)
					}
				}
				for k := range first {
					if !got[k] {
						vanished = append(vanished, k)
					}
				}
				if len(appeared)+len(vanished) > 0 {
					sort.Strings(appeared)
					sort.Strings(vanished)
					t.Fatalf("scrape %d of %d changed the series:\nnew:\n  %s\ngone:\n  %s", i+1, stableScrapes,
						strings.Join(appeared, "\n  "), strings.Join(vanished, "\n  "))
				}
			}
		})
	}
}
