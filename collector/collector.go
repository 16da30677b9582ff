// Package collector turns one snapshot of chronyd's reports per scrape into
// Prometheus metrics: one file per report, as in chronyproto.
package collector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/second-hand/chrony_exporter/chronyproto"
)

// reportCollector turns the reports it needs from a snapshot into metrics.
type reportCollector struct {
	name string
	// reports are fetched for the collector; their errors are its errors.
	reports []chronyproto.Report
	// extra reports improve the collector's labels; their errors are not
	// its errors (e.g. configured names from chronyd older than 4.0).
	extra []chronyproto.Report
	// unixOnly collectors need chronyd's Unix socket by default (§6).
	unixOnly       bool
	defaultEnabled bool
	// notEnabledOK: chronyd answering "not enabled" (no RTC, no
	// smoothtime) is a state to show, not a failure.
	notEnabledOK bool
	help         string
	update       func(s *scrape, out sink)
}

var collectors = map[string]*reportCollector{}

func register(c *reportCollector) { collectors[c.name] = c }

// Names returns every collector's name, sorted.
func Names() []string {
	var names []string
	for n := range collectors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Help returns a collector's one-line description, for its flag.
func Help(name string) string { return collectors[name].help }

// DefaultEnabled reports whether a collector is on unless turned off.
func DefaultEnabled(name string) bool { return collectors[name].defaultEnabled }

// DefaultReports returns the reports the collectors on by default read,
// with those that only improve their labels: what a scrape with default
// flags asks chronyd for over the Unix socket.
func DefaultReports() []chronyproto.Report {
	var reports []chronyproto.Report
	for _, name := range Names() {
		if c := collectors[name]; c.defaultEnabled {
			reports = append(reports, c.reports...)
			reports = append(reports, c.extra...)
		}
	}
	return reports
}

// UnixOnly reports whether a collector needs chronyd's Unix socket.
func UnixOnly(name string) bool { return collectors[name].unixOnly }

// pageReports are what the status page shows whatever the collectors'
// flags: tracking, the sources with their selection data and configured
// names, their statistics and the RTC.
var pageReports = []chronyproto.Report{
	chronyproto.ReportTracking, chronyproto.ReportSources, chronyproto.ReportSourceStats,
	chronyproto.ReportSelectData, chronyproto.ReportSourceName, chronyproto.ReportRTC,
}

// The exporter's own metrics.
var (
	upMetric = gauge("", "up",
		"Whether chronyd answered this scrape (1) or not (0); failures of single collectors do not count.")
	successMetric = gauge("", "scrape_collector_success",
		"Whether a collector's reports were read successfully.", "collector")
	durationMetric = gauge("", "scrape_collector_duration_seconds",
		"Time from the start of the scrape until the collector's metrics were made, including the one fetch from chronyd all collectors share.", "collector")
	transportMetric = gauge("", "exporter_transport_info",
		"A constant 1 labelled with how chronyd is read: transport (unix or udp) and address; when the automatic address fell back to UDP, fallback_from names the Unix socket it could not use and fallback_reason says why (permission_denied, not_running or error).",
		"transport", "address", "fallback_from", "fallback_reason")
)

// Config configures the exporter's collectors.
type Config struct {
	// Address of chronyd, as chronyproto.Dial takes it; "" is automatic.
	Address string
	// Timeout caps every scrape.
	Timeout time.Duration
	// Enabled holds the collectors the user turned on or off; the others
	// keep their default.
	Enabled map[string]bool
	// DNSLookups names sources by reverse DNS when chronyd knows no name.
	DNSLookups bool
}

// Exporter reads chronyd once per scrape and serves the result to every
// concurrent scrape; the status page reads it on its own (Read).
type Exporter struct {
	*setup
	logger log.Logger
	dns    *dnsCache

	// dial connects to chronyd: cfg.Address, or a probe's target.
	dial func(context.Context) (*chronyproto.Client, error)

	// The scrapes and the status page each have their connection and
	// their shared read: a page read, which asks for more, neither holds
	// up a scrape (a client carries one exchange at a time) nor closes
	// the scrapes' connection when it fails.
	scrapeConn, pageConn     conn
	scrapeFlight, pageFlight flight

	spares *spares

	stateMu  sync.Mutex
	states   map[string]*CollectorState
	upErr    string // why chronyd did not answer the last scrape
	fellBack string // the socket error the last fall-back to UDP was logged with
}

// CollectorState is what the exporter knows of one collector after the
// last scrape.
type CollectorState struct {
	Name    string
	Skipped string    // why the collector did not run, or ""
	Err     error     // why it failed, or nil
	Since   time.Time // when it entered its current state
	// TooOld is set when it was skipped because chronyd is too old for
	// its report.
	TooOld bool
}

// New checks the configuration and returns an exporter. It does not
// connect to chronyd: every scrape does, so an exporter started before
// chronyd works once chronyd is up.
func New(cfg Config, logger log.Logger) (*Exporter, error) {
	st, err := checkConfig(cfg)
	if err != nil {
		return nil, err
	}
	e := newExporter(st, logger, new(spares))
	e.dial = func(ctx context.Context) (*chronyproto.Client, error) { return chronyproto.Dial(ctx, st.cfg.Address) }
	return e, nil
}

// setup is what a checked configuration comes to, worked out once at
// start-up for the exporter and for every probe alike.
type setup struct {
	cfg     Config
	enabled []*reportCollector
	// What a scrape asks chronyd for, and what a read for the status
	// page asks for.
	scrapePlans, pagePlans plans
}

// plans are what a read asks chronyd for over the Unix socket, over UDP,
// and over UDP because the automatic address could not use the socket.
type plans struct {
	unix, udp, fallback readPlan
}

// readPlan is what a read of chronyd over one transport asks for, and
// which collectors it skips there.
type readPlan struct {
	reports []chronyproto.Report
	skipped map[string]string // shared by every Scrape: read only
}

// checkConfig fills in cfg's defaults and works out the collectors it
// turns on and what reads ask for.
func checkConfig(cfg Config) (*setup, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	for name := range cfg.Enabled {
		if collectors[name] == nil {
			return nil, fmt.Errorf("unknown collector %q (known: %s)", name, strings.Join(Names(), ", "))
		}
	}
	var enabled []*reportCollector
	for _, name := range Names() {
		c := collectors[name]
		on, set := cfg.Enabled[name]
		if !set {
			on = c.defaultEnabled
		}
		if on {
			enabled = append(enabled, c)
		}
	}
	st := &setup{cfg: cfg, enabled: enabled}
	st.scrapePlans = plans{
		unix:     st.plan(""),
		udp:      st.plan("needs the Unix socket; chronyd is read over UDP"),
		fallback: st.plan("needs the Unix socket, which refused the exporter; chronyd is read over UDP"),
	}
	st.pagePlans = plans{
		unix:     pagePlan(st.scrapePlans.unix, false),
		udp:      pagePlan(st.scrapePlans.udp, true),
		fallback: pagePlan(st.scrapePlans.fallback, true),
	}
	return st, nil
}

// pagePlan is scrape plan p with the reports the status page shows added;
// over UDP only those chronyd answers there by default (selectdata needs
// the Unix socket, and the page does without its reasons). The collectors
// skipped are the scrape's.
func pagePlan(p readPlan, udp bool) readPlan {
	out := readPlan{reports: slices.Clone(p.reports), skipped: p.skipped}
	for _, r := range pageReports {
		if udp && !slices.Contains(chronyproto.UDPReports, r) {
			continue
		}
		if !slices.Contains(out.reports, r) {
			out.reports = append(out.reports, r)
		}
	}
	return out
}

// plan works out a read: over UDP (udpSkip is not ""), the collectors that
// need the Unix socket are skipped for that reason unless the user turned
// them on.
func (st *setup) plan(udpSkip string) readPlan {
	p := readPlan{skipped: map[string]string{}}
	for _, c := range st.enabled {
		if c.unixOnly && udpSkip != "" && !st.cfg.Enabled[c.name] {
			p.skipped[c.name] = udpSkip
			continue
		}
		p.reports = append(p.reports, c.reports...)
		p.reports = append(p.reports, c.extra...)
	}
	return p
}

// newExporter returns an exporter of a checked configuration that keeps
// its buffers between scrapes in sp; the caller sets dial.
func newExporter(st *setup, logger log.Logger, sp *spares) *Exporter {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	e := &Exporter{setup: st, logger: logger, states: map[string]*CollectorState{}, spares: sp}
	if st.cfg.DNSLookups {
		e.dns = newDNSCache()
	}
	return e
}

// conn is one connection to chronyd, dialled when a read needs it.
type conn struct {
	mu     sync.Mutex // guards client
	client *chronyproto.Client
}

// Close releases the connections to chronyd.
func (e *Exporter) Close() error {
	return errors.Join(e.scrapeConn.close(), e.pageConn.close())
}

func (c *conn) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		return nil
	}
	err := c.client.Close()
	c.client = nil
	return err
}

// Scrape is one read of chronyd, shared by the scrapes that asked for it
// while it ran.
type Scrape struct {
	// Snapshot holds the reports; nil when chronyd could not be reached.
	Snapshot *chronyproto.Snapshot
	// Err is why chronyd did not answer (connection, timeout), or nil.
	Err error
	// Address is the chronyd address used, as unix:///path or udp://host:port.
	Address  string
	Start    time.Time
	Duration time.Duration
	// Skipped holds the collectors not run, and why. Read only.
	Skipped map[string]string
	// FallbackFrom is the Unix socket the automatic address found but
	// could not use, and FallbackErr why, when chronyd is read over UDP
	// instead; "" and nil otherwise.
	FallbackFrom string
	FallbackErr  error
}

// Scrape reads chronyd, or joins a read in progress. It returns within the
// deadline of ctx, capped by the configured timeout.
func (e *Exporter) Scrape(ctx context.Context) *Scrape {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	return e.scrapeFlight.do(ctx, e.read)
}

// read is one scrape's read of chronyd.
func (e *Exporter) read(ctx context.Context) *Scrape {
	return e.readWith(ctx, &e.scrapeConn, &e.scrapePlans)
}

// readPage is one read of chronyd for the status page.
func (e *Exporter) readPage(ctx context.Context) *Scrape {
	return e.readWith(ctx, &e.pageConn, &e.pagePlans)
}

// readWith reads chronyd over c, asking for what ps plans for c's
// transport.
func (e *Exporter) readWith(ctx context.Context, c *conn, ps *plans) *Scrape {
	s := &Scrape{Start: time.Now()}
	defer func() { s.Duration = time.Since(s.Start) }()
	client, err := e.connect(ctx, c)
	if err != nil {
		s.Err = err
		return s
	}
	s.Address = client.Address()
	s.FallbackFrom, s.FallbackErr = client.Fallback()
	plan := &ps.unix
	switch {
	case s.FallbackErr != nil:
		plan = &ps.fallback
	case client.Network() == "udp":
		plan = &ps.udp
	}
	s.Skipped = plan.skipped
	snap, err := client.Snapshot(ctx, plan.reports...)
	s.Snapshot = snap
	if err != nil {
		s.Err = err
		// The next read dials again: chronyd may have restarted.
		c.mu.Lock()
		if c.client == client {
			c.client = nil
		}
		c.mu.Unlock()
		client.Close()
	}
	return s
}

// connect returns c's connection to chronyd, dialling it when there is
// none.
func (e *Exporter) connect(ctx context.Context, c *conn) (*chronyproto.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		return c.client, nil
	}
	client, err := e.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.client = client
	return client, nil
}

// flight lets concurrent callers share one read of chronyd.
// Not x/sync/singleflight: its joiners cannot see the leader's deadline, which waitRead needs to choose between waiting and giving up.
type flight struct {
	reads shared[*Scrape]
}

func (f *flight) do(ctx context.Context, read func(context.Context) *Scrape) *Scrape {
	d, hasDeadline := ctx.Deadline()
	r, lead := f.reads.join(d)
	if !lead {
		return waitRead(ctx, r)
	}
	// The caller that starts the read makes it itself, sparing a scrape
	// two goroutine switches. The read belongs to every caller that joins
	// it: it keeps this caller's deadline but not its cancellation, so a
	// scraper that hangs up does not fail the others.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if hasDeadline {
		cancel()
		rctx, cancel = context.WithDeadline(context.WithoutCancel(ctx), d)
	}
	defer cancel()
	f.reads.finish(r, read(rctx))
	return r.val
}

// waitRead returns the result of read r, or a timeout when ctx ends
// first.
func waitRead(ctx context.Context, r *run[*Scrape]) *Scrape {
	select {
	case <-r.done:
		return r.val
	case <-ctx.Done():
	}
	// The read ends by its own deadline. A caller whose deadline is not
	// earlier waits for it: it then reports what each collector got, and
	// the next scrape starts a new read instead of joining this finished
	// one.
	if d, ok := ctx.Deadline(); ok && !r.deadline.IsZero() && !d.Before(r.deadline) &&
		errors.Is(ctx.Err(), context.DeadlineExceeded) {
		<-r.done
		return r.val
	}
	return &Scrape{Start: time.Now(), Err: fmt.Errorf("%w: waiting for the read of chronyd in progress: %w", chronyproto.ErrTimeout, ctx.Err())}
}

// scrape is what a collector's update gets: the snapshot and helpers.
type scrape struct {
	*chronyproto.Snapshot
	names  map[chronyproto.Address]string // reverse DNS, when on
	labels []sourceLabelValues            // by index in Sources
}

// Describe sends the descriptors of every metric the enabled collectors
// may send.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	on := map[string]bool{"": true}
	for _, c := range e.enabled {
		on[c.name] = true
	}
	for _, m := range metrics {
		if on[m.collector] {
			ch <- m.desc
		}
	}
}

// Collect reads chronyd within the configured timeout and sends the
// metrics.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.CollectContext(context.Background(), ch)
}

// CollectContext is Collect bounded by ctx, e.g. by Prometheus's scrape
// timeout.
func (e *Exporter) CollectContext(ctx context.Context, ch chan<- prometheus.Metric) {
	e.collect(ctx, chanSink(ch))
}

// collect reads chronyd and hands every sample to out: the collectors'
// code is the same whether the samples become prometheus.Metrics or text.
func (e *Exporter) collect(ctx context.Context, ch sink) {
	// The configured timeout bounds the reverse DNS lookups too.
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	e.render(ctx, e.Scrape(ctx), ch)
}

// render hands the samples of scrape s to ch.
func (e *Exporter) render(ctx context.Context, s *Scrape, ch sink) {
	upMetric.emit(ch, boolValue(s.Err == nil))
	if s.Address != "" {
		transport, _, _ := strings.Cut(s.Address, "://")
		from, reason := "", ""
		if s.FallbackErr != nil {
			from, reason = "unix://"+s.FallbackFrom, fallbackReason(s.FallbackErr)
		}
		transportMetric.emit(ch, 1, transport, s.Address, from, reason)
	}
	if s.Snapshot == nil {
		// chronyd could not be reached: every collector failed.
		for _, c := range e.enabled {
			successMetric.emit(ch, 0, c.name)
			durationMetric.emit(ch, time.Since(s.Start).Seconds(), c.name)
		}
		e.record(s)
		return
	}
	sc := e.newScrape(ctx, s.Snapshot)
	for _, c := range e.enabled {
		st := e.state(s, c)
		if st.Skipped != "" {
			continue
		}
		c.update(sc, ch)
		successMetric.emit(ch, boolValue(st.Err == nil), c.name)
		durationMetric.emit(ch, time.Since(s.Start).Seconds(), c.name)
	}
	e.record(s)
}

// fallbackReason is the fallback_reason label of a socket error.
func fallbackReason(err error) string {
	switch {
	case errors.Is(err, chronyproto.ErrPermission):
		return "permission_denied"
	case errors.Is(err, chronyproto.ErrNotRunning):
		return "not_running"
	}
	return "error"
}

// collectorErr is why collector c failed in scrape s, or nil.
func (e *Exporter) collectorErr(s *Scrape, c *reportCollector) error {
	if s.Snapshot == nil {
		return s.Err
	}
	for _, r := range c.reports {
		err := s.Snapshot.Err(r)
		if err == nil || (c.notEnabledOK && errors.Is(err, chronyproto.ErrNotEnabled)) {
			continue
		}
		if errors.Is(err, chronyproto.ErrNeedsUnixSocket) {
			return fmt.Errorf("needs the Unix socket (use --chrony.address=unix:///run/chrony/chronyd.sock): %w", err)
		}
		return err
	}
	return nil
}

// state is what read s makes of collector c: skipped, failed or fine.
//
// A collector on by default whose report this chronyd is too old for is
// skipped, as one that needs the Unix socket is over UDP: an old chronyd
// (3.5 on Ubuntu 20.04) is how the machine is, not a failure, and failing
// it on every scrape would keep an alert firing that nothing but a
// distribution upgrade ends. A collector the user turned on fails
// visibly. chronyd says "too old" only when asked, so every read asks
// again: one request per such report, in the read's first window (no
// extra round trip), and a chronyd upgraded meanwhile is seen at once,
// with no re-check to schedule.
func (e *Exporter) state(s *Scrape, c *reportCollector) CollectorState {
	if why, ok := s.Skipped[c.name]; ok {
		return CollectorState{Name: c.name, Skipped: why}
	}
	err := e.collectorErr(s, c)
	if err != nil && s.Snapshot != nil && !e.cfg.Enabled[c.name] && errors.Is(err, chronyproto.ErrTooOld) {
		return CollectorState{Name: c.name, Skipped: tooOldReason(err, c), TooOld: true}
	}
	return CollectorState{Name: c.name, Err: err}
}

// tooOldReason says which report this chronyd is too old for, and since
// when chrony has it. The protocol does not tell chronyd's version.
func tooOldReason(err error, c *reportCollector) string {
	report := c.name
	var se *chronyproto.StatusError
	if errors.As(err, &se) {
		report = se.Report.String()
	}
	why := "this chronyd is too old for the " + report + " report"
	if se != nil && se.Report.AddedIn() != "" {
		why += " (chrony " + se.Report.AddedIn() + " added it)"
	}
	return why
}

// record keeps each collector's state and logs its changes: once at warn
// when it starts failing, once at info when it recovers; not every scrape.
func (e *Exporter) record(s *Scrape) {
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	// When chronyd does not answer, that is one problem, not one per
	// collector.
	if up := errText(s.Err); up != e.upErr {
		if s.Err != nil {
			level.Warn(e.logger).Log("msg", "chronyd did not answer", "err", s.Err)
		} else {
			level.Info(e.logger).Log("msg", "chronyd answers again", "address", s.Address)
		}
		e.upErr = up
	}
	e.recordFallback(s)
	for _, c := range e.enabled {
		next := e.state(s, c)
		prev, ok := e.states[c.name]
		if ok && prev.Skipped == next.Skipped && errText(prev.Err) == errText(next.Err) {
			continue
		}
		next.Since = s.Start
		switch {
		case s.Err != nil:
		case next.Err != nil:
			level.Warn(e.logger).Log("msg", "collector failed", "collector", c.name, "err", next.Err)
		case ok && prev.Err != nil:
			level.Info(e.logger).Log("msg", "collector recovered", "collector", c.name)
		case next.Skipped != "":
			level.Debug(e.logger).Log("msg", "collector skipped", "collector", c.name, "reason", next.Skipped)
		}
		e.states[c.name] = &next
	}
}

// recordFallback logs a fall-back to UDP once at warn, with the socket's
// error and what it costs, and once at info when the socket is used again.
// Called with stateMu held.
func (e *Exporter) recordFallback(s *Scrape) {
	if s.Address == "" {
		return // chronyd did not answer: nothing is known of the socket
	}
	now := errText(s.FallbackErr)
	if now == e.fellBack {
		return
	}
	if s.FallbackErr != nil {
		var skipped []string
		for _, c := range e.enabled {
			if _, ok := s.Skipped[c.name]; ok {
				skipped = append(skipped, c.name)
			}
		}
		level.Warn(e.logger).Log("msg", "chronyd's Unix socket refused the exporter; reading chronyd over UDP, which answers only the monitoring reports",
			"socket", s.FallbackFrom, "address", s.Address, "skipped_collectors", strings.Join(skipped, ","), "err", s.FallbackErr)
	} else {
		level.Info(e.logger).Log("msg", "reading chronyd at its address again, not over the fall-back", "address", s.Address)
	}
	e.fellBack = now
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Read reads chronyd for the status page (or joins such a read in
// progress) within the deadline of ctx, capped by the configured timeout.
// It returns the read and the state every enabled collector would have
// from it, sorted by name.
//
// The page's read is its own, not a scrape's: it asks for every report
// the page shows (tracking, the sources with their selection data and
// names, sourcestats, the RTC) whatever the collectors' flags, and for
// what the enabled collectors read, which are the states it shows. Over
// UDP it leaves out what UDP does not answer, as scrapes do. The scrapes
// ask for their collectors' reports only, so a page view costs them
// nothing.
//
// Read records no state and logs nothing: the collectors' states and log
// lines are the scrapes' history, what Prometheus and the alerts see. A
// page read asks for more than a scrape and may fail where scrapes do not
// (a timeout on its extra requests); recording it would log failures and
// recoveries the metrics never had, and move the states' Since. The states
// returned keep the recorded Since where the scrapes saw the same, and
// start at this read where they did not.
func (e *Exporter) Read(ctx context.Context) (*Scrape, []CollectorState) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	s := e.pageFlight.do(ctx, e.readPage)
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	out := make([]CollectorState, 0, len(e.enabled))
	for _, c := range e.enabled {
		st := e.state(s, c)
		st.Since = s.Start
		if prev, ok := e.states[c.name]; ok && prev.Skipped == st.Skipped && errText(prev.Err) == errText(st.Err) {
			st.Since = prev.Since
		}
		out = append(out, st)
	}
	return s, out
}

// States returns the state of every enabled collector after the last
// scrape, sorted by name.
func (e *Exporter) States() []CollectorState {
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	var out []CollectorState
	for _, c := range e.enabled {
		if st, ok := e.states[c.name]; ok {
			out = append(out, *st)
		} else {
			out = append(out, CollectorState{Name: c.name})
		}
	}
	return out
}

// ForContext returns a collector whose scrapes are bounded by ctx (and the
// configured timeout), for one HTTP request.
func (e *Exporter) ForContext(ctx context.Context) prometheus.Collector {
	return boundCollector{e: e, ctx: ctx}
}

type boundCollector struct {
	e   *Exporter
	ctx context.Context
}

func (b boundCollector) Describe(ch chan<- *prometheus.Desc) { b.e.Describe(ch) }
func (b boundCollector) Collect(ch chan<- prometheus.Metric) { b.e.CollectContext(b.ctx, ch) }
