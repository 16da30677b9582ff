package collector_test

import (
	"testing"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

func TestClientsGolden(t *testing.T) {
	g := golden{
		file: "clients",
		about: "chrony-4.8 capture with CLIENT_ACCESSES_BY_INDEX3 from index 0 handmade/client_accesses-21.hex:\n" +
			"one page, 192.0.2.50 (NTS-KE and NTP: last 5 s ago, interval 2^4 s, 4 drops) and\n" +
			"2001:db8::50 (NTP: last 1 s ago, interval 2^-2 s, 10 drops).",
		replies: func(t *testing.T) *chronytest.Replies {
			r := loadCaptures(t, captures48)
			putHex(t, r, chronytest.IndexKey(0), "client_accesses-21.hex")
			return r
		},
		enabled: only("clients"),
		names:   goldenNames("clients"),
	}
	g.run(t)
}
