package chronyproto

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// udpReadBuffer holds the replies of a full window with room to spare; the
// kernel caps it at net.core.rmem_max.
const udpReadBuffer = 1 << 20

// DialUDP connects to chronyd's command port at addr. The address is used
// as given: nothing is resolved, so a caller that checked it knows it is the
// one contacted. chronyd answers from the address it was asked on, so a
// connected socket works (§1.1).
func (d *Dialer) DialUDP(ctx context.Context, addr netip.AddrPort) (*Client, error) {
	if !addr.IsValid() || addr.Port() == 0 {
		return nil, fmt.Errorf("invalid chronyd UDP address %s", addr)
	}
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "udp", addr.String())
	if err != nil {
		return nil, fmt.Errorf("unable to connect to chronyd at udp://%s: %w", addr, err)
	}
	// Best effort: a smaller buffer still works, with a smaller window.
	conn.(*net.UDPConn).SetReadBuffer(udpReadBuffer)
	return d.newClient(conn, "udp", addr.String(), nil), nil
}
