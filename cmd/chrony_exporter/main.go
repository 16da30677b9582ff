// Command chrony_exporter serves chronyd's reports as Prometheus metrics.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/second-hand/chrony_exporter/collector"
	"github.com/second-hand/chrony_exporter/probe"
	"github.com/second-hand/chrony_exporter/statuspage"
)

func main() {
	app, opts := newApp()
	if _, err := app.Parse(os.Args[1:]); err != nil {
		app.Fatalf("%s, try --help", err)
	}
	cfg, err := opts.config()
	if err != nil {
		app.Fatalf("%s", err)
	}
	logs, err := newLoggers(os.Stderr, *opts.logLevel, *opts.logFormat)
	if err != nil {
		app.Fatalf("%s", err)
	}
	logger := logs.kit
	runtime.GOMAXPROCS(*opts.maxProcs)

	exporter, err := collector.New(cfg, logger)
	if err != nil {
		app.Fatalf("%s", err)
	}
	defer exporter.Close()
	probes, err := newProbe(*opts.probeAllow, *opts.telemetryPath, cfg, logger)
	if err != nil {
		app.Fatalf("%s", err)
	}

	info := statuspage.Info{
		Version:       version.Version,
		TelemetryPath: *opts.telemetryPath,
		Timeout:       cfg.Timeout,
		Address:       cfg.Address,
	}
	if probes != nil {
		info.ProbePath = probe.Path
	}
	page := statuspage.New(exporter, info)
	server := &http.Server{
		Handler: newRouter(exporter, routes{
			telemetryPath:   *opts.telemetryPath,
			timeout:         cfg.Timeout,
			exporterMetrics: !*opts.noExporterMetrics,
			page:            page,
			probe:           probes,
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}

	level.Info(logger).Log("msg", "Starting chrony_exporter", "version", version.Info(), "chrony_address", addressText(cfg.Address))
	level.Info(logger).Log("msg", "Build context", "build_context", version.BuildContext())
	var enabled []string
	for _, st := range exporter.States() {
		enabled = append(enabled, st.Name)
	}
	level.Info(logger).Log("msg", "Enabled collectors", "collectors", strings.Join(enabled, ","))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- web.ListenAndServe(server, opts.web, logs.slog) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		level.Info(logger).Log("msg", "Shutting down")
		// Scrapes in progress end within the timeout; let them finish.
		sctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout+time.Second)
		defer cancel()
		err = server.Shutdown(sctx)
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		level.Error(logger).Log("msg", "Exporter stopped", "err", serveError(err))
		exporter.Close()
		os.Exit(1)
	}
}

// addressText names the automatic address in the startup line.
func addressText(address string) string {
	if address == "" {
		return "automatic"
	}
	return address
}

// serveError adds what to do to the errors a user can fix.
func serveError(err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: another process listens on that address; stop it or choose another with --web.listen-address", err)
	}
	return err
}
