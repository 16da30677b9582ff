package collector

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"

	"github.com/second-hand/chrony_exporter/chronyproto"
)

// Help texts follow chronyc's manual for the ntpdata report: the last
// valid response of each NTP source and the counters of its packets. The
// first five names are SuperQ/chrony_exporter's (jitter asymmetry is a
// ratio despite its name). The response's stratum and leap indicator are
// not here: sources and selectdata export them for every source. Which of
// chronyd's tests the response failed is a count, not a label, because a
// label that changes with the samples makes a new series each time.
var (
	peerOffset = gauge("ntpdata", "sources_peer_offset_seconds",
		"Local clock offset from the source in the last measurement.", sourceLabelNames...).ofChronyFloats()
	peerDelay = gauge("ntpdata", "sources_peer_delay_seconds",
		"Network delay to the source in the last measurement.", sourceLabelNames...).ofChronyFloats()
	peerDispersion = gauge("ntpdata", "sources_peer_dispersion_seconds",
		"Dispersion of the last measurement.", sourceLabelNames...).ofChronyFloats()
	peerResponseTime = gauge("ntpdata", "sources_peer_response_time_seconds",
		"Time the server took to answer (between its receive and transmit timestamps).", sourceLabelNames...).ofChronyFloats()
	peerJitterAsymmetry = gauge("ntpdata", "sources_peer_jitter_asymmetry_seconds",
		"Estimated asymmetry of the network jitter on the path to the source, a ratio from -0.5 to 0.5.", sourceLabelNames...).ofChronyFloats()
	peerInfo = gauge("ntpdata", "sources_peer_info",
		"How the source is reached and answers, as labels: local address, remote port, NTP version and mode of the last valid response, the source's own reference ID, where transmit and receive timestamps are taken, whether the response was interleaved and whether authentication is enabled.",
		"source_address", "source_name", "local_address", "remote_port", "version", "mode", "reference_id",
		"tx_timestamping", "rx_timestamping", "interleaved", "authenticated")
	peerPoll = gauge("ntpdata", "sources_peer_poll_interval_seconds",
		"Polling interval in the last valid response.", sourceLabelNames...)
	peerPrecision = gauge("ntpdata", "sources_peer_precision_seconds",
		"Precision of the source's clock, from the last valid response.", sourceLabelNames...)
	peerRootDelay = gauge("ntpdata", "sources_peer_root_delay_seconds",
		"Root delay in the last valid response.", sourceLabelNames...).ofChronyFloats()
	peerRootDispersion = gauge("ntpdata", "sources_peer_root_dispersion_seconds",
		"Root dispersion in the last valid response.", sourceLabelNames...).ofChronyFloats()
	peerRefTime = gauge("ntpdata", "sources_peer_reference_timestamp_seconds",
		"Reference timestamp in the last valid response.", sourceLabelNames...)
	peerTestsFailed = gauge("ntpdata", "sources_peer_tests_failed",
		"Number of chronyd's tests the last response failed.", sourceLabelNames...)
	peerTx = counter("ntpdata", "sources_peer_requests_sent_total",
		"Number of requests sent to the source.", sourceLabelNames...)
	peerRx = counter("ntpdata", "sources_peer_responses_received_total",
		"Number of responses received from the source.", sourceLabelNames...)
	peerValid = counter("ntpdata", "sources_peer_responses_valid_total",
		"Number of valid responses received from the source.", sourceLabelNames...)
	peerGood = counter("ntpdata", "sources_peer_responses_good_total",
		"Number of good responses (that passed every test) from the source; chronyd 4.3+.", sourceLabelNames...)
	peerTimestamps = counter("ntpdata", "sources_peer_timestamps_total",
		"Number of packets to and from the source timestamped by the kernel or the hardware; chronyd 4.6+.",
		"source_address", "source_name", "direction", "source")
)

func init() {
	register(&reportCollector{
		name:     "ntpdata",
		help:     "the last NTP response of every NTP source and its packet counters (chronyc ntpdata)",
		reports:  []chronyproto.Report{chronyproto.ReportNTPData},
		extra:    []chronyproto.Report{chronyproto.ReportSourceName},
		unixOnly: true,
		// The remote side's view of each source, for debugging a source:
		// many series a source that no panel or alert needs.
		defaultEnabled: false,
		update:         updateNTPData,
	})
}

func updateNTPData(s *scrape, ch sink) {
	series := s.sourceSeries()
	for i := range s.Sources {
		src := &s.Sources[i]
		d := src.NTP
		if d == nil {
			continue
		}
		lv, ok := series.labels(i)
		if !ok {
			continue
		}
		peerTx.emit(ch, float64(d.TotalTx), lv...)
		peerRx.emit(ch, float64(d.TotalRx), lv...)
		peerValid.emit(ch, float64(d.TotalValid), lv...)
		if d.HasTotalGood {
			peerGood.emit(ch, float64(d.TotalGood), lv...)
		}
		if d.HasTimestampCounters {
			peerTimestamps.emit(ch, float64(d.TotalKernelTx), lv[0], lv[1], "tx", "kernel")
			peerTimestamps.emit(ch, float64(d.TotalKernelRx), lv[0], lv[1], "rx", "kernel")
			peerTimestamps.emit(ch, float64(d.TotalHWTx), lv[0], lv[1], "tx", "hardware")
			peerTimestamps.emit(ch, float64(d.TotalHWRx), lv[0], lv[1], "rx", "hardware")
		}
		// The rest describes the last valid response; a source that never
		// sent one has only the counters (its NTP mode reads Invalid).
		if d.Mode == 0 {
			continue
		}
		peerOffset.emit(ch, d.Offset, lv...)
		peerDelay.emit(ch, d.PeerDelay, lv...)
		peerDispersion.emit(ch, d.PeerDispersion, lv...)
		peerResponseTime.emit(ch, d.ResponseTime, lv...)
		peerJitterAsymmetry.emit(ch, d.JitterAsymmetry, lv...)
		peerInfo.emit(ch, 1, lv[0], lv[1], d.LocalAddr.String(), strconv.Itoa(int(d.RemotePort)), strconv.Itoa(int(d.Version)),
			d.Mode.String(), fmt.Sprintf("%08X", d.RefID), d.TxTimestamping.String(), d.RxTimestamping.String(),
			yesNo(d.Flags&chronyproto.NTPInterleaved != 0), yesNo(d.Flags&chronyproto.NTPAuthEnabled != 0))
		peerPoll.emit(ch, math.Ldexp(1, int(d.Poll)), lv...)
		peerPrecision.emit(ch, math.Ldexp(1, int(d.Precision)), lv...)
		peerRootDelay.emit(ch, d.RootDelay, lv...)
		peerRootDispersion.emit(ch, d.RootDispersion, lv...)
		peerRefTime.emit(ch, float64(d.RefTime.UnixNano())/1e9, lv...)
		peerTestsFailed.emit(ch, float64(10-bits.OnesCount16(uint16(d.Flags&chronyproto.NTPTests))), lv...)
	}
}

// yesNo renders a flag as a label value.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
