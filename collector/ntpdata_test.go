package collector_test

import (
	"net/netip"
	"testing"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

func TestNTPDataGolden(t *testing.T) {
	// oneSource serves a hand-made NTP_DATA as the reply for a single
	// source at the packet's remote address: NTP_DATA is asked by address.
	oneSource := func(file string, remote netip.Addr) func(t *testing.T) *chronytest.Replies {
		return func(t *testing.T) *chronytest.Replies {
			r := loadCaptures(t, captures48)
			setNSources(t, r, 1)
			r.Set(cmdSourceData, chronytest.IndexKey(0), sourceAt(t, remote))
			putHex(t, r, chronytest.AddrKey(remote), file)
			return r
		}
	}
	for _, g := range []golden{{
		file: "ntpdata-4.3",
		about: "chrony-4.3 capture: NTP_DATA reply 16 with total_good_count in its first reserved\n" +
			"word; compare chronyc.txt.",
		replies: func(t *testing.T) *chronytest.Replies { return loadCaptures(t, captures43) },
	}, {
		file: "ntpdata-26",
		about: "chrony-4.8 capture, N_SOURCES 1, SOURCE_DATA #0 the capture's 127.0.1.1 moved to\n" +
			"2001:db8::123, its NTP_DATA handmade/ntp_data-26.hex (reply 26: timestamp counters).",
		replies: oneSource("ntp_data-26.hex", mustAddr("2001:db8::123")),
	}, {
		file: "ntpdata-16-v3",
		about: "chrony-4.8 capture, N_SOURCES 1, SOURCE_DATA #0 the capture's 127.0.1.1 moved to\n" +
			"192.0.2.10, its NTP_DATA handmade/ntp_data-16-v3.hex (reply 16 of 3.x-4.2: no good count).",
		replies: oneSource("ntp_data-16-v3.hex", mustAddr("192.0.2.10")),
	}} {
		t.Run(g.file, func(t *testing.T) {
			g.enabled = only("ntpdata")
			g.names = goldenNames("ntpdata")
			g.run(t)
		})
	}
}
