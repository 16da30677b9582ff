package processmetrics

import (
	"math"
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// gather returns the families a collector reports, by name.
func gather(t testing.TB, c prometheus.Collector) map[string]*dto.MetricFamily {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	return byName
}

func value(mf *dto.MetricFamily) float64 {
	m := mf.GetMetric()[0]
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// TestSameAsClientGolang checks that the collector reports every metric
// of client_golang's process collector, with its help and type, and
// values that agree with it read a moment apart.
func TestSameAsClientGolang(t *testing.T) {
	theirs := gather(t, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ours := gather(t, NewCollector())
	if len(theirs) != 9 {
		t.Fatalf("client_golang's collector reports %d families, want the 9 this package copies", len(theirs))
	}
	for name, want := range theirs {
		got, ok := ours[name]
		if !ok {
			t.Errorf("%s: missing", name)
			continue
		}
		if got.GetHelp() != want.GetHelp() || got.GetType() != want.GetType() || len(got.GetMetric()) != 1 {
			t.Errorf("%s: help %q, type %v, %d series; client_golang's: %q, %v", name,
				got.GetHelp(), got.GetType(), len(got.GetMetric()), want.GetHelp(), want.GetType())
			continue
		}
		g, w := value(got), value(want)
		// How far apart two readings may be: the CPU time of a test, a
		// few pages, a file or two, or nothing.
		var slack float64
		switch name {
		case "process_cpu_seconds_total":
			slack = 0.5
		case "process_resident_memory_bytes", "process_virtual_memory_bytes":
			slack = 64 << 20
		case "process_open_fds":
			slack = 2
		case "process_start_time_seconds":
			slack = 0.011 // one clock tick and rounding
		case "process_network_receive_bytes_total", "process_network_transmit_bytes_total":
			slack = 1 << 20
		}
		if math.Abs(g-w) > slack || (g == 0) != (w == 0) {
			t.Errorf("%s = %g, client_golang's %g", name, g, w)
		}
	}
	for name := range ours {
		if theirs[name] == nil {
			t.Errorf("%s: not one of client_golang's", name)
		}
	}
}

// TestCountsChange checks that the values are read at each scrape: an
// open file and loopback traffic show up in the next one.
func TestCountsChange(t *testing.T) {
	c := NewCollector()
	before := gather(t, c)
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conn, err := net.Dial("udp", l.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const payload = 64 << 10
	for range payload / 1024 {
		conn.Write(make([]byte, 1024))
	}
	after := gather(t, c)
	if got, was := value(after["process_open_fds"]), value(before["process_open_fds"]); got < was+2 {
		t.Errorf("process_open_fds went from %g to %g with two more sockets open", was, got)
	}
	for _, name := range []string{"process_network_receive_bytes_total", "process_network_transmit_bytes_total"} {
		if got, was := value(after[name]), value(before[name]); got < was+payload {
			t.Errorf("%s went from %g to %g after %d bytes over loopback", name, was, got, payload)
		}
	}
}

// BenchmarkCollect gathers this collector and client_golang's, side by
// side.
func BenchmarkCollect(b *testing.B) {
	for _, bc := range []struct {
		name string
		c    prometheus.Collector
	}{
		{"client_golang", collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})},
		{"processmetrics", NewCollector()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(bc.c)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := reg.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
