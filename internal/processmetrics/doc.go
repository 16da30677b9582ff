// Package processmetrics reports the exporter's own process: the
// process_* metrics of client_golang's process collector, under its names,
// help and types, so that dashboards built on them keep working.
//
// On Linux it reads them itself, because client_golang's collector costs
// more than a scrape can spare: it parses all of /proc/stat twice per
// scrape for a boot time that does not change, and opens every file anew
// (BenchmarkCollect: 214 µs a gathering here, this collector 59 µs). This
// one keeps /proc/self/stat and net/netstat open, which process_open_fds
// counts: two more than client_golang's collector reports.
package processmetrics
