package chronyproto

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Snapshot is one pass over chronyd's reports: everything the exporter's
// collectors and status page show comes from one of these. Each report
// keeps its own error, so one that fails (no RTC, a report that needs the
// Unix socket, a source that vanished) never blanks the others.
type Snapshot struct {
	Tracking    *Tracking    // nil unless asked for and answered
	RTC         *RTC         // nil unless asked for and answered
	Activity    *Activity    // nil unless asked for and answered
	Smoothing   *Smoothing   // nil unless asked for and answered
	ServerStats *ServerStats // nil unless asked for and answered
	// Sources holds every source chronyd listed and could describe, in
	// chronyd's order, with the per-source reports that were asked for.
	Sources []Source
	// Clients holds chronyd's client log, when asked for.
	Clients []ClientAccess

	asked [numReports]bool
	errs  [numReports]error
}

// Asked reports whether the snapshot was asked to fetch r.
func (s *Snapshot) Asked(r Report) bool { return r < numReports && s.asked[r] }

// Err returns why report r failed, wholly or for some sources, or nil.
func (s *Snapshot) Err(r Report) error {
	if r >= numReports {
		return nil
	}
	return s.errs[r]
}

// setErr keeps the first error of a report: later ones are most often the
// same failure again.
func (s *Snapshot) setErr(r Report, err error) {
	if s.errs[r] == nil {
		s.errs[r] = err
	}
}

// Source is one of chronyd's sources with its per-source reports.
type Source struct {
	SourceData
	Stats  *SourceStats // nil unless asked for and answered
	Select *SelectData  // nil unless asked for and answered
	NTP    *NTPData     // nil unless asked for, answered and an NTP source
	Auth   *AuthData    // nil unless asked for, answered and an NTP source
	// ConfiguredName is the name in chronyd's configuration (sourcename),
	// "" unless asked for and answered.
	ConfiguredName string

	errs [numReports]error
}

// Err returns why report r failed for this source, or nil.
func (s *Source) Err(r Report) error {
	if r >= numReports {
		return nil
	}
	return s.errs[r]
}

// MaxSources bounds the sources a snapshot reads, so a broken or hostile
// N_SOURCES reply cannot make it allocate or send without limit.
const MaxSources = 4096

// perSourceReports are the reports fetched once per source.
var perSourceReports = []Report{ReportSources, ReportSourceStats, ReportSelectData, ReportNTPData, ReportAuthData, ReportSourceName}

// probeIndex is an index no chronyd has a source at: asking for it tells
// whether a command is allowed (NOSUCHSOURCE) or not (UNAUTH, INVALID)
// without asking for real data.
const probeIndex = 0x7FFFFFFF

// snapshotHint is what the previous snapshot of this client learnt: how
// many sources there were, their addresses, and which per-source reports
// chronyd answered. The next snapshot asks for all of that at once instead
// of waiting for N_SOURCES and then for each SOURCE_DATA; whatever turns
// out stale is dropped.
type snapshotHint struct {
	sources []SourceData
	allowed [numReports]bool
}

// Snapshot fetches the given reports (AllReports for every one) in one
// pipelined pass:
//
//   - the single reports, N_SOURCES, and a probe of each per-source report
//     chronyd may refuse (§6);
//   - each source's SOURCE_DATA, SOURCESTATS and SELECT_DATA by index, and,
//     as each SOURCE_DATA names its source, its NTP_DATA, AUTH_DATA and
//     NTP_SOURCE_NAME by address.
//
// After a first snapshot the client knows the source list, so the next one
// sends the second step together with the first and checks the answers
// against the new list: a snapshot of N sources then costs about one round
// trip plus the time chronyd needs for its 3N to 6N requests.
//
// The snapshot is never nil. The error is the transport's (ErrTimeout,
// ErrNotRunning…), which every report that did not finish also carries.
//
// With no reports it asks chronyd for nothing and returns an empty
// snapshot: a caller whose every collector is off reads nothing.
func (c *Client) Snapshot(ctx context.Context, reports ...Report) (*Snapshot, error) {
	s := &Snapshot{}
	for _, r := range reports {
		if r < numReports {
			s.asked[r] = true
		}
	}
	// The maps of the reports asked for are sized for as many sources as
	// last time, so that they do not grow while the replies come in.
	hint := c.loadHint()
	size := func(r Report) int {
		if s.asked[r] {
			return len(hint.sources)
		}
		return 0
	}
	b := &snapshotBuilder{
		s: s,
		// SOURCE_DATA is asked for whenever any per-source report is.
		sd:    make(map[int]*Call[SourceData], len(hint.sources)),
		stats: make(map[int]*Call[SourceStats], size(ReportSourceStats)),
		sel:   make(map[int]*Call[SelectData], size(ReportSelectData)),
		ntp:   make(map[Address]*Call[NTPData], size(ReportNTPData)),
		auth:  make(map[Address]*Call[AuthData], size(ReportAuthData)),
		name:  make(map[Address]*Call[string], size(ReportSourceName)),
	}
	var q queue
	b.queueFirst(&q)
	if b.wantSources {
		b.queueFromHint(&q, hint)
	}
	err := c.run(ctx, &q)
	b.assemble(err)
	if b.wantSources && b.gateOpen {
		c.storeHint(b.hint())
	}
	return b.s, err
}

// snapshotBuilder holds the calls of one snapshot until they are put
// together: per-source replies may arrive before the list they belong to.
type snapshotBuilder struct {
	s           *Snapshot
	wantSources bool

	n       *Call[int]
	probes  map[Report]*exchange
	pending int // N_SOURCES and probes still unanswered
	// gateOpen is set once N_SOURCES and the probes have answered; from
	// then on n and allowed hold.
	gateOpen bool
	nSources int
	allowed  [numReports]bool
	waiting  []int // sources whose SOURCE_DATA came before the gate opened

	sd    map[int]*Call[SourceData]
	stats map[int]*Call[SourceStats]
	sel   map[int]*Call[SelectData]
	ntp   map[Address]*Call[NTPData]
	auth  map[Address]*Call[AuthData]
	name  map[Address]*Call[string]
}

func (b *snapshotBuilder) queueFirst(q *queue) {
	s := b.s
	queueSingle(s, q, ReportTracking, TrackingCall(), &s.Tracking)
	queueSingle(s, q, ReportRTC, RTCCall(), &s.RTC)
	queueSingle(s, q, ReportActivity, ActivityCall(), &s.Activity)
	queueSingle(s, q, ReportSmoothing, SmoothingCall(), &s.Smoothing)
	queueSingle(s, q, ReportServerStats, ServerStatsCall(), &s.ServerStats)
	if s.asked[ReportClients] {
		b.queueClientPage(q, 0, 0)
	}

	for _, r := range perSourceReports {
		b.wantSources = b.wantSources || s.asked[r]
	}
	if !b.wantSources {
		return
	}
	b.n = NSourcesCall()
	gate := func(q *queue) {
		if b.pending--; b.pending == 0 {
			b.openGate(q)
		}
	}
	b.n.x.then = gate
	b.pending++
	q.add(&b.n.x)
	b.probes = map[Report]*exchange{}
	for r, p := range map[Report]Request{
		ReportSelectData: SelectDataCall(probeIndex),
		ReportNTPData:    NTPDataCall(Address{}),
		ReportAuthData:   AuthDataCall(Address{}),
		ReportSourceName: SourceNameCall(Address{}),
	} {
		if s.asked[r] {
			x := p.exchange()
			x.then = gate
			b.probes[r] = x
			b.pending++
			q.add(x)
		}
	}
}

// queueClientPage asks for a page of the client log; each page says where
// the next one starts, so the pages follow one another.
func (b *snapshotBuilder) queueClientPage(q *queue, first uint32, pages int) {
	call := ClientAccessesCall(first)
	call.x.then = func(q *queue) {
		if call.Err != nil {
			b.s.setErr(ReportClients, call.Err)
			return
		}
		b.s.Clients = append(b.s.Clients, call.Value.Clients...)
		if !call.Value.lastPage(first) && pages+1 < maxClientPages {
			b.queueClientPage(q, call.Value.NextIndex, pages+1)
		}
	}
	q.add(&call.x)
}

// queueSingle queues a report that is one request.
func queueSingle[T any](s *Snapshot, q *queue, r Report, call *Call[T], dst **T) {
	if !s.asked[r] {
		return
	}
	call.x.then = func(*queue) {
		if call.Err != nil {
			s.setErr(r, call.Err)
			return
		}
		*dst = &call.Value
	}
	q.add(&call.x)
}

// queueFromHint asks at once for what the previous snapshot found.
func (b *snapshotBuilder) queueFromHint(q *queue, h snapshotHint) {
	for i, sd := range h.sources {
		b.querySourceData(q, i)
		b.queryIndexed(q, i, h.allowed)
		b.queryByAddress(q, sd, h.allowed)
	}
}

// openGate runs when N_SOURCES and the probes have answered: it settles
// which per-source reports chronyd allows and asks for whatever the hint
// did not cover.
func (b *snapshotBuilder) openGate(q *queue) {
	s := b.s
	b.gateOpen = true
	for r, x := range b.probes {
		// NOSUCHSOURCE is the answer of a chronyd that allows the report.
		if err := *x.err; err != nil && !errors.Is(err, ErrNoSuchSource) {
			s.setErr(r, err)
		}
	}
	err := b.n.Err
	if err == nil && b.n.Value > MaxSources {
		err = fmt.Errorf("%w: chronyd reports %d sources, more than the %d this client reads", ErrBadReply, b.n.Value, MaxSources)
	}
	if err != nil {
		for _, r := range perSourceReports {
			if s.asked[r] {
				s.setErr(r, err)
			}
		}
		return
	}
	b.nSources = b.n.Value
	for _, r := range perSourceReports {
		b.allowed[r] = s.asked[r] && s.errs[r] == nil
	}
	for i := 0; i < b.nSources; i++ {
		b.querySourceData(q, i)
		b.queryIndexed(q, i, b.allowed)
	}
	for _, i := range b.waiting {
		b.querySourceDetails(q, i)
	}
	b.waiting = nil
}

func (b *snapshotBuilder) querySourceData(q *queue, i int) {
	if b.sd[i] != nil {
		return
	}
	call := SourceDataCall(i)
	call.x.then = func(q *queue) {
		if !b.gateOpen {
			b.waiting = append(b.waiting, i)
			return
		}
		b.querySourceDetails(q, i)
	}
	b.sd[i] = call
	q.add(&call.x)
}

func (b *snapshotBuilder) querySourceDetails(q *queue, i int) {
	if call := b.sd[i]; call.Err == nil && i < b.nSources {
		b.queryByAddress(q, call.Value, b.allowed)
	}
}

// queryIndexed asks for the reports chronyd keeps by source index.
func (b *snapshotBuilder) queryIndexed(q *queue, i int, allowed [numReports]bool) {
	if allowed[ReportSourceStats] && b.s.asked[ReportSourceStats] && b.stats[i] == nil {
		b.stats[i] = SourceStatsCall(i)
		q.add(&b.stats[i].x)
	}
	if allowed[ReportSelectData] && b.s.asked[ReportSelectData] && b.sel[i] == nil {
		b.sel[i] = SelectDataCall(i)
		q.add(&b.sel[i].x)
	}
}

// queryByAddress asks for the reports chronyd keeps by source address:
// NTP data and authentication for NTP servers and peers with an IP, the
// configured name for every source but a refclock (§8.6, §8.10, §8.13).
func (b *snapshotBuilder) queryByAddress(q *queue, sd SourceData, allowed [numReports]bool) {
	a := sd.Address
	if sd.isNTP() {
		if allowed[ReportNTPData] && b.s.asked[ReportNTPData] && b.ntp[a] == nil {
			b.ntp[a] = NTPDataCall(a)
			q.add(&b.ntp[a].x)
		}
		if allowed[ReportAuthData] && b.s.asked[ReportAuthData] && b.auth[a] == nil {
			b.auth[a] = AuthDataCall(a)
			q.add(&b.auth[a].x)
		}
	}
	if sd.hasName() && allowed[ReportSourceName] && b.s.asked[ReportSourceName] && b.name[a] == nil {
		b.name[a] = SourceNameCall(a)
		q.add(&b.name[a].x)
	}
}

// assemble builds the source list from the replies, once they are all in.
// runErr is the transport's error, if the exchange ended early.
func (b *snapshotBuilder) assemble(runErr error) {
	s := b.s
	if !b.gateOpen {
		return
	}
	s.Sources = make([]Source, 0, b.nSources)
	for i := 0; i < b.nSources; i++ {
		call := b.sd[i]
		if call.Err != nil {
			// A source removed since N_SOURCES is no failure.
			if !errors.Is(call.Err, ErrNoSuchSource) {
				s.setErr(ReportSources, call.Err)
			}
			continue
		}
		src := Source{SourceData: call.Value}
		a := src.Address
		if b.allowed[ReportSourceStats] {
			attach(b, &src, ReportSourceStats, b.stats[i], runErr, func(v SourceStats) bool {
				return src.sameSource(v.Address, v.RefID)
			}, func(v *SourceStats) { src.Stats = v })
		}
		if b.allowed[ReportSelectData] {
			attach(b, &src, ReportSelectData, b.sel[i], runErr, func(v SelectData) bool {
				return src.sameSource(v.Address, v.RefID)
			}, func(v *SelectData) { src.Select = v })
		}
		if src.isNTP() && b.allowed[ReportNTPData] {
			attach(b, &src, ReportNTPData, b.ntp[a], runErr, nil, func(v *NTPData) { src.NTP = v })
		}
		if src.isNTP() && b.allowed[ReportAuthData] {
			attach(b, &src, ReportAuthData, b.auth[a], runErr, nil, func(v *AuthData) { src.Auth = v })
		}
		if src.hasName() && b.allowed[ReportSourceName] {
			attach(b, &src, ReportSourceName, b.name[a], runErr, nil, func(v *string) { src.ConfiguredName = *v })
		}
		s.Sources = append(s.Sources, src)
	}
}

// attach gives src the reply of a per-source call, or its error. A reply
// asked by index that names another source (the list changed between
// requests) is dropped with ErrSourceChanged; NOSUCHSOURCE means the source
// went away and fails the source, not the report.
func attach[T any](b *snapshotBuilder, src *Source, r Report, call *Call[T], runErr error, same func(T) bool, store func(*T)) {
	var err error
	switch {
	case call == nil:
		// Never asked: the exchange ended before it could be.
		err = runErr
	case call.Err != nil:
		err = call.Err
	case same != nil && !same(call.Value):
		src.errs[r] = ErrSourceChanged
		return
	default:
		store(&call.Value)
		return
	}
	if err == nil {
		return
	}
	src.errs[r] = err
	if !errors.Is(err, ErrNoSuchSource) {
		b.s.setErr(r, err)
	}
}

func (b *snapshotBuilder) hint() snapshotHint {
	h := snapshotHint{allowed: b.allowed, sources: make([]SourceData, 0, len(b.s.Sources))}
	for _, src := range b.s.Sources {
		h.sources = append(h.sources, src.SourceData)
	}
	return h
}

// sameSource reports whether an index-based reply's address (or, for a
// refclock, reference ID) names this source.
func (src *Source) sameSource(addr Address, refID uint32) bool {
	if src.Mode == ModeRefclock {
		return addr.Family == FamilyUnspec && refID == src.RefID()
	}
	return addr == src.Address
}

// hintStore keeps a client's snapshot hint; snapshots of several
// goroutines may read and write it.
type hintStore struct {
	mu   sync.Mutex
	hint snapshotHint
}

func (c *Client) loadHint() snapshotHint {
	c.hints.mu.Lock()
	defer c.hints.mu.Unlock()
	return c.hints.hint
}

func (c *Client) storeHint(h snapshotHint) {
	c.hints.mu.Lock()
	defer c.hints.mu.Unlock()
	c.hints.hint = h
}
