package collector_test

import (
	"testing"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

func TestSourcesGolden(t *testing.T) {
	// oneSource is the 4.8 capture with a single source, a hand-made one.
	oneSource := func(file string) func(t *testing.T) *chronytest.Replies {
		return func(t *testing.T) *chronytest.Replies {
			r := loadCaptures(t, captures48)
			setNSources(t, r, 1)
			putHex(t, r, chronytest.IndexKey(0), file)
			return r
		}
	}
	for _, g := range []golden{{
		file: "sources",
		about: "chrony-4.8 capture: 127.0.1.1-3 reachable, 127.0.2.1 and 127.0.2.2 unreachable\n" +
			"without samples (no last_sample_* series); compare chronyc.txt.",
		replies: func(t *testing.T) *chronytest.Replies { return loadCaptures(t, captures48) },
	}, {
		file:    "sources-refclock",
		about:   "chrony-4.8 capture, N_SOURCES 1, SOURCE_DATA #0 handmade/source_data-refclock.hex (PPS0).",
		replies: oneSource("source_data-refclock.hex"),
	}, {
		file: "sources-unresolved",
		about: "chrony-4.8 capture, N_SOURCES 1, SOURCE_DATA #0 handmade/source_data-id.hex:\n" +
			"a source whose name is not resolved yet gets no series.",
		replies: oneSource("source_data-id.hex"),
	}, {
		file: "sources-vanished",
		about: "chrony-4.8 capture without SOURCE_DATA #4: N_SOURCES says 5, chronyd answers\n" +
			"NOSUCHSOURCE for 127.0.2.2, which went away meanwhile; not a failure.",
		replies: func(t *testing.T) *chronytest.Replies {
			r := loadCaptures(t, captures48)
			r.Delete(cmdSourceData, chronytest.IndexKey(4))
			return r
		},
	}, {
		file: "sources-ipv6-peer",
		about: "chrony-4.8 capture, N_SOURCES 1, SOURCE_DATA #0 handmade/source_data-ipv6.hex:\n" +
			"peer 2001:db8::5, poll -2, falseticker, reach 0o252, no configured name (NOSUCHSOURCE).",
		replies: oneSource("source_data-ipv6.hex"),
	}, {
		file: "sources-named",
		about: "chrony-4.8 capture, NTP_SOURCE_NAME of 127.0.1.1 patched to ntp1.example.net:\n" +
			"source_name is the configured name when it is not the address.",
		replies: named127011("ntp1.example.net"),
	}, {
		file: "sources-escaped",
		about: "chrony-4.8 capture, NTP_SOURCE_NAME of 127.0.1.1 patched to a name holding a quote, a backslash\n" +
			"and a line feed (shown as ?, as chronyc does): the label value is escaped as the text format wants.",
		replies: named127011("a\"b\\c\nd"),
	}} {
		t.Run(g.file, func(t *testing.T) {
			g.enabled = only("sources")
			g.names = goldenNames("sources")
			g.run(t)
		})
	}
}

func TestSourceStatsGolden(t *testing.T) {
	for _, g := range []golden{{
		file:    "sourcestats",
		about:   "chrony-4.8 capture; compare chronyc.txt.",
		replies: func(t *testing.T) *chronytest.Replies { return loadCaptures(t, captures48) },
	}, {
		file: "sourcestats-refclock",
		about: "chrony-4.8 capture, N_SOURCES 1, SOURCE_DATA #0 handmade/source_data-refclock.hex and\n" +
			"SOURCESTATS #0 handmade/sourcestats-refclock.hex: the refclock PPS0.",
		replies: func(t *testing.T) *chronytest.Replies {
			r := loadCaptures(t, captures48)
			setNSources(t, r, 1)
			putHex(t, r, chronytest.IndexKey(0), "source_data-refclock.hex")
			putHex(t, r, chronytest.IndexKey(0), "sourcestats-refclock.hex")
			return r
		},
	}} {
		t.Run(g.file, func(t *testing.T) {
			g.enabled = only("sourcestats")
			g.names = goldenNames("sourcestats")
			g.run(t)
		})
	}
}

// named127011 serves the 4.8 capture with the NTP_SOURCE_NAME reply of
// 127.0.1.1 patched to name.
func named127011(name string) func(t *testing.T) *chronytest.Replies {
	return func(t *testing.T) *chronytest.Replies {
		r := loadCaptures(t, captures48)
		key := chronytest.AddrKey(mustAddr("127.0.1.1"))
		p := stored(t, r, cmdSourceName, key)
		clear(p[28:284])
		copy(p[28:], name)
		r.Set(cmdSourceName, key, p)
		return r
	}
}
