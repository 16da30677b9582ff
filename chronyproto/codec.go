package chronyproto

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// Wire constants of the command protocol (§2, §3).
const (
	protocolVersion  = 6
	pktTypeRequest   = 1
	pktTypeReply     = 2
	requestHeaderLen = 20
	replyHeaderLen   = 28
	// maxRequestLen is the largest request chronyd 4.x accepts (§4.1); 3.x
	// cuts longer datagrams short, so nothing we send may exceed it.
	maxRequestLen = 860
)

// command is a request code (§7.1).
type command uint16

// The request codes this package sends.
const (
	cmdNSources      command = 14
	cmdSourceData    command = 15
	cmdTracking      command = 33
	cmdSourceStats   command = 34
	cmdRTCReport     command = 35
	cmdActivity      command = 44
	cmdSmoothing     command = 51
	cmdServerStats   command = 54
	cmdNTPData       command = 57
	cmdNTPSourceName command = 65
	cmdAuthData      command = 67
	cmdSelectData    command = 69
	// cmdClientAccesses is CLIENT_ACCESSES_BY_INDEX3 (4.0+).
	cmdClientAccesses command = 68
)

// safeRequestLen is the "Safe length" of §7.1: the longest request any
// chronyd from 3.0 to 4.8 requires for the command, so one request works on
// every version (a shorter one gets BADPKTLENGTH on newer daemons).
var safeRequestLen = map[command]int{
	cmdNSources:       32,
	cmdSourceData:     76,
	cmdTracking:       104,
	cmdSourceStats:    84,
	cmdRTCReport:      56,
	cmdActivity:       48,
	cmdSmoothing:      52,
	cmdServerStats:    196,
	cmdNTPData:        172,
	cmdNTPSourceName:  284,
	cmdAuthData:       52,
	cmdSelectData:     76,
	cmdClientAccesses: 520,
}

// The reply codes this package decodes (§7.2).
const (
	rpyNull           = 1
	rpyNSources       = 2
	rpySourceData     = 3
	rpyTracking       = 5
	rpySourceStats    = 6
	rpyRTC            = 7
	rpyActivity       = 12
	rpySmoothing      = 13
	rpyServerStats    = 14
	rpyNTPData        = 16
	rpyNTPSourceName  = 19
	rpyAuthData       = 20
	rpyServerStats2   = 22
	rpySelectData     = 23
	rpyServerStats3   = 24
	rpyServerStats4   = 25
	rpyNTPData2       = 26
	rpyClientAccesses = 21
)

// replyLen is the total length chronyd sends for each reply code (§7.2).
var replyLen = map[uint16]int{
	rpyNull:           28,
	rpyNSources:       32,
	rpySourceData:     76,
	rpyTracking:       104,
	rpySourceStats:    84,
	rpyRTC:            56,
	rpyActivity:       48,
	rpySmoothing:      52,
	rpyServerStats:    48,
	rpyNTPData:        152,
	rpyNTPSourceName:  284,
	rpyAuthData:       52,
	rpyServerStats2:   60,
	rpySelectData:     76,
	rpyServerStats3:   72,
	rpyServerStats4:   196,
	rpyNTPData2:       172,
	rpyClientAccesses: 520,
}

// newRequest returns a zeroed request packet for cmd, padded to the safe
// length so that every chronyd version accepts it and none refuses to answer
// for fear of amplification (§4.1).
func newRequest(cmd command) []byte {
	n := safeRequestLen[cmd]
	if n < replyHeaderLen {
		// chronyd drops anything shorter than a reply header (§4.2 step 2).
		n = replyHeaderLen
	}
	p := make([]byte, n)
	p[0] = protocolVersion
	p[1] = pktTypeRequest
	binary.BigEndian.PutUint16(p[4:], uint16(cmd))
	return p
}

// stampRequest writes the attempt number and the sequence of one
// transmission into a request (§3.1).
func stampRequest(p []byte, attempt int, seq uint32) {
	binary.BigEndian.PutUint16(p[6:], uint16(attempt))
	binary.BigEndian.PutUint32(p[8:], seq)
}

// replyHeader is the part of a reply header the matcher looks at (§3.2).
type replyHeader struct {
	command  command
	reply    uint16
	status   Status
	sequence uint32
}

// parseReplyHeader accepts a datagram as a reply under the same rules as
// chronyc (§9.1); anything else is noise the caller must ignore.
func parseReplyHeader(p []byte) (replyHeader, bool) {
	if len(p) < replyHeaderLen {
		return replyHeader{}, false
	}
	h := replyHeader{
		command:  command(binary.BigEndian.Uint16(p[4:])),
		reply:    binary.BigEndian.Uint16(p[6:]),
		status:   Status(binary.BigEndian.Uint16(p[8:])),
		sequence: binary.BigEndian.Uint32(p[16:]),
	}
	version := p[0]
	if version != protocolVersion && (version < 4 || h.status != StatusBadPacketVersion) {
		return replyHeader{}, false
	}
	if p[1] != pktTypeReply || p[2] != 0 || p[3] != 0 {
		return replyHeader{}, false
	}
	return h, true
}

// Field decoders take offsets from the start of the packet, the way the
// tables of docs/protocol.md give them.

func u8(p []byte, off int) uint8   { return p[off] }
func u16(p []byte, off int) uint16 { return binary.BigEndian.Uint16(p[off:]) }
func u32(p []byte, off int) uint32 { return binary.BigEndian.Uint32(p[off:]) }
func u64(p []byte, off int) uint64 { return binary.BigEndian.Uint64(p[off:]) }

// decodeFloat decodes chrony's 32-bit float: a 7-bit exponent and a 25-bit
// coefficient, both two's complement, value = c·2^(e−25) (§5.1).
func decodeFloat(x uint32) float64 {
	e := int32(x >> 25)
	if e >= 64 {
		e -= 128
	}
	c := int32(x & 0x01FFFFFF)
	if c >= 0x01000000 {
		c -= 0x02000000
	}
	return math.Ldexp(float64(c), int(e)-25)
}

func chronyFloat(p []byte, off int) float64 { return decodeFloat(u32(p, off)) }

// noHighSeconds marks a Timespec from a 32-bit time_t build (§5.2).
const noHighSeconds = 0x7FFFFFFF

// timespec decodes a Timespec (§5.2) as UTC. All zeros, chronyd's "never",
// decodes to the Unix epoch, as chronyc prints it.
func timespec(p []byte, off int) time.Time {
	high, low, nsec := u32(p, off), u32(p, off+4), u32(p, off+8)
	if high == noHighSeconds {
		high = 0
	}
	if nsec > 999999999 {
		nsec = 999999999
	}
	return time.Unix(int64(uint64(high)<<32|uint64(low)), int64(nsec)).UTC()
}

// AddressFamily is the family of an Address (§5.4).
type AddressFamily uint16

// The address families chronyd sends.
const (
	FamilyUnspec AddressFamily = 0 // no address: refclocks, unsynchronised tracking
	FamilyInet4  AddressFamily = 1
	FamilyInet6  AddressFamily = 2
	FamilyID     AddressFamily = 3 // an NTP source whose name is not resolved yet
)

// Address is an address as chronyd sends it: an IP address, the ID of a
// source whose name is not resolved yet, or nothing.
type Address struct {
	Family AddressFamily
	IP     netip.Addr // valid for FamilyInet4 and FamilyInet6
	ID     uint32     // valid for FamilyID
}

// AddressFrom returns the Address of an IP address.
func AddressFrom(ip netip.Addr) Address {
	switch {
	case ip.Is4() || ip.Is4In6():
		return Address{Family: FamilyInet4, IP: ip.Unmap()}
	case ip.Is6():
		return Address{Family: FamilyInet6, IP: ip}
	}
	return Address{}
}

// IsIP reports whether the address is an IPv4 or IPv6 address.
func (a Address) IsIP() bool { return a.Family == FamilyInet4 || a.Family == FamilyInet6 }

// String formats the address as chronyc -n does: the IP address,
// ID#0000000001 for an unresolved source, or [UNSPEC].
func (a Address) String() string {
	switch a.Family {
	case FamilyInet4, FamilyInet6:
		return a.IP.String()
	case FamilyID:
		return fmt.Sprintf("ID#%010d", a.ID)
	}
	return "[UNSPEC]"
}

// address decodes an IPAddr (§5.4). chronyd turns unknown families into
// UNSPEC, and so do we.
func address(p []byte, off int) Address {
	switch AddressFamily(u16(p, off+16)) {
	case FamilyInet4:
		return Address{Family: FamilyInet4, IP: netip.AddrFrom4([4]byte(p[off : off+4]))}
	case FamilyInet6:
		return Address{Family: FamilyInet6, IP: netip.AddrFrom16([16]byte(p[off : off+16]))}
	case FamilyID:
		return Address{Family: FamilyID, ID: u32(p, off)}
	}
	return Address{}
}

// putAddress encodes a into a request at off, unused bytes zero (§5.4).
func putAddress(p []byte, off int, a Address) {
	switch a.Family {
	case FamilyInet4:
		b := a.IP.As4()
		copy(p[off:], b[:])
	case FamilyInet6:
		b := a.IP.As16()
		copy(p[off:], b[:])
	case FamilyID:
		binary.BigEndian.PutUint32(p[off:], a.ID)
	}
	binary.BigEndian.PutUint16(p[off+16:], uint16(a.Family))
}

// RefIDText returns the text chronyc shows for a reference ID: its bytes,
// most significant first, with every byte that is not printable ASCII left
// out (§5.5). chronyd's local reference 0x7F7F0101 gives "".
func RefIDText(id uint32) string {
	b := make([]byte, 0, 4)
	for shift := 24; shift >= 0; shift -= 8 {
		if c := byte(id >> shift); c >= 0x20 && c < 0x7F {
			b = append(b, c)
		}
	}
	return string(b)
}

func putU32(p []byte, off int, v uint32) { binary.BigEndian.PutUint32(p[off:], v) }
