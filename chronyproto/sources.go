package chronyproto

import (
	"context"
	"time"
)

// SourceMode is how chronyd uses a source (§8.2.1).
type SourceMode uint16

// Source modes.
const (
	ModeClient   SourceMode = 0 // an NTP server we are a client of
	ModePeer     SourceMode = 1 // a symmetric NTP peer
	ModeRefclock SourceMode = 2 // a local reference clock
)

// String returns the word of chronyc's sources legend.
func (m SourceMode) String() string {
	switch m {
	case ModeClient:
		return "server"
	case ModePeer:
		return "peer"
	case ModeRefclock:
		return "local clock"
	}
	return "unknown"
}

// Symbol returns chronyc's mode column: ^, = or #.
func (m SourceMode) Symbol() string {
	switch m {
	case ModeClient:
		return "^"
	case ModePeer:
		return "="
	case ModeRefclock:
		return "#"
	}
	return " "
}

// SourceState is the selection state of a source (§8.2.1). The numbers
// have not changed since 3.0; 4.0 renamed them.
type SourceState uint16

// Source states, with chronyd 4.x's names.
const (
	StateSelected      SourceState = 0 // 3.x: sync
	StateNonselectable SourceState = 1 // 3.x: unreach
	StateFalseticker   SourceState = 2
	StateJittery       SourceState = 3
	StateUnselected    SourceState = 4 // 3.x: candidate; combined
	StateSelectable    SourceState = 5 // 3.x: outlier; not combined
)

// String returns the words of chronyc's sources legend.
func (s SourceState) String() string {
	switch s {
	case StateSelected:
		return "current best"
	case StateNonselectable:
		return "unusable"
	case StateFalseticker:
		return "may be in error"
	case StateJittery:
		return "too variable"
	case StateUnselected:
		return "combined"
	case StateSelectable:
		return "not combined"
	}
	return "unknown"
}

// Symbol returns chronyc's state column: * ? x ~ + or -.
func (s SourceState) Symbol() string {
	switch s {
	case StateSelected:
		return "*"
	case StateNonselectable:
		return "?"
	case StateFalseticker:
		return "x"
	case StateJittery:
		return "~"
	case StateUnselected:
		return "+"
	case StateSelectable:
		return "-"
	}
	return " "
}

// noSample is since_sample's "no sample yet" (§8.2).
const noSample = 0xFFFFFFFF

// SourceData is one source of chronyd's sources report (§8.2). Offsets are
// in seconds.
type SourceData struct {
	// Address is the NTP source's address (FamilyID while its name is not
	// resolved); for a refclock, an IPv4 address made of its reference ID.
	Address Address
	Poll    int16 // log2 of the polling interval in seconds
	Stratum uint16
	State   SourceState
	Mode    SourceMode
	// Flags are the selection options on 3.x; 4.0+ sends 0 and reports
	// them in SelectData.
	Flags        uint16
	Reachability uint8 // the last 8 polls, bit 0 the most recent
	// LastSampleAgo is the age of the last sample; valid when HasSample.
	LastSampleAgo time.Duration
	HasSample     bool
	// OrigLatestMeas is the last sample's offset as measured,
	// LatestMeas the same adjusted for later clock corrections, and
	// LatestMeasErr its error bound.
	OrigLatestMeas float64
	LatestMeas     float64
	LatestMeasErr  float64
}

// RefID returns the reference ID of the source: for a refclock, the one its
// address carries; for an IPv4 source, its address (§5.5).
func (s *SourceData) RefID() uint32 {
	if s.Address.Family != FamilyInet4 {
		return 0
	}
	b := s.Address.IP.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// Name returns the name chronyc -n shows: a refclock's reference ID text,
// or the address.
func (s *SourceData) Name() string {
	if s.Mode == ModeRefclock && s.Address.Family == FamilyInet4 {
		return RefIDText(s.RefID())
	}
	return s.Address.String()
}

// PollInterval returns 2^Poll as a duration.
func (s *SourceData) PollInterval() time.Duration {
	if s.Poll >= 0 {
		return time.Duration(1<<min(s.Poll, 40)) * time.Second
	}
	return time.Second >> min(-s.Poll, 40)
}

// isNTP reports whether chronyd keeps NTP data for the source: chronyc asks
// ntpdata and authdata only for servers and peers with an IP (§8.6, §8.10).
func (s *SourceData) isNTP() bool {
	return (s.Mode == ModeClient || s.Mode == ModePeer) && s.Address.IsIP()
}

// hasName reports whether chronyd keeps a configured name for the source:
// every NTP source, resolved or not, but no refclock (§8.13).
func (s *SourceData) hasName() bool {
	return s.Mode != ModeRefclock && (s.Address.IsIP() || s.Address.Family == FamilyID)
}

// NSourcesCall prepares an N_SOURCES request (req 14 → RPY 2).
func NSourcesCall() *Call[int] {
	return newCall(ReportSources, cmdNSources, []uint16{rpyNSources}, func(_ uint16, p []byte) (int, error) {
		return int(u32(p, 28)), nil
	})
}

// SourceDataCall prepares a SOURCE_DATA request for the source at index
// (req 15 → RPY 3).
func SourceDataCall(index int) *Call[SourceData] {
	c := newCall(ReportSources, cmdSourceData, []uint16{rpySourceData}, decodeSourceData)
	putU32(c.x.packet, 20, uint32(index))
	return c
}

func decodeSourceData(_ uint16, p []byte) (SourceData, error) {
	since := u32(p, 60)
	ago := time.Duration(since) * time.Second
	if since == noSample {
		ago = 0
	}
	return SourceData{
		Address:        address(p, 28),
		Poll:           int16(u16(p, 48)),
		Stratum:        u16(p, 50),
		State:          SourceState(u16(p, 52)),
		Mode:           SourceMode(u16(p, 54)),
		Flags:          u16(p, 56),
		Reachability:   uint8(u16(p, 58)),
		LastSampleAgo:  ago,
		HasSample:      since != noSample,
		OrigLatestMeas: chronyFloat(p, 64),
		LatestMeas:     chronyFloat(p, 68),
		LatestMeasErr:  chronyFloat(p, 72),
	}, nil
}

// NSources asks chronyd how many sources it has.
func (c *Client) NSources(ctx context.Context) (int, error) {
	return do(ctx, c, NSourcesCall())
}

// SourceData asks chronyd for the source at index.
func (c *Client) SourceData(ctx context.Context, index int) (SourceData, error) {
	return do(ctx, c, SourceDataCall(index))
}
