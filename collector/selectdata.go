package collector

import (
	"github.com/second-hand/chrony_exporter/chronyproto"
)

// Help texts follow chronyc's manual for the selectdata report: why each
// source is, or is not, selected. The age of the last sample is not here:
// sources exports it.
var (
	selectState = gauge("selectdata", "selectdata_state_info",
		"The source's selection state: chronyc's letter and why the source is or is not selected (e.g. \"falseticker\", \"not synchronised\").",
		"source_address", "source_name", "state", "reason")
	selectLeap = gauge("selectdata", "selectdata_leap_status",
		"Leap status of the source: 0 normal, 1 insert second, 2 delete second, 3 not synchronised.", sourceLabelNames...)
	selectOptions = gauge("selectdata", "selectdata_options_info",
		"Selection options of the source as configured and in effect, as chronyc prints them: N noselect, P prefer, T trust, R require, - unset.",
		"source_address", "source_name", "configured", "effective")
	selectScore = gauge("selectdata", "selectdata_score",
		"Score of the source for reselection; the selected source has 1.", sourceLabelNames...).ofChronyFloats()
	selectLow = gauge("selectdata", "selectdata_interval_low_seconds",
		"Low end of the interval the source's offset is believed to lie in.", sourceLabelNames...).ofChronyFloats()
	selectHigh = gauge("selectdata", "selectdata_interval_high_seconds",
		"High end of the interval the source's offset is believed to lie in.", sourceLabelNames...).ofChronyFloats()
)

func init() {
	register(&reportCollector{
		name:     "selectdata",
		help:     "why each source is or is not selected (chronyc selectdata)",
		reports:  []chronyproto.Report{chronyproto.ReportSelectData},
		extra:    []chronyproto.Report{chronyproto.ReportSourceName},
		unixOnly: true,
		// Why a source is not selected, for debugging the selection:
		// sources_state_info already says what the alerts need, and the
		// status page reads the reasons whatever this flag says.
		defaultEnabled: false,
		update:         updateSelectData,
	})
}

func updateSelectData(s *scrape, ch sink) {
	series := s.sourceSeries()
	for i := range s.Sources {
		src := &s.Sources[i]
		d := src.Select
		if d == nil {
			continue
		}
		lv, ok := series.labels(i)
		if !ok {
			continue
		}
		selectState.emit(ch, 1, lv[0], lv[1], string(rune(d.State)), d.State.String())
		selectLeap.emit(ch, float64(d.Leap), lv...)
		selectOptions.emit(ch, 1, lv[0], lv[1], d.ConfOptions.String(), d.EffOptions.String())
		selectScore.emit(ch, d.Score, lv...)
		selectLow.emit(ch, d.LoLimit, lv...)
		selectHigh.emit(ch, d.HiLimit, lv...)
	}
}
