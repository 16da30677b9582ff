package collector

import (
	"math"
	"math/bits"

	"github.com/second-hand/chrony_exporter/chronyproto"
)

// Help texts follow chronyc's manual for the sources report.
var (
	sourcesLastSampleAge = gauge("sources", "sources_last_sample_age_seconds",
		"How long ago the last good sample was received from the source (LastRx); absent while there is none.",
		sourceLabelNames...)
	sourcesReachRatio = gauge("sources", "sources_reachability_ratio",
		"Share of the last 8 transmissions to the source that got a valid reply.", sourceLabelNames...)
	sourcesReachSuccess = gauge("sources", "sources_reachability_success",
		"Whether the last transmission to the source got a valid reply.", sourceLabelNames...)
	sourcesLastSampleOffset = gauge("sources", "sources_last_sample_offset_seconds",
		"Offset between the local clock and the source at the last measurement, adjusted for clock slews since; positive means the local clock is ahead.",
		sourceLabelNames...).ofChronyFloats()
	sourcesLastSampleRawOffset = gauge("sources", "sources_last_sample_raw_offset_seconds",
		"Offset between the local clock and the source as measured at the last measurement, before adjustment.",
		sourceLabelNames...).ofChronyFloats()
	sourcesLastSampleError = gauge("sources", "sources_last_sample_error_margin_seconds",
		"Margin of error of the last sample's offset.", sourceLabelNames...).ofChronyFloats()
	sourcesPollInterval = gauge("sources", "sources_polling_interval_seconds",
		"Interval between requests to the source.", sourceLabelNames...)
	sourcesStateInfo = gauge("sources", "sources_state_info",
		"The source's selection state and mode, as labels.",
		"source_address", "source_name", "source_state", "source_mode")
	sourcesStratum = gauge("sources", "sources_stratum",
		"Stratum of the source; 0 until a sample has been received.", sourceLabelNames...)
)

func init() {
	register(&reportCollector{
		name:           "sources",
		help:           "the time sources and their last samples (chronyc sources)",
		reports:        []chronyproto.Report{chronyproto.ReportSources},
		extra:          []chronyproto.Report{chronyproto.ReportSourceName},
		defaultEnabled: true,
		update:         updateSources,
	})
}

// sourceStateLabel and sourceModeLabel keep the label values of
// SuperQ/chrony_exporter, so that its dashboards and alerts keep working.
func sourceStateLabel(s chronyproto.SourceState) string {
	switch s {
	case chronyproto.StateSelected:
		return "sync"
	case chronyproto.StateNonselectable:
		return "unreach"
	case chronyproto.StateFalseticker:
		return "falseticker"
	case chronyproto.StateJittery:
		return "jittery"
	case chronyproto.StateUnselected:
		return "candidate"
	case chronyproto.StateSelectable:
		return "outlier"
	}
	return "unknown"
}

func sourceModeLabel(m chronyproto.SourceMode) string {
	switch m {
	case chronyproto.ModeClient:
		return "client"
	case chronyproto.ModePeer:
		return "peer"
	case chronyproto.ModeRefclock:
		return "reference clock"
	}
	return "unknown"
}

func updateSources(s *scrape, ch sink) {
	series := s.sourceSeries()
	for i := range s.Sources {
		src := &s.Sources[i]
		lv, ok := series.labels(i)
		if !ok {
			continue
		}
		if src.HasSample {
			sourcesLastSampleAge.emit(ch, src.LastSampleAgo.Seconds(), lv...)
			sourcesLastSampleOffset.emit(ch, src.LatestMeas, lv...)
			sourcesLastSampleRawOffset.emit(ch, src.OrigLatestMeas, lv...)
			sourcesLastSampleError.emit(ch, src.LatestMeasErr, lv...)
		}
		sourcesReachRatio.emit(ch, float64(bits.OnesCount8(src.Reachability))/8, lv...)
		sourcesReachSuccess.emit(ch, float64(src.Reachability&1), lv...)
		sourcesPollInterval.emit(ch, math.Ldexp(1, int(src.Poll)), lv...)
		sourcesStateInfo.emit(ch, 1, lv[0], lv[1], sourceStateLabel(src.State), sourceModeLabel(src.Mode))
		sourcesStratum.emit(ch, float64(src.Stratum), lv...)
	}
}
