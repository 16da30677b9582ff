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
// yet (chronyc hides those too; the activity collector counts them). Such
// a source still gets a name, for the status page: its configured name,
// else what chronyc -n shows (ID#0000000001).
//
// A refclock is named by its reference ID, e.g. "PPS0", in both labels.
// Otherwise source_name is nameOf the source.
func (s *scrape) sourceLabels(src *chronyproto.Source) (address, name string, ok bool) {
	switch {
	case src.Mode == chronyproto.ModeRefclock:
		id := chronyproto.RefIDText(src.RefID())
		if id == "" {
			id = fmt.Sprintf("%08X", src.RefID())
		}
		return id, id, true
	case !src.Address.IsIP():
		address = src.Address.String()
		name = src.ConfiguredName
		if name == "" {
			name = address
		}
		return address, name, false
	}
	return src.Address.String(), s.nameOf(src.Address, src.ConfiguredName), true
}

// nameOf is the name of the NTP source at address a that chronyd was
// configured with as configured (its sourcename, "" when unknown): that
// name when it is not merely the address, else the address's reverse DNS
// name when lookups are on and it has one, else the address. Sources and
// the tracking reference are named by it alike, so that one server has
// one name on every series and on the status page.
func (s *scrape) nameOf(a chronyproto.Address, configured string) string {
	address := a.String()
	if configured != "" && configured != address {
		return configured
	}
	if n, ok := s.names[a]; ok {
		return n
	}
	return address
}

// referenceLabels returns tracking_info's labels of chronyd's reference:
// its address, name and reference ID in 8 hex digits, as chronyc shows it.
//
// An NTP reference is named as the source at its address is (nameOf): by
// its configured name when the read has the source list with names, which
// the default collectors and the status page read; a read without them
// (only the tracking collector on) can name it only by reverse DNS or its
// address. A refclock or the local reference has no
// address: both labels are the reference ID's text, or the ID itself when
// that has none (the local reference's 7F7F0101).
func (s *scrape) referenceLabels(t *chronyproto.Tracking) (address, name, refID string) {
	refID = fmt.Sprintf("%08X", t.RefID)
	if !t.Address.IsIP() {
		name = t.ReferenceName()
		if name == "" {
			name = refID
		}
		return name, name, refID
	}
	configured := ""
	for i := range s.Sources {
		if s.Sources[i].Address == t.Address {
			configured = s.Sources[i].ConfiguredName
			break
		}
	}
	return t.Address.String(), s.nameOf(t.Address, configured), refID
}

// SourceLabels is how the metrics name one source.
type SourceLabels struct {
	// Address and Name are its source_address and source_name labels.
	Address, Name string
	// Series is false for a source that gets no series: one whose name
	// chronyd has not resolved yet. Address is then what chronyc shows
	// (ID#0000000001), and Name its configured name or the same.
	Series bool
}

// ReferenceLabels are the labels of tracking_info: how the metrics name
// chronyd's reference.
type ReferenceLabels struct {
	// Address is tracking_address: the reference's IP address, or for a
	// refclock or the local reference the same as Name.
	Address string
	// Name is tracking_name.
	Name string
	// RefID is tracking_refid, the reference ID in 8 hex digits.
	RefID string
}

// Labels are the names the metrics give the sources and the reference of
// one read of chronyd.
type Labels struct {
	// Sources holds one entry per source, by index in Snapshot.Sources.
	Sources []SourceLabels
	// Reference is nil when the read has no tracking report.
	Reference *ReferenceLabels
}

// Labels returns the names the metrics give the sources and the reference
// of read s, for the status page: the page and the metrics name them by
// the same code, with reverse DNS (--collector.dns-lookups) from the same
// cache, so that a person finds on the page the names they query. Lookups
// not cached end by the deadline of ctx and by the read's start plus the
// configured timeout: the page waits for them no longer than a scrape.
func (e *Exporter) Labels(ctx context.Context, s *Scrape) *Labels {
	out := &Labels{}
	if s.Snapshot == nil {
		return out
	}
	if !s.Start.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, s.Start.Add(e.cfg.Timeout))
		defer cancel()
	}
	sc := e.newScrape(ctx, s.Snapshot)
	out.Sources = make([]SourceLabels, len(sc.Sources))
	for i := range sc.Sources {
		a, n, ok := sc.sourceLabels(&sc.Sources[i])
		out.Sources[i] = SourceLabels{Address: a, Name: n, Series: ok}
	}
	if t := sc.Tracking; t != nil {
		a, n, id := sc.referenceLabels(t)
		out.Reference = &ReferenceLabels{Address: a, Name: n, RefID: id}
	}
	return out
}

// newScrape is what the collectors get of snapshot snap, and what Labels
// names from: reverse DNS names (when lookups are on) from the exporter's
// cache within ctx, and every source's label values.
func (e *Exporter) newScrape(ctx context.Context, snap *chronyproto.Snapshot) *scrape {
	sc := &scrape{Snapshot: snap}
	if e.dns != nil {
		sc.names = e.dns.lookup(ctx, snap)
	}
	sc.labelSources()
	return sc
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

// lookup returns the names of the snapshot's NTP sources and tracking
// reference that have one, resolving those not cached at the same time,
// within ctx. The reference is looked up too: a read without the source
// list (only the tracking collector on) still names it as the page does.
func (d *dnsCache) lookup(ctx context.Context, snap *chronyproto.Snapshot) map[chronyproto.Address]string {
	addrs := make([]chronyproto.Address, 0, len(snap.Sources)+1)
	for i := range snap.Sources {
		if src := &snap.Sources[i]; src.Address.IsIP() && src.Mode != chronyproto.ModeRefclock {
			addrs = append(addrs, src.Address)
		}
	}
	if t := snap.Tracking; t != nil && t.Address.IsIP() {
		addrs = append(addrs, t.Address)
	}
	now := time.Now()
	names := map[chronyproto.Address]string{}
	var missing []chronyproto.Address
	asked := make(map[chronyproto.Address]bool, len(addrs))
	d.mu.Lock()
	for _, a := range addrs {
		if asked[a] {
			continue // listed twice, or the reference among the sources
		}
		asked[a] = true
		if e, ok := d.entries[a]; ok && now.Before(e.expires) {
			if e.name != "" {
				names[a] = e.name
			}
			continue
		}
		missing = append(missing, a)
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
