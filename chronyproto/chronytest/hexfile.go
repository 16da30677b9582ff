package chronytest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// ReadHex reads an annotated hex file and returns the bytes it describes.
//
// Annotated hex files (chronyproto/testdata/handmade/*.hex) hold one packet
// written by hand, one field per line:
//
//	hex bytes   # offset field = value (how computed)
//
// Everything from '#' to the end of a line is a comment and whitespace is
// ignored. Each whitespace-separated token must be an even number of hex
// digits ("00 23" and "0023" are the same two bytes); an odd token or a
// character that is not a hex digit is an error naming the line.
func ReadHex(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, err := ParseHex(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// ParseHex parses annotated hex text (the format ReadHex reads).
func ParseHex(text string) ([]byte, error) {
	var out []byte
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		for _, tok := range strings.Fields(s) {
			if len(tok)%2 != 0 {
				return nil, fmt.Errorf("line %d: odd number of hex digits in %q", line, tok)
			}
			for i := 0; i < len(tok); i += 2 {
				hi, ok1 := hexfileNibble(tok[i])
				lo, ok2 := hexfileNibble(tok[i+1])
				if !ok1 || !ok2 {
					return nil, fmt.Errorf("line %d: bad hex digit in %q", line, tok)
				}
				out = append(out, hi<<4|lo)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func hexfileNibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Want returns the "# want: field=value" lines of an annotated hex file as a
// map from field to value (both trimmed). A repeated field or a want line
// without '=' is an error.
//
// The want lines state the expected decoded values, with the protocol
// reference's field names (docs/protocol.md §3.2 and §8) and these
// conventions for the values:
//   - integers in decimal (u64 counters too); signed fields with a '-';
//   - ref_id, flags, *_options and sequence in hex as 0x%08X or 0x%04X
//     (u32 or u16);
//   - Float fields (§5.1) as the shortest decimal that parses
//     (strconv.ParseFloat) to exactly the decoded value c·2^(e−25), in the
//     field's natural unit (seconds or ppm as the reference says);
//   - Timespec fields (§5.2) as RFC 3339 UTC with nanoseconds
//     (time.RFC3339Nano), tv_sec_high 0x7FFFFFFF counting as 0;
//   - addresses as chronyc -n prints them: dotted IPv4, RFC 5952 IPv6,
//     "ID#%010d" for family 3 and "[UNSPEC]" for family 0 (a refclock's
//     SOURCE_DATA address is its refid as INET4, e.g. 80.80.83.48 = "PPS0");
//   - single-character fields (state_char, tx_tss_char, …) as the character;
//   - "unknown" for a value the packet does not carry (total_good_count
//     in a 3.x–4.2 NTP_DATA reply, whose reserved word is 0xFFFFFFFF);
//   - the header fields command, reply, status and sequence are listed too;
//   - per-record fields of list replies as name[i].field
//     (CLIENT_ACCESSES_BY_INDEX3: clients[i].ntp_hits, …).
//
// Reserved and pad fields have no want lines.
func Want(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string)
	for n, s := range bytes.Split(data, []byte("\n")) {
		t := strings.TrimSpace(string(s))
		if !strings.HasPrefix(t, "#") {
			continue
		}
		t = strings.TrimSpace(t[1:])
		rest, ok := strings.CutPrefix(t, "want:")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(rest, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s:%d: want line without field=value", path, n+1)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%s:%d: field %q wanted twice", path, n+1, k)
		}
		m[k] = v
	}
	return m, nil
}
