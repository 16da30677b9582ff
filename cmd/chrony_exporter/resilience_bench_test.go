//go:build integration

package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/procfs"

	"github.com/second-hand/chrony_exporter/chronyproto"
	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

// BenchmarkLab64 measures, against a real chronyd with 66 sources (64
// reachable; the lab is slow to settle, so the benchmarks share it):
//
//   - scrape/1core: /metrics of an exporter held to one core (GOMAXPROCS=1
//     and pinned to CPU 0; chronyd pinned to CPU 1), one scrape after
//     another over the Unix socket, gzipped as Prometheus asks: scrapes/s
//     sustained, each a read of its own;
//   - scrape/1core/10-concurrent: ten scrapers at once on the same
//     exporter (they share reads in progress): p50 and p99;
//   - probe/pipelined and probe/sequential: one /probe over UDP through a
//     proxy adding 1 ms each way (2 ms round trip), with chronyproto's
//     window and with one request at a time (Dialer{Window: 1}): time per
//     probe, requests per probe, and the time in round trips.
//
// go test -run '^$' -bench Lab64 ./cmd/chrony_exporter (as root).
func BenchmarkLab64(b *testing.B) {
	l := lab64.get(b)
	sources := len(l.Reachable) + 2

	b.Run("scrape/1core", func(b *testing.B) {
		b.Setenv("GOMAXPROCS", "1")
		e := launchExporter(b, launch{bin: plainExporter(b)}, "--chrony.address="+socketAddr(l))
		pin(b, e.Cmd.Process.Pid, 0)
		pin(b, l.ClientPID(), 1)
		client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16}}
		checkScrape(b, client, e.url, sources)

		b.Run("sequential", func(b *testing.B) {
			cpu0, chronyd0 := cpuTime(b, e.Cmd.Process.Pid), cpuTime(b, l.ClientPID())
			for b.Loop() {
				gzScrape(b, client, e.url)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scrapes/s")
			// What one core could sustain if chronyd answered at once.
			b.ReportMetric(float64(cpuTime(b, e.Cmd.Process.Pid)-cpu0)/float64(b.N)/1e6, "exporter-cpu-ms/scrape")
			b.ReportMetric(float64(cpuTime(b, l.ClientPID())-chronyd0)/float64(b.N)/1e6, "chronyd-cpu-ms/scrape")
		})
		b.Run("10-concurrent", func(b *testing.B) {
			const scrapers = 10
			times := make([][]time.Duration, scrapers)
			next := make(chan struct{})
			var wg sync.WaitGroup
			b.ResetTimer()
			for i := range scrapers {
				wg.Go(func() {
					for range next {
						start := time.Now()
						gzScrape(b, client, e.url)
						times[i] = append(times[i], time.Since(start))
					}
				})
			}
			for range b.N {
				next <- struct{}{}
			}
			close(next)
			wg.Wait()
			b.StopTimer()
			all := slices.Concat(times...)
			slices.Sort(all)
			b.ReportMetric(float64(all[len(all)/2])/1e6, "p50-ms")
			b.ReportMetric(float64(all[len(all)*99/100])/1e6, "p99-ms")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scrapes/s")
		})
	})

	const delay = time.Millisecond // each way: a 2 ms round trip
	for _, tc := range []struct {
		name   string
		dialer chronyproto.Dialer
	}{
		{"probe/pipelined", chronyproto.Dialer{}},
		{"probe/sequential", chronyproto.Dialer{Window: 1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := chronytest.NewDelayProxy(b, l.UDPAddr, delay, 0)
			pr, err := collector.NewProber(collector.Config{Timeout: 30 * time.Second}, nil)
			if err != nil {
				b.Fatal(err)
			}
			pr.Dialer = tc.dialer
			target := []netip.AddrPort{p.Addr()}
			probe := func() string {
				rec := httptest.NewRecorder()
				pr.ServeProbe(rec, httptest.NewRequest(http.MethodGet, "/probe", nil), target)
				return rec.Body.String()
			}
			body := probe()
			if !strings.Contains(body, "\nchrony_up 1\n") || strings.Count(body, "\nchrony_sources_state_info{") != sources {
				b.Fatalf("probe through the proxy: want chrony_up 1 and %d sources:\n%.2000s", sources, body)
			}
			before, chronyd0 := p.Forwarded(), cpuTime(b, l.ClientPID())
			b.ResetTimer()
			for range b.N {
				probe()
			}
			b.StopTimer()
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(cpuTime(b, l.ClientPID())-chronyd0)/float64(b.N)/1e6, "chronyd-cpu-ms/probe")
			b.ReportMetric(float64(p.Forwarded()-before)/float64(b.N), "requests/probe")
			b.ReportMetric(float64(per)/float64(2*delay), "round-trips/probe")
			b.ReportMetric(float64(per)/1e6, "ms/probe")
		})
	}
}

// pin sets the CPU affinity of every thread of pid; threads made later
// inherit it.
func pin(b *testing.B, pid, cpu int) {
	b.Helper()
	taskset := func(cpus string) ([]byte, error) {
		return exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput()
	}
	if out, err := taskset(strconv.Itoa(cpu)); err != nil {
		b.Fatalf("taskset: %v\n%s", err, out)
	}
	// The lab's chronyd outlives the benchmark: later ones get it back on
	// every CPU.
	b.Cleanup(func() { taskset(fmt.Sprintf("0-%d", runtime.NumCPU()-1)) })
}

// cpuTime returns the user and system time pid has used (in clock ticks
// of 10 ms, so meaningful over many scrapes).
func cpuTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	// procfs, not a reader of our own: it is in the module graph already.
	p, err := procfs.NewProc(pid)
	if err != nil {
		b.Fatal(err)
	}
	st, err := p.Stat()
	if err != nil {
		b.Fatal(err)
	}
	return time.Duration(st.UTime+st.STime) * (time.Second / 100) // USER_HZ
}

// gzScrape fetches /metrics gzipped, as Prometheus does, without
// unzipping it.
func gzScrape(b *testing.B, client *http.Client, url string) {
	req, _ := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := client.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n == 0 || resp.Header.Get("Content-Encoding") != "gzip" {
		b.Errorf("GET /metrics: %d, %d bytes, Content-Encoding %q, want 200 and gzip", resp.StatusCode, n, resp.Header.Get("Content-Encoding"))
	}
}

// checkScrape fails the benchmark unless a scrape is complete.
func checkScrape(b *testing.B, client *http.Client, url string, sources int) {
	b.Helper()
	for range 2 { // the first read of a client takes another path
		s, err := fetch(client, url+"/metrics", nil).metrics()
		if err != nil {
			b.Fatal(err)
		}
		if v, err := s.value("chrony_up", nil); err != nil || v != 1 || countSeries(s, "chrony_sources_state_info") != sources {
			b.Fatalf("chrony_up %v (%v), %d sources, want 1 and %d", v, err, countSeries(s, "chrony_sources_state_info"), sources)
		}
	}
}
