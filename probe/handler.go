package probe

import (
	"errors"
	"html/template"
	"mime"
	"net/http"
	"strings"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/second-hand/chrony_exporter/collector"
)

// Path is where the probe is served.
const Path = "/probe"

// Handler serves Path: with ?target=HOST[:PORT] the metrics of the chronyd
// there (chrony_up 0 when it does not answer), 400 for a malformed target
// and 403 for one outside the allow list, in both cases before anything is
// sent; without a target, a form for a browser and 400 for anyone else.
type Handler struct {
	allow  *AllowList
	prober *collector.Prober
	logger log.Logger
	// Resolver resolves target names; nil is net.DefaultResolver.
	Resolver Resolver
}

// NewHandler returns the handler of Path. The request's context bounds
// the name resolution and the read (the caller sets it from Prometheus's
// scrape timeout).
func NewHandler(allow *AllowList, prober *collector.Prober, logger log.Logger) *Handler {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	return &Handler{allow: allow, prober: prober, logger: logger}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	targets := r.URL.Query()["target"]
	switch {
	case len(targets) == 0 && wantsHTML(r):
		serveForm(w, r)
		return
	case len(targets) == 0:
		http.Error(w, "target parameter is missing; want /probe?target=HOST[:PORT]", http.StatusBadRequest)
		return
	case len(targets) > 1:
		http.Error(w, "give one target parameter, not several", http.StatusBadRequest)
		return
	}
	addrs, err := h.allow.Check(r.Context(), h.Resolver, targets[0])
	if err != nil {
		status := http.StatusBadRequest
		var te *TargetError
		if errors.As(err, &te) {
			status = te.Status
		}
		// Debug: whoever may reach the exporter must not fill its log.
		level.Debug(h.logger).Log("msg", "probe refused", "status", status, "reason", err)
		http.Error(w, err.Error(), status)
		return
	}
	h.prober.ServeProbe(w, r, addrs)
}

// wantsHTML reports whether the client is a browser: Prometheus asks for
// text formats only.
func wantsHTML(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/html" {
			return true
		}
	}
	return false
}

// formCSP allows the form to submit to this exporter only, and nothing
// else at all.
const formCSP = "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// form submits to the page's own URL, so it works behind a proxy that adds
// a path prefix.
var form = template.Must(template.New("form").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>chrony_exporter probe</title></head>
<body>
<h1>Probe a chronyd over UDP</h1>
<form method="get">
<label for="target">Target (HOST[:PORT], port 323 by default)</label>
<input id="target" name="target" size="40" required placeholder="ntp1.example.com">
<button type="submit">Probe</button>
</form>
<p>The target must be allowed by <code>--probe.allow</code>, and chronyd there must allow this
host with <code>cmdallow</code>. Over UDP, chronyd answers the tracking, sources, sourcestats,
rtcdata, activity and smoothing reports.</p>
</body>
</html>
`))

func serveForm(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", formCSP)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if r.Method == http.MethodHead {
		return
	}
	form.Execute(w, nil)
}
