package collector

import (
	"github.com/second-hand/chrony_exporter/chronyproto"
)

// Help texts follow chronyc's manual for the smoothing report. Without
// smoothtime in chrony.conf chronyd answers "not enabled": the collector
// then succeeds and sends none of these.
var (
	smoothingActive = gauge("smoothing", "smoothing_active",
		"Whether time smoothing is active.")
	smoothingLeapOnly = gauge("smoothing", "smoothing_leap_only",
		"Whether smoothing is limited to leap seconds.")
	smoothingOffset = gauge("smoothing", "smoothing_offset_seconds",
		"Current offset applied by smoothing to the time served to NTP clients.").ofChronyFloats()
	smoothingFrequency = gauge("smoothing", "smoothing_frequency_ppms",
		"Current frequency offset of the served time, in ppm.").ofChronyFloats()
	smoothingWander = gauge("smoothing", "smoothing_wander_ppms_per_second",
		"Current rate of change of the smoothing frequency, in ppm per second.").ofChronyFloats()
	smoothingLastUpdate = gauge("smoothing", "smoothing_last_update_age_seconds",
		"Time since the last update of the smoothing.").ofChronyFloats()
	smoothingRemaining = gauge("smoothing", "smoothing_remaining_seconds",
		"Time until the smoothing is finished.").ofChronyFloats()
)

func init() {
	register(&reportCollector{
		name:           "smoothing",
		help:           "the smoothing of the time served to NTP clients (chronyc smoothing)",
		reports:        []chronyproto.Report{chronyproto.ReportSmoothing},
		defaultEnabled: true,
		notEnabledOK:   true,
		update:         updateSmoothing,
	})
}

func updateSmoothing(s *scrape, ch sink) {
	m := s.Smoothing
	if m == nil {
		return
	}
	smoothingActive.emit(ch, boolValue(m.Active))
	smoothingLeapOnly.emit(ch, boolValue(m.LeapOnly))
	smoothingOffset.emit(ch, m.Offset)
	smoothingFrequency.emit(ch, m.FreqPPM)
	smoothingWander.emit(ch, m.WanderPPM)
	smoothingLastUpdate.emit(ch, m.LastUpdateAgo)
	smoothingRemaining.emit(ch, m.RemainingTime)
}
