// Package processmetrics reports the exporter's own process: the
// process_* metrics of client_golang's process collector, under its names,
// help and types, so that dashboards built on them keep working.
//
// On Linux it reads them itself: client_golang's collector parses all of
// /proc/stat twice per scrape for a boot time that does not change, and
// reads every limit and network counter through generic parsers, at about
// a quarter of a millisecond a scrape here, as much as reading chronyd's
// tracking and RTC reports. Scraped concurrently with the read of
// chronyd, that time also delays the read. This collector reads only the
// lines it reports.
package processmetrics
