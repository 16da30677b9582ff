// Package probe serves /probe?target=HOST[:PORT]: a read of another
// chronyd over UDP, blackbox style, so that one exporter can watch a fleet
// of NTP servers. An endpoint that sends UDP wherever it is told is a
// server-side request forgery tool, so every target is checked against an
// allow list (--probe.allow) before anything is sent, and the address that
// was checked is the one contacted: a name is resolved once, its addresses
// are checked, and those addresses, not the name, go to the dialer.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/second-hand/chrony_exporter/chronyproto"
)

// MaxTargetLen bounds the target parameter: a DNS name has at most 253
// characters, and ":65535" adds 6.
const MaxTargetLen = 260

// Resolver resolves host names; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// AllowList holds the networks and host names that may be probed.
type AllowList struct {
	prefixes []netip.Prefix
	names    map[string]bool
}

// ParseAllowList reads the --probe.allow entries: a network in CIDR
// notation (10.0.0.0/8, 2001:db8::/32), a single address (192.0.2.1), or
// a host name (ntp1.example.com), which allows that name, whatever it
// resolves to. Names are not resolved here: DNS may come up after the
// exporter.
func ParseAllowList(entries []string) (*AllowList, error) {
	a := &AllowList{names: map[string]bool{}}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			return nil, errors.New("--probe.allow: empty entry; want a network (10.0.0.0/8), an address or a host name")
		}
		if p, err := netip.ParsePrefix(e); err == nil {
			if p.Addr().Zone() != "" {
				return nil, fmt.Errorf("--probe.allow=%q: a network with a zone is not supported", e)
			}
			if p.Addr().Is4In6() {
				p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
			}
			a.prefixes = append(a.prefixes, p.Masked())
			continue
		}
		if strings.Contains(e, "/") {
			return nil, fmt.Errorf("--probe.allow=%q: not a network in CIDR notation (e.g. 10.0.0.0/8, 2001:db8::/32); "+
				"the other forms are an address (192.0.2.1) and a host name (ntp1.example.com)", e)
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			if ip.Zone() != "" {
				return nil, fmt.Errorf("--probe.allow=%q: an address with a zone is not supported", e)
			}
			ip = ip.Unmap()
			a.prefixes = append(a.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		name, ok := hostName(e)
		if !ok {
			return nil, fmt.Errorf("--probe.allow=%q: want a network (10.0.0.0/8), an address (192.0.2.1) or a host name (ntp1.example.com)", e)
		}
		a.names[name] = true
	}
	if len(a.prefixes) == 0 && len(a.names) == 0 {
		return nil, errors.New("--probe.allow: no entry")
	}
	return a, nil
}

// String lists the entries, for logs.
func (a *AllowList) String() string {
	var parts []string
	for _, p := range a.prefixes {
		parts = append(parts, p.String())
	}
	for n := range a.names {
		parts = append(parts, n)
	}
	return strings.Join(parts, ",")
}

// allowsAddr reports whether ip lies in one of the networks.
func (a *AllowList) allowsAddr(ip netip.Addr) bool {
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// TargetError is why a target is refused, with the HTTP status to answer.
type TargetError struct {
	Status int // 400 for a malformed target, 403 for one not allowed
	Reason string
}

func (e *TargetError) Error() string { return e.Reason }

func badTarget(format string, args ...any) error {
	return &TargetError{Status: 400, Reason: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) error {
	return &TargetError{Status: 403, Reason: fmt.Sprintf(format, args...)}
}

// Check parses target (HOST[:PORT], the port defaulting to 323) and
// returns the addresses to contact, every one of them checked against the
// list; a *TargetError when the target is malformed (400) or not allowed
// (403). A name is resolved only when it could be allowed: when it is on
// the list by name, or when the list holds networks its addresses could
// lie in. Every address a name resolves to must be allowed (unless the
// name itself is), so that a name cannot smuggle in an address beside an
// allowed one.
func (a *AllowList) Check(ctx context.Context, r Resolver, target string) ([]netip.AddrPort, error) {
	quoted := quote(target)
	if target == "" {
		return nil, badTarget("target parameter is empty; want HOST[:PORT], e.g. ntp1.example.com or 192.0.2.1:323")
	}
	if len(target) > MaxTargetLen {
		return nil, badTarget("target is %d bytes long; a HOST[:PORT] has at most %d", len(target), MaxTargetLen)
	}
	if strings.ContainsAny(target, "/?#@\\") {
		return nil, badTarget("target %s is not HOST[:PORT]: no scheme, path, user or query (e.g. ntp1.example.com or [2001:db8::1]:323)", quoted)
	}
	host, port, err := chronyproto.SplitHostPort(target)
	if err != nil {
		return nil, badTarget("target %s: %v", quoted, err)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := usable(ip, quoted); err != nil {
			return nil, err
		}
		ip = ip.Unmap()
		if !a.allowsAddr(ip) {
			return nil, forbidden("target %s: %s is not in --probe.allow", quoted, ip)
		}
		return []netip.AddrPort{netip.AddrPortFrom(ip, port)}, nil
	}
	name, ok := hostName(host)
	if !ok {
		return nil, badTarget("target %s: %s is neither an IP address nor a host name", quoted, quote(host))
	}
	byName := a.names[name]
	if !byName && len(a.prefixes) == 0 {
		return nil, forbidden("target %s: the name %s is not in --probe.allow", quoted, name)
	}
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return nil, badTarget("target %s does not resolve: %v", quoted, err)
	}
	if len(ips) == 0 {
		return nil, badTarget("target %s resolves to no address", quoted)
	}
	var out []netip.AddrPort
	seen := map[netip.Addr]bool{}
	for _, ip := range ips {
		ip = ip.Unmap()
		if err := usable(ip, quoted); err != nil {
			return nil, forbidden("target %s resolves to %s, which cannot be probed", quoted, ip)
		}
		if !byName && !a.allowsAddr(ip) {
			return nil, forbidden("target %s resolves to %s, which is not in --probe.allow", quoted, ip)
		}
		if !seen[ip] {
			seen[ip] = true
			out = append(out, netip.AddrPortFrom(ip, port))
		}
	}
	return out, nil
}

// usable refuses addresses that do not name one host: the unspecified
// address (which Linux delivers to the machine itself), multicast and
// broadcast, and zoned link-local addresses (a zone names an interface
// of the exporter's host, which the list cannot say).
func usable(ip netip.Addr, quoted string) error {
	if ip.Zone() != "" {
		return badTarget("target %s: an address with a zone cannot be probed", quoted)
	}
	ip = ip.Unmap()
	switch {
	case ip.IsUnspecified(), ip.IsMulticast(), ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return badTarget("target %s: %s is not the address of one host", quoted, ip)
	}
	return nil
}

// hostName returns s as a DNS host name, lower case and without a final
// dot, if it is one: labels of letters, digits, '-' and '_' of at most 63
// characters, at most 253 in all, and a last label that is not a number
// (so that "127.1" or "0x7f000001", which inet_aton reads as addresses,
// are neither).
func hostName(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if s == "" || len(s) > 253 {
		return "", false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.TrimLeft(last, "0123456789") == "" ||
		strings.HasPrefix(last, "0x") && strings.TrimLeft(last[2:], "0123456789abcdef") == "" {
		return "", false
	}
	return s, true
}

// quote quotes a user's string for a message, cut to a readable length.
func quote(s string) string {
	const limit = 80
	if len(s) > limit {
		return fmt.Sprintf("%q…", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}
