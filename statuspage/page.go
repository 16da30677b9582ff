// Package statuspage serves the exporter's own page at /: the chrony
// dashboard a person opens to see whether the machine's clock is right,
// and if not, why. It reads chronyd through the collectors' snapshot path
// (collector.Exporter.Read), fresh on every load: the reports it shows
// whatever the metric flags, and the enabled collectors' own, so that it
// shows how each collector fares. /api/status serves the same data as
// JSON.
package statuspage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/second-hand/chrony_exporter/collector"
)

// apiPath is where the JSON form of the page is served.
const apiPath = "/api/status"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS string

// Info is what the page says about the exporter itself.
type Info struct {
	// Version is the exporter's version, e.g. "0.1.0".
	Version string
	// TelemetryPath is where the metrics are served, e.g. "/metrics".
	TelemetryPath string
	// Timeout bounds each read of chronyd (--chrony.timeout).
	Timeout time.Duration
	// Address is the configured --chrony.address ("" is automatic); the
	// page names it when chronyd cannot be reached.
	Address string
	// ProbePath is where the probe of other chronyds is served, "" when
	// it is off; the page then has a form for it.
	ProbePath string
}

// Handler serves the status page at / and its JSON at apiPath, and 404
// for every other path.
type Handler struct {
	e    *collector.Exporter
	info Info
	host string
	tmpl *template.Template
	csp  string
}

// New returns the handler of the status page. Each request reads chronyd
// through e, within info.Timeout, and answers 200 whatever chronyd does:
// its problems are shown in the page.
func New(e *collector.Exporter, info Info) *Handler {
	if info.Timeout <= 0 {
		info.Timeout = 5 * time.Second
	}
	if info.TelemetryPath == "" {
		info.TelemetryPath = "/metrics"
	}
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(styleCSS))
	return &Handler{
		e:    e,
		info: info,
		host: host,
		tmpl: template.Must(template.New("page").Funcs(funcs).ParseFS(templateFS, "templates/*.html")),
		// The page runs no script at all: even a string from chronyd that
		// escaped escaping could not run. The one inline style is allowed
		// by its hash.
		csp: "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
			"'; img-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var serve func(http.ResponseWriter, *http.Request)
	switch r.URL.Path {
	case "/":
		serve = h.servePage
	case apiPath:
		serve = h.serveJSON
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	serve(w, r)
}

// status reads chronyd within the configured timeout and returns what the
// page shows.
func (h *Handler) status(ctx context.Context) *status {
	ctx, cancel := context.WithTimeout(ctx, h.info.Timeout)
	defer cancel()
	s, states := h.e.Read(ctx)
	// Named within the same deadline, as a scrape names its read.
	return build(s, states, h.e.Labels(ctx, s), h.info, time.Now())
}

// pageData is what the template gets.
type pageData struct {
	*status
	Host    string
	Info    Info
	CSS     template.CSS
	APIPath string
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	st := h.status(r.Context())
	var buf bytes.Buffer
	err := h.tmpl.ExecuteTemplate(&buf, "page.html", pageData{
		status:  st,
		Host:    h.host,
		Info:    h.info,
		CSS:     template.CSS(styleCSS), // our own file, not data
		APIPath: apiPath,
	})
	if err != nil {
		http.Error(w, "rendering the status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

func (h *Handler) serveJSON(w http.ResponseWriter, r *http.Request) {
	st := h.status(r.Context())
	body, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		http.Error(w, "encoding the status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(append(body, '\n'))
	}
}

// funcs format the page's numbers; see format.go.
var funcs = template.FuncMap{
	"offset":    func(x jsonFloat) string { return offsetText(float64(x)) },
	"magnitude": func(x jsonFloat) string { return magnitudeText(float64(x)) },
	"ppm":       func(x jsonFloat) string { return ppmText(float64(x)) },
	"ppmBound":  func(x jsonFloat) string { return ppmBoundText(float64(x)) },
	"seconds":   func(x jsonFloat) string { return secondsText(float64(x)) },
	"span":      func(s int64) string { return durationText(time.Duration(s) * time.Second) },
	"poll":      pollText,
	"reachBits": reachBits,
	"lastRx": func(s *int64) string {
		if s == nil {
			return never
		}
		return durationText(time.Duration(*s) * time.Second)
	},
	"when": func(t *time.Time) string {
		if t == nil {
			return never
		}
		return timeText(*t)
	},
	"since": func(t *time.Time, now time.Time) string {
		if t == nil {
			return never
		}
		return sinceText(*t, now)
	},
	"word": signWord,
	// alerting: a banner of notices alone is no alert to announce.
	"alerting": func(ps []problem) bool {
		for _, p := range ps {
			if p.Severity != "info" {
				return true
			}
		}
		return false
	},
	"deref": func(x *jsonFloat) jsonFloat {
		if x == nil {
			return 0
		}
		return *x
	},
	"transport": func(t string) string {
		switch t {
		case "unix":
			return "Unix socket"
		case "udp":
			return "UDP"
		}
		return "not connected"
	},
}

// signWord returns pos or neg by the sign a formatted number shows, and
// "" for one that shows zero or is not a number.
func signWord(shown, pos, neg string) string {
	if strings.HasPrefix(shown, "+0 ") || strings.HasPrefix(shown, "+0.000 ") || strings.Contains(shown, "∞") {
		return ""
	}
	switch {
	case strings.HasPrefix(shown, "+"):
		return pos
	case strings.HasPrefix(shown, "-"):
		return neg
	}
	return ""
}
