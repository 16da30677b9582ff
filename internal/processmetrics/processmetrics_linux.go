package processmetrics

import (
	"os"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/second-hand/chrony_exporter/internal/proc"
)

// The metrics of client_golang's process collector.
var (
	cpuDesc = prometheus.NewDesc("process_cpu_seconds_total",
		"Total user and system CPU time spent in seconds.", nil, nil)
	openFDsDesc = prometheus.NewDesc("process_open_fds",
		"Number of open file descriptors.", nil, nil)
	maxFDsDesc = prometheus.NewDesc("process_max_fds",
		"Maximum number of open file descriptors.", nil, nil)
	virtualDesc = prometheus.NewDesc("process_virtual_memory_bytes",
		"Virtual memory size in bytes.", nil, nil)
	maxVirtualDesc = prometheus.NewDesc("process_virtual_memory_max_bytes",
		"Maximum amount of virtual memory available in bytes.", nil, nil)
	residentDesc = prometheus.NewDesc("process_resident_memory_bytes",
		"Resident memory size in bytes.", nil, nil)
	startDesc = prometheus.NewDesc("process_start_time_seconds",
		"Start time of the process since unix epoch in seconds.", nil, nil)
	receiveDesc = prometheus.NewDesc("process_network_receive_bytes_total",
		"Number of bytes received by the process over the network.", nil, nil)
	transmitDesc = prometheus.NewDesc("process_network_transmit_bytes_total",
		"Number of bytes sent by the process over the network.", nil, nil)
)

// collector reads /proc/self/stat, net/netstat and fd once a scrape, and
// the limits with getrlimit(2), which is what /proc/self/limits shows.
type collector struct {
	self     *proc.Self
	pid      int
	pageSize float64
	// start is process_start_time_seconds, made once: it cannot change,
	// and the boot time it needs is in /proc/stat, the largest file read.
	// nil when /proc/stat could not say.
	start prometheus.Metric
}

// NewCollector returns a collector of the process it runs in. Without
// /proc it is client_golang's, which reports nothing there either.
func NewCollector() prometheus.Collector {
	self, err := proc.OpenSelf()
	if err != nil {
		return collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})
	}
	c := &collector{self: self, pid: os.Getpid(), pageSize: float64(os.Getpagesize())}
	if st, err := self.Stat(); err == nil {
		if t, err := proc.StartTime(st); err == nil {
			c.start = prometheus.MustNewConstMetric(startDesc, prometheus.GaugeValue, float64(t.UnixNano())/1e9)
		}
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cpuDesc, openFDsDesc, maxFDsDesc, virtualDesc,
		maxVirtualDesc, residentDesc, startDesc, receiveDesc, transmitDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Like client_golang's collector
// without ReportErrors, it leaves out what it cannot read.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if st, err := c.self.Stat(); err == nil {
		ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, st.CPU.Seconds())
		ch <- prometheus.MustNewConstMetric(virtualDesc, prometheus.GaugeValue, float64(st.VirtualBytes))
		ch <- prometheus.MustNewConstMetric(residentDesc, prometheus.GaugeValue, float64(st.ResidentPages)*c.pageSize)
	}
	if c.start != nil {
		ch <- c.start
	}
	if n, err := proc.OpenFiles(c.pid); err == nil {
		ch <- prometheus.MustNewConstMetric(openFDsDesc, prometheus.GaugeValue, float64(n))
	}
	// RLIM_INFINITY is the largest uint64, the number client_golang
	// reports for "unlimited".
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		ch <- prometheus.MustNewConstMetric(maxFDsDesc, prometheus.GaugeValue, float64(lim.Cur))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) == nil {
		ch <- prometheus.MustNewConstMetric(maxVirtualDesc, prometheus.GaugeValue, float64(lim.Cur))
	}
	if in, out, err := c.self.NetworkBytes(); err == nil {
		ch <- prometheus.MustNewConstMetric(receiveDesc, prometheus.CounterValue, float64(in))
		ch <- prometheus.MustNewConstMetric(transmitDesc, prometheus.CounterValue, float64(out))
	}
}
