package chronyproto

import "context"

// ServerStatsField is one counter of the serverstats report; as a bit set
// it says which counters a chronyd version sends.
type ServerStatsField uint32

// The serverstats counters, in chronyc's order on the wire of RPY 25.
const (
	StatNTPHits ServerStatsField = 1 << iota
	StatNKEHits
	StatCmdHits
	StatNTPDrops
	StatNKEDrops
	StatCmdDrops
	StatLogDrops
	StatNTPAuthHits
	StatNTPInterleavedHits
	StatNTPTimestamps
	StatNTPSpanSeconds
	StatNTPDaemonRxTimestamps
	StatNTPDaemonTxTimestamps
	StatNTPKernelRxTimestamps
	StatNTPKernelTxTimestamps
	StatNTPHwRxTimestamps
	StatNTPHwTxTimestamps
)

// ServerStats is chronyd's serverstats report (§8.7), the four reply
// formats of 3.x to 4.8 normalised into one: counters a version does not
// send are zero and missing from Fields.
type ServerStats struct {
	NTPHits               uint64 // NTP packets received
	NKEHits               uint64 // NTS-KE connections accepted
	CmdHits               uint64 // command packets received
	NTPDrops              uint64 // NTP packets dropped by rate limiting
	NKEDrops              uint64 // NTS-KE connections dropped
	CmdDrops              uint64 // command packets dropped
	LogDrops              uint64 // client log records dropped
	NTPAuthHits           uint64 // authenticated NTP packets
	NTPInterleavedHits    uint64 // interleaved NTP packets
	NTPTimestamps         uint64 // server timestamps held
	NTPSpanSeconds        uint64 // span of the held timestamps
	NTPDaemonRxTimestamps uint64
	NTPDaemonTxTimestamps uint64
	NTPKernelRxTimestamps uint64
	NTPKernelTxTimestamps uint64
	NTPHwRxTimestamps     uint64
	NTPHwTxTimestamps     uint64
	// Fields holds the counters this chronyd sent.
	Fields ServerStatsField
}

// Has reports whether the chronyd that answered sends the counter f.
func (s *ServerStats) Has(f ServerStatsField) bool { return s.Fields&f != 0 }

// ServerStatsCall prepares a SERVER_STATS request (req 54 → RPY 14, 22, 24
// or 25, by version). Unix socket only by default.
func ServerStatsCall() *Call[ServerStats] {
	return newCall(ReportServerStats, cmdServerStats,
		[]uint16{rpyServerStats, rpyServerStats2, rpyServerStats3, rpyServerStats4}, decodeServerStats)
}

// The counters of each reply format, in wire order (§8.7). RPY 14 has no
// NTS-KE counters between the others, so its order differs.
var serverStatsLayouts = map[uint16][]ServerStatsField{
	rpyServerStats: {StatNTPHits, StatCmdHits, StatNTPDrops, StatCmdDrops, StatLogDrops},
	rpyServerStats2: {StatNTPHits, StatNKEHits, StatCmdHits, StatNTPDrops, StatNKEDrops, StatCmdDrops,
		StatLogDrops, StatNTPAuthHits},
	rpyServerStats3: {StatNTPHits, StatNKEHits, StatCmdHits, StatNTPDrops, StatNKEDrops, StatCmdDrops,
		StatLogDrops, StatNTPAuthHits, StatNTPInterleavedHits, StatNTPTimestamps, StatNTPSpanSeconds},
	rpyServerStats4: {StatNTPHits, StatNKEHits, StatCmdHits, StatNTPDrops, StatNKEDrops, StatCmdDrops,
		StatLogDrops, StatNTPAuthHits, StatNTPInterleavedHits, StatNTPTimestamps, StatNTPSpanSeconds,
		StatNTPDaemonRxTimestamps, StatNTPDaemonTxTimestamps, StatNTPKernelRxTimestamps,
		StatNTPKernelTxTimestamps, StatNTPHwRxTimestamps, StatNTPHwTxTimestamps},
}

func decodeServerStats(code uint16, p []byte) (ServerStats, error) {
	var s ServerStats
	wide := code == rpyServerStats4 // u64 counters since 4.4
	off := replyHeaderLen
	for _, f := range serverStatsLayouts[code] {
		var v uint64
		if wide {
			v = u64(p, off)
			off += 8
		} else {
			v = uint64(u32(p, off))
			off += 4
		}
		*s.counter(f) = v
		s.Fields |= f
	}
	return s, nil
}

// counter returns the struct field that holds f, nil unless f is exactly
// one known counter.
func (s *ServerStats) counter(f ServerStatsField) *uint64 {
	switch f {
	case StatNTPHits:
		return &s.NTPHits
	case StatNKEHits:
		return &s.NKEHits
	case StatCmdHits:
		return &s.CmdHits
	case StatNTPDrops:
		return &s.NTPDrops
	case StatNKEDrops:
		return &s.NKEDrops
	case StatCmdDrops:
		return &s.CmdDrops
	case StatLogDrops:
		return &s.LogDrops
	case StatNTPAuthHits:
		return &s.NTPAuthHits
	case StatNTPInterleavedHits:
		return &s.NTPInterleavedHits
	case StatNTPTimestamps:
		return &s.NTPTimestamps
	case StatNTPSpanSeconds:
		return &s.NTPSpanSeconds
	case StatNTPDaemonRxTimestamps:
		return &s.NTPDaemonRxTimestamps
	case StatNTPDaemonTxTimestamps:
		return &s.NTPDaemonTxTimestamps
	case StatNTPKernelRxTimestamps:
		return &s.NTPKernelRxTimestamps
	case StatNTPKernelTxTimestamps:
		return &s.NTPKernelTxTimestamps
	case StatNTPHwRxTimestamps:
		return &s.NTPHwRxTimestamps
	case StatNTPHwTxTimestamps:
		return &s.NTPHwTxTimestamps
	}
	return nil
}

// Counter returns the value of the single counter f and whether this
// chronyd sends it.
func (s *ServerStats) Counter(f ServerStatsField) (uint64, bool) {
	p := s.counter(f)
	if p == nil || !s.Has(f) {
		return 0, false
	}
	return *p, true
}

// ServerStats asks chronyd for its server statistics.
func (c *Client) ServerStats(ctx context.Context) (ServerStats, error) {
	return do(ctx, c, ServerStatsCall())
}
