package main

import (
	"fmt"
	"net/http"
	"path"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/second-hand/chrony_exporter/collector"
	"github.com/second-hand/chrony_exporter/probe"
)

// probeAllowHelp is the help of --probe.allow.
const probeAllowHelp = "Serve /probe?target=HOST[:PORT] (another chronyd, over UDP) for targets in this network " +
	"(10.0.0.0/8), at this address, or of this host name; repeatable. A name's addresses are checked, " +
	"and the checked address is the one contacted. Without it, /probe is off."

// newProbe returns the handler of /probe for the --probe.allow entries, or
// nil when there are none (probing is off). The probes read with the
// collectors and the timeout of cfg.
func newProbe(allow []string, telemetryPath string, cfg collector.Config, logger log.Logger) (http.Handler, error) {
	if len(allow) == 0 {
		return nil, nil
	}
	list, err := probe.ParseAllowList(allow)
	if err != nil {
		return nil, err
	}
	if path.Clean(telemetryPath) == probe.Path {
		return nil, fmt.Errorf("--web.telemetry-path=%s: with --probe.allow, %s serves the probes; choose another path", telemetryPath, probe.Path)
	}
	p, err := collector.NewProber(cfg, logger)
	if err != nil {
		return nil, err
	}
	level.Info(logger).Log("msg", "Probes enabled", "path", probe.Path, "allow", list)
	return probe.NewHandler(list, p, logger), nil
}
