package chronyproto

import (
	"context"
	"errors"
	"fmt"
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

	valid bool // SOURCE_DATA answered
	errs  [numReports]error
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

// Snapshot fetches the given reports (all of them when none is given) in
// one pipelined pass: the reports that need nothing first, with
// N_SOURCES and a probe of each socket-only per-source report; then each
// source's SOURCE_DATA, SOURCESTATS and SELECT_DATA; and, as each
// SOURCE_DATA reply names its source, its NTP_DATA, AUTH_DATA and
// NTP_SOURCE_NAME. A snapshot of N sources thus costs a few round trips,
// not one per request.
//
// The snapshot is never nil. The error is the transport's (ErrTimeout,
// ErrNotRunning…), which every report that did not finish also carries.
func (c *Client) Snapshot(ctx context.Context, reports ...Report) (*Snapshot, error) {
	if len(reports) == 0 {
		reports = AllReports()
	}
	s := &Snapshot{}
	for _, r := range reports {
		if r < numReports {
			s.asked[r] = true
		}
	}

	var (
		q       queue
		pending int // first-round exchanges not finished yet
		next    func(q *queue)
	)
	first := func(x *exchange, done func()) {
		pending++
		x.then = func(q *queue) {
			done()
			if pending--; pending == 0 && next != nil {
				next(q)
			}
		}
		q.add(x)
	}
	addSingle(s, first, ReportTracking, TrackingCall(), &s.Tracking)
	addSingle(s, first, ReportRTC, RTCCall(), &s.RTC)
	addSingle(s, first, ReportActivity, ActivityCall(), &s.Activity)
	addSingle(s, first, ReportSmoothing, SmoothingCall(), &s.Smoothing)
	addSingle(s, first, ReportServerStats, ServerStatsCall(), &s.ServerStats)

	wanted := false
	for _, r := range perSourceReports {
		wanted = wanted || s.asked[r]
	}
	if wanted {
		n := NSourcesCall()
		first(n.exchange(), func() {})
		probes := map[Report]Request{
			ReportSelectData: SelectDataCall(probeIndex),
			ReportNTPData:    NTPDataCall(Address{}),
			ReportAuthData:   AuthDataCall(Address{}),
			ReportSourceName: SourceNameCall(Address{}),
		}
		for r, p := range probes {
			if !s.asked[r] {
				continue
			}
			r, x := r, p.exchange()
			first(x, func() {
				if err := *x.err; err != nil && !errors.Is(err, ErrNoSuchSource) {
					s.setErr(r, err)
				}
			})
		}
		next = func(q *queue) { s.querySources(q, n) }
	}

	err := c.run(ctx, &q)
	s.finishSources()
	return s, err
}

// addSingle queues a report that is one request.
func addSingle[T any](s *Snapshot, first func(*exchange, func()), r Report, call *Call[T], dst **T) {
	if !s.asked[r] {
		return
	}
	first(call.exchange(), func() {
		if call.Err != nil {
			s.setErr(r, call.Err)
			return
		}
		*dst = &call.Value
	})
}

// querySources queues the per-source requests once N_SOURCES and the probes
// have answered.
func (s *Snapshot) querySources(q *queue, n *Call[int]) {
	// A probe that failed already says why its whole report is missing.
	var ok [numReports]bool
	for r := range ok {
		ok[r] = s.asked[r] && s.errs[r] == nil
	}
	allowed := func(r Report) bool { return ok[r] }
	err := n.Err
	if err == nil && n.Value > MaxSources {
		err = fmt.Errorf("%w: chronyd reports %d sources, more than the %d this client reads", ErrBadReply, n.Value, MaxSources)
	}
	if err != nil {
		for _, r := range perSourceReports {
			if s.asked[r] {
				s.setErr(r, err)
			}
		}
		return
	}
	s.Sources = make([]Source, n.Value)
	for i := range s.Sources {
		src := &s.Sources[i]
		sd := SourceDataCall(i)
		sd.x.then = func(q *queue) {
			if sd.Err != nil {
				if !errors.Is(sd.Err, ErrNoSuchSource) {
					s.setErr(ReportSources, sd.Err)
				}
				return
			}
			src.SourceData = sd.Value
			src.valid = true
			if src.isNTP() {
				if allowed(ReportNTPData) {
					q.add(perSourceExchange(s, src, ReportNTPData, NTPDataCall(src.Address), func(v NTPData) { src.NTP = &v }))
				}
				if allowed(ReportAuthData) {
					q.add(perSourceExchange(s, src, ReportAuthData, AuthDataCall(src.Address), func(v AuthData) { src.Auth = &v }))
				}
			}
			if allowed(ReportSourceName) && src.Mode != ModeRefclock && (src.Address.IsIP() || src.Address.Family == FamilyID) {
				q.add(perSourceExchange(s, src, ReportSourceName, SourceNameCall(src.Address), func(v string) { src.ConfiguredName = v }))
			}
		}
		q.add(&sd.x)
		if allowed(ReportSourceStats) {
			q.add(perSourceExchange(s, src, ReportSourceStats, SourceStatsCall(i), func(v SourceStats) { src.Stats = &v }))
		}
		if allowed(ReportSelectData) {
			q.add(perSourceExchange(s, src, ReportSelectData, SelectDataCall(i), func(v SelectData) { src.Select = &v }))
		}
	}
}

// perSourceExchange returns the exchange of call, which hands its value to
// store or keeps its error in the source. A source that vanished in the
// meantime (NOSUCHSOURCE) is no failure of the report.
func perSourceExchange[T any](s *Snapshot, src *Source, r Report, call *Call[T], store func(T)) *exchange {
	call.x.then = func(*queue) {
		if call.Err != nil {
			src.errs[r] = call.Err
			if !errors.Is(call.Err, ErrNoSuchSource) {
				s.setErr(r, call.Err)
			}
			return
		}
		store(call.Value)
	}
	return &call.x
}

// finishSources drops the sources chronyd could not describe and the
// per-source replies that belong to another source because the list
// changed between requests: SOURCESTATS and SELECT_DATA are asked by index
// and carry the source's address, or its reference ID for a refclock.
func (s *Snapshot) finishSources() {
	kept := s.Sources[:0]
	for _, src := range s.Sources {
		if !src.valid {
			continue
		}
		if src.Stats != nil && !src.sameSource(src.Stats.Address, src.Stats.RefID) {
			src.Stats = nil
			src.errs[ReportSourceStats] = ErrSourceChanged
		}
		if src.Select != nil && !src.sameSource(src.Select.Address, src.Select.RefID) {
			src.Select = nil
			src.errs[ReportSelectData] = ErrSourceChanged
		}
		kept = append(kept, src)
	}
	s.Sources = kept
}

// sameSource reports whether an index-based reply's address (or, for a
// refclock, reference ID) names this source.
func (src *Source) sameSource(addr Address, refID uint32) bool {
	if src.Mode == ModeRefclock {
		return addr.Family == FamilyUnspec && refID == src.RefID()
	}
	return addr == src.Address
}
