package collector

import (
	"github.com/second-hand/chrony_exporter/chronyproto"
)

// serverStat maps one counter of chronyd's serverstats onto its metric,
// with SuperQ/chrony_exporter's names. chronyd 4.4+ sends 17 counters and
// 4 reserved words, which carry nothing; older versions send fewer
// counters, and only those are exported.
type serverStat struct {
	field chronyproto.ServerStatsField
	m     *metric
}

var serverStats = []serverStat{
	{chronyproto.StatNTPHits, counter("serverstats", "serverstats_ntp_packets_received_total",
		"Number of valid NTP requests received by the server.")},
	{chronyproto.StatNTPDrops, counter("serverstats", "serverstats_ntp_packets_dropped_total",
		"Number of NTP requests dropped by the server due to rate limiting.")},
	{chronyproto.StatCmdHits, counter("serverstats", "serverstats_command_packets_received_total",
		"Number of command requests received by chronyd.")},
	{chronyproto.StatCmdDrops, counter("serverstats", "serverstats_command_packets_dropped_total",
		"Number of command requests dropped due to rate limiting.")},
	{chronyproto.StatLogDrops, counter("serverstats", "serverstats_client_log_records_dropped_total",
		"Number of client log records dropped because the clientloglimit was reached.")},
	{chronyproto.StatNKEHits, counter("serverstats", "serverstats_nts_ke_connections_accepted_total",
		"Number of NTS-KE connections accepted by the server.")},
	{chronyproto.StatNKEDrops, counter("serverstats", "serverstats_nts_ke_connections_dropped_total",
		"Number of NTS-KE connections dropped due to rate limiting.")},
	{chronyproto.StatNTPAuthHits, counter("serverstats", "serverstats_authenticated_ntp_packets_total",
		"Number of received NTP requests that were authenticated (with a symmetric key or NTS).")},
	{chronyproto.StatNTPInterleavedHits, counter("serverstats", "serverstats_interleaved_ntp_packets_total",
		"Number of received NTP requests detected to be in the interleaved mode.")},
	{chronyproto.StatNTPTimestamps, gauge("serverstats", "serverstats_ntp_timestamps_held",
		"Number of pairs of receive and transmit timestamps the server keeps for interleaved responses.")},
	{chronyproto.StatNTPSpanSeconds, gauge("serverstats", "serverstats_ntp_timestamp_span_seconds",
		"Interval covered by the timestamps the server keeps.")},
	{chronyproto.StatNTPDaemonRxTimestamps, counter("serverstats", "serverstats_ntp_daemon_rx_timestamps_total",
		"Number of NTP responses the server made with a daemon receive timestamp.")},
	{chronyproto.StatNTPDaemonTxTimestamps, counter("serverstats", "serverstats_ntp_daemon_tx_timestamps_total",
		"Number of NTP responses the server made with a daemon transmit timestamp.")},
	{chronyproto.StatNTPKernelRxTimestamps, counter("serverstats", "serverstats_ntp_kernel_rx_timestamps_total",
		"Number of NTP responses the server made with a kernel receive timestamp.")},
	{chronyproto.StatNTPKernelTxTimestamps, counter("serverstats", "serverstats_ntp_kernel_tx_timestamps_total",
		"Number of NTP responses the server made with a kernel transmit timestamp.")},
	{chronyproto.StatNTPHwRxTimestamps, counter("serverstats", "serverstats_ntp_hw_rx_timestamps_total",
		"Number of NTP responses the server made with a hardware receive timestamp.")},
	{chronyproto.StatNTPHwTxTimestamps, counter("serverstats", "serverstats_ntp_hw_tx_timestamps_total",
		"Number of NTP responses the server made with a hardware transmit timestamp.")},
}

func init() {
	register(&reportCollector{
		name:           "serverstats",
		help:           "the NTP server's and command socket's counters (chronyc serverstats)",
		reports:        []chronyproto.Report{chronyproto.ReportServerStats},
		unixOnly:       true,
		defaultEnabled: true,
		update:         updateServerStats,
	})
}

func updateServerStats(s *scrape, ch sink) {
	if s.ServerStats == nil {
		return
	}
	for _, st := range serverStats {
		if v, ok := s.ServerStats.Counter(st.field); ok {
			st.m.emit(ch, float64(v))
		}
	}
}
