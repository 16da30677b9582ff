package chronyproto

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultPort is chronyd's UDP command port (§1.1).
const DefaultPort = 323

// DefaultSocketPaths are the Unix sockets the automatic address tries, in
// order: the path distributions build in, then upstream's default (§1.2).
var DefaultSocketPaths = []string{"/run/chrony/chronyd.sock", "/var/run/chrony/chronyd.sock"}

// DefaultUDPAddrs are tried after the sockets, as chronyc does (§1.2).
var DefaultUDPAddrs = []netip.AddrPort{
	netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), DefaultPort),
	netip.AddrPortFrom(netip.IPv6Loopback(), DefaultPort),
}

// DefaultUDPAddress is the first UDP address the automatic address tries,
// as udp://ip:port: where a local chronyd answers the monitoring reports
// without the Unix socket.
func DefaultUDPAddress() string {
	if len(DefaultUDPAddrs) == 0 {
		return "udp://" + netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), DefaultPort).String()
	}
	return "udp://" + DefaultUDPAddrs[0].String()
}

// linkedDefaults, when set at link time, replaces DefaultSocketPaths and
// DefaultUDPAddrs: a space-separated list of unix:///path and
// udp://ip:port, as in
//
//	-ldflags "-X github.com/second-hand/chrony_exporter/chronyproto.linkedDefaults=unix:///run/chronyd.sock udp://127.0.0.1:323"
//
// chronyc takes these defaults from its build too; a distribution whose
// chronyd uses other paths sets them this way, and the tests use it to run
// the real binary's automatic address against a chronyd lab.
var linkedDefaults string

func init() {
	if linkedDefaults == "" {
		return
	}
	paths, addrs, err := parseDefaults(linkedDefaults)
	if err != nil {
		panic("chronyproto: linkedDefaults set at link time: " + err.Error())
	}
	DefaultSocketPaths, DefaultUDPAddrs = paths, addrs
}

// parseDefaults reads linkedDefaults.
func parseDefaults(list string) (paths []string, addrs []netip.AddrPort, err error) {
	for _, a := range strings.Fields(list) {
		if p, ok := strings.CutPrefix(a, "unix://"); ok && filepath.IsAbs(p) {
			paths = append(paths, p)
			continue
		}
		ap, perr := netip.ParseAddrPort(strings.TrimPrefix(a, "udp://"))
		if !strings.HasPrefix(a, "udp://") || perr != nil {
			return nil, nil, fmt.Errorf("%q is neither unix:///path nor udp://ip:port", a)
		}
		addrs = append(addrs, ap)
	}
	return paths, addrs, nil
}

// Dial connects to chronyd with a zero Dialer; see Dialer.Dial.
func Dial(ctx context.Context, address string) (*Client, error) {
	var d Dialer
	return d.Dial(ctx, address)
}

// Dial connects to chronyd at address, one of
//
//	unix:///path or /path    the Unix datagram socket (every report)
//	udp://host:port          UDP (the monitoring reports chronyd opens, §6)
//	host:port, [v6]:port     UDP
//	host                     UDP on port 323
//	""                       automatic, as chronyc: the sockets in
//	                         DefaultSocketPaths, then UDP 127.0.0.1:323,
//	                         then [::1]:323
func (d *Dialer) Dial(ctx context.Context, address string) (*Client, error) {
	switch {
	case address == "":
		return d.dialAuto(ctx)
	case strings.HasPrefix(address, "unix://"):
		return d.DialUnix(ctx, strings.TrimPrefix(address, "unix://"))
	case strings.HasPrefix(address, "/"):
		return d.DialUnix(ctx, address)
	}
	host, port, err := SplitHostPort(strings.TrimPrefix(address, "udp://"))
	if err != nil {
		return nil, err
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return d.DialUDP(ctx, netip.AddrPortFrom(ip.Unmap(), port))
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolving chronyd address %q: %w", host, err)
	}
	addrs := make([]netip.AddrPort, len(ips))
	for i, ip := range ips {
		addrs[i] = netip.AddrPortFrom(ip.Unmap(), port)
	}
	c, err := d.DialUDPFirst(ctx, addrs)
	if err != nil {
		return nil, fmt.Errorf("chronyd at %q: %w", host, err)
	}
	return c, nil
}

// DialUDPFirst connects over UDP to the first of addrs where chronyd is,
// as chronyc tries a name's addresses in turn (localhost: ::1, then
// 127.0.0.1). UDP has no connection: only an answer proves chronyd is
// there, so every address but the last is asked for N_SOURCES first, and
// the next one is tried only when that fails at once (ICMP port
// unreachable) or with an error other than a timeout, which spends the
// context's time. The last address is returned unasked, as a single one
// is: its first request tells.
func (d *Dialer) DialUDPFirst(ctx context.Context, addrs []netip.AddrPort) (*Client, error) {
	if len(addrs) == 0 {
		return nil, errors.New("no chronyd address to dial")
	}
	c, errs := d.askInTurn(ctx, addrs[:len(addrs)-1])
	if c != nil {
		return c, nil
	}
	if ctx.Err() != nil || (len(errs) > 0 && errors.Is(errs[len(errs)-1], ErrTimeout)) {
		return nil, errors.Join(errs...)
	}
	c, err := d.DialUDP(ctx, addrs[len(addrs)-1])
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	return c, nil
}

// askInTurn connects to the first of addrs where chronyd answers. It
// stops at a timeout or when ctx ends, which spend the time the rest
// would need, and returns the errors of the addresses it asked.
func (d *Dialer) askInTurn(ctx context.Context, addrs []netip.AddrPort) (*Client, []error) {
	var errs []error
	for _, ap := range addrs {
		c, err := d.dialAnswering(ctx, ap)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if errors.Is(err, ErrTimeout) || ctx.Err() != nil {
			break
		}
	}
	return nil, errs
}

// dialAnswering connects over UDP and checks that chronyd answers there.
// A status reply (even an error) is an answer.
func (d *Dialer) dialAnswering(ctx context.Context, ap netip.AddrPort) (*Client, error) {
	c, err := d.DialUDP(ctx, ap)
	if err != nil {
		return nil, err
	}
	if _, err := c.NSources(ctx); err != nil && !errors.As(err, new(*StatusError)) {
		c.Close()
		return nil, err
	}
	return c, nil
}

// SplitHostPort splits a UDP address of chronyd into host and port, the
// port defaulting to 323. It accepts host, host:port, a bare IPv6 address,
// [v6] and [v6]:port.
func SplitHostPort(address string) (host string, port uint16, err error) {
	if address == "" {
		return "", 0, errors.New("empty chronyd address")
	}
	if strings.Contains(address, "/") {
		return "", 0, fmt.Errorf("invalid chronyd address %q: use unix:///path for a socket or host[:port] for UDP", address)
	}
	if ip, perr := netip.ParseAddr(strings.Trim(address, "[]")); perr == nil && strings.Count(address, ":") >= 2 && !strings.Contains(address, "]:") {
		return ip.String(), DefaultPort, nil
	}
	h, p, serr := net.SplitHostPort(address)
	if serr != nil {
		// No port given.
		return address, DefaultPort, nil
	}
	n, perr := strconv.ParseUint(p, 10, 16)
	if perr != nil || n == 0 {
		return "", 0, fmt.Errorf("invalid port %q in chronyd address %q: want 1-65535", p, address)
	}
	if h == "" {
		return "", 0, fmt.Errorf("invalid chronyd address %q: no host", address)
	}
	return h, uint16(n), nil
}

// dialAuto tries the default addresses in chronyc's order. A socket that
// exists but refuses us (permission) makes it go on to UDP, as chronyc
// does, and the client says so (Client.Fallback); if nothing answers, the
// most actionable error is returned.
func (d *Dialer) dialAuto(ctx context.Context) (*Client, error) {
	var errs []error
	var refused string
	for _, path := range DefaultSocketPaths {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		c, err := d.DialUnix(ctx, path)
		if err == nil {
			return c, nil
		}
		if refused == "" {
			refused = path
		}
		errs = append(errs, err)
	}
	c, udpErrs := d.askInTurn(ctx, DefaultUDPAddrs)
	if c != nil {
		if refused != "" {
			c.fallbackFrom, c.fallbackErr = refused, errors.Join(errs...)
		}
		return c, nil
	}
	errs = append(errs, udpErrs...)
	for _, err := range errs {
		if errors.Is(err, ErrPermission) {
			return nil, err
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("%w: no chronyd socket at %s", ErrNotRunning, strings.Join(DefaultSocketPaths, " or "))
	}
	return nil, fmt.Errorf("no chronyd found at the default addresses (%s, 127.0.0.1:323, [::1]:323): %w",
		strings.Join(DefaultSocketPaths, ", "), errors.Join(errs...))
}
