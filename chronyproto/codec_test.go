package chronyproto

import (
	"encoding/binary"
	"math"
	"net/netip"
	"testing"
	"time"
)

// The test vectors of §5.1, produced by chrony's own routine.
func TestDecodeFloat(t *testing.T) {
	for _, tc := range []struct {
		word uint32
		want float64
	}{
		{0x00000000, 0},
		{0x04800000, 1},
		{0x03000000, -1},
		{0x02800000, 0.5},
		{0x04C00000, 1.5},
		{0x06C00000, 3},
		{0x07400000, -3},
		{0x10800000, 64},
		{0x18FA0000, 2000},
		{0xDC8637BD, 9.9999999747524271e-07},
		{0xEB7F0670, -0.0001230000052601099},
		{0x7EFFFFFF, 4.611685743549481e+18},
		{0x7F000000, -4.6116860184273879e+18},
		{0x00000001, 2.9802322387695312e-08},
		{0x01FFFFFF, -2.9802322387695312e-08},
		{0x7FFFFFFF, -274877906944},
	} {
		if got := decodeFloat(tc.word); got != tc.want {
			t.Errorf("decodeFloat(%#08x) = %v, want %v", tc.word, got, tc.want)
		}
	}
}

func TestTimespec(t *testing.T) {
	p := make([]byte, 12)
	put := func(high, low, nsec uint32) time.Time {
		binary.BigEndian.PutUint32(p[0:], high)
		binary.BigEndian.PutUint32(p[4:], low)
		binary.BigEndian.PutUint32(p[8:], nsec)
		return timespec(p, 0)
	}
	if got, want := put(0, 1795655939, 790535603), time.Unix(1795655939, 790535603).UTC(); !got.Equal(want) {
		t.Errorf("plain: got %v, want %v", got, want)
	}
	// 0x7FFFFFFF in the high word means "no high seconds" (§5.2).
	if got, want := put(noHighSeconds, 1000, 0), time.Unix(1000, 0); !got.Equal(want) {
		t.Errorf("no high seconds: got %v, want %v", got, want)
	}
	if got, want := put(1, 0, 0), time.Unix(1<<32, 0); !got.Equal(want) {
		t.Errorf("high word: got %v, want %v", got, want)
	}
	// chrony's decoder clamps nanoseconds.
	if got := put(0, 5, 2000000000); got.Nanosecond() != 999999999 || got.Unix() != 5 {
		t.Errorf("nsec clamp: got %v", got)
	}
	if got := put(0, 0, 0); !got.Equal(time.Unix(0, 0)) || got.Location() != time.UTC {
		t.Errorf("never: got %v, want the epoch in UTC", got)
	}
}

func TestAddressRoundTrip(t *testing.T) {
	for _, a := range []Address{
		{},
		AddressFrom(netip.MustParseAddr("192.0.2.1")),
		AddressFrom(netip.MustParseAddr("2001:db8::1")),
		AddressFrom(netip.MustParseAddr("::ffff:192.0.2.7")),
		{Family: FamilyID, ID: 1},
	} {
		p := make([]byte, 20)
		putAddress(p, 0, a)
		if got := address(p, 0); got != a {
			t.Errorf("round trip of %v gave %v", a, got)
		}
	}
	if got := AddressFrom(netip.MustParseAddr("::ffff:192.0.2.7")).String(); got != "192.0.2.7" {
		t.Errorf("mapped IPv4 = %q, want 192.0.2.7", got)
	}
	if got := (Address{Family: FamilyID, ID: 1}).String(); got != "ID#0000000001" {
		t.Errorf("ID address = %q, want ID#0000000001 as chronyc prints it", got)
	}
	if got := (Address{}).String(); got != "[UNSPEC]" {
		t.Errorf("unspec = %q", got)
	}
	// chronyd turns unknown families into UNSPEC; so do we.
	p := make([]byte, 20)
	p[0] = 10
	binary.BigEndian.PutUint16(p[16:], 9)
	if got := address(p, 0); got != (Address{}) {
		t.Errorf("unknown family decoded to %v", got)
	}
}

func TestRefIDText(t *testing.T) {
	for id, want := range map[uint32]string{
		0x50505330: "PPS0",
		0x7F7F0101: "", // chronyd's local reference (§5.5)
		0x47505300: "GPS",
		0x00000000: "",
		0x4E4D4541: "NMEA",
	} {
		if got := RefIDText(id); got != want {
			t.Errorf("RefIDText(%#08x) = %q, want %q", id, got, want)
		}
	}
}

// Every request is padded to the longest length any version requires
// (§4.1, §7.1), never shorter than a reply header nor longer than 860.
func TestRequestPadding(t *testing.T) {
	want := map[command]int{
		cmdNSources: 32, cmdSourceData: 76, cmdTracking: 104, cmdSourceStats: 84,
		cmdRTCReport: 56, cmdActivity: 48, cmdSmoothing: 52, cmdServerStats: 196,
		cmdNTPData: 172, cmdNTPSourceName: 284, cmdAuthData: 52, cmdSelectData: 76,
	}
	for cmd, n := range want {
		p := newRequest(cmd)
		if len(p) != n || len(p) > maxRequestLen {
			t.Errorf("command %d: request is %d bytes, want %d (at most %d)", cmd, len(p), n, maxRequestLen)
		}
		if p[0] != 6 || p[1] != 1 || p[2] != 0 || p[3] != 0 || command(u16(p, 4)) != cmd {
			t.Errorf("command %d: bad header % x", cmd, p[:20])
		}
		for i, b := range p[6:] {
			if b != 0 {
				t.Errorf("command %d: byte %d is %#x, want zero before stamping", cmd, i+6, b)
				break
			}
		}
	}
	p := newRequest(cmdTracking)
	stampRequest(p, 2, 0xDEADBEEF)
	if u16(p, 6) != 2 || u32(p, 8) != 0xDEADBEEF {
		t.Errorf("stamp: attempt %d, sequence %#x", u16(p, 6), u32(p, 8))
	}
}

func TestParseReplyHeader(t *testing.T) {
	good := make([]byte, 28)
	good[0], good[1] = 6, 2
	binary.BigEndian.PutUint16(good[4:], 33)
	binary.BigEndian.PutUint16(good[6:], 5)
	binary.BigEndian.PutUint32(good[16:], 42)
	h, ok := parseReplyHeader(good)
	if !ok || h.command != 33 || h.reply != 5 || h.sequence != 42 || h.status != StatusSuccess {
		t.Fatalf("good header: %+v, %v", h, ok)
	}
	mutate := func(f func(p []byte)) []byte {
		p := append([]byte(nil), good...)
		f(p)
		return p
	}
	for name, p := range map[string][]byte{
		"short":       good[:27],
		"version 5":   mutate(func(p []byte) { p[0] = 5 }),
		"request":     mutate(func(p []byte) { p[1] = 1 }),
		"res1":        mutate(func(p []byte) { p[2] = 1 }),
		"res2":        mutate(func(p []byte) { p[3] = 1 }),
		"version 255": mutate(func(p []byte) { p[0] = 255 }),
	} {
		if _, ok := parseReplyHeader(p); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	// A server of another version answers BADPKTVERSION with its own
	// version number, which chronyc accepts from 4 up (§9.1).
	bad := mutate(func(p []byte) { p[0] = 5; binary.BigEndian.PutUint16(p[8:], uint16(StatusBadPacketVersion)) })
	if h, ok := parseReplyHeader(bad); !ok || h.status != StatusBadPacketVersion {
		t.Errorf("BADPKTVERSION from version 5 not accepted: %+v %v", h, ok)
	}
}

func TestSourcePollInterval(t *testing.T) {
	for poll, want := range map[int16]time.Duration{
		0: time.Second, 6: 64 * time.Second, -2: 250 * time.Millisecond, -6: time.Second / 64,
	} {
		s := SourceData{Poll: poll}
		if got := s.PollInterval(); got != want {
			t.Errorf("poll %d: %v, want %v", poll, got, want)
		}
	}
	if got := (&Tracking{CurrentCorrection: -0.001, RootDispersion: 0.002, RootDelay: 0.004}).MaxError(); math.Abs(got-0.005) > 1e-15 {
		t.Errorf("MaxError = %v, want 0.005", got)
	}
}

// TestReportAddedIn: the reports an older chronyd answers as an unknown
// command are named with the release that added them.
func TestReportAddedIn(t *testing.T) {
	for r, want := range map[Report]string{ReportSelectData: "4.0", ReportAuthData: "4.0", ReportSourceName: "4.0", ReportClients: "4.0", ReportTracking: "", ReportNTPData: ""} {
		if got := r.AddedIn(); got != want {
			t.Errorf("%s.AddedIn() = %q, want %q", r, got, want)
		}
	}
}
