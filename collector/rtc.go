package collector

import (
	"github.com/second-hand/chrony_exporter/chronyproto"
)

// Help texts follow chronyc's manual for the rtcdata report. chronyd
// without an RTC driver (the common case) answers that RTC tracking is not
// running: the collector then succeeds and sends none of these.
var (
	rtcRefTime = gauge("rtc", "rtc_reference_timestamp_seconds",
		"The time (UTC) of the RTC measurement the RTC model was fitted at.")
	rtcSamples = gauge("rtc", "rtc_samples",
		"Number of previous measurements used to estimate the RTC's drift.")
	rtcRuns = gauge("rtc", "rtc_runs",
		"Number of runs of residuals of the same sign after the last regression.")
	rtcSpan = gauge("rtc", "rtc_span_seconds",
		"Time from the oldest to the newest of the RTC's samples.")
	rtcOffset = gauge("rtc", "rtc_offset_seconds",
		"How far the RTC was ahead of the system clock at the reference time (RTC is fast by).").ofChronyFloats()
	rtcDrift = gauge("rtc", "rtc_frequency_drift_ppms",
		"Rate at which the RTC gains time (positive) or loses it, in ppm.").ofChronyFloats()
)

func init() {
	register(&reportCollector{
		name:           "rtc",
		help:           "the hardware real-time clock, when chronyd tracks it (chronyc rtcdata)",
		reports:        []chronyproto.Report{chronyproto.ReportRTC},
		defaultEnabled: true,
		notEnabledOK:   true,
		update:         updateRTC,
	})
}

func updateRTC(s *scrape, ch sink) {
	r := s.RTC
	if r == nil {
		return
	}
	rtcRefTime.emit(ch, float64(r.RefTime.UnixNano())/1e9)
	rtcSamples.emit(ch, float64(r.NSamples))
	rtcRuns.emit(ch, float64(r.NRuns))
	rtcSpan.emit(ch, r.Span.Seconds())
	rtcOffset.emit(ch, r.SecondsFast)
	rtcDrift.emit(ch, r.GainRatePPM)
}
