package collector

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/second-hand/chrony_exporter/chronyproto"
)

func snapshotOf(addrs ...string) *chronyproto.Snapshot {
	s := &chronyproto.Snapshot{}
	for _, a := range addrs {
		s.Sources = append(s.Sources, chronyproto.Source{SourceData: chronyproto.SourceData{
			Address: chronyproto.AddressFrom(netip.MustParseAddr(a)),
		}})
	}
	return s
}

// Reverse DNS is asked once per address and TTL, and never holds a scrape
// past its deadline.
func TestDNSCache(t *testing.T) {
	var calls atomic.Int32
	d := newDNSCache()
	d.resolve = func(ctx context.Context, ip netip.Addr) (string, error) {
		calls.Add(1)
		if ip.String() == "192.0.2.9" {
			<-ctx.Done() // a resolver that never answers
			return "", ctx.Err()
		}
		return "ntp-" + ip.String() + ".example", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	names := d.lookup(ctx, snapshotOf("192.0.2.1", "192.0.2.9"))
	if took := time.Since(start); took > time.Second {
		t.Errorf("lookup took %v with a 200ms deadline", took)
	}
	if names[chronyproto.AddressFrom(netip.MustParseAddr("192.0.2.1"))] != "ntp-192.0.2.1.example" || len(names) != 1 {
		t.Errorf("names = %v", names)
	}
	names = d.lookup(context.Background(), snapshotOf("192.0.2.1"))
	if calls.Load() != 2 || len(names) != 1 {
		t.Errorf("second lookup: %d resolver calls, names %v; want the cached name and no new call", calls.Load(), names)
	}
}

func TestReverseNameLocalhost(t *testing.T) {
	name, err := reverseName(context.Background(), netip.MustParseAddr("127.0.0.1"))
	if err != nil || name != "localhost" {
		t.Errorf("reverse of 127.0.0.1 = %q, %v; want localhost from /etc/hosts", name, err)
	}
}
