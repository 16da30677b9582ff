package chronytest

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
)

// A UDPCounter is a bound UDP port that answers nothing and counts the
// datagrams it receives: a chronyd that is silent, or a target that must
// get nothing at all.
type UDPCounter struct {
	conn net.PacketConn
	n    atomic.Int64
}

// NewUDPCounter listens on addr ("127.0.0.1:0", "[::1]:0") with network
// ("udp4", "udp6") until the end of the test.
func NewUDPCounter(tb testing.TB, network, addr string) *UDPCounter {
	tb.Helper()
	c, err := net.ListenPacket(network, addr)
	if err != nil {
		tb.Fatal(err)
	}
	u := &UDPCounter{conn: c}
	tb.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
			u.n.Add(1)
		}
	}()
	return u
}

// AddrPort returns the address the counter listens on.
func (u *UDPCounter) AddrPort() netip.AddrPort {
	return u.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Received returns how many datagrams arrived so far.
func (u *UDPCounter) Received() int64 { return u.n.Load() }
