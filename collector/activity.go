package collector

import (
	"github.com/second-hand/chrony_exporter/chronyproto"
)

var activitySources = gauge("activity", "activity_sources",
	"Number of sources in each state of being polled: online, offline, doing a burst (then back online or offline), or with an address not resolved yet.",
	"state")

func init() {
	register(&reportCollector{
		name:           "activity",
		help:           "how many sources are online, offline, bursting or unresolved (chronyc activity)",
		reports:        []chronyproto.Report{chronyproto.ReportActivity},
		defaultEnabled: true,
		update:         updateActivity,
	})
}

func updateActivity(s *scrape, ch sink) {
	a := s.Activity
	if a == nil {
		return
	}
	activitySources.emit(ch, float64(a.Online), "online")
	activitySources.emit(ch, float64(a.Offline), "offline")
	activitySources.emit(ch, float64(a.BurstOnline), "burst_online")
	activitySources.emit(ch, float64(a.BurstOffline), "burst_offline")
	activitySources.emit(ch, float64(a.Unresolved), "unresolved")
}
