package chronyproto

import (
	"context"
	"time"
)

// SourceStats is one source of chronyd's sourcestats report (§8.3): the
// regression chronyd keeps of the source's samples. Times are in seconds,
// frequencies in ppm.
type SourceStats struct {
	RefID uint32
	// Address is FamilyUnspec for a refclock; RefID names it then.
	Address  Address
	NSamples uint32 // samples kept
	NRuns    uint32 // runs of residuals with the same sign
	// Span is the time from the oldest sample to the newest.
	Span         time.Duration
	StdDev       float64 // estimated standard deviation of the samples
	ResidFreqPPM float64 // estimated residual frequency
	SkewPPM      float64 // error bound of ResidFreqPPM
	EstOffset    float64 // estimated offset of the source now
	EstOffsetErr float64 // error of EstOffset; chronyc does not show it
}

// Name returns the name chronyc -n shows: the address, or the reference ID
// text of a refclock.
func (s *SourceStats) Name() string {
	if s.Address.Family == FamilyUnspec {
		return RefIDText(s.RefID)
	}
	return s.Address.String()
}

// SourceStatsCall prepares a SOURCESTATS request for the source at index
// (req 34 → RPY 6).
func SourceStatsCall(index int) *Call[SourceStats] {
	c := newCall(ReportSourceStats, cmdSourceStats, []uint16{rpySourceStats}, decodeSourceStats)
	putU32(c.x.packet, 20, uint32(index))
	return c
}

func decodeSourceStats(_ uint16, p []byte) (SourceStats, error) {
	return SourceStats{
		RefID:        u32(p, 28),
		Address:      address(p, 32),
		NSamples:     u32(p, 52),
		NRuns:        u32(p, 56),
		Span:         time.Duration(u32(p, 60)) * time.Second,
		StdDev:       chronyFloat(p, 64),
		ResidFreqPPM: chronyFloat(p, 68),
		SkewPPM:      chronyFloat(p, 72),
		EstOffset:    chronyFloat(p, 76),
		EstOffsetErr: chronyFloat(p, 80),
	}, nil
}

// SourceStats asks chronyd for the statistics of the source at index.
func (c *Client) SourceStats(ctx context.Context, index int) (SourceStats, error) {
	return do(ctx, c, SourceStatsCall(index))
}
