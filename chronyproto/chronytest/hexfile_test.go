package chronytest

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	hexHandmadeDir = "../testdata/handmade"
	hexCapturesDir = "../testdata/captures"
)

// hexReplyLen is the total reply length per reply code (docs §7.2).
var hexReplyLen = map[uint16]int{
	1: 28, 2: 32, 3: 76, 4: 40, 5: 104, 6: 84, 7: 56, 12: 48, 13: 52, 14: 48,
	15: 424, 16: 152, 17: 40, 18: 416, 19: 284, 20: 52, 21: 520, 22: 60,
	23: 76, 24: 72, 25: 196, 26: 172,
}

func TestHexParse(t *testing.T) {
	good := []struct {
		in   string
		want []byte
	}{
		{"", nil},
		{"# only a comment\n\n   \n", nil},
		{"06 02\t00 00  # header # with #s\n0023", []byte{6, 2, 0, 0, 0, 0x23}},
		{"aBcD\r\nEf # x", []byte{0xAB, 0xCD, 0xEF}},
		{"  ff#no space before comment", []byte{0xFF}},
	}
	for _, g := range good {
		got, err := ParseHex(g.in)
		if err != nil || string(got) != string(g.want) {
			t.Errorf("ParseHex(%q) = %x, %v; want %x", g.in, got, err, g.want)
		}
	}
	for _, in := range []string{"0", "00 1", "001", "0g", "zz", "0x12", "00\n12 3 # odd", "1-2"} {
		if got, err := ParseHex(in); err == nil {
			t.Errorf("ParseHex(%q) = %x, want error", in, got)
		}
	}
	if _, err := ParseHex("00\n00\n0"); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error does not name line 3: %v", err)
	}
}

func TestHexWant(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.hex")
	os.WriteFile(p, []byte("# header\n#want: a=1\n  #  want:  b = x y \n# wanted: c=3\n00 # want: d=4\n# want: e=\n"), 0o644)
	m, err := Want(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1", "b": "x y", "e": ""}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("Want = %v, want %v", m, want)
	}
	os.WriteFile(p, []byte("# want: a=1\n# want: a=2\n"), 0o644)
	if _, err := Want(p); err == nil {
		t.Error("duplicate want key accepted")
	}
	os.WriteFile(p, []byte("# want: a\n"), 0o644)
	if _, err := Want(p); err == nil {
		t.Error("want line without '=' accepted")
	}
	if _, err := ReadHex(filepath.Join(dir, "missing.hex")); err == nil {
		t.Error("ReadHex of a missing file succeeded")
	}
}

// TestHexHandmade checks every handmade packet: parseable, length equal to
// the §7.2 total for its reply code (28 for errors), a valid reply header
// with sequence 0x01020304, and every "# want:" line equal to the value
// decoded with an independent field table (and every field listed).
func TestHexHandmade(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(hexHandmadeDir, "*.hex"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no handmade files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := ReadHex(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < 28 {
				t.Fatalf("length %d < 28", len(b))
			}
			hexCheckHeader(t, b)
			if seq := binary.BigEndian.Uint32(b[16:]); seq != 0x01020304 {
				t.Errorf("sequence = %#08x, want 0x01020304", seq)
			}
			want, err := Want(f)
			if err != nil {
				t.Fatal(err)
			}
			got := hexDecode(t, b)
			for k, v := range want {
				g, ok := got[k]
				switch {
				case !ok:
					t.Errorf("want %s=%s: no such field in reply %d", k, v, binary.BigEndian.Uint16(b[6:]))
				case !hexSame(g, v):
					t.Errorf("%s: packet has %s, want line says %s", k, g, v)
				}
			}
			for k, g := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("no want line for %s (packet has %s)", k, g)
				}
			}
		})
	}
}

// TestHexCaptures checks the copied captures' headers and lengths.
func TestHexCaptures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(hexCapturesDir, "*", "*.bin"))
	if err != nil || len(files) < 70 {
		t.Fatalf("captures: %d files, %v", len(files), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			hexCheckHeader(t, b)
			hexDecode(t, b) // only for its length/format checks
		})
	}
}

func hexCheckHeader(t *testing.T, b []byte) {
	t.Helper()
	if len(b) < 28 {
		t.Fatalf("length %d < 28", len(b))
	}
	if b[0] != 6 || b[1] != 2 || b[2] != 0 || b[3] != 0 {
		t.Errorf("header bytes 0..3 = % x, want 06 02 00 00", b[:4])
	}
	for _, off := range []int{10, 12, 14, 20, 22, 24, 26} {
		if v := binary.BigEndian.Uint16(b[off:]); v != 0 {
			t.Errorf("pad at %d = %#x, want 0", off, v)
		}
	}
	reply := binary.BigEndian.Uint16(b[6:])
	status := binary.BigEndian.Uint16(b[8:])
	want, ok := hexReplyLen[reply]
	switch {
	case status != 0:
		want, ok = 28, true
		if reply != 1 {
			t.Errorf("error reply (status %d) with reply code %d, want 1", status, reply)
		}
	case !ok:
		t.Fatalf("unknown reply code %d", reply)
	}
	if len(b) != want {
		t.Errorf("length %d, want %d for reply %d status %d", len(b), want, reply, status)
	}
}

type hexField struct {
	name string
	off  int
	typ  string // u8 i8 u16 i16 u32 i32 u64 x16 x32 float ts ip char good
}

func hexFields(s string, off int, typ string) []hexField {
	var out []hexField
	size := map[string]int{"u32": 4, "u64": 8, "float": 4, "i32": 4}[typ]
	for _, n := range strings.Fields(s) {
		out = append(out, hexField{n, off, typ})
		off += size
	}
	return out
}

func hexConcat(ls ...[]hexField) []hexField {
	var out []hexField
	for _, l := range ls {
		out = append(out, l...)
	}
	return out
}

var hexNTPData = []hexField{
	{"remote_addr", 28, "ip"}, {"local_addr", 48, "ip"}, {"remote_port", 68, "u16"},
	{"leap", 70, "u8"}, {"version", 71, "u8"}, {"mode", 72, "u8"}, {"stratum", 73, "u8"},
	{"poll", 74, "i8"}, {"precision", 75, "i8"}, {"root_delay", 76, "float"},
	{"root_dispersion", 80, "float"}, {"ref_id", 84, "x32"}, {"ref_time", 88, "ts"},
	{"offset", 100, "float"}, {"peer_delay", 104, "float"}, {"peer_dispersion", 108, "float"},
	{"response_time", 112, "float"}, {"jitter_asymmetry", 116, "float"}, {"flags", 120, "x16"},
	{"tx_tss_char", 122, "char"}, {"rx_tss_char", 123, "char"}, {"total_tx_count", 124, "u32"},
	{"total_rx_count", 128, "u32"}, {"total_valid_count", 132, "u32"}, {"total_good_count", 136, "good"},
}

// hexLayouts is an independent table of the reply bodies in docs §8.
var hexLayouts = map[uint16][]hexField{
	1: nil,
	2: {{"n_sources", 28, "u32"}},
	3: {{"ip_addr", 28, "ip"}, {"poll", 48, "i16"}, {"stratum", 50, "u16"}, {"state", 52, "u16"},
		{"mode", 54, "u16"}, {"flags", 56, "x16"}, {"reachability", 58, "u16"},
		{"since_sample", 60, "u32"}, {"orig_latest_meas", 64, "float"}, {"latest_meas", 68, "float"},
		{"latest_meas_err", 72, "float"}},
	5: hexConcat([]hexField{{"ref_id", 28, "x32"}, {"ip_addr", 32, "ip"}, {"stratum", 52, "u16"},
		{"leap_status", 54, "u16"}, {"ref_time", 56, "ts"}},
		hexFields("current_correction last_offset rms_offset freq_ppm resid_freq_ppm skew_ppm root_delay root_dispersion last_update_interval", 68, "float")),
	6: hexConcat([]hexField{{"ref_id", 28, "x32"}, {"ip_addr", 32, "ip"}},
		hexFields("n_samples n_runs span_seconds", 52, "u32"),
		hexFields("sd resid_freq_ppm skew_ppm est_offset est_offset_err", 64, "float")),
	7: hexConcat([]hexField{{"ref_time", 28, "ts"}, {"n_samples", 40, "u16"}, {"n_runs", 42, "u16"},
		{"span_seconds", 44, "u32"}}, hexFields("rtc_seconds_fast rtc_gain_rate_ppm", 48, "float")),
	12: hexFields("online offline burst_online burst_offline unresolved", 28, "i32"),
	13: hexConcat([]hexField{{"flags", 28, "x32"}},
		hexFields("offset freq_ppm wander_ppm last_update_ago remaining_time", 32, "float")),
	14: hexFields("ntp_hits cmd_hits ntp_drops cmd_drops log_drops", 28, "u32"),
	16: hexNTPData,
	20: {{"mode", 28, "u16"}, {"key_type", 30, "u16"}, {"key_id", 32, "u32"}, {"key_length", 36, "u16"},
		{"ke_attempts", 38, "u16"}, {"last_ke_ago", 40, "u32"}, {"cookies", 44, "u16"},
		{"cookie_length", 46, "u16"}, {"nak", 48, "u16"}},
	22: hexFields("ntp_hits nke_hits cmd_hits ntp_drops nke_drops cmd_drops log_drops ntp_auth_hits", 28, "u32"),
	23: hexConcat([]hexField{{"ref_id", 28, "x32"}, {"ip_addr", 32, "ip"}, {"state_char", 52, "char"},
		{"authentication", 53, "u8"}, {"leap", 54, "u8"}, {"conf_options", 56, "x16"},
		{"eff_options", 58, "x16"}, {"last_sample_ago", 60, "u32"}},
		hexFields("score lo_limit hi_limit", 64, "float")),
	24: hexFields("ntp_hits nke_hits cmd_hits ntp_drops nke_drops cmd_drops log_drops ntp_auth_hits ntp_interleaved_hits ntp_timestamps ntp_span_seconds", 28, "u32"),
	25: hexFields("ntp_hits nke_hits cmd_hits ntp_drops nke_drops cmd_drops log_drops ntp_auth_hits ntp_interleaved_hits ntp_timestamps ntp_span_seconds ntp_daemon_rx_timestamps ntp_daemon_tx_timestamps ntp_kernel_rx_timestamps ntp_kernel_tx_timestamps ntp_hw_rx_timestamps ntp_hw_tx_timestamps", 28, "u64"),
	26: hexConcat(hexNTPData[:len(hexNTPData)-1], []hexField{{"total_good_count", 136, "u32"}},
		hexFields("total_kernel_tx_ts total_kernel_rx_ts total_hw_tx_ts total_hw_rx_ts", 140, "u32")),
}

// hexDecode decodes the header fields and the body per hexLayouts, into
// strings following the want conventions (see hexfile.go).
func hexDecode(t *testing.T, b []byte) map[string]string {
	t.Helper()
	reply := binary.BigEndian.Uint16(b[6:])
	layout, ok := hexLayouts[reply]
	switch {
	case reply == 21:
		layout = []hexField{{"n_indices", 28, "u32"}, {"next_index", 32, "u32"}, {"n_clients", 36, "u32"}}
		n := int(binary.BigEndian.Uint32(b[36:]))
		if n > 8 {
			t.Fatalf("n_clients %d > 8", n)
		}
		for i := range n {
			r := 40 + 60*i
			p := fmt.Sprintf("clients[%d].", i)
			layout = append(layout, hexField{p + "ip", r, "ip"})
			for j, name := range strings.Fields("ntp_hits nke_hits cmd_hits ntp_drops nke_drops cmd_drops") {
				layout = append(layout, hexField{p + name, r + 20 + 4*j, "u32"})
			}
			for j, name := range strings.Fields("ntp_interval nke_interval cmd_interval ntp_timeout_interval") {
				layout = append(layout, hexField{p + name, r + 44 + j, "i8"})
			}
			for j, name := range strings.Fields("last_ntp_hit_ago last_nke_hit_ago last_cmd_hit_ago") {
				layout = append(layout, hexField{p + name, r + 48 + 4*j, "u32"})
			}
		}
		for i := n; i < 8; i++ { // unused records must be zero
			for _, c := range b[40+60*i : 100+60*i] {
				if c != 0 {
					t.Errorf("unused client record %d not zero", i)
					break
				}
			}
		}
	case !ok:
		return nil // formats without a table (MANUAL_LIST, names): length checked only
	}
	m := map[string]string{
		"command":  strconv.Itoa(int(binary.BigEndian.Uint16(b[4:]))),
		"reply":    strconv.Itoa(int(reply)),
		"status":   strconv.Itoa(int(binary.BigEndian.Uint16(b[8:]))),
		"sequence": fmt.Sprintf("0x%08X", binary.BigEndian.Uint32(b[16:])),
	}
	if binary.BigEndian.Uint16(b[8:]) != 0 {
		return m
	}
	for _, f := range layout {
		p := b[f.off:]
		var v string
		switch f.typ {
		case "u8":
			v = strconv.Itoa(int(p[0]))
		case "i8":
			v = strconv.Itoa(int(int8(p[0])))
		case "char":
			v = string(rune(p[0]))
		case "u16":
			v = strconv.Itoa(int(binary.BigEndian.Uint16(p)))
		case "i16":
			v = strconv.Itoa(int(int16(binary.BigEndian.Uint16(p))))
		case "x16":
			v = fmt.Sprintf("0x%04X", binary.BigEndian.Uint16(p))
		case "u32":
			v = strconv.FormatUint(uint64(binary.BigEndian.Uint32(p)), 10)
		case "i32":
			v = strconv.Itoa(int(int32(binary.BigEndian.Uint32(p))))
		case "x32":
			v = fmt.Sprintf("0x%08X", binary.BigEndian.Uint32(p))
		case "good":
			if x := binary.BigEndian.Uint32(p); x == 0xFFFFFFFF {
				v = "unknown"
			} else {
				v = strconv.FormatUint(uint64(x), 10)
			}
		case "u64":
			v = strconv.FormatUint(binary.BigEndian.Uint64(p), 10)
		case "float":
			v = strconv.FormatFloat(hexFloat(binary.BigEndian.Uint32(p)), 'g', -1, 64)
		case "ts":
			hi := uint64(binary.BigEndian.Uint32(p))
			if hi == 0x7FFFFFFF {
				hi = 0
			}
			sec := hi<<32 | uint64(binary.BigEndian.Uint32(p[4:]))
			nsec := min(binary.BigEndian.Uint32(p[8:]), 999999999)
			v = time.Unix(int64(sec), int64(nsec)).UTC().Format(time.RFC3339Nano)
		case "ip":
			v = hexIP(p[:20])
		default:
			t.Fatalf("bad type %q", f.typ)
		}
		m[f.name] = v
	}
	return m
}

// hexFloat decodes chrony's Float exactly as docs §5.1 describes.
func hexFloat(x uint32) float64 {
	e := int(x >> 25)
	if e >= 64 {
		e -= 128
	}
	c := int(x & 0x1FFFFFF)
	if c >= 0x1000000 {
		c -= 0x2000000
	}
	return math.Ldexp(float64(c), e-25)
}

func hexIP(p []byte) string {
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

// hexSame compares a decoded value with a want value; numbers that parse as
// floats compare numerically (exactly), everything else as text.
func hexSame(got, want string) bool {
	if got == want {
		return true
	}
	g, err1 := strconv.ParseFloat(got, 64)
	w, err2 := strconv.ParseFloat(want, 64)
	return err1 == nil && err2 == nil && g == w
}

func TestHexFloatVectors(t *testing.T) {
	// docs §5.1 test vectors, to make sure the checker itself is right.
	for _, v := range []struct {
		w uint32
		f float64
	}{
		{0x00000000, 0}, {0x04800000, 1}, {0x03000000, -1}, {0x02800000, 0.5},
		{0x04C00000, 1.5}, {0x06C00000, 3}, {0x07400000, -3}, {0x10800000, 64},
		{0x18FA0000, 2000}, {0xDC8637BD, 9.9999999747524271e-07},
		{0xEB7F0670, -0.0001230000052601099}, {0x7EFFFFFF, 4.611685743549481e+18},
		{0x7F000000, -4.6116860184273879e+18}, {0x00000001, 2.9802322387695312e-08},
		{0x01FFFFFF, -2.9802322387695312e-08}, {0x7FFFFFFF, -274877906944},
	} {
		if got := hexFloat(v.w); got != v.f {
			t.Errorf("hexFloat(%#08x) = %v, want %v", v.w, got, v.f)
		}
	}
}
