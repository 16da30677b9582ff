package collector

import (
	"math"

	"github.com/second-hand/chrony_exporter/chronyproto"
)

// The clients collector has SuperQ/chrony_exporter's metrics: no label per
// client, so that a busy server does not grow a series per client.
var (
	clientsConnected = gauge("clients", "clients_connected",
		"Number of clients in chronyd's client log, by protocol (nts for clients that used NTS-KE).", "protocol")
	clientsLastNTP = newMetric("clients", "clients_last_ntp_hit_ago_seconds",
		"Time since each NTP client's last request.", kindHistogram)
	clientsInterval = newMetric("clients", "clients_ntp_interval_seconds",
		"Average interval between each NTP client's requests.", kindHistogram)
	clientsDrops = newMetric("clients", "clients_ntp_drops",
		"NTP requests of each client dropped by rate limiting.", kindHistogram)
)

var (
	clientsTimeBuckets = []float64{1, 5, 30, 60, 300, 1800, 3600, 21600, 86400}
	clientsDropBuckets = []float64{0, 1, 2, 5, 10, 50, 100}
)

func init() {
	register(&reportCollector{
		name:     "clients",
		help:     "the NTP clients of chronyd's server, as histograms (chronyc clients)",
		reports:  []chronyproto.Report{chronyproto.ReportClients},
		unixOnly: true,
		update:   updateClients,
	})
}

// histogram accumulates a constant histogram.
type histogram struct {
	buckets []float64
	counts  map[float64]uint64
	n       uint64
	sum     float64
}

func newHistogram(buckets []float64) *histogram {
	h := &histogram{buckets: buckets, counts: map[float64]uint64{}}
	for _, b := range buckets {
		h.counts[b] = 0 // every bucket in every scrape, observed or not
	}
	return h
}

func (h *histogram) observe(v float64) {
	h.n++
	h.sum += v
	for _, b := range h.buckets {
		if v <= b {
			h.counts[b]++
		}
	}
}

func (h *histogram) emit(out sink, m *metric) {
	out.addHistogram(m, h.n, h.sum, h.counts)
}

func updateClients(s *scrape, ch sink) {
	if !s.Asked(chronyproto.ReportClients) || s.Err(chronyproto.ReportClients) != nil {
		return
	}
	var ntp, nts float64
	lastHit := newHistogram(clientsTimeBuckets)
	interval := newHistogram(clientsTimeBuckets)
	drops := newHistogram(clientsDropBuckets)
	for _, c := range s.Clients {
		// A client that only sent commands (a monitor) is no NTP client.
		switch {
		case c.NKEHits > 0 || c.NKEDrops > 0:
			nts++
		case c.NTPHits > 0 || c.NTPDrops > 0:
			ntp++
		}
		if c.NTPHits > 0 && c.LastNTPHitAgo != chronyproto.NeverHit {
			lastHit.observe(float64(c.LastNTPHitAgo))
		}
		if c.NTPHits > 0 && c.NTPInterval != chronyproto.NoInterval {
			interval.observe(math.Ldexp(1, int(c.NTPInterval)))
		}
		if c.NTPHits > 0 || c.NTPDrops > 0 {
			drops.observe(float64(c.NTPDrops))
		}
	}
	clientsConnected.emit(ch, ntp, "ntp")
	clientsConnected.emit(ch, nts, "nts")
	lastHit.emit(ch, clientsLastNTP)
	interval.emit(ch, clientsInterval)
	drops.emit(ch, clientsDrops)
}
