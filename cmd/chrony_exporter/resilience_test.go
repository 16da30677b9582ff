package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/procfs"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

// The resilience tests: chronyd killed, frozen, lying, behind a lossy
// path, under 100 scrapes at once and 10 000 in a row. They run the
// binary TestMain built, as the other integration tests do, and assert no
// time but deadlines that prove "does not hang".

// answer is one HTTP answer, fetched without failing the test, so that
// goroutines can fetch.
type answer struct {
	status int
	body   string
	took   time.Duration
	err    error
}

func fetch(client *http.Client, url string, header http.Header) answer {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return answer{err: err}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return answer{status: resp.StatusCode, body: string(body), took: time.Since(start), err: err}
}

// metrics parses an answer of /metrics or /probe.
func (a answer) metrics() (scrape, error) {
	if a.err != nil {
		return scrape{}, a.err
	}
	if a.status != http.StatusOK {
		return scrape{}, fmt.Errorf("HTTP %d: %.300s", a.status, a.body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(a.body))
	if err != nil {
		return scrape{}, fmt.Errorf("parsing: %w", err)
	}
	return scrape{raw: a.body, families: fams, took: a.took}, nil
}

// up returns chrony_up of an answer, or an error.
func (a answer) up() (float64, error) {
	s, err := a.metrics()
	if err != nil {
		return 0, err
	}
	return s.value("chrony_up", nil)
}

// chronyValues returns every chrony_* sample but the durations, keyed by
// name and labels: what must not change when chronyd misbehaves.
func chronyValues(s scrape) map[string]float64 {
	out := map[string]float64{}
	for name, fam := range s.families {
		if !strings.HasPrefix(name, "chrony_") || name == "chrony_scrape_collector_duration_seconds" || name == "chrony_exporter_build_info" {
			continue
		}
		for _, m := range fam.Metric {
			// Histograms (clients) have no single value; the collectors
			// this test covers send none.
			v, _ := sampleValue(m)
			out[name+labelText(labels(m))] = v
		}
	}
	return out
}

// diffValues lists the differences between two chronyValues.
func diffValues(want, got map[string]float64) []string {
	var d []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			d = append(d, "missing "+k)
		} else if g != v && !(g != g && v != v) { // NaN equals NaN here
			d = append(d, fmt.Sprintf("%s = %v, want %v", k, g, v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			d = append(d, "unexpected "+k)
		}
	}
	sort.Strings(d)
	return d
}

func countSeries(s scrape, name string) int { return len(s.series(name, nil)) }

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
		if err != nil || up != want || a.took > within {
			t.Errorf("%s: chrony_up %v (%v) in %v, want %v within %v", tg.name, up, err, a.took, want, within)
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
					if err != nil || a.took > timeout {
						during = append(during, fmt.Sprintf("%s: %v in %v", tg.name, err, a.took))
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

// TestFakeFaults: a chronyd that sends truncated, garbage,
// wrong-sequence, duplicated and late replies, or floods, never makes the
// exporter panic or show a value other than the clean answer's; a valid
// reply that follows a bad one is used at once, without a retransmission.
func TestFakeFaults(t *testing.T) {
	for _, network := range []string{"unixgram", "udp"} {
		t.Run(network, func(t *testing.T) {
			f := chronytest.NewFake(t, network, fakeReplies(t))
			e := startExporter(t, "--chrony.address="+f.Addr(), "--chrony.timeout=3s")
			client := &http.Client{}
			read := func(t *testing.T) (scrape, uint64) {
				t.Helper()
				before := f.Requests()
				s, err := fetch(client, e.url+"/metrics", nil).metrics()
				if err != nil {
					t.Fatalf("scrape: %v\nstderr:\n%s", err, e.stderr)
				}
				return s, f.Requests() - before
			}
			read(t) // the first read of a client takes another path
			clean, perScrape := read(t)
			want := chronyValues(clean)
			if v, _ := clean.value("chrony_up", nil); v != 1 || countSeries(clean, "chrony_sources_state_info") != 5 {
				t.Fatalf("clean scrape: chrony_up %v, %d sources", v, countSeries(clean, "chrony_sources_state_info"))
			}
			for _, tc := range []struct {
				name string
				spec chronytest.FaultSpec
				// sameRequests: the good reply that follows the bad
				// one is taken, so nothing is sent again.
				sameRequests bool
			}{
				{"truncated then reply", chronytest.FaultSpec{Fault: chronytest.FaultTruncated, ThenReply: true}, true},
				{"garbage then reply", chronytest.FaultSpec{Fault: chronytest.FaultGarbage, ThenReply: true}, true},
				{"wrong sequence then reply", chronytest.FaultSpec{Fault: chronytest.FaultWrongSeq, ThenReply: true}, true},
				{"duplicate", chronytest.FaultSpec{Fault: chronytest.FaultDuplicate}, true},
				{"flood", chronytest.FaultSpec{Fault: chronytest.FaultFlood, Flood: 100}, true},
				// Only bad datagrams for the first requests: the
				// retransmissions get the answer.
				{"truncated only", chronytest.FaultSpec{Fault: chronytest.FaultTruncated, Count: 4}, false},
				{"garbage only", chronytest.FaultSpec{Fault: chronytest.FaultGarbage, Count: 4}, false},
				{"wrong sequence only", chronytest.FaultSpec{Fault: chronytest.FaultWrongSeq, Count: 4}, false},
				{"late", chronytest.FaultSpec{Fault: chronytest.FaultLate, Count: 4, Delay: 700 * time.Millisecond}, false},
				{"no reply", chronytest.FaultSpec{Fault: chronytest.FaultNoReply, Count: 4}, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					f.SetFault(chronytest.AnyCommand, tc.spec)
					s, n := read(t)
					f.ClearFaults()
					if d := diffValues(want, chronyValues(s)); d != nil {
						t.Errorf("values differ from the clean answer:\n%s", strings.Join(d, "\n"))
					}
					if tc.sameRequests && n != perScrape {
						t.Errorf("%d requests, the clean scrape sent %d: the good reply was not taken", n, perScrape)
					}
					// Late and stray datagrams may still arrive: the
					// next scrape must not take them either.
					s, _ = read(t)
					if d := diffValues(want, chronyValues(s)); d != nil {
						t.Errorf("next scrape differs from the clean answer:\n%s", strings.Join(d, "\n"))
					}
				})
			}
			e.stop()
			if strings.Contains(e.stderr.String(), "panic") {
				t.Errorf("panic:\n%s", e.stderr)
			}
		})
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
				r := result{took: a.took}
				s, err := a.metrics()
				var up float64
				if err == nil {
					up, err = s.value("chrony_up", nil)
				}
				switch sources, stats := countSeries(s, "chrony_sources_state_info"), countSeries(s, "chrony_sourcestats_samples"); {
				case err != nil:
					r.problem = err.Error()
				case a.took > timeout+500*time.Millisecond:
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

// TestHundredConcurrentScrapes: 100 scrapes at once all get the whole
// answer, and chronyd sees about the load of one snapshot: they share the
// reads in progress. A proxy adds 100 ms each way, so that a read lasts
// longer than it takes the hundred to arrive: with 20 ms, a pipelined
// read (one round trip) ended before the last scrapes of a loaded CI
// machine under -race arrived, and they needed a third read.
func TestHundredConcurrentScrapes(t *testing.T) {
	f := chronytest.NewFake(t, "udp", fakeReplies(t))
	p := chronytest.NewDelayProxy(t, f.AddrPort(), 100*time.Millisecond, 0)
	e := startExporter(t, "--chrony.address="+p.URL())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	one := func() (scrape, uint64) {
		before := f.Requests()
		s, err := fetch(client, e.url+"/metrics", nil).metrics()
		if err != nil {
			t.Fatal(err)
		}
		return s, f.Requests() - before
	}
	one()
	clean, perScrape := one()
	want := chronyValues(clean)

	const n = 100
	start := make(chan struct{})
	answers := make([]answer, n)
	var wg sync.WaitGroup
	before := f.Requests()
	for i := range n {
		wg.Go(func() {
			<-start
			answers[i] = fetch(client, e.url+"/metrics", nil)
		})
	}
	close(start)
	wg.Wait()
	requests := f.Requests() - before
	for i, a := range answers {
		s, err := a.metrics()
		if err != nil {
			t.Errorf("scrape %d: %v", i, err)
			continue
		}
		if d := diffValues(want, chronyValues(s)); d != nil {
			t.Errorf("scrape %d differs from a lone scrape:\n%s", i, strings.Join(d, "\n"))
		}
	}
	t.Logf("%d concurrent scrapes: chronyd got %d requests; one scrape sends %d", n, requests, perScrape)
	// One read, or two when some scrapes arrive after the first ended.
	if requests > 2*perScrape {
		t.Errorf("chronyd got %d requests for %d concurrent scrapes, %.1f snapshots; want at most 2", requests, n, float64(requests)/float64(perScrape))
	}
}

// killExporter kills e with SIGKILL, as the OOM killer would; the end of
// the test then does not expect a clean exit.
func killExporter(e *exporter) {
	e.stopOnce.Do(func() {})
	e.kill()
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
	err  error
}

// plainExporter returns the path of an exporter built without -race (the
// one TestMain built, when the tests run without it).
func plainExporter(t testing.TB) string {
	t.Helper()
	if !raceBuild {
		return exporterBin
	}
	plainBin.once.Do(func() {
		plainBin.path = filepath.Join(filepath.Dir(exporterBin), "chrony_exporter-norace")
		plainBin.err = goBuild(plainBin.path, false)
	})
	if plainBin.err != nil {
		t.Fatal(plainBin.err)
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
	pid := e.cmd.Process.Pid
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
					if a.err != nil || a.status != 200 || !strings.Contains(a.body, "\nchrony_up 1\n") ||
						!strings.Contains(a.body, `chrony_scrape_collector_success{collector="sources"} 1`) {
						mu.Lock()
						bad = append(bad, fmt.Sprintf("scrape %d: HTTP %d %v: %.200q", i, a.status, a.err, a.body))
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
		killExporter(e)
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
	live = "chrony_exporter." + strconv.Itoa(e.cmd.Process.Pid)
	if got := clientDirs(t, f.Dir()); len(got) != 2 || got[0] != live {
		t.Errorf("after 3 SIGKILLs and restarts: %q beside chronyd's socket, want only %s/<random>", got, live)
	}
	e.stop()
	if got := clientDirs(t, f.Dir()); got != nil {
		t.Errorf("after the last exporter stopped: %q", got)
	}
}
