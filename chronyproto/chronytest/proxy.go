package chronytest

import (
	"bytes"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a UDP proxy on 127.0.0.1 that delays every datagram and drops
// some, in both directions, to simulate a slow or lossy path to chronyd.
// Each client address gets its own upstream socket, so several clients can
// use it at once. Delays run on independent timers: datagrams in flight do
// not wait for each other.
type Proxy struct {
	conn     *net.UDPConn
	upstream *net.UDPAddr

	delay atomic.Int64  // time.Duration
	loss  atomic.Uint64 // math.Float64bits

	mu     sync.Mutex
	peers  map[netip.AddrPort]*net.UDPConn
	timers map[uint64]*time.Timer
	nextID uint64
	closed bool

	wg        sync.WaitGroup
	closeOnce sync.Once

	toUp, toClient, dropUp, dropClient atomic.Uint64
}

// ProxyStats counts the datagrams a Proxy handled.
type ProxyStats struct {
	Forwarded   uint64 // client → upstream, sent
	Returned    uint64 // upstream → client, sent
	DroppedUp   uint64 // client → upstream, dropped by the loss rate
	DroppedDown uint64 // upstream → client, dropped by the loss rate
}

// NewDelayProxy starts a proxy to upstream. Each datagram is forwarded
// after delay and each reply sent back after delay (so a round trip gets
// 2·delay longer), and is dropped with probability loss (0..1) in each
// direction. The proxy stops in tb.Cleanup.
func NewDelayProxy(tb testing.TB, upstream netip.AddrPort, delay time.Duration, loss float64) *Proxy {
	tb.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatalf("chronytest: proxy listen: %v", err)
	}
	p := &Proxy{
		conn:     c,
		upstream: net.UDPAddrFromAddrPort(upstream),
		peers:    make(map[netip.AddrPort]*net.UDPConn),
		timers:   make(map[uint64]*time.Timer),
	}
	p.SetDelay(delay)
	p.SetLoss(loss)
	p.wg.Add(1)
	go p.serve()
	tb.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's address, to be used instead of upstream's.
func (p *Proxy) Addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// URL returns the proxy's address as "udp://127.0.0.1:PORT".
func (p *Proxy) URL() string { return "udp://" + p.Addr().String() }

// SetDelay changes the one-way delay for datagrams received from now on.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(max(d, 0))) }

// SetLoss changes the loss probability (clamped to 0..1).
func (p *Proxy) SetLoss(loss float64) {
	if math.IsNaN(loss) {
		loss = 0
	}
	p.loss.Store(math.Float64bits(min(max(loss, 0), 1)))
}

// Stats returns the counters.
func (p *Proxy) Stats() ProxyStats {
	return ProxyStats{
		Forwarded:   p.toUp.Load(),
		Returned:    p.toClient.Load(),
		DroppedUp:   p.dropUp.Load(),
		DroppedDown: p.dropClient.Load(),
	}
}

// Forwarded returns the number of datagrams sent on to upstream.
func (p *Proxy) Forwarded() uint64 { return p.toUp.Load() }

// Returned returns the number of datagrams sent back to clients.
func (p *Proxy) Returned() uint64 { return p.toClient.Load() }

// Close stops the proxy: pending delayed datagrams are dropped, sockets
// closed and goroutines waited for. Called by tb.Cleanup; idempotent.
func (p *Proxy) Close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		for id, t := range p.timers {
			if t.Stop() {
				delete(p.timers, id)
				p.wg.Done()
			}
		}
		peers := make([]*net.UDPConn, 0, len(p.peers))
		for _, c := range p.peers {
			peers = append(peers, c)
		}
		p.mu.Unlock()
		p.conn.Close()
		for _, c := range peers {
			c.Close()
		}
		p.wg.Wait()
	})
}

func (p *Proxy) drop() bool {
	l := math.Float64frombits(p.loss.Load())
	return l > 0 && rand.Float64() < l
}

// proxyAfter runs fn after the current delay on its own timer, unless the
// proxy is closed first.
func (p *Proxy) proxyAfter(fn func()) {
	d := time.Duration(p.delay.Load())
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	id := p.nextID
	p.nextID++
	p.wg.Add(1)
	p.timers[id] = time.AfterFunc(d, func() {
		p.mu.Lock()
		_, ok := p.timers[id]
		delete(p.timers, id)
		closed := p.closed
		p.mu.Unlock()
		if !ok {
			return // stopped by Close, which did wg.Done
		}
		defer p.wg.Done()
		if !closed {
			fn()
		}
	})
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, client, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			continue
		}
		up, closed := p.proxyPeer(client)
		if closed {
			return
		}
		if up == nil {
			continue // could not reach upstream: behaves like a drop
		}
		if p.drop() {
			p.dropUp.Add(1)
			continue
		}
		b := bytes.Clone(buf[:n])
		p.proxyAfter(func() {
			p.toUp.Add(1) // before the write, so it is counted when the datagram arrives
			if _, err := up.Write(b); err != nil {
				p.toUp.Add(^uint64(0))
			}
		})
	}
}

// proxyPeer returns the upstream socket for a client, creating it and its
// reader on first use; nil if dialing failed. closed reports a closed proxy.
func (p *Proxy) proxyPeer(client netip.AddrPort) (up *net.UDPConn, closed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, true
	}
	if c, ok := p.peers[client]; ok {
		return c, false
	}
	c, err := net.DialUDP("udp", nil, p.upstream)
	if err != nil {
		return nil, false
	}
	p.peers[client] = c
	p.wg.Add(1)
	go p.proxyReturn(c, client)
	return c, false
}

// proxyReturn sends upstream's replies back to one client.
func (p *Proxy) proxyReturn(up *net.UDPConn, client netip.AddrPort) {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := up.Read(buf)
		if err != nil {
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			// e.g. ECONNREFUSED from an ICMP error for an earlier datagram
			time.Sleep(time.Millisecond)
			continue
		}
		if p.drop() {
			p.dropClient.Add(1)
			continue
		}
		b := bytes.Clone(buf[:n])
		p.proxyAfter(func() {
			p.toClient.Add(1)
			if _, err := p.conn.WriteToUDPAddrPort(b, client); err != nil {
				p.toClient.Add(^uint64(0))
			}
		})
	}
}
