package collector

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
)

// familyOf maps every metric name to its declaration, for MetricCollector.
var familyOf = sync.OnceValue(func() map[string]*metric {
	out := make(map[string]*metric, len(metrics))
	for _, m := range metrics {
		out[m.name] = m
	}
	return out
})

// MetricCollector returns the collector a sample's metric name belongs to,
// "" for the exporter's own metrics, and whether the name is one of this
// exporter's at all (go_*, process_* and the build information are not).
// A histogram's samples (_bucket, _sum, _count) belong to its family.
// The documentation's series counts and the scrape benchmark both group
// series by it, so that they follow the declarations instead of a list.
func MetricCollector(name string) (collector string, ok bool) {
	if m := familyOf()[name]; m != nil {
		return m.collector, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, cut := strings.CutSuffix(name, suffix); cut {
			if m := familyOf()[base]; m != nil && m.kind == kindHistogram {
				return m.collector, true
			}
		}
	}
	return "", false
}

// SeriesCount is how many series of one collector an exposition holds.
type SeriesCount struct {
	// PerSource counts the series carrying source_address, by its value.
	PerSource map[string]int
	// Host counts the others: one set per host, whatever its sources.
	Host int
}

// CountSeries counts the series of a Prometheus text exposition by
// collector (MetricCollector). The exporter's own series that carry a
// collector label (chrony_scrape_collector_success and _duration_seconds)
// count for that collector, since turning it on is what adds them; the
// rest of the exporter's own count under "". Series of other metrics
// (go_*, process_*, chrony_exporter_build_info) are left out.
func CountSeries(text []byte) (map[string]*SeriesCount, error) {
	out := map[string]*SeriesCount{}
	for i, line := range bytes.Split(text, []byte("\n")) {
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		name, labels, err := parseSample(string(line))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		c, ok := MetricCollector(name)
		if !ok {
			continue
		}
		if c == "" && labels["collector"] != "" {
			c = labels["collector"]
		}
		n := out[c]
		if n == nil {
			n = &SeriesCount{PerSource: map[string]int{}}
			out[c] = n
		}
		if addr, ok := labels["source_address"]; ok {
			n.PerSource[addr]++
		} else {
			n.Host++
		}
	}
	return out, nil
}

// parseSample splits a sample line of the text format into its metric
// name and labels, unescaping label values.
func parseSample(line string) (string, map[string]string, error) {
	end := strings.IndexAny(line, "{ ")
	if end <= 0 {
		return "", nil, fmt.Errorf("no metric name in %q", line)
	}
	name, rest := line[:end], line[end:]
	labels := map[string]string{}
	if rest[0] != '{' {
		return name, labels, nil
	}
	rest = rest[1:]
	for {
		rest = strings.TrimLeft(rest, ", ")
		if strings.HasPrefix(rest, "}") {
			return name, labels, nil
		}
		eq := strings.Index(rest, `="`)
		if eq <= 0 {
			return "", nil, fmt.Errorf("bad labels in %q", line)
		}
		label := rest[:eq]
		rest = rest[eq+2:]
		var v strings.Builder
		closed := false
		for i := 0; i < len(rest); i++ {
			switch c := rest[i]; {
			case c == '\\' && i+1 < len(rest):
				i++
				if rest[i] == 'n' {
					v.WriteByte('\n')
				} else {
					v.WriteByte(rest[i])
				}
			case c == '"':
				rest, closed = rest[i+1:], true
			default:
				v.WriteByte(c)
			}
			if closed {
				break
			}
		}
		if !closed {
			return "", nil, fmt.Errorf("unterminated label value in %q", line)
		}
		labels[label] = v.String()
	}
}
