//go:build integration

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/procfs"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/internal/testenv"
)

// The resilience tests with a real chronyd, killed, frozen and behind a
// lossy path, and a soak of 10 000 scrapes in a row that watches the
// exporter's goroutines, files and memory.

// TestChronydKilledAndStopped kills the lab's client chronyd under two
// running exporters (Unix socket and UDP) and starts it again, then
// freezes it with SIGSTOP.
func TestChronydKilledAndStopped(t *testing.T) {
	l := chronytest.StartLab(t, chronytest.Config{})
	const timeout = 2 * time.Second
	type target struct {
		name string
		e    *exporter
	}
	// One exporter over the socket and one over UDP, stopped at the end
	// of t.
	startTargets := func(t *testing.T, timeout time.Duration) []target {
		var out []target
		for _, addr := range []string{socketAddr(l), udpAddr(l)} {
			e := startExporter(t, "--chrony.address="+addr, "--chrony.timeout="+timeout.String())
			out = append(out, target{strings.Split(addr, ":")[0], e})
		}
		return out
	}
	targets := startTargets(t, timeout)
	client := &http.Client{}
	scrapeUp := func(t *testing.T, tg target, want float64, within time.Duration) {
		t.Helper()
		a := fetch(client, tg.e.url+"/metrics", nil)
		up, err := a.up()
		if err != nil || up != want || a.Took > within {
			t.Errorf("%s: chrony_up %v (%v) in %v, want %v within %v", tg.name, up, err, a.Took, want, within)
		}
	}
	for _, tg := range targets {
		scrapeUp(t, tg, 1, timeout)
	}

	t.Run("killed", func(t *testing.T) {
		// Scrapes run all along; every one must answer 200 in time,
		// whatever moment the kill hits.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var during []string
		scrapes := 0
		for _, tg := range targets {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					a := fetch(client, tg.e.url+"/metrics", nil)
					_, err := a.up()
					mu.Lock()
					scrapes++
					if err != nil || a.Took > timeout {
						during = append(during, fmt.Sprintf("%s: %v in %v", tg.name, err, a.Took))
					}
					mu.Unlock()
				}
			})
		}
		time.Sleep(300 * time.Millisecond)
		if err := l.KillClient(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		close(stop)
		wg.Wait()
		if len(during) > 0 {
			t.Errorf("of %d scrapes around the kill, %d failed or were late:\n%s", scrapes, len(during), strings.Join(during, "\n"))
		}
		for range 5 {
			for _, tg := range targets {
				scrapeUp(t, tg, 0, timeout)
			}
		}
		if err := l.RestartClient(context.Background()); err != nil {
			t.Fatal(err)
		}
		// The very next scrape, with no exporter restart.
		for _, tg := range targets {
			scrapeUp(t, tg, 1, timeout)
		}
	})

	t.Run("stopped", func(t *testing.T) {
		// A shorter timeout, so that "within --chrony.timeout + 100 ms"
		// is measured against a deadline that matters.
		const short = time.Second
		frozen := startTargets(t, short)
		for _, tg := range frozen {
			scrapeUp(t, tg, 1, short)
		}
		if err := l.StopClient(); err != nil {
			t.Fatal(err)
		}
		// Several scrapes: the first finds the old connection, the next
		// ones a new one, while chronyd's socket queue fills up.
		for range 4 {
			for _, tg := range frozen {
				scrapeUp(t, tg, 0, short+100*time.Millisecond)
			}
		}
		if err := l.ContClient(); err != nil {
			t.Fatal(err)
		}
		// chronyd now answers the stale requests first; their replies
		// match nothing.
		for _, tg := range frozen {
			scrapeUp(t, tg, 1, short)
		}
	})
	for _, tg := range targets {
		tg.e.stop()
		if lines := tg.e.logLines("error"); lines != nil {
			t.Errorf("%s: errors logged:\n%s", tg.name, strings.Join(lines, "\n"))
		}
	}
}

// TestLossyPath puts a proxy that drops 30 % of the datagrams in each
// direction (a round trip then fails half the time) between exporters and
// the lab's UDP port. Every scrape must answer 200 within the timeout with
// chrony_up 1 and be complete: all sources, all source statistics. While
// chronyd answers other requests, chronyproto retransmits a lost one every
// 200 ms, so a request gets about 25 tries before the 5 s deadline and
// fails with probability 0.51^25 (1e-7); a scrape of the 3-source lab
// over UDP sends 21 requests.
func TestLossyPath(t *testing.T) {
	l := sharedLab.get(t)
	const (
		timeout   = 5 * time.Second
		exporters = 4 // in parallel, each with its own proxy, to save time
		scrapes   = 5 // each
	)
	type result struct {
		took    time.Duration
		problem string // "" for a complete scrape with chrony_up 1 in time
	}
	results := make([][]result, exporters) // each written by its goroutine only
	var proxies []*chronytest.Proxy
	var es []*exporter
	for range exporters {
		p := chronytest.NewDelayProxy(t, l.UDPAddr, 0, 0.3)
		proxies = append(proxies, p)
		es = append(es, startExporter(t, "--chrony.address="+p.URL(), "--chrony.timeout="+timeout.String()))
	}
	want := len(l.Reachable) + 2
	var wg sync.WaitGroup
	for i, e := range es {
		wg.Go(func() {
			client := &http.Client{}
			for range scrapes {
				a := fetch(client, e.url+"/metrics", nil)
				r := result{took: a.Took}
				s, err := a.metrics()
				var up float64
				if err == nil {
					up, err = s.value("chrony_up", nil)
				}
				switch sources, stats := countSeries(s, "chrony_sources_state_info"), countSeries(s, "chrony_sourcestats_samples"); {
				case err != nil:
					r.problem = err.Error()
				case a.Took > timeout+500*time.Millisecond:
					r.problem = "answered after the timeout"
				case up != 1:
					r.problem = "chrony_up 0: retries did not carry the read"
				case sources != want || stats != want:
					r.problem = fmt.Sprintf("chrony_up 1 with %d sources and %d sourcestats, want %d", sources, stats, want)
				}
				results[i] = append(results[i], r)
			}
		})
	}
	wg.Wait()
	var times []time.Duration
	var failed []string
	for i, rs := range results {
		for j, r := range rs {
			times = append(times, r.took)
			if r.problem != "" {
				failed = append(failed, fmt.Sprintf("exporter %d scrape %d: %s after %v", i, j, r.problem, r.took.Round(time.Millisecond)))
			}
		}
	}
	var st chronytest.ProxyStats
	for _, p := range proxies {
		s := p.Stats()
		st.Forwarded += s.Forwarded
		st.Returned += s.Returned
		st.DroppedUp += s.DroppedUp
		st.DroppedDown += s.DroppedDown
	}
	slices.Sort(times)
	n := len(times)
	t.Logf("%d scrapes through 30 %% loss each way: %d complete with chrony_up 1; time median %v, max %v; datagrams %d forwarded, %d returned, %d+%d dropped",
		n, n-len(failed), times[n/2].Round(time.Millisecond), times[n-1].Round(time.Millisecond), st.Forwarded, st.Returned, st.DroppedUp, st.DroppedDown)
	if failed != nil {
		t.Errorf("scrapes that were not complete with chrony_up 1 within the timeout:\n%s", strings.Join(failed, "\n"))
	}
}

// procStats is what the kernel says of a process.
type procStats struct {
	fds   int
	rssKB int
}

func readProc(pid int) (procStats, error) {
	// procfs, not a reader of our own: it is in the module graph already.
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procStats{}, err
	}
	fds, err := p.FileDescriptorsLen()
	if err != nil {
		return procStats{}, err
	}
	st, err := p.NewStatus()
	return procStats{fds: fds, rssKB: int(st.VmRSS / 1024)}, err
}

// clientDirs lists what the exporters made beside chronyd's socket:
// chrony_exporter.<pid>/<random>/sock.
func clientDirs(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "chronyd.sock" {
			continue
		}
		out = append(out, e.Name())
		subs, _ := os.ReadDir(filepath.Join(dir, e.Name()))
		for _, s := range subs {
			out = append(out, e.Name()+"/"+s.Name())
		}
	}
	return out
}

// plainBin is the exporter built without the race detector, for the tests
// that count scrapes by the thousand or measure memory: under -race a
// scrape costs five times as much, and the detector's own memory grows
// with every goroutine the HTTP server starts.
var plainBin struct {
	once sync.Once
	path string
}

// plainExporter returns the path of an exporter built without -race (the
// shared one, when the tests run without it).
func plainExporter(t testing.TB) string {
	t.Helper()
	if !testenv.Race {
		return exporterBin
	}
	plainBin.once.Do(func() { plainBin.path = buildVariant(t, "chrony_exporter-norace", false) })
	if plainBin.path == "" {
		t.Fatal("building the exporter without -race failed in an earlier test")
	}
	return plainBin.path
}

// TestTenThousandScrapes runs 10 000 scrapes against the fake chronyd over
// its Unix socket, with a chronyd that stops answering now and then, so
// that the exporter drops its connection and makes a new one. Goroutines,
// file descriptors and memory stay flat, and only the live connection's
// directory is beside chronyd's socket; after SIGKILLs and restarts the
// leftovers of the killed exporters are removed, not piled up.
func TestTenThousandScrapes(t *testing.T) {
	f := chronytest.NewFake(t, "unixgram", fakeReplies(t))
	bin := plainExporter(t)
	e := launchExporter(t, launch{bin: bin}, "--chrony.address="+f.Addr(), "--chrony.timeout=2s")
	pid := e.Cmd.Process.Pid
	const (
		total    = 10000
		warmup   = 1000
		workers  = 8
		dropEach = 1000 // a failing scrape every dropEach
	)
	// Uncompressed: gunzipping 10 000 answers under -race would cost more
	// than the exporter does.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true}}
	var mu sync.Mutex
	var bad []string
	run := func(n int) {
		var wg sync.WaitGroup
		next := make(chan int)
		for range workers {
			wg.Go(func() {
				for i := range next {
					// Parsing 10 000 answers would cost more than
					// making them; every scrape around is parsed.
					a := fetch(client, e.url+"/metrics", nil)
					if a.Err != nil || a.Status != 200 || !strings.Contains(a.Body, "\nchrony_up 1\n") ||
						!strings.Contains(a.Body, `chrony_scrape_collector_success{collector="sources"} 1`) {
						mu.Lock()
						bad = append(bad, fmt.Sprintf("scrape %d: HTTP %d %v: %.200q", i, a.Status, a.Err, a.Body))
						mu.Unlock()
					}
				}
			})
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	// A scrape with chronyd silent ends in a timeout; the exporter then
	// closes its connection and dials anew on the next one.
	drop := func() {
		f.SetFault(chronytest.AnyCommand, chronytest.FaultSpec{Fault: chronytest.FaultNoReply})
		v, err := fetch(client, e.url+"/metrics", http.Header{scrapeTimeoutHeader: {"0.3"}}).up()
		f.ClearFaults()
		if err != nil || v != 0 {
			t.Errorf("scrape with chronyd silent: chrony_up %v (%v), want 0", v, err)
		}
	}
	goroutines := func() float64 {
		s, err := fetch(client, e.url+"/metrics", nil).metrics()
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.value("go_goroutines", nil)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	start := time.Now()
	run(warmup)
	g0 := goroutines()
	p0, err := readProc(pid)
	if err != nil {
		t.Fatal(err)
	}
	for done := warmup; done < total; done += dropEach {
		before := clientDirs(t, f.Dir())
		drop()
		run(dropEach)
		// A new connection has a new socket directory.
		if after := clientDirs(t, f.Dir()); slices.Equal(before, after) {
			t.Errorf("after a timed-out scrape the exporter still uses its old connection (%q)", after)
		}
	}
	took := time.Since(start)
	g1 := goroutines()
	p1, err := readProc(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d scrapes (%d workers, %d dropped connections) in %v, %.0f/s; after %d and after all: goroutines %v → %v, fds %d → %d, RSS %d → %d kB",
		total, workers, (total-warmup)/dropEach, took.Round(time.Millisecond), float64(total)/took.Seconds(), warmup, g0, g1, p0.fds, p1.fds, p0.rssKB, p1.rssKB)
	if len(bad) > 0 {
		t.Errorf("%d scrapes failed, e.g.:\n%s", len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	if g1 > g0+2 {
		t.Errorf("goroutines grew from %v to %v", g0, g1)
	}
	if p1.fds > p0.fds+2 {
		t.Errorf("open files grew from %d to %d", p0.fds, p1.fds)
	}
	// Flat: the heap is warm after the first thousand; what grows after
	// it grows with the number of scrapes.
	if p1.rssKB > p0.rssKB+p0.rssKB/4 {
		t.Errorf("RSS grew from %d kB to %d kB", p0.rssKB, p1.rssKB)
	}
	live := "chrony_exporter." + strconv.Itoa(pid)
	if got := clientDirs(t, f.Dir()); len(got) != 2 || got[0] != live {
		t.Errorf("beside chronyd's socket: %q, want only %s/<random>", got, live)
	}
	e.stop()
	if got := clientDirs(t, f.Dir()); got != nil {
		t.Errorf("after the exporter stopped: %q left beside chronyd's socket", got)
	}

	// SIGKILL leaves the directory behind; the next exporter's first
	// connection removes it once it is older than the 10 s that protect a
	// directory being made (chronyproto's leftoverAge): the test ages it.
	for round := range 3 {
		e := launchExporter(t, launch{bin: bin}, "--chrony.address="+f.Addr(), "--chrony.timeout=2s")
		if v, err := fetch(client, e.url+"/metrics", nil).up(); err != nil || v != 1 {
			t.Fatalf("round %d: chrony_up %v (%v)", round, v, err)
		}
		if got := clientDirs(t, f.Dir()); len(got) != 2 {
			t.Errorf("round %d: beside chronyd's socket with one exporter running: %q", round, got)
		}
		e.Kill() // as the OOM killer would
		left := clientDirs(t, f.Dir())
		if len(left) != 2 {
			t.Fatalf("round %d: after SIGKILL: %q, want the killed exporter's directory", round, left)
		}
		old := time.Now().Add(-time.Minute)
		for _, p := range left {
			if err := os.Chtimes(filepath.Join(f.Dir(), p), old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	e = launchExporter(t, launch{bin: bin}, "--chrony.address="+f.Addr(), "--chrony.timeout=2s")
	if v, err := fetch(client, e.url+"/metrics", nil).up(); err != nil || v != 1 {
		t.Fatalf("chrony_up %v (%v)", v, err)
	}
	live = "chrony_exporter." + strconv.Itoa(e.Cmd.Process.Pid)
	if got := clientDirs(t, f.Dir()); len(got) != 2 || got[0] != live {
		t.Errorf("after 3 SIGKILLs and restarts: %q beside chronyd's socket, want only %s/<random>", got, live)
	}
	e.stop()
	if got := clientDirs(t, f.Dir()); got != nil {
		t.Errorf("after the last exporter stopped: %q", got)
	}
}
