package chronyproto

import (
	"context"
	"time"
)

// NTPMode is the NTP mode of a response (§8.6).
type NTPMode uint8

// String returns chronyc's words for the mode.
func (m NTPMode) String() string {
	switch m {
	case 1:
		return "Symmetric active"
	case 2:
		return "Symmetric passive"
	case 4:
		return "Server"
	}
	return "Invalid"
}

// TimestampSource says where a packet's timestamp was taken (§8.6).
type TimestampSource byte

// String returns chronyc's word: Daemon, Kernel or Hardware.
func (t TimestampSource) String() string {
	switch t {
	case 'D':
		return "Daemon"
	case 'K':
		return "Kernel"
	case 'H':
		return "Hardware"
	}
	return "Invalid"
}

// NTPFlags holds the results of chronyd's tests on the last response and
// two flags (§8.6.1); a set test bit means the test passed.
type NTPFlags uint16

// NTP test and flag bits, test 1 the most significant test bit.
const (
	NTPTest1       NTPFlags = 0x200 // not a duplicate
	NTPTest2       NTPFlags = 0x100 // not bogus
	NTPTest3       NTPFlags = 0x080 // timestamps non-zero
	NTPTest5       NTPFlags = 0x040 // authentication
	NTPTest6       NTPFlags = 0x020 // server synchronised
	NTPTest7       NTPFlags = 0x010 // root distance
	NTPTestA       NTPFlags = 0x008 // delay, offset, processing time
	NTPTestB       NTPFlags = 0x004 // delay ratio
	NTPTestC       NTPFlags = 0x002 // delay quantile or dev ratio
	NTPTestD       NTPFlags = 0x001 // no synchronisation loop
	NTPTests       NTPFlags = 0x3FF
	NTPInterleaved NTPFlags = 0x4000
	NTPAuthEnabled NTPFlags = 0x8000
)

// TestsString returns the tests as chronyc prints them: "111 111 1111".
func (f NTPFlags) TestsString() string {
	b := make([]byte, 0, 12)
	for bit := 9; bit >= 0; bit-- {
		if f&(1<<bit) != 0 {
			b = append(b, '1')
		} else {
			b = append(b, '0')
		}
		if bit == 7 || bit == 4 {
			b = append(b, ' ')
		}
	}
	return string(b)
}

// NTPData is chronyd's ntpdata report on one NTP source (§8.6): the last
// response it got and counters. Times are in seconds.
type NTPData struct {
	RemoteAddr      Address
	LocalAddr       Address
	RemotePort      uint16
	Leap            LeapStatus // of the last valid response
	Version         uint8
	Mode            NTPMode
	Stratum         uint8
	Poll            int8 // log2 seconds, from the response
	Precision       int8 // log2 seconds, from the response
	RootDelay       float64
	RootDispersion  float64
	RefID           uint32
	RefTime         time.Time
	Offset          float64
	PeerDelay       float64
	PeerDispersion  float64
	ResponseTime    float64 // the server's processing time
	JitterAsymmetry float64 // a ratio, normally within −0.5..+0.5
	Flags           NTPFlags
	TxTimestamping  TimestampSource
	RxTimestamping  TimestampSource
	TotalTx         uint32
	TotalRx         uint32
	TotalValid      uint32
	// TotalGood counts good responses; chronyd older than 4.3 does not
	// send it (HasTotalGood false).
	TotalGood    uint32
	HasTotalGood bool
	// Kernel and hardware timestamp counters come with NTP_DATA2
	// (4.6+, HasTimestampCounters).
	TotalKernelTx        uint32
	TotalKernelRx        uint32
	TotalHWTx            uint32
	TotalHWRx            uint32
	HasTimestampCounters bool
}

// NTPDataCall prepares an NTP_DATA request for the source at addr
// (req 57 → RPY 16 before 4.6, RPY 26 since). Unix socket only by default.
func NTPDataCall(addr Address) *Call[NTPData] {
	c := newCall(ReportNTPData, cmdNTPData, []uint16{rpyNTPData, rpyNTPData2}, decodeNTPData)
	putAddress(c.x.packet, 20, addr)
	return c
}

// reservedWord is a reserved u32 as chronyd sends it (§8.6).
const reservedWord = 0xFFFFFFFF

func decodeNTPData(code uint16, p []byte) (NTPData, error) {
	d := NTPData{
		RemoteAddr:      address(p, 28),
		LocalAddr:       address(p, 48),
		RemotePort:      u16(p, 68),
		Leap:            LeapStatus(u8(p, 70)),
		Version:         u8(p, 71),
		Mode:            NTPMode(u8(p, 72)),
		Stratum:         u8(p, 73),
		Poll:            int8(u8(p, 74)),
		Precision:       int8(u8(p, 75)),
		RootDelay:       chronyFloat(p, 76),
		RootDispersion:  chronyFloat(p, 80),
		RefID:           u32(p, 84),
		RefTime:         timespec(p, 88),
		Offset:          chronyFloat(p, 100),
		PeerDelay:       chronyFloat(p, 104),
		PeerDispersion:  chronyFloat(p, 108),
		ResponseTime:    chronyFloat(p, 112),
		JitterAsymmetry: chronyFloat(p, 116),
		Flags:           NTPFlags(u16(p, 120)),
		TxTimestamping:  TimestampSource(u8(p, 122)),
		RxTimestamping:  TimestampSource(u8(p, 123)),
		TotalTx:         u32(p, 124),
		TotalRx:         u32(p, 128),
		TotalValid:      u32(p, 132),
		TotalGood:       u32(p, 136),
	}
	switch code {
	case rpyNTPData:
		// 3.0–4.2 send the word as reserved, all ones; 4.3–4.5 count in it.
		d.HasTotalGood = d.TotalGood != reservedWord
		if !d.HasTotalGood {
			d.TotalGood = 0
		}
	case rpyNTPData2:
		d.HasTotalGood = true
		d.TotalKernelTx = u32(p, 140)
		d.TotalKernelRx = u32(p, 144)
		d.TotalHWTx = u32(p, 148)
		d.TotalHWRx = u32(p, 152)
		d.HasTimestampCounters = true
	}
	return d, nil
}

// NTPData asks chronyd for the NTP data of the source at addr.
func (c *Client) NTPData(ctx context.Context, addr Address) (NTPData, error) {
	return do(ctx, c, NTPDataCall(addr))
}
