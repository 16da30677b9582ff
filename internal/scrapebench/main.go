//go:build linux

// Command scrapebench measures the built exporter against a real chronyd
// (chronytest's lab) with different numbers of sources: scrape latency
// (p50, p99) with Accept-Encoding: gzip as Prometheus sends it, beside the
// raw pipelined snapshot of the same reports (chronyproto, in a process of
// its own that does nothing else, idle between snapshots as the exporter
// is between scrapes), the series per scrape, the exporter's resident
// memory (VmRSS now, VmHWM its peak) and CPU time per scrape. Each scrape
// follows a raw snapshot, so that both see the same chronyd and the same
// load: on a shared machine, runs one after the other differ from load
// alone. The raw snapshots run at GOMAXPROCS=1, as the exporter does by
// default: at 2 a snapshot measured as fast or slower on a 2-CPU machine
// (the Go scheduler's spinning thread competes with chronyd), so the
// exporter is held to the fastest raw read. `make bench` runs it after the Go benchmarks:
//
//	go run ./internal/scrapebench -exporter ./chrony_exporter -sources 1,16,64
//
// Each lab has N reachable sources plus the lab's unreachable and noselect
// ones, so chronyd reports N+2. A lab of 64 sources takes about 40 s to
// settle. It needs root, as the lab does.
//
// For each lab it also prints the series of a scrape with every collector
// on, per collector: per reachable source, per unreachable source and per
// host, grouped by collector.MetricCollector.
//
// With -peer PATH, the binary of SuperQ/chrony_exporter (an optional
// measuring stick, never a dependency), each lab also compares four
// exporters scraped in turn: ours with the collectors that export what
// SuperQ's full set does, ours with its defaults, SuperQ with its defaults
// and SuperQ with its full set (comparePeer):
//
//	go run ./internal/scrapebench -exporter ./chrony_exporter -sources 64 -peer ../shared/peers/superq_exporter
//
// With -rounds R, each lab is measured R times, each round with a new
// exporter and a new raw-snapshot process, and the summary gives the
// median p50 ratio with its range. The processes are placed on CPUs
// unless -place=false; the placement type says why.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/procfs"

	"github.com/second-hand/chrony_exporter/chronyproto"
	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

type result struct {
	reachable, sources   int
	series, chronySeries int
	gzipBytes            int
	p50, p99             time.Duration
	snapP50, snapP99     time.Duration // the raw snapshots
	seqP50               time.Duration // the sequential reads of the peer's reports (sequentialReports)
	readP50              time.Duration // the exporter's own read of chronyd
	afterP50             time.Duration // each scrape less its read: what the exporter adds
	cpuPerScrape         time.Duration // the exporter's CPU time
	scraperCPU           time.Duration // this process's CPU time per scrape: the HTTP client and the raw snapshots' pipe; placed, on the exporter's CPU
	rssKiB, hwmKiB       int
	scrapes              int
	round                int    // from 1
	exporter             string // the binary, as -exporter names it
}

// ratio is the scrape p50 over the raw snapshot p50.
func (r result) ratio() float64 { return float64(r.p50) / float64(r.snapP50) }

// speedup is how many times as fast the scrape is as the peer's way of
// reading: the sequential p50 over the scrape p50.
func (r result) speedup() float64 { return float64(r.seqP50) / float64(r.p50) }

// rawEnv, set to chronyd's address, makes this program the process that
// takes the raw snapshots (serveSnapshots).
const rawEnv = "SCRAPEBENCH_RAW_SNAPSHOTS"

func main() {
	serveIfAsked()
	exporters := flag.String("exporter", "./chrony_exporter", "the exporter binary (make bench builds it), or several, comma-separated, measured in turn in every round to compare builds")
	sourcesFlag := flag.String("sources", "1,16,64", "comma-separated numbers of reachable sources, one lab each")
	scrapes := flag.Int("scrapes", 300, "scrapes measured per lab, one after another")
	warmup := flag.Int("warmup", 20, "scrapes before measuring")
	procs := flag.Int("gomaxprocs", 1, "GOMAXPROCS of the process taking the raw snapshots: the exporter's default, at which a raw snapshot also runs fastest")
	rounds := flag.Int("rounds", 1, "rounds per lab, each with a new exporter and raw-snapshot process")
	place := flag.Bool("place", true, "keep chronyd on the first CPU and the exporter, the raw-snapshot process and the scraper on the others")
	peer := flag.String("peer", "", "SuperQ/chrony_exporter's binary: compare it, with its defaults and its full set, against the first -exporter with its defaults and with the collectors exporting what that full set does, on each lab")
	flag.Parse()
	if *rounds < 1 {
		fatalf("-rounds: %d is not a positive number", *rounds)
	}

	var ns []int
	for _, f := range strings.Split(*sourcesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fatalf("-sources: %q is not a positive number", f)
		}
		ns = append(ns, n)
	}
	var bins []exporterBinary
	for _, name := range strings.Split(*exporters, ",") {
		path, err := filepath.Abs(name)
		if err == nil {
			_, err = os.Stat(path)
		}
		if err != nil {
			fatalf("no exporter binary: %v (make bench builds it)", err)
		}
		bins = append(bins, exporterBinary{name: name, path: path})
	}
	var peerPath string
	if *peer != "" {
		var err error
		if peerPath, err = filepath.Abs(*peer); err == nil {
			_, err = os.Stat(peerPath)
		}
		if err != nil {
			fatalf("-peer: %v", err)
		}
	}

	var pl *placement
	if *place {
		var err error
		if pl, err = newPlacement(); err != nil {
			fatalf("%v", err)
		}
		if err := pl.placeSelf(); err != nil {
			fatalf("%v", err)
		}
	}
	cfg := benchConfig{bins: bins, pl: pl, rounds: *rounds, warmup: *warmup, scrapes: *scrapes, procs: *procs, peer: peerPath}
	var results []result
	var labs []labResult
	for _, n := range ns {
		lr, err := measure(cfg, n)
		if err != nil {
			fatalf("%d sources: %v", n, err)
		}
		results = append(results, lr.rounds...)
		labs = append(labs, lr)
	}

	fmt.Printf("\nscrapes of %s against a real chronyd (chronytest lab, Unix socket), %d per row, sequential, Accept-Encoding: gzip,\n"+
		"each after a raw pipelined snapshot of the default collectors' reports, taken by a process of its own at GOMAXPROCS=%d\n"+
		"(snapshot columns; ratio = p50 / snapshot p50); then, in the same round, %d reads of the reports SuperQ/chrony_exporter reads,\n"+
		"one request at a time as it does (sequential p50; sequential/p50 = how many times as fast the scrape is);\n"+
		"the exporter's read is its own read of chronyd within the scrape (its shortest chrony_scrape_collector_duration_seconds),\n"+
		"after the read is each scrape less its read: the text, gzip, the exporter's own metrics and HTTP;\n"+
		"its CPU is user + system time over the measured scrapes, in 10 ms clock ticks;\n"+
		"the scraper's CPU is this process's over the same scrapes, to the microsecond: its HTTP client and the raw snapshots' pipe, placed on the exporter's CPU\n\n", *exporters, *scrapes, *procs, sequentialReads)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "exporter\treachable\tround\tsources\tseries\tchrony_*\tgzip bytes\tp50\tp99\tsnapshot p50\tsnapshot p99\tp50 ratio\tsequential p50\tsequential/p50\texporter's read p50\tafter the read p50\texporter CPU/scrape\tscraper CPU/scrape\tVmRSS\tVmHWM\t")
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%.2f\t%s\t%.2f\t%s\t%s\t%s\t%s\t%.1f MiB\t%.1f MiB\t\n",
			r.exporter, r.reachable, r.round, r.sources, r.series, r.chronySeries, r.gzipBytes,
			ms(r.p50), ms(r.p99), ms(r.snapP50), ms(r.snapP99), r.ratio(), ms(r.seqP50), r.speedup(), ms(r.readP50), ms(r.afterP50), ms(r.cpuPerScrape), ms(r.scraperCPU),
			float64(r.rssKiB)/1024, float64(r.hwmKiB)/1024)
	}
	w.Flush()
	for _, lr := range labs {
		printSeriesByCollector(os.Stdout, lr.reachable, lr.series)
		if lr.peer != nil {
			printPeer(os.Stdout, *peer, *lr.peer)
		}
	}
	if *rounds > 1 {
		fmt.Println()
		for _, n := range ns {
			for _, bin := range bins {
				var ratios, speedups []float64
				for _, r := range results {
					if r.reachable == n && r.exporter == bin.name {
						ratios = append(ratios, r.ratio())
						speedups = append(speedups, r.speedup())
					}
				}
				slices.Sort(ratios)
				slices.Sort(speedups)
				fmt.Printf("%s, %d reachable sources: p50 ratio median %.2f over %d rounds (%.2f to %.2f); sequential/p50 median %.2f (%.2f to %.2f)\n",
					bin.name, n, ratios[len(ratios)/2], len(ratios), ratios[0], ratios[len(ratios)-1],
					speedups[len(speedups)/2], speedups[0], speedups[len(speedups)-1])
			}
		}
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "scrapebench: "+format+"\n", args...)
	os.Exit(1)
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}

// exporterBinary is an exporter build to measure.
type exporterBinary struct{ name, path string }

// benchConfig is what main's flags ask to measure.
type benchConfig struct {
	bins                           []exporterBinary
	pl                             *placement // nil: processes are not placed
	rounds, warmup, scrapes, procs int
	peer                           string // SuperQ's binary, or "" for no comparison
}

// labResult is everything measured on one lab.
type labResult struct {
	reachable int
	rounds    []result
	series    []collectorSeries // of the first binary, every collector on
	peer      *peerResult       // nil without -peer
}

// measure starts a lab of n reachable sources and measures it in rounds,
// each binary in turn in every round, so that builds compared see the same
// chronyd and the same hour of a shared machine; its processes are placed
// by cfg.pl unless it is nil. Then it counts the first binary's series per
// collector and, with a peer, compares it with the peer on the same lab.
func measure(cfg benchConfig, n int) (lr labResult, err error) {
	lr.reachable = n
	fmt.Fprintf(os.Stderr, ">> %d reachable sources: starting chronyd...\n", n)
	t0 := time.Now()
	lab, err := chronytest.Start(context.Background(), chronytest.Config{Reachable: n})
	if err != nil {
		return lr, err
	}
	defer func() {
		if cerr := lab.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	fmt.Fprintf(os.Stderr, ">> %d reachable sources: chronyd settled after %.1fs; scraping\n", n, time.Since(t0).Seconds())
	if err := cfg.pl.placeChronyd(lab.PIDs()); err != nil {
		return lr, err
	}
	for round := 1; round <= cfg.rounds; round++ {
		for _, bin := range cfg.bins {
			r, err := measureRound(bin.path, cfg.pl, lab, n, cfg.warmup, cfg.scrapes, cfg.procs)
			r.round, r.exporter = round, bin.name
			if err != nil {
				return lr, fmt.Errorf("%s, round %d: %w", bin.name, round, err)
			}
			lr.rounds = append(lr.rounds, r)
		}
	}
	if lr.series, err = seriesByCollector(cfg.bins[0].path, cfg.pl, lab, n); err != nil {
		return lr, fmt.Errorf("series per collector: %w", err)
	}
	if cfg.peer != "" {
		fmt.Fprintf(os.Stderr, ">> %d reachable sources: comparing with %s\n", n, cfg.peer)
		pr, err := comparePeer(cfg.bins[0].path, cfg.peer, cfg.pl, lab, n, cfg.warmup, cfg.scrapes)
		if err != nil {
			return lr, fmt.Errorf("peer comparison: %w", err)
		}
		lr.peer = &pr
	}
	return lr, nil
}

// measureRound starts an exporter and a raw-snapshot process on lab and
// measures them.
func measureRound(bin string, pl *placement, lab *chronytest.Lab, n, warmup, scrapes, procs int) (r result, err error) {
	r.reachable, r.scrapes = n, scrapes
	exp, err := startExporter(pl, bin, "--chrony.address=unix://"+lab.SocketPath)
	if err != nil {
		return r, err
	}
	defer exp.stop()
	if err := exp.waitReady(oursReady(n, &r.sources)); err != nil {
		return r, err
	}
	cmd, scrape := exp.cmd, exp.scrape

	raw, err := startRawSnapshots(pl, "unix://"+lab.SocketPath, procs)
	if err != nil {
		return r, err
	}
	defer raw.close()
	take := func(kind byte) (time.Duration, error) {
		d, sources, err := raw.take(kind)
		if err == nil && sources != n+2 {
			err = fmt.Errorf("raw snapshot: %d sources, want %d", sources, n+2)
		}
		return d, err
	}

	for range warmup {
		if _, err := take(pipelined); err != nil {
			return r, err
		}
		if _, _, err := scrape(); err != nil {
			return r, err
		}
	}
	// The exporter's CPU time, from its stat in clock ticks, and this
	// process's, to the microsecond.
	cpu := func() (exporter, scraper time.Duration, err error) {
		exporter, err = procCPU(cmd.Process.Pid)
		if err != nil {
			return 0, 0, err
		}
		scraper, err = selfCPU()
		return exporter, scraper, err
	}
	exporter0, scraper0, err := cpu()
	if err != nil {
		return r, err
	}
	times := make([]time.Duration, 0, scrapes)
	snapTimes := make([]time.Duration, 0, scrapes)
	readTimes := make([]time.Duration, 0, scrapes)
	afterTimes := make([]time.Duration, 0, scrapes)
	// The bodies are read after the loop, so that the scraper's CPU
	// time over it is what a scrape costs the scraper.
	bodies := make([][]byte, 0, scrapes)
	for range scrapes {
		sd, err := take(pipelined)
		if err != nil {
			return r, err
		}
		snapTimes = append(snapTimes, sd)
		body, d, err := scrape()
		if err != nil {
			return r, err
		}
		times = append(times, d)
		bodies = append(bodies, body)
	}
	exporter1, scraper1, err := cpu()
	if err != nil {
		return r, err
	}
	r.cpuPerScrape = (exporter1 - exporter0) / time.Duration(scrapes)
	r.scraperCPU = (scraper1 - scraper0) / time.Duration(scrapes)
	// The sequential reads come after the scrapes, not between them, so
	// that each scrape still follows a raw snapshot as closely as before,
	// and the exporter and the raw process are idle alike in between.
	seqTimes := make([]time.Duration, 0, sequentialReads)
	for range sequentialReads {
		d, err := take(sequential)
		if err != nil {
			return r, err
		}
		seqTimes = append(seqTimes, d)
	}
	for i, body := range bodies {
		read, err := exporterRead(body)
		if err != nil {
			return r, err
		}
		readTimes = append(readTimes, read)
		afterTimes = append(afterTimes, times[i]-read)
	}
	last := bodies[len(bodies)-1]
	r.p50, r.p99 = percentiles(times)
	r.snapP50, r.snapP99 = percentiles(snapTimes)
	r.seqP50, _ = percentiles(seqTimes)
	r.readP50, _ = percentiles(readTimes)
	r.afterP50, _ = percentiles(afterTimes)
	r.gzipBytes = len(last)
	text, err := gunzip(last)
	if err != nil {
		return r, err
	}
	r.series = countSeries(text, "")
	r.chronySeries = countSeries(text, "chrony_")
	r.rssKiB, r.hwmKiB, err = procMemory(cmd.Process.Pid)
	return r, err
}

// exporterProc is a running exporter, ours or the peer, listening on a
// loopback port of its own.
type exporterProc struct {
	cmd    *exec.Cmd
	log    bytes.Buffer
	url    string
	client *http.Client
}

// startExporter starts bin with args, a free loopback listen address and
// warnings only, placed by pl.
func startExporter(pl *placement, bin string, args ...string) (*exporterProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p := &exporterProc{
		url: "http://" + addr + "/metrics",
		client: &http.Client{
			Timeout: 10 * time.Second,
			// The header is set by hand, as Prometheus does, and the body is
			// read compressed: decompressing is the scraper's cost.
			Transport: &http.Transport{DisableCompression: true},
		},
	}
	p.cmd = exec.Command(bin, append(args, "--web.listen-address="+addr, "--log.level=warn")...)
	p.cmd.Stdout, p.cmd.Stderr = &p.log, &p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := pl.start(p.cmd); err != nil {
		return nil, err
	}
	return p, nil
}

// stop ends the exporter: SIGTERM, then SIGKILL if it has not exited
// after a while.
func (p *exporterProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// scrape gets /metrics as Prometheus does and returns the gzipped body and
// how long it took until its last byte.
func (p *exporterProc) scrape() ([]byte, time.Duration, error) {
	req, err := http.NewRequest(http.MethodGet, p.url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept-Encoding", "gzip")
	// What Prometheus 2.x sends.
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("GET %s: %s", p.url, resp.Status)
	}
	if resp.Header.Get("Content-Encoding") != "gzip" {
		return nil, 0, fmt.Errorf("GET %s: not gzipped (Content-Encoding %q)", p.url, resp.Header.Get("Content-Encoding"))
	}
	return body, d, nil
}

// readyWithin is how long an exporter may take to report the whole lab.
const readyWithin = 30 * time.Second

// waitReady scrapes until ready accepts the (unzipped) exposition.
func (p *exporterProc) waitReady(ready func(text []byte) error) error {
	deadline := time.Now().Add(readyWithin)
	for {
		body, _, err := p.scrape()
		if err == nil {
			var text []byte
			if text, err = gunzip(body); err != nil {
				return err
			}
			if err = ready(text); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %v (last: %v)\n%s", p.cmd.Path, readyWithin, err, p.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var upLine = regexp.MustCompile(`(?m)^chrony_up 1$`)

// oursReady accepts an exposition of this project's exporter when chronyd
// answered and every one of the lab's n+2 sources is listed, which it
// stores in sources.
func oursReady(n int, sources *int) func([]byte) error {
	return func(text []byte) error {
		if !upLine.Match(text) {
			return errors.New("no chrony_up 1")
		}
		*sources = countSeries(text, "chrony_sources_state_info{")
		if *sources != n+2 {
			return fmt.Errorf("%d sources, want %d", *sources, n+2)
		}
		return nil
	}
}

// rawSnapshots is the process that takes the raw snapshots: this program
// again, with rawEnv set. Like the exporter, it is idle between requests
// and does nothing else; in the process that also makes the HTTP requests,
// the client's bookkeeping after each scrape moved a raw snapshot by up to
// a quarter from one run to the next.
type rawSnapshots struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out io.Reader
}

func startRawSnapshots(pl *placement, addr string, procs int) (*rawSnapshots, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), rawEnv+"="+addr, "GOMAXPROCS="+strconv.Itoa(procs))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := pl.start(cmd); err != nil {
		return nil, err
	}
	return &rawSnapshots{cmd: cmd, in: in, out: out}, nil
}

// sequentialReads is how many sequential reads a round measures: each
// takes a few times as long as a scrape.
const sequentialReads = 100

// The kinds of raw snapshot the raw-snapshot process takes.
const (
	pipelined  byte = 1 // the default collectors' reports, pipelined
	sequential byte = 2 // the peer's reports, one request at a time (sequentialReports)
)

// sequentialReports are the reports SuperQ/chrony_exporter's default
// collectors read, one request after another: at N sources about 4 + 3N
// requests (tracking, serverstats, N_SOURCES, then SOURCE_DATA,
// SOURCESTATS and the source's name for each). Read that way with this
// project's client, they are a lower bound for that exporter's scrape,
// measured against the same chronyd in the same run; the exporter itself is
// not served by the Go module proxy here.
var sequentialReports = []chronyproto.Report{
	chronyproto.ReportTracking, chronyproto.ReportServerStats,
	chronyproto.ReportSources, chronyproto.ReportSourceStats, chronyproto.ReportSourceName,
}

// take asks for one raw snapshot of a kind and returns how long it took
// and how many sources it found.
func (r *rawSnapshots) take(kind byte) (time.Duration, int, error) {
	if _, err := r.in.Write([]byte{kind}); err != nil {
		return 0, 0, fmt.Errorf("raw snapshot process: %w", err)
	}
	var answer [2]int64
	if err := binary.Read(r.out, binary.LittleEndian, &answer); err != nil {
		return 0, 0, fmt.Errorf("raw snapshot process: %w", err)
	}
	if answer[1] < 0 {
		return 0, 0, errors.New("raw snapshot failed (its error is on stderr)")
	}
	return time.Duration(answer[0]), int(answer[1]), nil
}

// close ends the process: it exits when its input does.
func (r *rawSnapshots) close() {
	r.in.Close()
	_ = r.cmd.Wait()
}

// serveIfAsked serves raw snapshots and exits when this process was
// started as the raw snapshot process (rawEnv set); otherwise it returns.
func serveIfAsked() {
	addr := os.Getenv(rawEnv)
	if addr == "" {
		return
	}
	if err := serveSnapshots(addr, os.Stdin, os.Stdout); err != nil {
		fatalf("raw snapshots: %v", err)
	}
	os.Exit(0)
}

// serveSnapshots takes a raw snapshot from chronyd at addr each time a
// byte arrives on in: pipelined, of the default collectors' reports, or
// sequential, of sequentialReports through a window of one request. It
// answers on out its duration in nanoseconds and its number of sources, as
// two little-endian int64, the count -1 when it failed. It returns when in
// ends.
func serveSnapshots(addr string, in io.Reader, out io.Writer) error {
	c, err := chronyproto.Dial(context.Background(), addr)
	if err != nil {
		return err
	}
	defer c.Close()
	one := chronyproto.Dialer{Window: 1}
	seq, err := one.Dial(context.Background(), addr)
	if err != nil {
		return err
	}
	defer seq.Close()
	reports := collector.DefaultReports()
	var ask [1]byte
	for {
		if _, err := io.ReadFull(in, ask[:]); err != nil {
			return nil
		}
		client, asked := c, reports
		if ask[0] == sequential {
			client, asked = seq, sequentialReports
		}
		start := time.Now()
		s, err := client.Snapshot(context.Background(), asked...)
		answer := [2]int64{int64(time.Since(start)), int64(len(s.Sources))}
		if err != nil {
			fmt.Fprintln(os.Stderr, "raw snapshot:", err)
			answer[1] = -1
		}
		if err := binary.Write(out, binary.LittleEndian, answer); err != nil {
			return err
		}
	}
}

var collectorDuration = regexp.MustCompile(`(?m)^chrony_scrape_collector_duration_seconds\{collector="[a-z]+"\} (\S+)$`)

// exporterRead returns how long the exporter took to read chronyd in the
// scrape of body: the shortest of its collector durations, which run from
// the start of the read until each collector's metrics were made.
func exporterRead(body []byte) (time.Duration, error) {
	text, err := gunzip(body)
	if err != nil {
		return 0, err
	}
	read := time.Duration(-1)
	for _, m := range collectorDuration.FindAllSubmatch(text, -1) {
		v, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil {
			return 0, err
		}
		if d := time.Duration(v * float64(time.Second)); read < 0 || d < read {
			read = d
		}
	}
	if read < 0 {
		return 0, errors.New("no chrony_scrape_collector_duration_seconds in the scrape")
	}
	return read, nil
}

// percentiles returns the p50 and p99 of times, which it sorts.
func percentiles(times []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(times)
	return times[(len(times)-1)*50/100], times[(len(times)*99+99)/100-1]
}

func gunzip(b []byte) ([]byte, error) {
	z, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer z.Close()
	return io.ReadAll(z)
}

// countSeries counts the sample lines of a text exposition that start with
// prefix.
func countSeries(text []byte, prefix string) int {
	n := 0
	for _, line := range bytes.Split(text, []byte("\n")) {
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if bytes.HasPrefix(line, []byte(prefix)) {
			n++
		}
	}
	return n
}

// selfCPU is this process's user and system time, to the microsecond.
func selfCPU() (time.Duration, error) {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0, err
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano()), nil
}

// procCPU is another process's user and system time, from its stat in
// clock ticks (USER_HZ, 100 on every Linux Go supports). procfs, not a
// reader of our own: it is in the module graph already.
func procCPU(pid int) (time.Duration, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return time.Duration(st.UTime+st.STime) * (time.Second / 100), nil
}

// procMemory is a process's resident memory now (VmRSS) and at its peak
// (VmHWM), in KiB.
func procMemory(pid int) (rssKiB, hwmKiB int, err error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, 0, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0, 0, err
	}
	if st.VmRSS == 0 || st.VmHWM == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS or VmHWM", pid)
	}
	return int(st.VmRSS / 1024), int(st.VmHWM / 1024), nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
