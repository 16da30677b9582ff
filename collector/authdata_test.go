package collector_test

import (
	"testing"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

func TestAuthDataGolden(t *testing.T) {
	g := golden{
		file: "authdata",
		about: "chrony-4.8 capture (no authentication: all-zero states, no NTS-KE) with the\n" +
			"AUTH_DATA of 127.0.1.1 replaced by handmade/auth_data-nts.hex (NTS, last NTS-KE 120 s ago).",
		replies: func(t *testing.T) *chronytest.Replies {
			r := loadCaptures(t, captures48)
			putHex(t, r, chronytest.AddrKey(mustAddr("127.0.1.1")), "auth_data-nts.hex")
			return r
		},
		enabled: only("authdata"),
		names:   goldenNames("authdata"),
	}
	g.run(t)
}
