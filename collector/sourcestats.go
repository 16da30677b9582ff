package collector

import (
	"github.com/second-hand/chrony_exporter/chronyproto"
)

// Help texts follow chronyc's manual for the sourcestats report. The names
// without units are SuperQ/chrony_exporter's, kept for compatibility.
var (
	sourcestatsSamples = gauge("sourcestats", "sourcestats_samples",
		"Number of sample points currently retained for the source (NP).", sourceLabelNames...)
	sourcestatsRuns = gauge("sourcestats", "sourcestats_runs",
		"Number of runs of residuals having the same sign following the last regression (NR).", sourceLabelNames...)
	sourcestatsSpan = gauge("sourcestats", "sourcestats_span_seconds",
		"Interval between the oldest and newest samples.", sourceLabelNames...)
	sourcestatsStdDev = gauge("sourcestats", "sourcestats_stddev",
		"Estimated sample standard deviation, in seconds; this and the estimates below are absent while the source has no samples.", sourceLabelNames...).ofChronyFloats()
	sourcestatsFrequency = gauge("sourcestats", "sourcestats_frequency_ppms",
		"Estimated residual frequency for the source, in ppm.", sourceLabelNames...).ofChronyFloats()
	sourcestatsSkew = gauge("sourcestats", "sourcestats_frequency_skew_ppms",
		"Estimated error bounds on the residual frequency, in ppm.", sourceLabelNames...).ofChronyFloats()
	sourcestatsOffset = gauge("sourcestats", "sourcestats_offset",
		"Estimated offset of the source, in seconds.", sourceLabelNames...).ofChronyFloats()
	sourcestatsOffsetError = gauge("sourcestats", "sourcestats_offset_error_seconds",
		"Estimated error of the source's offset.", sourceLabelNames...).ofChronyFloats()
)

func init() {
	register(&reportCollector{
		name:           "sourcestats",
		help:           "the drift-rate and offset estimates of every source (chronyc sourcestats)",
		reports:        []chronyproto.Report{chronyproto.ReportSourceStats},
		extra:          []chronyproto.Report{chronyproto.ReportSourceName},
		defaultEnabled: true,
		update:         updateSourceStats,
	})
}

func updateSourceStats(s *scrape, ch sink) {
	series := s.sourceSeries()
	for i := range s.Sources {
		src := &s.Sources[i]
		st := src.Stats
		if st == nil {
			continue
		}
		lv, ok := series.labels(i)
		if !ok {
			continue
		}
		sourcestatsSamples.emit(ch, float64(st.NSamples), lv...)
		sourcestatsRuns.emit(ch, float64(st.NRuns), lv...)
		sourcestatsSpan.emit(ch, st.Span.Seconds(), lv...)
		// Without samples chronyd sends placeholders (4 s, 2000 ppm) that
		// would only distort graphs and max() over sources.
		if st.NSamples == 0 {
			continue
		}
		sourcestatsStdDev.emit(ch, st.StdDev, lv...)
		sourcestatsFrequency.emit(ch, st.ResidFreqPPM, lv...)
		sourcestatsSkew.emit(ch, st.SkewPPM, lv...)
		sourcestatsOffset.emit(ch, st.EstOffset, lv...)
		sourcestatsOffsetError.emit(ch, st.EstOffsetErr, lv...)
	}
}
