package collector_test

import (
	"testing"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

func TestSelectDataGolden(t *testing.T) {
	g := golden{
		file: "selectdata",
		about: "chrony-4.8 capture (compare chronyc.txt) and a sixth source: N_SOURCES 6, SOURCE_DATA #5\n" +
			"the capture's 127.0.1.1 moved to 192.0.2.5, SELECT_DATA #5 handmade/select_data.hex\n" +
			"(falseticker, authenticated, leap 2, options configured -PT-- and effective N--R-).",
		replies: func(t *testing.T) *chronytest.Replies {
			r := loadCaptures(t, captures48)
			setNSources(t, r, 6)
			r.Set(cmdSourceData, chronytest.IndexKey(5), sourceAt(t, mustAddr("192.0.2.5")))
			putHex(t, r, chronytest.IndexKey(5), "select_data.hex")
			return r
		},
		enabled: only("selectdata"),
		names:   goldenNames("selectdata"),
	}
	g.run(t)
}
