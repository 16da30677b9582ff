package collector

import (
	"context"
	"net/http"
	"net/netip"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/second-hand/chrony_exporter/chronyproto"
)

// Prober reads, for each /probe request, a chronyd the request names,
// over UDP: blackbox style, one exporter can watch a fleet of NTP servers
// that allow it with cmdallow. Every probe is a fresh read of its own,
// shared with nothing; it writes the same text as the exporter's Handler
// (chrony_up and the collectors' metrics), without the exporter's own Go
// and process metrics.
//
// The Prober contacts only the addresses it is given and resolves no name:
// checking them against an allow list is the caller's job (package probe).
type Prober struct {
	setup  *setup
	logger log.Logger
	// spares are shared by the probes: every probe is a fresh read, but
	// its buffers need not be fresh too.
	spares *spares
	// Dialer connects to the targets; the zero value uses chronyproto's
	// defaults (256 requests in flight over UDP).
	Dialer chronyproto.Dialer
}

// NewProber checks cfg as New does and returns a prober. cfg.Enabled and
// cfg.Timeout apply as to the exporter; the collectors that need the Unix
// socket are skipped unless turned on explicitly, and then fail visibly,
// as on /metrics over UDP. cfg.Address is ignored, and so is
// cfg.DNSLookups: a probe keeps no reverse DNS cache between requests.
func NewProber(cfg Config, logger log.Logger) (*Prober, error) {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	cfg.Address = ""
	cfg.DNSLookups = false
	st, err := checkConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Prober{setup: st, logger: logger, spares: new(spares)}, nil
}

// ServeProbe reads the chronyd at targets within the request's context
// (capped by the configured timeout) and writes its metrics.
//
// targets are the addresses of one target, already checked, in the order
// to try (a name's addresses), as chronyproto.Dialer.DialUDPFirst takes
// them: a probe costs at most one timeout, and with a single address
// nothing more is sent than a scrape sends.
func (p *Prober) ServeProbe(w http.ResponseWriter, r *http.Request, targets []netip.AddrPort) {
	if len(targets) == 0 {
		http.Error(w, "no address to probe", http.StatusInternalServerError)
		return
	}
	e := newExporter(p.setup, quietLogger(log.With(p.logger, "target", targets[0].String())), p.spares)
	defer e.Close()
	e.dial = func(ctx context.Context) (*chronyproto.Client, error) { return p.Dialer.DialUDPFirst(ctx, targets) }
	e.Handler(nil).ServeHTTP(w, r)
}

// quietLogger logs everything at debug level. A chronyd that does not
// answer a probe is the probe's result (chrony_up 0), not a problem of the
// exporter, and anyone allowed to probe must not be able to fill its log.
func quietLogger(next log.Logger) log.Logger {
	return log.LoggerFunc(func(kv ...any) error {
		out := append([]any(nil), kv...)
		for i := 0; i+1 < len(out); i += 2 {
			if out[i] == level.Key() {
				out[i+1] = level.DebugValue()
			}
		}
		return next.Log(out...)
	})
}
