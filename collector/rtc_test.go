package collector_test

import (
	"testing"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

func TestRTCGolden(t *testing.T) {
	for _, g := range []golden{{
		file:  "rtc",
		about: "chrony-4.8 capture with handmade/rtc.hex.",
		replies: func(t *testing.T) *chronytest.Replies {
			r := loadCaptures(t, captures48)
			putHex(t, r, chronytest.NoKey, "rtc.hex")
			return r
		},
	}, {
		file: "rtc-nortc",
		about: "chrony-4.8 capture: RTCREPORT answered NORTC (no RTC driver), which is no failure:\n" +
			"success 1 and no chrony_rtc_* series.",
		replies: func(t *testing.T) *chronytest.Replies { return loadCaptures(t, captures48) },
	}} {
		t.Run(g.file, func(t *testing.T) {
			g.enabled = only("rtc")
			g.names = goldenNames("rtc")
			g.run(t)
		})
	}
}
