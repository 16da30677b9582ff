package chronyproto

import (
	"context"
	"time"
)

// RTC is chronyd's rtcdata report (§8.5): its model of the hardware
// real-time clock. chronyd answers ErrNotEnabled (status NORTC) when it
// does not track an RTC, which is the common case.
type RTC struct {
	RefTime  time.Time // reference time of the fitted model
	NSamples uint16
	NRuns    uint16
	// Span is the time from the first sample to the last.
	Span time.Duration
	// SecondsFast is how far the RTC is ahead at RefTime, in seconds.
	SecondsFast float64
	// GainRatePPM is how fast the RTC gains time, in ppm.
	GainRatePPM float64
}

// RTCCall prepares an RTCREPORT request (req 35 → RPY 7).
func RTCCall() *Call[RTC] {
	return newCall(ReportRTC, cmdRTCReport, []uint16{rpyRTC}, decodeRTC)
}

func decodeRTC(_ uint16, p []byte) (RTC, error) {
	return RTC{
		RefTime:     timespec(p, 28),
		NSamples:    u16(p, 40),
		NRuns:       u16(p, 42),
		Span:        time.Duration(u32(p, 44)) * time.Second,
		SecondsFast: chronyFloat(p, 48),
		GainRatePPM: chronyFloat(p, 52),
	}, nil
}

// RTC asks chronyd for its RTC report.
func (c *Client) RTC(ctx context.Context) (RTC, error) {
	return do(ctx, c, RTCCall())
}
