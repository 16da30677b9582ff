package statuspage

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/second-hand/chrony_exporter/chronyproto"
	"github.com/second-hand/chrony_exporter/collector"
)

// status is what the page shows, and the document /api/status serves.
// Times are in seconds and frequencies in ppm, as chronyd sends them;
// numbers that are not finite are null.
type status struct {
	GeneratedAt time.Time `json:"generated_at"`
	Chronyd     chronyd   `json:"chronyd"`
	// Problems are the banner's entries, most serious first; empty when
	// everything worked.
	Problems []problem `json:"problems"`
	// Tracking is null when it was not read.
	Tracking *tracking `json:"tracking"`
	// Sources and SourceStats are null when they were not read, and
	// empty when chronyd has none.
	Sources     []source      `json:"sources"`
	SourceStats []sourceStats `json:"sourcestats"`
	RTC         rtc           `json:"rtc"`
	Exporter    exporter      `json:"exporter"`
	// Unavailable says, per section ("tracking", "sources",
	// "sourcestats"), why it has no data.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// chronyd is the daemon the exporter reads.
type chronyd struct {
	// Address is unix:///path or udp://host:port, or the configured
	// address when chronyd could not be reached.
	Address string `json:"address"`
	// Transport is "unix", "udp", or "" when chronyd could not be reached.
	Transport string `json:"transport"`
	// FallbackFrom is the Unix socket the automatic address found but
	// could not use, when chronyd is read over UDP instead.
	FallbackFrom string `json:"fallback_from,omitempty"`
	// Up is whether chronyd answered.
	Up    bool   `json:"up"`
	Error string `json:"error,omitempty"`
}

// problem is one entry of the error banner.
type problem struct {
	// Kind is one of the kind… constants.
	Kind string `json:"kind"`
	// Severity is "error" (nothing or a default report could be read),
	// "warning", or "info" (nothing to mend: a fact that explains what
	// the page lacks, such as the reports an old chronyd does not have).
	Severity string `json:"severity"`
	// Message says what is wrong and what to do, in a sentence or two.
	Message string `json:"message"`
	// Detail is the error as the exporter got it.
	Detail    string `json:"detail,omitempty"`
	Collector string `json:"collector,omitempty"`
	Report    string `json:"report,omitempty"`
}

// The kinds of problem.
const (
	kindNotRunning      = "not_running"
	kindUDPFallback     = "udp_fallback"
	kindPermission      = "permission"
	kindTimeout         = "timeout"
	kindNeedsUnixSocket = "needs_unix_socket"
	kindTooOld          = "too_old"
	// kindMissingReports lists the reports chronyd is too old for.
	kindMissingReports = "missing_reports"
	kindNotEnabled     = "not_enabled"
	kindOther          = "other"
)

// tracking is chronyd's tracking report.
type tracking struct {
	// Synchronized is whether the leap status is not "Not synchronised".
	Synchronized bool   `json:"synchronized"`
	RefID        string `json:"ref_id"`
	// Reference names the reference as tracking_info's tracking_name
	// does (collector.Exporter.Labels): as its source is named, or by a
	// refclock's or the local reference's ID text; "" when there is none.
	Reference        string `json:"reference"`
	ReferenceAddress string `json:"reference_address,omitempty"`
	Stratum          uint16 `json:"stratum"`
	LeapStatus       string `json:"leap_status"`
	LeapStatusCode   uint16 `json:"leap_status_code"`
	// RefTime is null when chronyd has never updated the clock.
	RefTime *time.Time `json:"ref_time"`
	// CurrentCorrection has chronyc's sign: positive when the system
	// clock is slow of NTP time. The page shows its opposite, system time
	// minus NTP time.
	CurrentCorrection jsonFloat `json:"current_correction_seconds"`
	LastOffset        jsonFloat `json:"last_offset_seconds"`
	RMSOffset         jsonFloat `json:"rms_offset_seconds"`
	Frequency         jsonFloat `json:"frequency_ppm"`
	ResidualFrequency jsonFloat `json:"residual_frequency_ppm"`
	Skew              jsonFloat `json:"skew_ppm"`
	RootDelay         jsonFloat `json:"root_delay_seconds"`
	RootDispersion    jsonFloat `json:"root_dispersion_seconds"`
	UpdateInterval    jsonFloat `json:"update_interval_seconds"`
	MaxError          jsonFloat `json:"max_error_seconds"`
}

// SystemOffset is system time minus NTP time: positive when the system
// clock is ahead.
func (t *tracking) SystemOffset() jsonFloat { return -t.CurrentCorrection }

// source is one line of chronyc sources, with selectdata's reason.
type source struct {
	// Name and Address are the source's source_name and source_address
	// labels (collector.Exporter.Labels): its configured name, else its
	// reverse DNS name with --collector.dns-lookups, else the address; a
	// refclock's reference ID in both. A source whose name chronyd has
	// not resolved yet, which has no series, shows its configured name
	// and chronyc's ID#0000000001.
	Name        string `json:"name"`
	Address     string `json:"address"`
	Mode        string `json:"mode"`
	ModeSymbol  string `json:"mode_symbol"`
	State       string `json:"state"`
	StateSymbol string `json:"state_symbol"`
	// Selected is chronyd's current best source.
	Selected bool `json:"selected"`
	// Reachable is whether any of the last 8 polls was answered.
	Reachable   bool      `json:"reachable"`
	Stratum     uint16    `json:"stratum"`
	Poll        int16     `json:"poll"`
	Reach       uint8     `json:"reach"`
	ReachOctal  string    `json:"reach_octal"`
	HasSample   bool      `json:"has_sample"`
	LastRx      *int64    `json:"last_rx_seconds"` // null: no sample yet
	Adjusted    jsonFloat `json:"last_sample_adjusted_seconds"`
	Measured    jsonFloat `json:"last_sample_measured_seconds"`
	SampleError jsonFloat `json:"last_sample_error_seconds"`
	// SelectState is selectdata's letter and SelectReason its meaning,
	// when chronyd answered selectdata.
	SelectState  string `json:"select_state,omitempty"`
	SelectReason string `json:"select_reason,omitempty"`
}

// sourceStats is one line of chronyc sourcestats, its source named as in
// source. The estimates are null while the source has no samples.
type sourceStats struct {
	Name      string    `json:"name"`
	Address   string    `json:"address"`
	Samples   uint32    `json:"samples"`
	Runs      uint32    `json:"runs"`
	Span      int64     `json:"span_seconds"`
	Frequency jsonFloat `json:"frequency_ppm"`
	Skew      jsonFloat `json:"skew_ppm"`
	Offset    jsonFloat `json:"offset_seconds"`
	StdDev    jsonFloat `json:"stddev_seconds"`
}

// The states of the RTC section.
const (
	rtcOK            = "ok"
	rtcNotConfigured = "not_configured"
	rtcUnavailable   = "unavailable"
)

// rtc is chronyd's model of the hardware clock.
type rtc struct {
	// Status is rtcOK, rtcNotConfigured or rtcUnavailable; the other
	// fields are set when it is "ok".
	Status string `json:"status"`
	// Message explains a status other than "ok".
	Message string     `json:"message,omitempty"`
	RefTime *time.Time `json:"ref_time,omitempty"`
	Samples uint16     `json:"samples,omitempty"`
	Runs    uint16     `json:"runs,omitempty"`
	Span    int64      `json:"span_seconds,omitempty"`
	Offset  *jsonFloat `json:"offset_seconds,omitempty"` // how far the RTC is ahead
	Drift   *jsonFloat `json:"drift_ppm,omitempty"`      // how fast it gains
}

// exporter is the exporter's own state.
type exporter struct {
	Version       string    `json:"version"`
	TelemetryPath string    `json:"telemetry_path"`
	Timeout       jsonFloat `json:"timeout_seconds"`
	// Address is the configured --chrony.address; "" is automatic.
	ConfiguredAddress string `json:"configured_address"`
	// ScrapeStart and ScrapeDuration are those of the page's own read of
	// chronyd.
	ScrapeStart    time.Time `json:"scrape_start"`
	ScrapeDuration jsonFloat `json:"scrape_duration_seconds"`
	// Collectors holds every collector, enabled or not, by name.
	Collectors []collectorStatus `json:"collectors"`
}

// The states of a collector.
const (
	collectorOK      = "ok"
	collectorSkipped = "skipped"
	collectorError   = "error"
	collectorOff     = "off"
	collectorUnknown = "unknown"
)

// collectorStatus is the state of one collector after the read.
type collectorStatus struct {
	Name string `json:"name"`
	// State is collectorOK, collectorSkipped, collectorError,
	// collectorOff or collectorUnknown.
	State string `json:"state"`
	// Reason is why it was skipped or failed.
	Reason string `json:"reason,omitempty"`
	// Since is when it entered its state.
	Since *time.Time `json:"since,omitempty"`
}

// jsonFloat is a number that marshals to JSON null when it is NaN or ±Inf,
// which encoding/json refuses.
type jsonFloat float64

// MarshalJSON implements json.Marshaler.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

// build turns one read of chronyd into a status, naming its sources and
// reference with the metrics' labels of the read.
func build(s *collector.Scrape, states []collector.CollectorState, labels *collector.Labels, info Info, now time.Time) *status {
	st := &status{
		GeneratedAt: now.UTC(),
		Problems:    []problem{},
		Unavailable: map[string]string{},
	}
	st.Chronyd = chronyd{Address: s.Address, Up: s.Err == nil && s.Snapshot != nil}
	if s.Address == "" {
		st.Chronyd.Address = configuredAddress(info.Address)
	} else if i := strings.Index(s.Address, "://"); i > 0 {
		st.Chronyd.Transport = s.Address[:i]
	}
	if s.Err != nil {
		st.Chronyd.Error = s.Err.Error()
	}
	if s.FallbackErr != nil {
		st.Chronyd.FallbackFrom = s.FallbackFrom
	}
	st.Exporter = exporterState(s, states, info)
	st.Problems = problems(s, states, st.Chronyd.Address, info)

	snap := s.Snapshot
	if snap == nil {
		snap = &chronyproto.Snapshot{}
	}
	if labels == nil {
		labels = &collector.Labels{}
	}
	// sourceLabels are the labels of source i; labels made of another
	// snapshot cannot mislabel a source, they only leave it unnamed.
	sourceLabels := func(i int) collector.SourceLabels {
		if len(labels.Sources) == len(snap.Sources) {
			return labels.Sources[i]
		}
		return collector.SourceLabels{}
	}
	// The page reads its sections whatever the collectors' flags
	// (collector.Exporter.Read): a section is missing only when chronyd
	// did not send it.
	unavailable := func(section string, r chronyproto.Report) {
		switch {
		case s.Err != nil:
			st.Unavailable[section] = "chronyd did not answer."
		case snap.Err(r) != nil:
			st.Unavailable[section] = "chronyd did not send the " + r.String() + " report: " + snap.Err(r).Error()
		default:
			st.Unavailable[section] = "chronyd did not send the " + r.String() + " report."
		}
	}

	if t := snap.Tracking; t != nil {
		st.Tracking = trackingOf(t, labels.Reference)
	} else {
		unavailable("tracking", chronyproto.ReportTracking)
	}

	// A list cut short by an error is still shown; the banner says why.
	ok := func(r chronyproto.Report, some bool) bool {
		return s.Snapshot != nil && snap.Asked(r) && (some || s.Err == nil && snap.Err(r) == nil)
	}
	if ok(chronyproto.ReportSources, len(snap.Sources) > 0) {
		st.Sources = []source{}
		for i := range snap.Sources {
			st.Sources = append(st.Sources, sourceOf(&snap.Sources[i], sourceLabels(i)))
		}
	} else {
		unavailable("sources", chronyproto.ReportSources)
	}

	if ok(chronyproto.ReportSourceStats, hasStats(snap)) {
		st.SourceStats = []sourceStats{}
		for i := range snap.Sources {
			if snap.Sources[i].Stats != nil {
				st.SourceStats = append(st.SourceStats, sourceStatsOf(&snap.Sources[i], sourceLabels(i)))
			}
		}
	} else {
		unavailable("sourcestats", chronyproto.ReportSourceStats)
	}

	st.RTC = rtcOf(s, snap)
	if len(st.Unavailable) == 0 {
		st.Unavailable = nil
	}
	return st
}

func hasStats(snap *chronyproto.Snapshot) bool {
	for i := range snap.Sources {
		if snap.Sources[i].Stats != nil {
			return true
		}
	}
	return false
}

// configuredAddress names the address the exporter was told to use, in
// the form of Scrape.Address where it can.
func configuredAddress(a string) string {
	switch {
	case a == "":
		var all []string
		for _, p := range chronyproto.DefaultSocketPaths {
			all = append(all, "unix://"+p)
		}
		all = append(all, "udp://127.0.0.1:323", "udp://[::1]:323")
		return strings.Join(all, ", ")
	case strings.HasPrefix(a, "/"):
		return "unix://" + a
	case strings.Contains(a, "://"):
		return a
	}
	return "udp://" + a
}

// trackingOf is the page's trackingOf section, its reference named by ref,
// tracking_info's labels.
func trackingOf(t *chronyproto.Tracking, ref *collector.ReferenceLabels) *tracking {
	out := &tracking{
		Synchronized:      t.LeapStatus != chronyproto.LeapNotSynchronised,
		RefID:             refIDText(t.RefID),
		Stratum:           t.Stratum,
		LeapStatus:        t.LeapStatus.String(),
		LeapStatusCode:    uint16(t.LeapStatus),
		CurrentCorrection: jsonFloat(t.CurrentCorrection),
		LastOffset:        jsonFloat(t.LastOffset),
		RMSOffset:         jsonFloat(t.RMSOffset),
		Frequency:         jsonFloat(t.FreqPPM),
		ResidualFrequency: jsonFloat(t.ResidFreqPPM),
		Skew:              jsonFloat(t.SkewPPM),
		RootDelay:         jsonFloat(t.RootDelay),
		RootDispersion:    jsonFloat(t.RootDispersion),
		UpdateInterval:    jsonFloat(t.LastUpdateInterval),
		MaxError:          jsonFloat(t.MaxError()),
	}
	if !isNever(t.RefTime) {
		rt := t.RefTime.UTC()
		out.RefTime = &rt
	}
	// Without an address or a reference ID chronyd has no reference,
	// which the page shows as none rather than tracking_info's 00000000.
	if ref != nil && (t.Address.IsIP() || t.RefID != 0) {
		out.Reference = ref.Name
		if t.Address.IsIP() {
			out.ReferenceAddress = ref.Address
		}
	}
	return out
}

// sourceOf is the page's line of a sourceOf named by l, its metrics labels.
func sourceOf(src *chronyproto.Source, l collector.SourceLabels) source {
	out := source{
		Name:        l.Name,
		Address:     l.Address,
		Mode:        src.Mode.String(),
		ModeSymbol:  src.Mode.Symbol(),
		State:       src.State.String(),
		StateSymbol: src.State.Symbol(),
		Selected:    src.State == chronyproto.StateSelected,
		Reachable:   src.Reachability != 0,
		Stratum:     src.Stratum,
		Poll:        src.Poll,
		Reach:       src.Reachability,
		ReachOctal:  reachText(src.Reachability),
		HasSample:   src.HasSample,
		Adjusted:    jsonFloat(src.LatestMeas),
		Measured:    jsonFloat(src.OrigLatestMeas),
		SampleError: jsonFloat(src.LatestMeasErr),
	}
	if src.HasSample {
		secs := int64(src.LastSampleAgo / time.Second)
		out.LastRx = &secs
	}
	if src.Select != nil {
		out.SelectState = string(rune(src.Select.State))
		out.SelectReason = src.Select.State.String()
	}
	return out
}

// sourceStatsOf is the page's statistics of a source named by l, its
// metrics labels.
func sourceStatsOf(src *chronyproto.Source, l collector.SourceLabels) sourceStats {
	s := src.Stats
	out := sourceStats{
		Name:      l.Name,
		Address:   l.Address,
		Samples:   s.NSamples,
		Runs:      s.NRuns,
		Span:      int64(s.Span / time.Second),
		Frequency: jsonFloat(s.ResidFreqPPM),
		Skew:      jsonFloat(s.SkewPPM),
		Offset:    jsonFloat(s.EstOffset),
		StdDev:    jsonFloat(s.StdDev),
	}
	if s.NSamples == 0 {
		// chronyd's placeholders (4 s, 2000 ppm) are no estimates; the
		// metrics leave them out too.
		nan := jsonFloat(math.NaN())
		out.Frequency, out.Skew, out.Offset, out.StdDev = nan, nan, nan, nan
	}
	return out
}

func rtcOf(s *collector.Scrape, snap *chronyproto.Snapshot) rtc {
	if r := snap.RTC; r != nil {
		out := rtc{
			Status:  rtcOK,
			Samples: r.NSamples,
			Runs:    r.NRuns,
			Span:    int64(r.Span / time.Second),
		}
		if !isNever(r.RefTime) {
			rt := r.RefTime.UTC()
			out.RefTime = &rt
		}
		off, drift := jsonFloat(r.SecondsFast), jsonFloat(r.GainRatePPM)
		out.Offset, out.Drift = &off, &drift
		return out
	}
	err := snap.Err(chronyproto.ReportRTC)
	switch {
	case errors.Is(err, chronyproto.ErrNotEnabled):
		return rtc{Status: rtcNotConfigured, Message: "RTC tracking not configured"}
	case s.Err != nil:
		return rtc{Status: rtcUnavailable, Message: "chronyd did not answer."}
	case err != nil:
		return rtc{Status: rtcUnavailable, Message: "chronyd did not send the rtcdata report: " + err.Error()}
	}
	return rtc{Status: rtcUnavailable, Message: "chronyd did not send the rtcdata report."}
}

func exporterState(s *collector.Scrape, states []collector.CollectorState, info Info) exporter {
	out := exporter{
		Version:           info.Version,
		TelemetryPath:     info.TelemetryPath,
		Timeout:           jsonFloat(info.Timeout.Seconds()),
		ConfiguredAddress: info.Address,
		ScrapeStart:       s.Start.UTC(),
		ScrapeDuration:    jsonFloat(s.Duration.Seconds()),
	}
	seen := map[string]bool{}
	for _, cs := range states {
		seen[cs.Name] = true
		c := collectorStatus{Name: cs.Name}
		switch {
		case cs.Skipped != "":
			c.State, c.Reason = collectorSkipped, cs.Skipped
		case cs.Err != nil:
			c.State, c.Reason = collectorError, cs.Err.Error()
		case cs.Since.IsZero():
			c.State = collectorUnknown
		default:
			c.State = collectorOK
		}
		if !cs.Since.IsZero() {
			since := cs.Since.UTC()
			c.Since = &since
		}
		out.Collectors = append(out.Collectors, c)
	}
	for _, name := range collector.Names() {
		if !seen[name] {
			out.Collectors = append(out.Collectors, collectorStatus{Name: name, State: collectorOff})
		}
	}
	sort.Slice(out.Collectors, func(i, j int) bool { return out.Collectors[i].Name < out.Collectors[j].Name })
	return out
}

// problems lists what went wrong in the read, with what to do about it.
func problems(s *collector.Scrape, states []collector.CollectorState, addr string, info Info) []problem {
	out := []problem{}
	if s.Err != nil {
		// chronyd did not answer: one problem, not one per collector.
		out = append(out, connectionProblem(s.Err, addr, info))
	}
	if s.FallbackErr != nil {
		out = append(out, fallbackProblem(s, states))
	}
	if s.Err != nil {
		return out
	}
	for _, cs := range states {
		if cs.Err == nil || cs.Skipped != "" {
			continue
		}
		out = append(out, collectorProblem(cs, addr))
	}
	if p, ok := missingReports(s, states, addr); ok {
		out = append(out, p)
	}
	return out
}

// missingReports is the notice of the reports chronyd answered as too old
// (status INVALID) and what the page and the metrics do without them.
//
// It is "info", not "warning": an old chronyd (3.5 on Ubuntu 20.04) is how
// the machine is, not a fault; the exporter skips what it lacks, and only
// an upgrade of chrony ends the notice. A warning nobody can act on teaches
// people to overlook the banner. A collector the user turned on for such a
// report still gets its own warning.
func missingReports(s *collector.Scrape, states []collector.CollectorState, addr string) (problem, bool) {
	snap := s.Snapshot
	if snap == nil {
		return problem{}, false
	}
	var names, details []string
	added := map[string]bool{}
	lacks := map[chronyproto.Report]bool{}
	for _, r := range chronyproto.AllReports() {
		if err := snap.Err(r); snap.Asked(r) && errors.Is(err, chronyproto.ErrTooOld) {
			names = append(names, r.String())
			details = append(details, err.Error())
			added[r.AddedIn()] = true
			lacks[r] = true
		}
	}
	if len(names) == 0 {
		return problem{}, false
	}
	msg := fmt.Sprintf("chronyd at %s is too old for the %s %s", addr, joinAnd(names), plural(len(names), "report", "reports"))
	if v := slices.Collect(maps.Keys(added)); len(v) == 1 && v[0] != "" {
		msg += fmt.Sprintf(" (chrony %s added %s)", v[0], plural(len(names), "it", "them"))
	}
	var costs, shown []string
	if lacks[chronyproto.ReportSelectData] {
		shown = append(shown, "selection reasons")
	}
	if lacks[chronyproto.ReportSourceName] {
		shown = append(shown, "configured names")
	}
	if len(shown) > 0 {
		costs = append(costs, "the sources show no "+strings.Join(shown, " or "))
	}
	var skipped []string
	for _, cs := range states {
		if cs.TooOld {
			skipped = append(skipped, cs.Name)
		}
	}
	if len(skipped) > 0 {
		costs = append(costs, fmt.Sprintf("the %s %s skipped", joinAnd(skipped), plural(len(skipped), "collector is", "collectors are")))
	}
	if len(costs) > 0 {
		msg += ": " + strings.Join(costs, "; ")
	}
	msg += ". Upgrading chrony brings " + plural(len(names), "it", "them") + "; nothing else needs doing."
	return problem{Kind: kindMissingReports, Severity: "info", Message: msg, Detail: strings.Join(details, "; ")}, true
}

// plural returns one when n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// defaultUDP is the address that reaches a local chronyd's monitoring
// reports without the Unix socket.
func defaultUDP() string { return "--chrony.address=" + chronyproto.DefaultUDPAddress() }

func connectionProblem(err error, addr string, info Info) problem {
	p := problem{Severity: "error", Detail: err.Error()}
	var perm *chronyproto.PermissionError
	switch {
	case errors.As(err, &perm):
		p.Kind = kindPermission
		p.Message = permissionMessage(perm)
	case errors.Is(err, chronyproto.ErrPermission):
		p.Kind = kindPermission
		p.Message = fmt.Sprintf("Permission denied on chronyd's socket at %s. Run the exporter as root or as chronyd's user, which owns the socket; or use %s for the monitoring reports.", addr, defaultUDP())
	case errors.Is(err, chronyproto.ErrNotRunning):
		p.Kind = kindNotRunning
		p.Message = fmt.Sprintf("Unable to connect to chronyd at %s. Is the service running?", addr)
	case errors.Is(err, chronyproto.ErrTimeout):
		p.Kind = kindTimeout
		p.Message = fmt.Sprintf("chronyd at %s did not answer within %s (--chrony.timeout). Is it overloaded, or does a firewall drop its replies?", addr, durationText(info.Timeout))
	default:
		p.Kind = kindOther
		p.Message = fmt.Sprintf("Unable to read chronyd at %s.", addr)
	}
	return p
}

// fallbackProblem says that the automatic address read chronyd over UDP
// because the socket refused the exporter, what that leaves out, and what
// to do.
func fallbackProblem(s *collector.Scrape, states []collector.CollectorState) problem {
	var skipped []string
	for _, cs := range states {
		if cs.Skipped != "" {
			skipped = append(skipped, cs.Name)
		}
	}
	msg := fmt.Sprintf("Reading chronyd over UDP (%s), which answers only the monitoring reports: its socket %s refused this exporter", s.Address, s.FallbackFrom)
	if len(skipped) > 0 {
		msg += fmt.Sprintf(", so the %s collectors are skipped", joinAnd(skipped))
	}
	var perm *chronyproto.PermissionError
	if errors.As(s.FallbackErr, &perm) {
		msg += "; " + permissionFacts(perm) + " " + runAsAdvice(perm, "or set --chrony.address="+s.Address+" to choose UDP and end this notice.")
	} else {
		msg += fmt.Sprintf(". Set --chrony.address=%s to choose UDP and end this notice.", s.Address)
	}
	return problem{Kind: kindUDPFallback, Severity: "warning", Message: msg, Detail: s.FallbackErr.Error()}
}

// permissionMessage says who may use the socket by what was found, and
// what to do.
func permissionMessage(perm *chronyproto.PermissionError) string {
	return fmt.Sprintf("Permission denied on chronyd's socket %s: %s %s", perm.Path, permissionFacts(perm),
		runAsAdvice(perm, "or use "+defaultUDP()+" for the monitoring reports."))
}

// permissionFacts says who may use the socket and why, and who the
// exporter is.
func permissionFacts(perm *chronyproto.PermissionError) string {
	group := ""
	if perm.RunAs() != "" && !perm.GroupAllowed() {
		group = fmt.Sprintf("; membership of group %s is not enough", perm.Dir.Group)
	}
	return fmt.Sprintf("only %s can use it (directory %s %s, socket %s%s). The exporter runs as %s.",
		perm.Who(), dirOf(perm.Path), perm.Dir, perm.Socket, group, perm.Self)
}

// runAsAdvice is the first thing to do about a refused socket, then
// otherwise.
func runAsAdvice(perm *chronyproto.PermissionError, otherwise string) string {
	if perm.ModesAllowSelf() {
		return "The modes let the exporter in, so something else refuses it: a read-only mount, SELinux or AppArmor. Allow it there, " + otherwise
	}
	if u := perm.RunAs(); u != "" {
		return fmt.Sprintf("Run it as user %s (the shipped systemd unit and packages do), %s", u, otherwise)
	}
	return "Run it as root, " + otherwise
}

// joinAnd joins names as "a, b and c".
func joinAnd(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		return path[:i]
	}
	return path
}

func collectorProblem(cs collector.CollectorState, addr string) problem {
	p := problem{Severity: "warning", Collector: cs.Name, Detail: cs.Err.Error(), Report: cs.Name}
	var se *chronyproto.StatusError
	if errors.As(cs.Err, &se) {
		p.Report = se.Report.String()
	}
	switch {
	case errors.Is(cs.Err, chronyproto.ErrNeedsUnixSocket):
		p.Kind = kindNeedsUnixSocket
		p.Message = fmt.Sprintf("chronyd refuses the %s report over UDP: it needs chronyd's Unix socket. Use --chrony.address=unix:///run/chrony/chronyd.sock, allow it with chronyd's opencommands (4.7+), or turn the collector off with --no-collector.%s.",
			p.Report, cs.Name)
	case errors.Is(cs.Err, chronyproto.ErrTooOld):
		p.Kind = kindTooOld
		p.Message = fmt.Sprintf("chronyd at %s is too old for the %s report. Upgrade chrony, or turn the collector off with --no-collector.%s.",
			addr, p.Report, cs.Name)
	case errors.Is(cs.Err, chronyproto.ErrNotEnabled):
		p.Kind = kindNotEnabled
		p.Message = fmt.Sprintf("chronyd has the facility behind the %s report turned off. Enable it in chrony.conf, or turn the collector off with --no-collector.%s.",
			p.Report, cs.Name)
	case errors.Is(cs.Err, chronyproto.ErrPermission):
		p.Kind = kindPermission
		p.Severity = "error"
		p.Message = fmt.Sprintf("Permission denied reading the %s report. Run the exporter as root or as chronyd's user, or use %s for the monitoring reports.", p.Report, defaultUDP())
	case errors.Is(cs.Err, chronyproto.ErrTimeout):
		p.Kind = kindTimeout
		p.Message = fmt.Sprintf("chronyd at %s did not answer the %s report in time (--chrony.timeout).", addr, p.Report)
	default:
		p.Kind = kindOther
		p.Message = fmt.Sprintf("The %s collector failed.", cs.Name)
	}
	return p
}
