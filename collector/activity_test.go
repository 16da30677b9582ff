package collector_test

import (
	"testing"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

func TestActivityGolden(t *testing.T) {
	g := golden{
		file:  "activity",
		about: "chrony-4.8 capture with handmade/activity.hex (7 online, 3 offline, 1 and 2 bursting, 4 unresolved).",
		replies: func(t *testing.T) *chronytest.Replies {
			r := loadCaptures(t, captures48)
			putHex(t, r, chronytest.NoKey, "activity.hex")
			return r
		},
		enabled: only("activity"),
		names:   goldenNames("activity"),
	}
	g.run(t)
}
