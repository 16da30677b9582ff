//go:build !linux

package processmetrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewCollector returns a collector of the process it runs in: elsewhere
// than on Linux, client_golang's.
func NewCollector() prometheus.Collector {
	return collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})
}
