package chronyproto

import "context"

// Smoothing is chronyd's smoothing report (§8.11). chronyd answers
// ErrNotEnabled when smoothtime is not configured.
type Smoothing struct {
	Active   bool
	LeapOnly bool    // smoothing only leap seconds
	Offset   float64 // seconds
	FreqPPM  float64
	// WanderPPM is in ppm per second.
	WanderPPM float64
	// LastUpdateAgo and RemainingTime are in seconds.
	LastUpdateAgo float64
	RemainingTime float64
}

// Smoothing flag bits.
const (
	smoothingActive   = 0x1
	smoothingLeapOnly = 0x2
)

// SmoothingCall prepares a SMOOTHING request (req 51 → RPY 13).
func SmoothingCall() *Call[Smoothing] {
	return newCall(ReportSmoothing, cmdSmoothing, []uint16{rpySmoothing}, func(_ uint16, p []byte) (Smoothing, error) {
		flags := u32(p, 28)
		return Smoothing{
			Active:        flags&smoothingActive != 0,
			LeapOnly:      flags&smoothingLeapOnly != 0,
			Offset:        chronyFloat(p, 32),
			FreqPPM:       chronyFloat(p, 36),
			WanderPPM:     chronyFloat(p, 40),
			LastUpdateAgo: chronyFloat(p, 44),
			RemainingTime: chronyFloat(p, 48),
		}, nil
	})
}

// Smoothing asks chronyd for its smoothing report.
func (c *Client) Smoothing(ctx context.Context) (Smoothing, error) {
	return do(ctx, c, SmoothingCall())
}
