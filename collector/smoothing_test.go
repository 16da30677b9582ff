package collector_test

import (
	"testing"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

func TestSmoothingGolden(t *testing.T) {
	for _, g := range []golden{{
		file:  "smoothing",
		about: "chrony-4.8 capture with handmade/smoothing.hex (active, leap seconds only).",
		replies: func(t *testing.T) *chronytest.Replies {
			r := loadCaptures(t, captures48)
			putHex(t, r, chronytest.NoKey, "smoothing.hex")
			return r
		},
	}, {
		file: "smoothing-notenabled",
		about: "chrony-4.8 capture: SMOOTHING answered NOTENABLED (no smoothtime), which is no failure:\n" +
			"success 1 and no chrony_smoothing_* series.",
		replies: func(t *testing.T) *chronytest.Replies { return loadCaptures(t, captures48) },
	}} {
		t.Run(g.file, func(t *testing.T) {
			g.enabled = only("smoothing")
			g.names = goldenNames("smoothing")
			g.run(t)
		})
	}
}
