//go:build integration

package chronyproto

import (
	"context"
	"testing"
	"time"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

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
