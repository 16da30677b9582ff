package chronyproto

import (
	"bytes"
	"context"
	"strings"
)

// SourceNameCall prepares an NTP_SOURCE_NAME request for the source at addr
// (req 65 → RPY 19, 4.0+): the name as configured, e.g. a pool's name.
func SourceNameCall(addr Address) *Call[string] {
	c := newCall(ReportSourceName, cmdNTPSourceName, []uint16{rpyNTPSourceName}, decodeSourceName)
	putAddress(c.x.packet, 20, addr)
	return c
}

// decodeSourceName takes the NUL-terminated name (§8.13). A name that fills
// all 256 bytes has no terminator; chronyc rejects it, we keep it whole.
// Characters that are not printable become '?', as chronyc shows them.
func decodeSourceName(_ uint16, p []byte) (string, error) {
	name := p[28:284]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7F {
			return '?'
		}
		return r
	}, string(name)), nil
}

// SourceName asks chronyd for the configured name of the source at addr.
func (c *Client) SourceName(ctx context.Context, addr Address) (string, error) {
	return do(ctx, c, SourceNameCall(addr))
}
