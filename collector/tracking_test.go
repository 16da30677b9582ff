package collector_test

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

func TestTrackingGolden(t *testing.T) {
	// patched returns the 4.8 capture with its TRACKING reply changed.
	patched := func(change func(p []byte)) func(t *testing.T) *chronytest.Replies {
		return func(t *testing.T) *chronytest.Replies {
			r := loadCaptures(t, captures48)
			p := stored(t, r, cmdTracking, chronytest.NoKey)
			change(p)
			r.Set(cmdTracking, chronytest.NoKey, p)
			return r
		}
	}
	for _, g := range []golden{{
		file:    "tracking",
		about:   "chrony-4.8 capture: synchronised to the NTP server 127.0.1.2 (compare chronyc.txt).",
		replies: func(t *testing.T) *chronytest.Replies { return loadCaptures(t, captures48) },
	}, {
		file:  "tracking-refclock",
		about: "chrony-4.8 capture with handmade/tracking-refclock.hex: the refclock PPS0, leap 1 (insert second).",
		replies: func(t *testing.T) *chronytest.Replies {
			r := loadCaptures(t, captures48)
			putHex(t, r, chronytest.NoKey, "tracking-refclock.hex")
			return r
		},
	}, {
		file: "tracking-local",
		about: "chrony-4.8 capture, TRACKING patched to follow the local reference:\n" +
			"ref_id 0x7F7F0101, ip_addr UNSPEC; the rest as captured.",
		replies: patched(func(p []byte) {
			binary.BigEndian.PutUint32(p[28:], 0x7F7F0101)
			putIPAddr(p, 32, netip.Addr{})
		}),
	}, {
		file:    "tracking-unsynchronised",
		about:   "chrony-4.8 capture, TRACKING patched to leap status 3 (not synchronised); the rest as captured.",
		replies: patched(func(p []byte) { binary.BigEndian.PutUint16(p[54:], 3) }),
	}} {
		t.Run(g.file, func(t *testing.T) {
			g.enabled = only("tracking")
			g.names = goldenNames("tracking")
			g.run(t)
		})
	}
}
