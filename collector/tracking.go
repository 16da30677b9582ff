package collector

import (
	"github.com/second-hand/chrony_exporter/chronyproto"
)

// Help texts follow chronyc's manual for the tracking report.
var (
	trackingInfo = gauge("tracking", "tracking_info",
		"The reference chronyd synchronises to: its reference ID, address and name.",
		"tracking_address", "tracking_name", "tracking_refid")
	trackingLastOffset = gauge("tracking", "tracking_last_offset_seconds",
		"Estimated local offset on the last clock update.").ofChronyFloats()
	trackingRefTime = gauge("tracking", "tracking_reference_timestamp_seconds",
		"The time (UTC) at which the last measurement from the reference source was processed.")
	trackingSystemTime = gauge("tracking", "tracking_system_time_seconds",
		"Offset of the system clock from chronyd's NTP time, still being slewed away; positive when the clock is slow.").ofChronyFloats()
	trackingRemoteReference = gauge("tracking", "tracking_remote_reference",
		"Whether chronyd follows a remote reference: 1 for an NTP source or refclock, 0 when it uses its local reference or is not synchronised.")
	trackingRMSOffset = gauge("tracking", "tracking_rms_offset_seconds",
		"Long-term average of the offset value.").ofChronyFloats()
	trackingRootDelay = gauge("tracking", "tracking_root_delay_seconds",
		"Total of the network path delays to the stratum-1 computer from which this computer is ultimately synchronised.").ofChronyFloats()
	trackingRootDispersion = gauge("tracking", "tracking_root_dispersion_seconds",
		"Total dispersion accumulated through all the computers back to the stratum-1 computer.").ofChronyFloats()
	trackingFrequency = gauge("tracking", "tracking_frequency_ppms",
		"Rate at which the system clock would be wrong if chronyd did not correct it, in ppm; positive means fast.").ofChronyFloats()
	trackingResidFreq = gauge("tracking", "tracking_residual_frequency_ppms",
		"Difference between the frequency the reference source's measurements ask for and the one in use, in ppm.").ofChronyFloats()
	trackingSkew = gauge("tracking", "tracking_skew_ppms",
		"Estimated error bound on the frequency, in ppm.").ofChronyFloats()
	trackingUpdateInterval = gauge("tracking", "tracking_update_interval_seconds",
		"Interval between the last two clock updates.").ofChronyFloats()
	trackingStratum = gauge("tracking", "tracking_stratum",
		"Number of hops away from a computer with an attached reference clock; 0 when not synchronised.")
	trackingLeapStatus = gauge("tracking", "tracking_leap_status",
		"Leap status: 0 normal, 1 insert second, 2 delete second, 3 not synchronised.")
	trackingSynchronized = gauge("tracking", "tracking_synchronized",
		"Whether chronyd is synchronised (its leap status is not \"Not synchronised\").")
)

// localRefID is chronyd's reference ID while it follows its local
// reference (the local directive), 127.127.1.1 (§5.5).
const localRefID = 0x7F7F0101

func init() {
	register(&reportCollector{
		name:           "tracking",
		help:           "the system clock and its reference (chronyc tracking)",
		reports:        []chronyproto.Report{chronyproto.ReportTracking},
		defaultEnabled: true,
		update:         updateTracking,
	})
}

func updateTracking(s *scrape, ch sink) {
	t := s.Tracking
	if t == nil {
		return
	}
	synced := t.LeapStatus != chronyproto.LeapNotSynchronised
	address, name, refID := s.referenceLabels(t)
	trackingInfo.emit(ch, 1, address, name, refID)
	trackingLastOffset.emit(ch, t.LastOffset)
	trackingRefTime.emit(ch, float64(t.RefTime.UnixNano())/1e9)
	trackingSystemTime.emit(ch, t.CurrentCorrection)
	trackingRemoteReference.emit(ch, boolValue(synced && t.RefID != localRefID))
	trackingRMSOffset.emit(ch, t.RMSOffset)
	trackingRootDelay.emit(ch, t.RootDelay)
	trackingRootDispersion.emit(ch, t.RootDispersion)
	trackingFrequency.emit(ch, t.FreqPPM)
	trackingResidFreq.emit(ch, t.ResidFreqPPM)
	trackingSkew.emit(ch, t.SkewPPM)
	trackingUpdateInterval.emit(ch, t.LastUpdateInterval)
	trackingStratum.emit(ch, float64(t.Stratum))
	trackingLeapStatus.emit(ch, float64(t.LeapStatus))
	trackingSynchronized.emit(ch, boolValue(synced))
}
