package collector_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

func TestServerStatsGolden(t *testing.T) {
	for _, c := range []struct {
		reply, about string
		series       int
	}{
		{"14", "chronyd 3.x: 5 counters", 5},
		{"22", "chronyd 4.0-4.1: 8 counters", 8},
		{"24", "chronyd 4.2-4.3: 9 counters and 2 gauges", 11},
		{"25", "chronyd 4.4+: 17 values, u64 above 2^32", 17},
	} {
		file := "server_stats-" + c.reply + ".hex"
		g := golden{
			file:  "serverstats-" + c.reply,
			about: "chrony-4.8 capture with handmade/" + file + " (" + c.about + ").",
			replies: func(t *testing.T) *chronytest.Replies {
				r := loadCaptures(t, captures48)
				putHex(t, r, chronytest.NoKey, file)
				return r
			},
			enabled: only("serverstats"),
			names:   goldenNames("serverstats"),
		}
		t.Run(g.file, func(t *testing.T) {
			_, e := g.run(t)
			// Only the values the reply carries: no zeros for the others.
			ec := e.ForContext(context.Background())
			if n := testutil.CollectAndCount(ec, collector.MetricNames("serverstats")...); n != c.series {
				t.Errorf("%d serverstats series, want %d", n, c.series)
			}
		})
	}
}
