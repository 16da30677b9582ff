package chronyproto

import (
	"context"
	"time"
)

// LeapStatus is a leap indicator: tracking's leap status (§8.4), and the
// leap of an NTP response or a selectable source.
type LeapStatus uint16

// Leap statuses.
const (
	LeapNormal          LeapStatus = 0
	LeapInsertSecond    LeapStatus = 1
	LeapDeleteSecond    LeapStatus = 2
	LeapNotSynchronised LeapStatus = 3
)

// String returns chronyc's words for the leap status.
func (l LeapStatus) String() string {
	switch l {
	case LeapNormal:
		return "Normal"
	case LeapInsertSecond:
		return "Insert second"
	case LeapDeleteSecond:
		return "Delete second"
	case LeapNotSynchronised:
		return "Not synchronised"
	}
	return "Invalid"
}

// Tracking is chronyd's tracking report (§8.4): the state of the system
// clock and its reference. Times are in seconds, frequencies in ppm.
type Tracking struct {
	RefID uint32
	// Address of the reference when it is an NTP source; FamilyUnspec when
	// unsynchronised or synchronised to a refclock or the local reference.
	Address Address
	// Stratum is 0 when chronyd is not synchronised.
	Stratum    uint16
	LeapStatus LeapStatus
	// RefTime is when the last measurement from the reference was used.
	RefTime time.Time
	// CurrentCorrection is how far the system clock is from chronyd's NTP
	// time, still to be slewed; positive means the clock is slow.
	CurrentCorrection float64
	LastOffset        float64 // offset at the last clock update
	RMSOffset         float64 // long-term average of the offset
	// FreqPPM is the rate at which the system clock would be wrong without
	// chronyd's correction; positive means fast.
	FreqPPM      float64
	ResidFreqPPM float64 // residual frequency of the reference
	SkewPPM      float64 // error bound of the frequency
	RootDelay    float64
	// RootDispersion is the total dispersion accumulated to the stratum-1
	// computer at the root of the synchronisation tree.
	RootDispersion     float64
	LastUpdateInterval float64 // between the last two clock updates
}

// ReferenceName returns what chronyc -n shows as the reference: the NTP
// address, or the text of the reference ID for a refclock or the local
// reference.
func (t *Tracking) ReferenceName() string {
	if t.Address.Family == FamilyUnspec {
		return RefIDText(t.RefID)
	}
	return t.Address.String()
}

// MaxError returns the upper bound of the clock's error that chronyc's
// manual gives: |system time offset| + root dispersion + root delay / 2.
func (t *Tracking) MaxError() float64 {
	c := t.CurrentCorrection
	if c < 0 {
		c = -c
	}
	return c + t.RootDispersion + t.RootDelay/2
}

// TrackingCall prepares a TRACKING request (req 33 → RPY 5).
func TrackingCall() *Call[Tracking] {
	return newCall(ReportTracking, cmdTracking, []uint16{rpyTracking}, decodeTracking)
}

func decodeTracking(_ uint16, p []byte) (Tracking, error) {
	return Tracking{
		RefID:              u32(p, 28),
		Address:            address(p, 32),
		Stratum:            u16(p, 52),
		LeapStatus:         LeapStatus(u16(p, 54)),
		RefTime:            timespec(p, 56),
		CurrentCorrection:  chronyFloat(p, 68),
		LastOffset:         chronyFloat(p, 72),
		RMSOffset:          chronyFloat(p, 76),
		FreqPPM:            chronyFloat(p, 80),
		ResidFreqPPM:       chronyFloat(p, 84),
		SkewPPM:            chronyFloat(p, 88),
		RootDelay:          chronyFloat(p, 92),
		RootDispersion:     chronyFloat(p, 96),
		LastUpdateInterval: chronyFloat(p, 100),
	}, nil
}

// Tracking asks chronyd for its tracking report.
func (c *Client) Tracking(ctx context.Context) (Tracking, error) {
	return do(ctx, c, TrackingCall())
}
