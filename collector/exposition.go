package collector

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// textSink writes samples in the Prometheus text format as they come,
// grouped by family. A 66-source scrape has thousands of series; building
// a prometheus.Metric for each, then sorting and checking them in a
// registry, then encoding them, cost four times the read of chronyd itself
// (BenchmarkScrape64). Writing the text directly costs a fraction of it.
// TestTextMatchesCollector holds both ways to the same families.
type textSink struct {
	// families holds each metric's sample lines, by metric.index.
	families [][]byte

	// The label blocks of the last two label sets, kept because a
	// collector sends a source's samples one after another with the same
	// labels, with now and then one with more labels (an info metric):
	// escaping and writing a source's block once instead of once per
	// sample saves a third of the text's cost.
	blocks [2]labelBlock
	recent int // the block used last; a miss replaces the other

	// longer is the block of a label set that extends the last one (an
	// info metric's: the source's labels, then its own), made from the
	// cached block without replacing it, so that the source's next sample
	// finds its block still there.
	longer []byte
}

// spare keeps one value between scrapes: a text sink, a gzip writer, a
// response body. Their sizes hardly change from one scrape to the next, so
// a warm one does not grow; unlike a sync.Pool, which every garbage
// collection empties, a spare survives, and scrapes allocate (and collect)
// a fifth as much. A scrape that finds it taken makes a new one.
type spare[T any] struct {
	mu sync.Mutex
	v  *T
}

// get takes the spare, or returns nil when there is none.
func (p *spare[T]) get() *T {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.v
	p.v = nil
	return v
}

func (p *spare[T]) put(v *T) {
	p.mu.Lock()
	p.v = v
	p.mu.Unlock()
}

// spares are the exporter's spare values.
type spares struct {
	sink spare[textSink]
	gz   spare[gzip.Writer]
	body spare[bytes.Buffer]
}

func (p *spares) getSink() *textSink {
	t := p.sink.get()
	if t == nil {
		return &textSink{families: make([][]byte, len(metrics))}
	}
	t.reset()
	return t
}

func (p *spares) getGzip() *gzip.Writer {
	gz := p.gz.get()
	if gz == nil {
		gz, _ = gzip.NewWriterLevel(nil, gzip.BestSpeed)
	}
	return gz
}

func (p *spares) getBody() *bytes.Buffer {
	b := p.body.get()
	if b == nil {
		return new(bytes.Buffer)
	}
	b.Reset()
	return b
}

// reset empties the sink, keeping its buffers.
func (t *textSink) reset() {
	for i, b := range t.families {
		t.families[i] = b[:0]
	}
}

func (t *textSink) add(m *metric, v float64, labelValues []string) {
	b := append(t.families[m.index], m.name...)
	b = append(b, t.labels(m.labels, labelValues)...)
	b = append(b, ' ')
	b = appendSample(b, m, v)
	t.families[m.index] = append(b, '\n')
}

// labelBlock is the text of one label set, {name="value",...}.
type labelBlock struct {
	names, values []string
	text          []byte
}

func (k *labelBlock) is(names, values []string) bool {
	return k.text != nil && slices.Equal(names, k.names) && slices.Equal(values, k.values)
}

// labels returns the label block of names and values, as appendLabels
// writes it.
func (t *textSink) labels(names, values []string) []byte {
	k := &t.blocks[t.recent]
	if k.is(names, values) {
		return k.text
	}
	if n := len(k.names); n > 0 && len(names) > n && k.is(names[:n], values[:n]) {
		b := append(t.longer[:0], k.text[:len(k.text)-1]...)
		for i := n; i < len(names); i++ {
			b = append(b, ',')
			b = appendLabel(b, names[i], values[i])
		}
		t.longer = append(b, '}')
		return t.longer
	}
	t.recent = 1 - t.recent
	k = &t.blocks[t.recent]
	if !k.is(names, values) {
		k.text = appendLabels(k.text[:0], names, values, "", "")
		k.names = names
		k.values = append(k.values[:0], values...)
	}
	return k.text
}

func (t *textSink) addHistogram(m *metric, count uint64, sum float64, buckets map[float64]uint64) {
	b := t.families[m.index]
	bounds := make([]float64, 0, len(buckets))
	for le := range buckets {
		bounds = append(bounds, le)
	}
	sort.Float64s(bounds)
	for _, le := range bounds {
		b = append(b, m.name...)
		b = append(b, "_bucket"...)
		b = appendLabels(b, nil, nil, "le", string(appendFloat(nil, le)))
		b = append(b, ' ')
		b = strconv.AppendUint(b, buckets[le], 10)
		b = append(b, '\n')
	}
	b = append(b, m.name...)
	b = append(b, `_bucket{le="+Inf"} `...)
	b = strconv.AppendUint(b, count, 10)
	b = append(b, '\n')
	b = append(b, m.name...)
	b = append(b, "_sum "...)
	b = appendFloat(b, sum)
	b = append(b, '\n')
	b = append(b, m.name...)
	b = append(b, "_count "...)
	b = strconv.AppendUint(b, count, 10)
	t.families[m.index] = append(b, '\n')
}

// writeTo writes the families in name order, each after its HELP and TYPE
// lines, straight to w: a gzip.Writer copies what it is given into its
// window anyway, so a buffer in between would copy the text once more.
func (t *textSink) writeTo(w io.Writer) {
	for _, m := range sortedMetrics() {
		if lines := t.families[m.index]; len(lines) > 0 {
			w.Write(m.header)
			w.Write(lines)
		}
	}
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// appendLabels writes {name="value",...}, with an extra pair at the end
// when extraName is set (a histogram's le).
func appendLabels(b []byte, names, values []string, extraName, extraValue string) []byte {
	if len(names) == 0 && extraName == "" {
		return b
	}
	b = append(b, '{')
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendLabel(b, n, values[i])
	}
	if extraName != "" {
		if len(names) > 0 {
			b = append(b, ',')
		}
		b = appendLabel(b, extraName, extraValue)
	}
	return append(b, '}')
}

func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, `="`...)
	if needsEscape(value) {
		value = valueEscaper.Replace(value)
	}
	b = append(b, value...)
	return append(b, '"')
}

// needsEscape reports whether a label value holds a character the text
// format escapes. A loop, as strings.ContainsAny would build its set of
// characters on every call of the hottest path of the exposition.
func needsEscape(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\\' || c == '"' || c == '\n' {
			return true
		}
	}
	return false
}

// appendSample writes sample v of m. chronyd sends its measurements as a
// 32-bit float of its own, a 25-bit coefficient and a 7-bit exponent
// (§5.1), which a float32 holds exactly. Such a value is written as the
// shortest decimal that reads back as the same float32: 3.28e-07, where
// float64's shortest form is 3.2799999871713226e-07, nine digits of which
// chronyd never sent. Nothing is lost (the decimal identifies chronyd's
// value), the exposition is shorter and gzips in a fifth less time.
func appendSample(b []byte, m *metric, v float64) []byte {
	if m.chronyFloat && writtenAsFloat32(v) {
		return strconv.AppendFloat(b, v, 'g', -1, 32)
	}
	return appendFloat(b, v)
}

// writtenAsFloat32 reports whether a chrony float v is written in
// float32's shortest form: a float32 holds it exactly, and it is not a
// whole number, which appendFloat writes as an integer.
func writtenAsFloat32(v float64) bool {
	return float64(float32(v)) == v && !smallWhole(v)
}

// smallWhole reports whether v is a whole number that 'g' formatting
// writes as plain digits.
func smallWhole(v float64) bool { return v > -1e6 && v < 1e6 && v == math.Trunc(v) }

// appendFloat formats a value as client_golang's text encoder does: the
// shortest 'g' form, with 0 for -0. Whole numbers below a million, which
// 'g' prints as plain digits, take the integer path: most samples are
// counts, flags and strata, and it is several times faster.
func appendFloat(b []byte, v float64) []byte {
	if smallWhole(v) {
		return strconv.AppendInt(b, int64(v), 10)
	}
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// Handler serves the exporter's metrics, read within the request's
// context, followed by the families of extra (the Go and process
// collectors, build information), in the Prometheus text format, gzipped
// when the client accepts it (Prometheus does). klauspost/compress (which
// client_golang already uses) at BestSpeed packs a 66-source scrape 9:1 in
// a fraction of the standard library's time.
//
// The text format 0.0.4 is the only one it writes, whatever the Accept
// header asks: Prometheus, which prefers OpenMetrics or protobuf, lists it
// as acceptable and reads it, and promhttp too answers a format it does
// not offer with this one rather than with 406 Not Acceptable. The
// Content-Type says what is sent, so the response does not vary with
// Accept; it varies with Accept-Encoding (see acceptsGzip), which Vary
// says on every response, plain ones included, for a cache between the
// two.
//
// extra is gathered once chronyd has been read, not while: chronyd
// answers at most 8 requests ahead of the exporter (the Unix socket's
// window), and at GOMAXPROCS=1 a gathering started beside the read held
// the CPU longer than that, leaving chronyd idle and the read measurably
// slower than a raw snapshot; gathered after it, as fast. With more CPUs, it runs while the text is made and
// gzipped. Like the read, one gathering serves the scrapes that ask while
// it runs: a hundred at once would otherwise each read /proc. The body is
// made in memory and sent with its length in one write, not streamed
// through the response's small buffer in many writes that each wake the
// scraper.
func (e *Exporter) Handler(extra prometheus.Gatherer) http.Handler {
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	var own *sharedGather
	if extra != nil {
		own = &sharedGather{gatherer: extra, format: format, logger: e.logger}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts := e.spares.getSink()
		defer e.spares.sink.put(ts)
		e.collect(r.Context(), ts)
		var ownText *run[[]byte]
		if own != nil {
			ownText = own.start()
		}

		body := e.spares.getBody()
		defer e.spares.body.put(body)
		var out io.Writer = body
		var gz *gzip.Writer
		h := w.Header()
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			gz = e.spares.getGzip()
			defer e.spares.gz.put(gz)
			gz.Reset(body)
			out = gz
		}
		ts.writeTo(out)
		if ownText != nil {
			<-ownText.done
			out.Write(ownText.val)
		}
		if gz != nil {
			gz.Close()
		}
		h.Set("Content-Type", string(format))
		h.Set("Content-Length", strconv.Itoa(body.Len()))
		w.Write(body.Bytes())
	})
}

// sharedGather gathers a registry and writes it out in the text format,
// once for all the callers that ask while it runs.
type sharedGather struct {
	gatherer prometheus.Gatherer
	format   expfmt.Format
	logger   log.Logger

	runs shared[[]byte]
}

// start returns the gathering in progress, or starts one; its text is
// ready once done is closed.
func (g *sharedGather) start() *run[[]byte] {
	r, lead := g.runs.join(time.Time{})
	if !lead {
		return r
	}
	go func() {
		var text bytes.Buffer
		mfs, err := g.gatherer.Gather()
		if err != nil {
			level.Error(g.logger).Log("msg", "gathering the exporter's own metrics", "err", err)
		}
		enc := expfmt.NewEncoder(&text, g.format)
		for _, mf := range mfs {
			enc.Encode(mf)
		}
		g.runs.finish(r, text.Bytes())
	}()
	return r
}

// acceptsGzip reports whether the response to r is gzipped, reading its
// Accept-Encoding as RFC 9110 §12.5.3 does: codings are named in any case,
// x-gzip is gzip, a q-value of 0 refuses a coding, "*" stands for every
// coding not named, and identity (no coding) is acceptable unless refused
// by name or by "*". gzip is chosen when it is acceptable and not ranked
// below identity: on a tie the smaller body wins, and identity named by
// nobody ranks below any coding named, as a client that lists only
// "gzip;q=0.5" still asks for gzip (as promhttp reads it). When nothing is
// acceptable ("*;q=0", or identity refused and gzip not offered), the body
// is sent plain, as promhttp does, rather than answered 406: HTTP lets a
// server disregard the header, and a scraper that accepts nothing is
// misconfigured, better served text it can read than a failed target.
func acceptsGzip(r *http.Request) bool {
	const unnamed = -1.0
	gzipQ, identityQ, anyQ := unnamed, unnamed, unnamed
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			q, ok := qValue(params)
			if !ok {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzipQ = max(gzipQ, q)
			case "identity":
				identityQ = max(identityQ, q)
			case "*":
				anyQ = max(anyQ, q)
			}
		}
	}
	if gzipQ == unnamed {
		gzipQ = max(anyQ, 0)
	}
	if identityQ == unnamed {
		identityQ = anyQ
	}
	return gzipQ > 0 && gzipQ >= identityQ
}

// qValue returns the weight among the parameters of one Accept-Encoding
// element (what follows its first ";"): 1 when there is none, false when
// it is not a number from 0 to 1, which makes the element void.
func qValue(params string) (float64, bool) {
	for _, p := range strings.Split(params, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || !(q >= 0 && q <= 1) {
			return 0, false
		}
		return q, true
	}
	return 1, true
}
