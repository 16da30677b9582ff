package collector

import (
	"fmt"
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/second-hand/chrony_exporter/chronyproto"
)

// Help texts follow chronyc's manual for the ntpdata report: the last
// valid response of each NTP source and the counters of its packets. The
// first five names are SuperQ/chrony_exporter's (jitter asymmetry is a
// ratio despite its name).
var (
	peerOffset = gauge("ntpdata", "sources_peer_offset_seconds",
		"Local clock offset from the source in the last measurement.", sourceLabelNames...)
	peerDelay = gauge("ntpdata", "sources_peer_delay_seconds",
		"Network delay to the source in the last measurement.", sourceLabelNames...)
	peerDispersion = gauge("ntpdata", "sources_peer_dispersion_seconds",
		"Dispersion of the last measurement.", sourceLabelNames...)
	peerResponseTime = gauge("ntpdata", "sources_peer_response_time_seconds",
		"Time the server took to answer (between its receive and transmit timestamps).", sourceLabelNames...)
	peerJitterAsymmetry = gauge("ntpdata", "sources_peer_jitter_asymmetry_seconds",
		"Estimated asymmetry of the network jitter on the path to the source, a ratio from -0.5 to 0.5.", sourceLabelNames...)
	peerInfo = gauge("ntpdata", "sources_peer_info",
		"Where the source is reached and how it answers, as labels: local address, remote port, NTP version and mode of the response, and where transmit and receive timestamps are taken.",
		"source_address", "source_name", "local_address", "remote_port", "version", "mode", "tx_timestamping", "rx_timestamping")
	peerLeapStatus = gauge("ntpdata", "sources_peer_leap_status",
		"Leap indicator of the last valid response: 0 normal, 1 insert second, 2 delete second, 3 not synchronised.", sourceLabelNames...)
	peerStratum = gauge("ntpdata", "sources_peer_stratum",
		"Stratum in the last valid response.", sourceLabelNames...)
	peerPoll = gauge("ntpdata", "sources_peer_poll_interval_seconds",
		"Polling interval in the last valid response.", sourceLabelNames...)
	peerPrecision = gauge("ntpdata", "sources_peer_precision_seconds",
		"Precision of the source's clock, from the last valid response.", sourceLabelNames...)
	peerRootDelay = gauge("ntpdata", "sources_peer_root_delay_seconds",
		"Root delay in the last valid response.", sourceLabelNames...)
	peerRootDispersion = gauge("ntpdata", "sources_peer_root_dispersion_seconds",
		"Root dispersion in the last valid response.", sourceLabelNames...)
	peerReferenceInfo = gauge("ntpdata", "sources_peer_reference_info",
		"The source's own reference ID, from the last valid response.", "source_address", "source_name", "reference_id")
	peerRefTime = gauge("ntpdata", "sources_peer_reference_timestamp_seconds",
		"Reference timestamp in the last valid response.", sourceLabelNames...)
	peerTestPassed = gauge("ntpdata", "sources_peer_test_passed",
		"Whether the last response passed each of chronyd's tests (1, 2, 3, 5, 6, 7, A, B, C, D as chronyc's NTP tests line shows them).",
		"source_address", "source_name", "test")
	peerInterleaved = gauge("ntpdata", "sources_peer_interleaved",
		"Whether the last response was in the interleaved mode.", sourceLabelNames...)
	peerAuthenticated = gauge("ntpdata", "sources_peer_authenticated",
		"Whether authentication is enabled for the source.", sourceLabelNames...)
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

// peerTests are the tests of §8.6.1, named as chronyc's "NTP tests" line.
var peerTests = []struct {
	name string
	flag chronyproto.NTPFlags
}{
	{"1", chronyproto.NTPTest1}, {"2", chronyproto.NTPTest2}, {"3", chronyproto.NTPTest3},
	{"5", chronyproto.NTPTest5}, {"6", chronyproto.NTPTest6}, {"7", chronyproto.NTPTest7},
	{"A", chronyproto.NTPTestA}, {"B", chronyproto.NTPTestB}, {"C", chronyproto.NTPTestC}, {"D", chronyproto.NTPTestD},
}

func init() {
	register(&reportCollector{
		name:           "ntpdata",
		help:           "the last NTP response of every NTP source and its packet counters (chronyc ntpdata)",
		reports:        []chronyproto.Report{chronyproto.ReportNTPData},
		extra:          []chronyproto.Report{chronyproto.ReportSourceName},
		unixOnly:       true,
		defaultEnabled: true,
		update:         updateNTPData,
	})
}

func updateNTPData(s *scrape, ch chan<- prometheus.Metric) {
	seen := seenLabels{}
	for i := range s.Sources {
		src := &s.Sources[i]
		d := src.NTP
		if d == nil {
			continue
		}
		a, n, ok := s.sourceLabels(src)
		if !ok || !seen.first(a, n) {
			continue
		}
		peerOffset.emit(ch, d.Offset, a, n)
		peerDelay.emit(ch, d.PeerDelay, a, n)
		peerDispersion.emit(ch, d.PeerDispersion, a, n)
		peerResponseTime.emit(ch, d.ResponseTime, a, n)
		peerJitterAsymmetry.emit(ch, d.JitterAsymmetry, a, n)
		peerInfo.emit(ch, 1, a, n, d.LocalAddr.String(), fmt.Sprint(d.RemotePort), fmt.Sprint(d.Version),
			d.Mode.String(), d.TxTimestamping.String(), d.RxTimestamping.String())
		peerLeapStatus.emit(ch, float64(d.Leap), a, n)
		peerStratum.emit(ch, float64(d.Stratum), a, n)
		peerPoll.emit(ch, math.Ldexp(1, int(d.Poll)), a, n)
		peerPrecision.emit(ch, math.Ldexp(1, int(d.Precision)), a, n)
		peerRootDelay.emit(ch, d.RootDelay, a, n)
		peerRootDispersion.emit(ch, d.RootDispersion, a, n)
		peerReferenceInfo.emit(ch, 1, a, n, fmt.Sprintf("%08X", d.RefID))
		peerRefTime.emit(ch, float64(d.RefTime.UnixNano())/1e9, a, n)
		for _, t := range peerTests {
			peerTestPassed.emit(ch, boolValue(d.Flags&t.flag != 0), a, n, t.name)
		}
		peerInterleaved.emit(ch, boolValue(d.Flags&chronyproto.NTPInterleaved != 0), a, n)
		peerAuthenticated.emit(ch, boolValue(d.Flags&chronyproto.NTPAuthEnabled != 0), a, n)
		peerTx.emit(ch, float64(d.TotalTx), a, n)
		peerRx.emit(ch, float64(d.TotalRx), a, n)
		peerValid.emit(ch, float64(d.TotalValid), a, n)
		if d.HasTotalGood {
			peerGood.emit(ch, float64(d.TotalGood), a, n)
		}
		if d.HasTimestampCounters {
			peerTimestamps.emit(ch, float64(d.TotalKernelTx), a, n, "tx", "kernel")
			peerTimestamps.emit(ch, float64(d.TotalKernelRx), a, n, "rx", "kernel")
			peerTimestamps.emit(ch, float64(d.TotalHWTx), a, n, "tx", "hardware")
			peerTimestamps.emit(ch, float64(d.TotalHWRx), a, n, "rx", "hardware")
		}
	}
}
