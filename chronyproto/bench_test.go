package chronyproto

import (
	"context"
	"testing"
	"time"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

// benchSnapshot takes snapshots with c until the benchmark ends and
// reports how many requests it sent per snapshot.
func benchSnapshot(b *testing.B, c *Client, sources int, reports ...Report) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := c.Sent()
	b.ReportAllocs()
	for b.Loop() {
		s, err := c.Snapshot(ctx, reports...)
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Sources) != sources {
			b.Fatalf("%d sources, want %d", len(s.Sources), sources)
		}
	}
	b.ReportMetric(float64(c.Sent()-start)/float64(b.N), "requests/op")
}

// BenchmarkFakeSnapshot64 measures the client's own cost (CPU and memory)
// of a 64-source snapshot from a fake chronyd that answers at once.
func BenchmarkFakeSnapshot64(b *testing.B) {
	replies, err := loadCaptures(b, "chrony-4.8").WithSources(64)
	if err != nil {
		b.Fatal(err)
	}
	for _, network := range []string{"unixgram", "udp"} {
		b.Run(network, func(b *testing.B) {
			f := chronytest.NewFake(b, network, replies)
			c := dialFake(b, f, Dialer{})
			benchSnapshot(b, c, 64, AllReports()...)
		})
	}
}
