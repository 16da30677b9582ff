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

// BenchmarkLabSnapshot64 takes a snapshot of a real chronyd with 64
// reachable sources (66 in all), with every report the transport allows,
// pipelined and one request at a time: over the Unix socket, and over UDP
// through a proxy that adds 1 ms each way.
func BenchmarkLabSnapshot64(b *testing.B) {
	l := labs.get(b, 64)
	proxy := chronytest.NewDelayProxy(b, l.UDPAddr, time.Millisecond, 0)
	for _, tr := range []struct {
		name    string
		addr    string
		reports []Report
	}{
		{"unix", "unix://" + l.SocketPath, AllReports()},
		{"udp-2ms-rtt", proxy.URL(), UDPReports},
	} {
		for _, mode := range []struct {
			name   string
			window int
		}{{"pipelined", 0}, {"sequential", 1}} {
			b.Run(tr.name+"/"+mode.name, func(b *testing.B) {
				d := Dialer{Window: mode.window}
				c, err := d.Dial(context.Background(), tr.addr)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				benchSnapshot(b, c, 66, tr.reports...)
			})
		}
	}
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
			benchSnapshot(b, c, 64)
		})
	}
}
