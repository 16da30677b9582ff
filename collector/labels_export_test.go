package collector

import (
	"context"
	"net/netip"
)

// SetResolver makes the reverse DNS cache of e, which must have lookups
// on, ask resolve instead of the system's resolver, so that tests of
// package collector_test name sources by addresses no resolver knows.
// Call it before e's first read.
func SetResolver(e *Exporter, resolve func(context.Context, netip.Addr) (string, error)) {
	e.dns.resolve = resolve
}
