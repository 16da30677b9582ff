package chronytest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Request codes the fake knows by name (docs/protocol.md §7.1).
const (
	fakeCmdNull          = 0
	fakeCmdNSources      = 14
	fakeCmdSourceData    = 15
	fakeCmdTracking      = 33
	fakeCmdSourceStats   = 34
	fakeCmdRTCReport     = 35
	fakeCmdManualList    = 41
	fakeCmdActivity      = 44
	fakeCmdSmoothing     = 51
	fakeCmdServerStats   = 54
	fakeCmdNTPData       = 57
	fakeCmdNTPSourceName = 65
	fakeCmdAuthData      = 67
	fakeCmdClientAccess3 = 68
	fakeCmdSelectData    = 69
)

// Status codes the fake sends itself (§3.3).
const (
	fakeSttUnauth        = 2
	fakeSttInvalid       = 3
	fakeSttNoSuchSource  = 4
	fakeSttNoRTC         = 13
	fakeSttBadPktVersion = 18
	fakeSttBadPktLength  = 19
)

// fakeMaxRequest is chronyd 4.x's request size limit (§4.1).
const fakeMaxRequest = 860

// fakeCmdLen is 20 + the request body size per command (§7.1); commands not
// listed have no body.
var fakeCmdLen = map[uint16]int{
	fakeCmdSourceData: 24, fakeCmdSourceStats: 24, fakeCmdSelectData: 24,
	fakeCmdNTPData: 40, fakeCmdNTPSourceName: 40, fakeCmdAuthData: 40,
	fakeCmdClientAccess3: 36,
}

// fakeReplyLen is the length of the reply each command is designed to
// produce in chronyd 4.8 (§7.1 "Total", §7.2). It is used for the padding
// rule when no successful reply packet for the command is stored; otherwise
// the stored packet's length is used, which models older versions (e.g. a
// 72-byte SERVER_STATS reply means the 4.2–4.3 rule).
var fakeReplyLen = map[uint16]int{
	fakeCmdNull: 28, fakeCmdNSources: 32, fakeCmdSourceData: 76, fakeCmdTracking: 104,
	fakeCmdSourceStats: 84, fakeCmdRTCReport: 56, fakeCmdManualList: 416,
	fakeCmdActivity: 48, fakeCmdSmoothing: 52, fakeCmdServerStats: 196,
	fakeCmdNTPData: 172, fakeCmdNTPSourceName: 284, fakeCmdAuthData: 52,
	fakeCmdClientAccess3: 520, fakeCmdSelectData: 76,
}

// fakeCaptureNames maps capture file names (captures README) to commands.
var fakeCaptureNames = map[string]uint16{
	"null": fakeCmdNull, "n_sources": fakeCmdNSources, "source_data": fakeCmdSourceData,
	"tracking": fakeCmdTracking, "sourcestats": fakeCmdSourceStats,
	"rtcreport": fakeCmdRTCReport, "manual_list": fakeCmdManualList,
	"activity": fakeCmdActivity, "smoothing": fakeCmdSmoothing,
	"server_stats": fakeCmdServerStats, "ntp_data": fakeCmdNTPData,
	"ntp_source_name": fakeCmdNTPSourceName, "auth_data": fakeCmdAuthData,
	"client_accesses": fakeCmdClientAccess3, "select_data": fakeCmdSelectData,
}

// fakeKeyKind tells how a request selects its reply: 0 no key, 1 by the u32
// at offset 20 (index), 2 by the IPAddr at offset 20..39.
func fakeKeyKind(cmd uint16) int {
	switch cmd {
	case fakeCmdSourceData, fakeCmdSourceStats, fakeCmdSelectData, fakeCmdClientAccess3:
		return 1
	case fakeCmdNTPData, fakeCmdAuthData, fakeCmdNTPSourceName:
		return 2
	}
	return 0
}

// Key selects one reply among those of a command: NoKey for commands
// without a key, IndexKey for SOURCE_DATA, SOURCESTATS, SELECT_DATA (and
// CLIENT_ACCESSES_BY_INDEX3 by first_index), and an address key (AddrKey,
// IDKey, IPAddrKey) for NTP_DATA, AUTH_DATA and NTP_SOURCE_NAME.
// Keys are comparable.
type Key struct{ s string }

// NoKey is the key of commands that have a single reply (TRACKING, …).
var NoKey Key

// IndexKey is the key of an indexed request (u32 index at offset 20).
func IndexKey(i uint32) Key {
	var b [5]byte
	b[0] = 'i'
	binary.BigEndian.PutUint32(b[1:], i)
	return Key{string(b[:])}
}

// AddrKey is the key of an address request for an IPv4 or IPv6 address
// (family INET4 or INET6; an IPv4-mapped IPv6 address counts as IPv6).
// The invalid netip.Addr gives the UNSPEC key.
func AddrKey(a netip.Addr) Key {
	var b [20]byte
	switch {
	case a.Is4():
		a4 := a.As4()
		copy(b[:], a4[:])
		b[17] = 1
	case a.Is6():
		a16 := a.As16()
		copy(b[:], a16[:])
		b[17] = 2
	}
	return IPAddrKey(b[:])
}

// IDKey is the key of an address request for an unresolved source (family
// 3, ID).
func IDKey(id uint32) Key {
	var b [20]byte
	binary.BigEndian.PutUint32(b[:], id)
	b[17] = 3
	return IPAddrKey(b[:])
}

// IPAddrKey is the key for a 20-byte wire IPAddr (§5.4). Like chronyd it
// only looks at the bytes the family uses, so unused bytes and the pad do
// not matter, and an unknown family becomes UNSPEC.
func IPAddrKey(ipaddr []byte) Key {
	var b [21]byte
	b[0] = 'a'
	if len(ipaddr) < 18 {
		return Key{string(b[:])}
	}
	fam := binary.BigEndian.Uint16(ipaddr[16:])
	switch fam {
	case 1, 3:
		copy(b[1:5], ipaddr[:4])
	case 2:
		copy(b[1:17], ipaddr[:16])
	default:
		fam = 0
	}
	binary.BigEndian.PutUint16(b[17:], fam)
	return Key{string(b[:])}
}

// String describes the key for messages ("-", "#3", "192.0.2.1", …).
func (k Key) String() string {
	switch {
	case k.s == "":
		return "-"
	case k.s[0] == 'i':
		return "#" + strconv.FormatUint(uint64(binary.BigEndian.Uint32([]byte(k.s[1:]))), 10)
	case k.s[0] == 'a':
		return fakeIPString([]byte(k.s[1:]))
	}
	return fmt.Sprintf("%q", k.s)
}

// fakeIPString formats a wire IPAddr like chronyc -n.
func fakeIPString(p []byte) string {
	switch binary.BigEndian.Uint16(p[16:]) {
	case 1:
		return netip.AddrFrom4([4]byte(p[:4])).String()
	case 2:
		return netip.AddrFrom16([16]byte(p[:16])).String()
	case 3:
		return fmt.Sprintf("ID#%010d", binary.BigEndian.Uint32(p))
	}
	return "[UNSPEC]"
}

// fakeRequestKey returns the key a request selects.
func fakeRequestKey(cmd uint16, req []byte) Key {
	switch fakeKeyKind(cmd) {
	case 1:
		if len(req) >= 24 {
			return IndexKey(binary.BigEndian.Uint32(req[20:]))
		}
	case 2:
		if len(req) >= 40 {
			return IPAddrKey(req[20:40])
		}
	}
	return NoKey
}

type fakeEntry struct {
	cmd uint16
	key Key
}

// Replies is a set of raw reply packets keyed by request command and Key.
// The packets are served with the request's command and sequence patched
// in. It is safe for concurrent use; a Fake serving it sees changes at once.
type Replies struct {
	mu      sync.RWMutex
	packets map[fakeEntry][]byte
	reqLen  map[uint16]int // explicit required request lengths
}

// NewReplies returns an empty set.
func NewReplies() *Replies {
	return &Replies{packets: make(map[fakeEntry][]byte), reqLen: make(map[uint16]int)}
}

// Set stores a copy of packet as the reply to command with key. The packet
// is sent as is apart from the command (offset 4) and the sequence (offset
// 16), so it may be anything, including an error reply or a malformed one.
func (r *Replies) Set(command uint16, key Key, packet []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.packets[fakeEntry{command, key}] = bytes.Clone(packet)
}

// Put stores packet under the command found in its own header (offset 4).
func (r *Replies) Put(key Key, packet []byte) error {
	if len(packet) < 6 {
		return fmt.Errorf("chronytest: packet of %d bytes has no command", len(packet))
	}
	r.Set(binary.BigEndian.Uint16(packet[4:]), key, packet)
	return nil
}

// PutFile reads a reply packet from a file, raw (.bin) or annotated hex
// (.hex, see ReadHex), and stores it under the command in its header.
func (r *Replies) PutFile(key Key, path string) error {
	var b []byte
	var err error
	if strings.HasSuffix(path, ".hex") {
		b, err = ReadHex(path)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return err
	}
	return r.Put(key, b)
}

// Get returns a copy of the stored reply.
func (r *Replies) Get(command uint16, key Key) ([]byte, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.packets[fakeEntry{command, key}]
	return bytes.Clone(p), ok
}

// Delete removes one reply.
func (r *Replies) Delete(command uint16, key Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.packets, fakeEntry{command, key})
}

// DeleteCommand removes every reply of a command, so the fake answers it
// with INVALID (3) like a chronyd that does not know the command.
func (r *Replies) DeleteCommand(command uint16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for e := range r.packets {
		if e.cmd == command {
			delete(r.packets, e)
		}
	}
}

// Has reports whether any reply of command is stored (the fake treats
// other commands as unknown).
func (r *Replies) Has(command uint16) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.hasLocked(command)
}

func (r *Replies) hasLocked(command uint16) bool {
	for e := range r.packets {
		if e.cmd == command {
			return true
		}
	}
	return false
}

// Keys returns the keys stored for command, sorted by their bytes.
func (r *Replies) Keys(command uint16) []Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var ks []Key
	for e := range r.packets {
		if e.cmd == command {
			ks = append(ks, e.key)
		}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].s < ks[j].s })
	return ks
}

// Len returns the number of stored replies.
func (r *Replies) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.packets)
}

// Clone returns an independent copy.
func (r *Replies) Clone() *Replies {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c := NewReplies()
	for e, p := range r.packets {
		c.packets[e] = bytes.Clone(p)
	}
	for k, v := range r.reqLen {
		c.reqLen[k] = v
	}
	return c
}

// SetRequiredLength overrides the minimum request length for command
// (normally max(20 + body, designed reply length), §4.1); shorter requests
// get BADPKTLENGTH (19). n <= 0 removes the override.
func (r *Replies) SetRequiredLength(command uint16, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n <= 0 {
		delete(r.reqLen, command)
	} else {
		r.reqLen[command] = n
	}
}

// RequiredLength returns the minimum request length the fake accepts for
// command: the override if set, else max(command length, reply length),
// where the reply length is that of the longest stored successful data
// reply of the command, or the 4.8 length when none is stored.
func (r *Replies) RequiredLength(command uint16) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.requiredLocked(command)
}

func (r *Replies) requiredLocked(command uint16) int {
	if n, ok := r.reqLen[command]; ok {
		return n
	}
	cmdLen, ok := fakeCmdLen[command]
	if !ok {
		cmdLen = 20
	}
	rl := 0
	for e, p := range r.packets {
		if e.cmd == command && len(p) >= 28 && binary.BigEndian.Uint16(p[8:]) == 0 &&
			binary.BigEndian.Uint16(p[6:]) != 1 {
			rl = max(rl, len(p))
		}
	}
	if rl == 0 {
		rl = fakeReplyLen[command]
	}
	return max(cmdLen, rl, 28)
}

// LoadCaptures reads a captures folder (naming as in the captures README:
// tracking.bin, source_data-3.bin, ntp_data-3.bin, …). Per-source files
// are keyed by index, except ntp_data, auth_data and ntp_source_name, which
// are keyed by the address in source_data-<i>.bin at offset 28..47. Files
// that are not .bin are ignored; an unknown request name is an error.
func LoadCaptures(dir string) (*Replies, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.bin"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("chronytest: no .bin files in %s", dir)
	}
	type item struct {
		cmd   uint16
		index int // -1 if none
		data  []byte
		name  string
	}
	var items []item
	addrs := map[int][]byte{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".bin")
		base, idx := name, -1
		if i := strings.LastIndexByte(name, '-'); i >= 0 {
			n, err := strconv.Atoi(name[i+1:])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("chronytest: %s: bad index in file name", f)
			}
			base, idx = name[:i], n
		}
		cmd, ok := fakeCaptureNames[base]
		if !ok {
			return nil, fmt.Errorf("chronytest: %s: unknown request name %q", f, base)
		}
		if (fakeKeyKind(cmd) != 0) != (idx >= 0) {
			return nil, fmt.Errorf("chronytest: %s: index in file name does not fit request %q", f, base)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if len(data) < 28 || binary.BigEndian.Uint16(data[4:]) != cmd {
			return nil, fmt.Errorf("chronytest: %s: not a reply to command %d", f, cmd)
		}
		if cmd == fakeCmdSourceData {
			if len(data) < 48 {
				return nil, fmt.Errorf("chronytest: %s: too short for SOURCE_DATA", f)
			}
			addrs[idx] = data[28:48]
		}
		items = append(items, item{cmd, idx, data, f})
	}
	r := NewReplies()
	for _, it := range items {
		key := NoKey
		switch fakeKeyKind(it.cmd) {
		case 1:
			key = IndexKey(uint32(it.index))
		case 2:
			a, ok := addrs[it.index]
			if !ok {
				return nil, fmt.Errorf("chronytest: %s: no source_data-%d.bin to take the address from", it.name, it.index)
			}
			key = IPAddrKey(a)
		}
		r.Set(it.cmd, key, it.data)
	}
	return r, nil
}

// WithSources returns a copy of r with n synthetic NTP sources at 127.0.1.1,
// 127.0.1.2, … (the address is 127.0.1.1 + i as a 32-bit number). Source i
// is cloned from the stored NTP source (mode 0 or 1) number i mod m, where
// m is the number of such sources, with SOURCE_DATA, SOURCESTATS,
// SELECT_DATA (index keys; address and ref_id patched), NTP_DATA, AUTH_DATA
// and NTP_SOURCE_NAME (address keys; remote address and name patched), and
// N_SOURCES set to n. Replies of other commands are kept.
func (r *Replies) WithSources(n int) (*Replies, error) {
	src := r.Clone()
	type tmpl struct {
		idx  uint32
		addr Key
	}
	var tmpls []tmpl
	for _, k := range src.Keys(fakeCmdSourceData) {
		if len(k.s) != 5 || k.s[0] != 'i' {
			continue
		}
		p, _ := src.Get(fakeCmdSourceData, k)
		if len(p) < 76 || binary.BigEndian.Uint16(p[8:]) != 0 || binary.BigEndian.Uint16(p[6:]) != 3 {
			continue
		}
		if mode := binary.BigEndian.Uint16(p[54:]); mode != 0 && mode != 1 {
			continue
		}
		tmpls = append(tmpls, tmpl{binary.BigEndian.Uint32([]byte(k.s[1:])), IPAddrKey(p[28:48])})
	}
	if len(tmpls) == 0 {
		return nil, errors.New("chronytest: WithSources: no NTP source (SOURCE_DATA mode 0 or 1) to clone")
	}
	sort.Slice(tmpls, func(i, j int) bool { return tmpls[i].idx < tmpls[j].idx })
	out := src.Clone()
	for _, c := range []uint16{fakeCmdSourceData, fakeCmdSourceStats, fakeCmdSelectData,
		fakeCmdNTPData, fakeCmdAuthData, fakeCmdNTPSourceName} {
		out.DeleteCommand(c)
	}
	for i := range n {
		t := tmpls[i%len(tmpls)]
		u := 0x7F000101 + uint32(i)
		var ip [20]byte
		binary.BigEndian.PutUint32(ip[:], u)
		ip[17] = 1
		ik := IndexKey(uint32(i))
		ak := IPAddrKey(ip[:])
		oldIK := IndexKey(t.idx)
		if p, ok := src.Get(fakeCmdSourceData, oldIK); ok {
			copy(p[28:48], ip[:])
			out.Set(fakeCmdSourceData, ik, p)
		}
		for _, c := range []uint16{fakeCmdSourceStats, fakeCmdSelectData} {
			if p, ok := src.Get(c, oldIK); ok {
				if len(p) >= 52 && binary.BigEndian.Uint16(p[8:]) == 0 {
					binary.BigEndian.PutUint32(p[28:], u)
					copy(p[32:52], ip[:])
				}
				out.Set(c, ik, p)
			}
		}
		if p, ok := src.Get(fakeCmdNTPData, t.addr); ok {
			if len(p) >= 48 && binary.BigEndian.Uint16(p[8:]) == 0 {
				copy(p[28:48], ip[:])
			}
			out.Set(fakeCmdNTPData, ak, p)
		}
		if p, ok := src.Get(fakeCmdAuthData, t.addr); ok {
			out.Set(fakeCmdAuthData, ak, p)
		}
		if p, ok := src.Get(fakeCmdNTPSourceName, t.addr); ok {
			if len(p) >= 284 && binary.BigEndian.Uint16(p[8:]) == 0 {
				clear(p[28:284])
				copy(p[28:], fakeIPString(ip[:]))
			}
			out.Set(fakeCmdNTPSourceName, ak, p)
		}
	}
	ns, ok := src.Get(fakeCmdNSources, NoKey)
	if !ok || len(ns) < 32 {
		ns = fakeHeader(fakeCmdNSources, 2, 0, 32)
	}
	binary.BigEndian.PutUint32(ns[28:], uint32(n))
	out.Set(fakeCmdNSources, NoKey, ns)
	return out, nil
}

// fakeHeader builds a reply of length n with an empty body.
func fakeHeader(cmd, reply, status uint16, n int) []byte {
	p := make([]byte, max(n, 28))
	p[0], p[1] = 6, 2
	binary.BigEndian.PutUint16(p[4:], cmd)
	binary.BigEndian.PutUint16(p[6:], reply)
	binary.BigEndian.PutUint16(p[8:], status)
	return p
}

// Fault is a misbehaviour of the fake chronyd (see FaultSpec).
type Fault int

const (
	// FaultNone answers normally.
	FaultNone Fault = iota
	// FaultNoReply sends nothing.
	FaultNoReply
	// FaultTruncated sends only the first half of the reply (then the
	// whole reply if ThenReply).
	FaultTruncated
	// FaultWrongSeq sends the reply with sequence+1 (then the correct
	// reply if ThenReply).
	FaultWrongSeq
	// FaultDuplicate sends the reply twice.
	FaultDuplicate
	// FaultLate sends the reply after Delay (the request's sequence, so a
	// client that has retransmitted meanwhile must ignore it).
	FaultLate
	// FaultGarbage sends random bytes of the reply's length (then the
	// correct reply if ThenReply).
	FaultGarbage
	// FaultUnauth answers with status 2 UNAUTH (28 bytes).
	FaultUnauth
	// FaultNoRTC answers with status 13 NORTC (28 bytes).
	FaultNoRTC
	// FaultFlood sends Flood stray copies of the reply with random
	// sequences, then the correct reply.
	FaultFlood
)

var fakeFaultNames = [...]string{"none", "noreply", "truncated", "wrongseq", "duplicate",
	"late", "garbage", "unauth", "nortc", "flood"}

func (f Fault) String() string {
	if f >= 0 && int(f) < len(fakeFaultNames) {
		return fakeFaultNames[f]
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// AnyCommand, as the command of SetFault, applies a fault to all commands
// that have no fault of their own.
const AnyCommand uint16 = 0xFFFF

// FaultSpec configures a fault. Faults apply to every request that would
// get a reply (including error replies such as NOSUCHSOURCE).
type FaultSpec struct {
	Fault Fault
	// Count limits the fault to the next Count requests it applies to;
	// after that the fake answers normally again. 0 means until cleared.
	Count int
	// ThenReply makes FaultTruncated, FaultWrongSeq and FaultGarbage also
	// send the correct reply right after the bad datagram.
	ThenReply bool
	// Delay is FaultLate's delay (default 1.5 s, longer than chronyc's
	// first 1 s timeout).
	Delay time.Duration
	// Flood is the number of stray datagrams of FaultFlood (default 100).
	Flood int
}

// Fake is a fake chronyd serving a Replies set over UDP or a Unix datagram
// socket. It validates requests like chronyd (§4.2) and can misbehave on
// purpose (SetFault).
type Fake struct {
	tb      testing.TB
	network string
	conn    net.PacketConn
	dir     string
	path    string

	replies atomic.Pointer[Replies]

	mu     sync.Mutex
	faults map[uint16]*FaultSpec
	perCmd map[uint16]uint64

	total atomic.Uint64
	sent  atomic.Uint64

	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// NewFake starts a fake chronyd on network "udp" (127.0.0.1, a free port)
// or "unixgram" (a socket chronyd.sock in a new directory of mode 0755
// under the temp dir, so clients can bind their own socket in a
// subdirectory beside it). Replies go to the request's sender address;
// like chronyd, requests from an unbound Unix socket get no reply. The
// fake stops, and its directory is removed, in tb.Cleanup.
func NewFake(tb testing.TB, network string, replies *Replies) *Fake {
	tb.Helper()
	if replies == nil {
		replies = NewReplies()
	}
	f := &Fake{
		tb:      tb,
		network: network,
		faults:  make(map[uint16]*FaultSpec),
		perCmd:  make(map[uint16]uint64),
		done:    make(chan struct{}),
	}
	f.replies.Store(replies)
	switch network {
	case "udp", "udp4":
		f.network = "udp"
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("chronytest: fake listen: %v", err)
		}
		f.conn = c
	case "unixgram":
		dir, err := os.MkdirTemp("", "chronyfake")
		if err == nil && len(dir) > 60 { // keep room for client paths (sun_path is 108 bytes)
			os.Remove(dir)
			dir, err = os.MkdirTemp("/tmp", "chronyfake")
		}
		if err != nil {
			tb.Fatalf("chronytest: fake dir: %v", err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			os.RemoveAll(dir)
			tb.Fatalf("chronytest: fake dir: %v", err)
		}
		f.dir = dir
		f.path = filepath.Join(dir, "chronyd.sock")
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: f.path, Net: "unixgram"})
		if err != nil {
			os.RemoveAll(dir)
			tb.Fatalf("chronytest: fake listen: %v", err)
		}
		os.Chmod(f.path, 0o666)
		f.conn = c
	default:
		tb.Fatalf("chronytest: NewFake: unsupported network %q", network)
	}
	f.wg.Add(1)
	go f.serve()
	tb.Cleanup(f.Close)
	return f
}

// Close stops the fake, waits for its goroutines (pending late replies are
// dropped) and removes its socket directory. It is called by tb.Cleanup
// and may be called earlier; later calls do nothing.
func (f *Fake) Close() {
	f.closeOnce.Do(func() {
		close(f.done)
		f.conn.Close()
		f.wg.Wait()
		if f.dir != "" {
			os.RemoveAll(f.dir)
		}
	})
}

// Addr returns the address in the form the client understands:
// "udp://127.0.0.1:PORT" or "unix:///abs/path/chronyd.sock".
func (f *Fake) Addr() string {
	if f.network == "unixgram" {
		return "unix://" + f.path
	}
	return "udp://" + f.AddrPort().String()
}

// AddrPort returns the UDP address (the zero value for a Unix socket fake).
func (f *Fake) AddrPort() netip.AddrPort {
	if ua, ok := f.conn.LocalAddr().(*net.UDPAddr); ok {
		return ua.AddrPort()
	}
	return netip.AddrPort{}
}

// SocketPath returns the Unix socket path ("" for UDP).
func (f *Fake) SocketPath() string { return f.path }

// Dir returns the directory holding the Unix socket ("" for UDP).
func (f *Fake) Dir() string { return f.dir }

// Network returns "udp" or "unixgram".
func (f *Fake) Network() string { return f.network }

// Replies returns the set being served; changes to it apply at once.
func (f *Fake) Replies() *Replies { return f.replies.Load() }

// SetReplies replaces the set being served.
func (f *Fake) SetReplies(r *Replies) { f.replies.Store(r) }

// SetFault sets the fault for command (AnyCommand: all commands without a
// fault of their own). FaultNone, or Fault zero, removes it.
func (f *Fake) SetFault(command uint16, spec FaultSpec) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if spec.Fault == FaultNone {
		delete(f.faults, command)
		return
	}
	f.faults[command] = &spec
}

// ClearFaults removes all faults.
func (f *Fake) ClearFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.faults)
}

// Requests returns the number of datagrams received.
func (f *Fake) Requests() uint64 { return f.total.Load() }

// RequestsFor returns the number of datagrams received with this command
// (u16 at offset 4; any datagram of at least 6 bytes is counted).
func (f *Fake) RequestsFor(command uint16) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.perCmd[command]
}

// Sent returns the number of datagrams sent (stray and bad ones included).
func (f *Fake) Sent() uint64 { return f.sent.Load() }

// ResetCounters sets all counters to zero.
func (f *Fake) ResetCounters() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.perCmd)
	f.total.Store(0)
	f.sent.Store(0)
}

func (f *Fake) serve() {
	defer f.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, addr, err := f.conn.ReadFrom(buf)
		if err != nil {
			select {
			case <-f.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		f.handle(bytes.Clone(buf[:n]), addr)
	}
}

func (f *Fake) handle(req []byte, addr net.Addr) {
	f.total.Add(1)
	if len(req) >= 6 {
		f.mu.Lock()
		f.perCmd[binary.BigEndian.Uint16(req[4:])]++
		f.mu.Unlock()
	}
	// §4.2 step 1: a Unix client must be bound to a path.
	if ua, ok := addr.(*net.UnixAddr); ok || addr == nil {
		if addr == nil || ua.Name == "" || ua.Name[0] == '@' || ua.Name[0] == 0 {
			return
		}
	}
	// Steps 2 and 3: size and header, dropped without a reply.
	if len(req) < 28 || len(req) > fakeMaxRequest || req[1] != 1 || req[2] != 0 || req[3] != 0 {
		return
	}
	cmd := binary.BigEndian.Uint16(req[4:])
	var reply []byte
	switch {
	case req[0] != 6: // step 5
		if req[0] < 5 {
			return
		}
		reply = fakeHeader(cmd, 1, fakeSttBadPktVersion, 28)
	default:
		reply = f.lookup(cmd, req)
	}
	if len(reply) >= 20 { // a deliberately short stored reply is sent as is
		copy(reply[16:20], req[8:12])
	}
	if len(reply) >= 6 {
		binary.BigEndian.PutUint16(reply[4:], cmd)
	}
	// Step 10 (4.0+): never send more than was received.
	if len(reply) > len(req) {
		return
	}
	f.send(cmd, binary.BigEndian.Uint32(req[8:]), reply, addr)
}

// lookup does steps 6, 7 and 9 of §4.2 and returns a copy of the reply.
func (f *Fake) lookup(cmd uint16, req []byte) []byte {
	r := f.replies.Load()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.hasLocked(cmd) {
		return fakeHeader(cmd, 1, fakeSttInvalid, 28)
	}
	if len(req) < r.requiredLocked(cmd) {
		return fakeHeader(cmd, 1, fakeSttBadPktLength, 28)
	}
	p, ok := r.packets[fakeEntry{cmd, fakeRequestKey(cmd, req)}]
	if !ok {
		return fakeHeader(cmd, 1, fakeSttNoSuchSource, 28)
	}
	return bytes.Clone(p)
}

// fault returns the fault to apply to one request of cmd, consuming one
// use of a counted fault.
func (f *Fake) fault(cmd uint16) FaultSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := cmd
	s, ok := f.faults[cmd]
	if !ok {
		key = AnyCommand
		if s, ok = f.faults[AnyCommand]; !ok {
			return FaultSpec{}
		}
	}
	spec := *s
	if s.Count > 0 {
		s.Count--
		if s.Count == 0 {
			delete(f.faults, key)
		}
	}
	return spec
}

func (f *Fake) write(p []byte, addr net.Addr) {
	f.sent.Add(1) // before the write, so it is counted when the datagram arrives
	if _, err := f.conn.WriteTo(p, addr); err != nil {
		f.sent.Add(^uint64(0))
	}
}

// send sends reply (already patched with the request's command and
// sequence seq), applying the command's fault.
func (f *Fake) send(cmd uint16, seq uint32, reply []byte, addr net.Addr) {
	spec := f.fault(cmd)
	switch spec.Fault {
	case FaultNoReply:
		return
	case FaultTruncated:
		f.write(reply[:len(reply)/2], addr)
		if !spec.ThenReply {
			return
		}
	case FaultWrongSeq:
		bad := bytes.Clone(reply)
		if len(bad) >= 20 {
			binary.BigEndian.PutUint32(bad[16:], seq+1)
		}
		f.write(bad, addr)
		if !spec.ThenReply {
			return
		}
	case FaultDuplicate:
		f.write(reply, addr)
	case FaultLate:
		d := spec.Delay
		if d <= 0 {
			d = 1500 * time.Millisecond
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				f.write(reply, addr)
			case <-f.done:
			}
		}()
		return
	case FaultGarbage:
		g := make([]byte, len(reply))
		for i := range g {
			g[i] = byte(rand.Uint32())
		}
		f.write(g, addr)
		if !spec.ThenReply {
			return
		}
	case FaultUnauth, FaultNoRTC:
		st := uint16(fakeSttUnauth)
		if spec.Fault == FaultNoRTC {
			st = fakeSttNoRTC
		}
		e := fakeHeader(cmd, 1, st, 28)
		binary.BigEndian.PutUint32(e[16:], seq)
		reply = e
	case FaultFlood:
		n := spec.Flood
		if n <= 0 {
			n = 100
		}
		stray := bytes.Clone(reply)
		for range n {
			s := rand.Uint32()
			if s == seq {
				s++
			}
			if len(stray) >= 20 {
				binary.BigEndian.PutUint32(stray[16:], s)
			}
			f.write(stray, addr)
		}
	}
	f.write(reply, addr)
}
