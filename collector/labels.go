package collector

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/second-hand/chrony_exporter/chronyproto"
)

// sourceLabelNames are the labels every per-source metric carries, as
// SuperQ/chrony_exporter names them.
var sourceLabelNames = []string{"source_address", "source_name"}

// sourceLabels returns the source_address and source_name of a source, and
// false for a source that gets no series: one whose name is not resolved
// yet (chronyc hides those too; the activity collector counts them).
//
// A refclock is named by its reference ID, e.g. "PPS0", in both labels.
// Otherwise source_name is the name chronyd was configured with, or, when
// that is only the address, its reverse DNS name if lookups are on.
func (s *scrape) sourceLabels(src *chronyproto.Source) (address, name string, ok bool) {
	switch {
	case src.Mode == chronyproto.ModeRefclock:
		id := chronyproto.RefIDText(src.RefID())
		if id == "" {
			id = fmt.Sprintf("%08X", src.RefID())
		}
		return id, id, true
	case !src.Address.IsIP():
		return "", "", false
	}
	address = src.Address.String()
	name = src.ConfiguredName
	if name == "" || name == address {
		name = address
		if n, ok := s.names[src.Address]; ok {
			name = n
		}
	}
	return address, name, true
}

// sourceLabelValues is one source's label values, made once per scrape
// for every collector: five collectors label each source the same way.
type sourceLabelValues struct {
	values []string // source_address, source_name; nil for no series
	// shared is set when another source has the same values: two
	// refclocks with one reference ID, or a source listed twice because
	// chronyd's list changed during the read.
	shared bool
}

// labelSources makes the label values of every source of the scrape.
func (s *scrape) labelSources() {
	s.labels = make([]sourceLabelValues, len(s.Sources))
	backing := make([]string, 2*len(s.Sources))
	first := make(map[[2]string]int, len(s.Sources))
	for i := range s.Sources {
		a, n, ok := s.sourceLabels(&s.Sources[i])
		if !ok {
			continue
		}
		// A full slice expression, so that appending to one source's
		// values never writes into the next one's.
		lv := backing[2*i : 2*i+2 : 2*i+2]
		lv[0], lv[1] = a, n
		s.labels[i].values = lv
		if j, dup := first[[2]string{a, n}]; dup {
			s.labels[i].shared = true
			s.labels[j].shared = true
		} else {
			first[[2]string{a, n}] = i
		}
	}
}

// sourceSeries hands one collector the label values of the sources it
// makes series for, each label set once: a label set sent twice fails the
// whole scrape (SuperQ/chrony_exporter #153, #167).
type sourceSeries struct {
	s    *scrape
	seen map[[2]string]bool // label sets used, of sources that share theirs
}

func (s *scrape) sourceSeries() *sourceSeries { return &sourceSeries{s: s} }

// labels returns the label values of source i, or false when the source
// gets no series from this collector: it has no name yet, or an earlier
// source of the collector had the same labels.
func (u *sourceSeries) labels(i int) ([]string, bool) {
	l := u.s.labels[i]
	if l.values == nil {
		return nil, false
	}
	if l.shared {
		k := [2]string{l.values[0], l.values[1]}
		if u.seen[k] {
			return nil, false
		}
		if u.seen == nil {
			u.seen = map[[2]string]bool{}
		}
		u.seen[k] = true
	}
	return l.values, true
}

// dnsCache remembers reverse DNS names, so that a scrape waits for the
// resolver only for new addresses, and never past its deadline.
type dnsCache struct {
	mu      sync.Mutex
	entries map[chronyproto.Address]dnsEntry
	resolve func(ctx context.Context, ip netip.Addr) (string, error)
}

type dnsEntry struct {
	name    string // "" when the address has no name
	expires time.Time
}

// How long answers are kept. Failures are asked again sooner.
const (
	dnsTTL         = time.Hour
	dnsNegativeTTL = 5 * time.Minute
)

func newDNSCache() *dnsCache {
	return &dnsCache{entries: map[chronyproto.Address]dnsEntry{}, resolve: reverseName}
}

// lookup returns the names of the snapshot's sources that have one,
// resolving those not cached at the same time, within ctx.
func (d *dnsCache) lookup(ctx context.Context, snap *chronyproto.Snapshot) map[chronyproto.Address]string {
	now := time.Now()
	names := map[chronyproto.Address]string{}
	var missing []chronyproto.Address
	d.mu.Lock()
	for _, src := range snap.Sources {
		if !src.Address.IsIP() || src.Mode == chronyproto.ModeRefclock {
			continue
		}
		if e, ok := d.entries[src.Address]; ok && now.Before(e.expires) {
			if e.name != "" {
				names[src.Address] = e.name
			}
			continue
		}
		missing = append(missing, src.Address)
	}
	d.mu.Unlock()

	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, a := range missing {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name, err := d.resolve(ctx, a.IP)
			if ctx.Err() != nil {
				return // no answer in time: try again next scrape
			}
			ttl := dnsTTL
			if err != nil || name == "" {
				ttl, name = dnsNegativeTTL, ""
			}
			d.mu.Lock()
			d.entries[a] = dnsEntry{name: name, expires: time.Now().Add(ttl)}
			d.mu.Unlock()
			if name != "" {
				mu.Lock()
				names[a] = name
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return names
}

// reverseName returns the first PTR name of ip, without the final dot.
func reverseName(ctx context.Context, ip netip.Addr) (string, error) {
	names, err := net.DefaultResolver.LookupAddr(ctx, ip.String())
	if err != nil || len(names) == 0 {
		return "", err
	}
	return strings.TrimSuffix(names[0], "."), nil
}
