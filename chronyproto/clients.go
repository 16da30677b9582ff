package chronyproto

import "context"

// Sentinels of the client access report (§8.14).
const (
	// NoInterval is an interval chronyd has no value for (chronyc: -).
	NoInterval = 127
	// NeverHit is a last-hit age of a service the client never used.
	NeverHit = 0xFFFFFFFF
)

// ClientAccess is one client of chronyd's server, from its client log
// (§8.14, 4.0+). Intervals are log2 seconds of the average time between
// requests (NoInterval when unknown); ages are seconds (NeverHit when the
// client never used the service).
type ClientAccess struct {
	Address            Address
	NTPHits            uint32
	NKEHits            uint32
	CmdHits            uint32
	NTPDrops           uint32
	NKEDrops           uint32
	CmdDrops           uint32
	NTPInterval        int8
	NKEInterval        int8
	CmdInterval        int8
	NTPTimeoutInterval int8
	LastNTPHitAgo      uint32
	LastNKEHitAgo      uint32
	LastCmdHitAgo      uint32
}

// ClientAccessPage is one page of the client log.
type ClientAccessPage struct {
	NIndices  uint32 // size of chronyd's table
	NextIndex uint32 // where the next page starts
	Clients   []ClientAccess

	received int // records sent, empty slots included
}

// clientsPerPage is how many records a page holds at most.
const clientsPerPage = 8

// ClientAccessesCall prepares a CLIENT_ACCESSES_BY_INDEX3 request for the
// page starting at first (req 68 → RPY 21). Unix socket only by default;
// status INACTIVE (ErrNotEnabled) when client logging is off.
func ClientAccessesCall(first uint32) *Call[ClientAccessPage] {
	c := newCall(ReportClients, cmdClientAccesses, []uint16{rpyClientAccesses}, decodeClientAccesses)
	putU32(c.x.packet, 20, first)
	putU32(c.x.packet, 24, clientsPerPage)
	return c
}

func decodeClientAccesses(_ uint16, p []byte) (ClientAccessPage, error) {
	n := min(int(u32(p, 36)), clientsPerPage)
	page := ClientAccessPage{NIndices: u32(p, 28), NextIndex: u32(p, 32), received: n}
	for i := 0; i < n; i++ {
		off := 40 + 60*i
		c := ClientAccess{
			Address:            address(p, off),
			NTPHits:            u32(p, off+20),
			NKEHits:            u32(p, off+24),
			CmdHits:            u32(p, off+28),
			NTPDrops:           u32(p, off+32),
			NKEDrops:           u32(p, off+36),
			CmdDrops:           u32(p, off+40),
			NTPInterval:        int8(u8(p, off+44)),
			NKEInterval:        int8(u8(p, off+45)),
			CmdInterval:        int8(u8(p, off+46)),
			NTPTimeoutInterval: int8(u8(p, off+47)),
			LastNTPHitAgo:      u32(p, off+48),
			LastNKEHitAgo:      u32(p, off+52),
			LastCmdHitAgo:      u32(p, off+56),
		}
		// chronyc skips the empty slots of the table.
		if c.Address.Family != FamilyUnspec {
			page.Clients = append(page.Clients, c)
		}
	}
	return page, nil
}

// maxClientPages bounds the paging, so a broken reply cannot keep it going.
const maxClientPages = 1024

// lastPage reports whether chronyc would stop after this page; a page that
// does not move forward ends it too.
func (p *ClientAccessPage) lastPage(first uint32) bool {
	return p.NextIndex >= p.NIndices || p.received < clientsPerPage || p.NextIndex <= first
}

// ClientAccesses pages through chronyd's whole client log.
func (c *Client) ClientAccesses(ctx context.Context) ([]ClientAccess, error) {
	var all []ClientAccess
	first := uint32(0)
	for range maxClientPages {
		call := ClientAccessesCall(first)
		page, err := do(ctx, c, call)
		if err != nil {
			return all, err
		}
		all = append(all, page.Clients...)
		if page.lastPage(first) {
			break
		}
		first = page.NextIndex
	}
	return all, nil
}
