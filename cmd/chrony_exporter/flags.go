package main

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/second-hand/chrony_exporter/chronyproto"
	"github.com/second-hand/chrony_exporter/collector"
)

// defaultListenAddress is chrony_exporter's port in Prometheus's list of
// default ports, the same as SuperQ/chrony_exporter's.
const defaultListenAddress = ":9123"

// options holds the command line as parsed.
type options struct {
	address       *string
	timeout       *time.Duration
	collectors    []*collectorFlag
	ntpdataAlias  *collectorFlag
	dnsLookups    *bool
	web           *web.FlagConfig
	telemetryPath *string
	// noExporterMetrics leaves out go_*, process_* and promhttp_*.
	noExporterMetrics *bool
	probeAllow        *[]string
	logLevel          *string
	logFormat         *string
	maxProcs          *int
}

// collectorFlag is one --[no-]collector.<name> flag. set records whether
// the user gave it, because the collector package treats an explicit "on"
// differently from a default one.
type collectorFlag struct {
	name string
	on   *bool
	set  bool
}

// newApp declares every flag; parse the returned application, then call
// options.config.
func newApp() (*kingpin.Application, *options) {
	app := kingpin.New("chrony_exporter", "Prometheus exporter for chronyd, over its Unix socket or UDP.")
	app.Version(version.Print("chrony_exporter"))
	app.HelpFlag.Short('h')

	o := &options{}
	o.address = app.Flag("chrony.address",
		"Address of chronyd: unix:///path or /path for its Unix socket (every report), "+
			"udp://host:port, host:port, [v6]:port or host (port 323) for UDP (only the monitoring reports). "+
			"Empty: "+strings.Join(chronyproto.DefaultSocketPaths, ", ")+", then UDP 127.0.0.1:323, then [::1]:323, as chronyc does.",
	).Default("").String()
	timeout := app.Flag("chrony.timeout",
		"Longest time a scrape waits for chronyd; shorter when Prometheus's scrape timeout "+
			"(X-Prometheus-Scrape-Timeout-Seconds) leaves less.",
	).Default("5s")
	o.timeout = new(time.Duration)
	timeout.SetValue((*durationValue)(o.timeout))

	for _, name := range collector.Names() {
		o.collectors = append(o.collectors, collectorBoolFlag(app, "collector."+name, name, collectorHelp(name)))
	}
	o.ntpdataAlias = collectorBoolFlag(app, "collector.sources.with-ntpdata", "ntpdata",
		"Alias of --[no-]collector.ntpdata, the flag of SuperQ/chrony_exporter.")
	o.dnsLookups = app.Flag("collector.dns-lookups",
		"Name sources by reverse DNS when chronyd knows no name for them (source_name label).",
	).Default("false").Bool()
	// Kept so that command lines written for SuperQ/chrony_exporter still
	// start; the value is read by nobody.
	app.Flag("collector.chmod-socket",
		"Accepted for compatibility; does nothing: the client socket is always made writable for chronyd, "+
			"inside a directory private to the exporter.",
	).Default("false").Bool()

	o.web = kingpinflag.AddFlags(app, defaultListenAddress)
	o.telemetryPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	// node_exporter's flag, for fleets that do not want the Go and process
	// series of every host.
	o.noExporterMetrics = app.Flag("web.disable-exporter-metrics",
		"Leave out the exporter's own metrics (go_*, process_*, promhttp_*); chrony_exporter_build_info stays.",
	).Default("false").Bool()
	o.probeAllow = app.Flag("probe.allow", probeAllowHelp).Strings()
	o.logLevel = app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").
		Default("info").Enum("debug", "info", "warn", "error")
	o.logFormat = app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").
		Default("logfmt").Enum("logfmt", "json")
	// node_exporter's flag and default. A scrape is one chain of work
	// (read chronyd, write the text, gzip it) that a second CPU does not
	// shorten; there the Go scheduler's idle threads spin beside chronyd,
	// whose answers the read waits for: one CPU measured less CPU per
	// scrape and lower latency (docs/benchmarks.md).
	o.maxProcs = new(int)
	app.Flag("runtime.gomaxprocs", "The number of CPUs Go runs on at once (GOMAXPROCS).").
		Envar("GOMAXPROCS").Default("1").SetValue((*procsValue)(o.maxProcs))
	return app, o
}

func collectorBoolFlag(app *kingpin.Application, flag, name, help string) *collectorFlag {
	f := &collectorFlag{name: name}
	f.on = app.Flag(flag, help).
		Default(strconv.FormatBool(collector.DefaultEnabled(name))).
		IsSetByUser(&f.set).
		Bool()
	return f
}

// collectorHelp says, as node_exporter does, what a collector reads and
// whether it is on by default.
func collectorHelp(name string) string {
	state := "disabled"
	if collector.DefaultEnabled(name) {
		state = "enabled"
	}
	h := fmt.Sprintf("Enable the %s collector (default: %s): %s.", name, state, collector.Help(name))
	if collector.UnixOnly(name) {
		h += " Needs chronyd's Unix socket: over UDP it is skipped, or fails when enabled explicitly."
	}
	return h
}

// config checks the parsed flags and returns the collector configuration.
// Its errors are meant for the user, as kingpin's own are.
func (o *options) config() (collector.Config, error) {
	if err := checkAddress(*o.address); err != nil {
		return collector.Config{}, err
	}
	if *o.timeout <= 0 {
		return collector.Config{}, fmt.Errorf("--chrony.timeout=%s: want a positive duration, e.g. 5s", *o.timeout)
	}
	if p := *o.telemetryPath; !strings.HasPrefix(p, "/") || path.Clean(p) == "/" {
		return collector.Config{}, fmt.Errorf("--web.telemetry-path=%q: want an absolute path other than /, e.g. /metrics", p)
	}
	enabled := map[string]bool{}
	if a := o.ntpdataAlias; a.set {
		enabled[a.name] = *a.on
	}
	for _, f := range o.collectors {
		if !f.set {
			continue
		}
		if prev, ok := enabled[f.name]; ok && prev != *f.on {
			return collector.Config{}, fmt.Errorf("--collector.%s and --collector.sources.with-ntpdata disagree: give only one of them", f.name)
		}
		enabled[f.name] = *f.on
	}
	return collector.Config{
		Address:    *o.address,
		Timeout:    *o.timeout,
		Enabled:    enabled,
		DNSLookups: *o.dnsLookups,
	}, nil
}

// checkAddress rejects a --chrony.address that chronyproto.Dial could never
// use, at startup rather than at every scrape. It does not resolve names:
// DNS may come up after the exporter, as chronyd may.
func checkAddress(address string) error {
	switch {
	case address == "":
		return nil
	case strings.HasPrefix(address, "unix://"):
		if p := strings.TrimPrefix(address, "unix://"); !strings.HasPrefix(p, "/") {
			return fmt.Errorf("--chrony.address=%q: a socket needs an absolute path, e.g. unix:///run/chrony/chronyd.sock (three slashes)", address)
		}
		return nil
	case strings.HasPrefix(address, "/"):
		return nil
	}
	if _, _, err := chronyproto.SplitHostPort(strings.TrimPrefix(address, "udp://")); err != nil {
		return fmt.Errorf("--chrony.address=%q: %w (forms: unix:///path, /path, udp://host:port, host:port, [v6]:port, host)", address, err)
	}
	return nil
}

// durationValue is kingpin's duration flag with an error that names the
// flag and shows the accepted form; kingpin's says only "time: invalid
// duration".
type durationValue time.Duration

// Set implements kingpin.Value.
func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("--chrony.timeout=%q is not a duration: want e.g. 5s, 500ms or 1m30s", s)
	}
	*d = durationValue(v)
	return nil
}

// String implements kingpin.Value.
func (d *durationValue) String() string { return time.Duration(*d).String() }

// procsValue is --runtime.gomaxprocs, whose value may come from GOMAXPROCS
// in the environment: the error says so, and names the flag.
type procsValue int

// Set implements kingpin.Value.
func (p *procsValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return fmt.Errorf("--runtime.gomaxprocs=%q (or GOMAXPROCS in the environment): want a number of CPUs, 1 or more", s)
	}
	*p = procsValue(n)
	return nil
}

// String implements kingpin.Value.
func (p *procsValue) String() string { return strconv.Itoa(int(*p)) }
