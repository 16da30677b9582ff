package chronyproto

// Report names one of chronyd's monitoring reports, as chronyc's commands
// name them.
type Report uint8

// The reports a Snapshot can hold.
const (
	ReportTracking Report = iota
	ReportSources
	ReportSourceStats
	ReportSelectData
	ReportNTPData
	ReportAuthData
	ReportSourceName
	ReportRTC
	ReportActivity
	ReportSmoothing
	ReportServerStats
	ReportClients
	numReports
)

var reportNames = [numReports]string{
	ReportTracking:    "tracking",
	ReportSources:     "sources",
	ReportSourceStats: "sourcestats",
	ReportSelectData:  "selectdata",
	ReportNTPData:     "ntpdata",
	ReportAuthData:    "authdata",
	ReportSourceName:  "sourcename",
	ReportRTC:         "rtcdata",
	ReportActivity:    "activity",
	ReportSmoothing:   "smoothing",
	ReportServerStats: "serverstats",
	ReportClients:     "clients",
}

// String returns chronyc's command for the report.
func (r Report) String() string {
	if r < numReports {
		return reportNames[r]
	}
	return "unknown report"
}

// AllReports returns every report, in the order of the constants.
func AllReports() []Report {
	rs := make([]Report, numReports)
	for i := range rs {
		rs[i] = Report(i)
	}
	return rs
}

// UDPReports are the reports chronyd answers over UDP by default (§6): the
// rest need the Unix socket unless chronyd 4.7+ opens them with
// opencommands.
var UDPReports = []Report{ReportTracking, ReportSources, ReportSourceStats, ReportSourceName, ReportRTC, ReportActivity, ReportSmoothing}

// addedIn holds the reports that came after chrony 3.0, by the release
// that added their request: an older chronyd answers it as an unknown
// command, INVALID (§4.2 step 6, §7.1).
var addedIn = map[Report]string{
	ReportSelectData: "4.0",
	ReportAuthData:   "4.0",
	ReportSourceName: "4.0",
	ReportClients:    "4.0", // CLIENT_ACCESSES_BY_INDEX3
}

// AddedIn returns the chrony release that added the report, or "" for the
// reports every chronyd from 3.0 on answers.
func (r Report) AddedIn() string { return addedIn[r] }
