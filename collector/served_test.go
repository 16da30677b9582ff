package collector_test

import (
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/second-hand/chrony_exporter/chronyproto"
	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

// TestServedTransportAndTooOldGoldens: the golden files that
// TestTransportGolden and TestTooOldGolden compare with what the
// prometheus.Collector sends (compareGolden) hold what /metrics serves,
// byte for byte, for the same fixtures: the transport's label and the
// skipped or failing collectors of a chronyd too old. Their headings are
// those tests'.
func TestServedTransportAndTooOldGoldens(t *testing.T) {
	// A socket file nobody listens on, as in TestTransportGolden.
	dead := filepath.Join(t.TempDir(), "chronyd.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: dead, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	refuse := func(f *chronytest.Fake) {
		for _, cmd := range unixOnlyCommands {
			f.SetFault(cmd, chronytest.FaultSpec{Fault: chronytest.FaultUnauth})
		}
	}
	transport := []string{transportName, upName, successName}
	for _, tc := range []struct {
		file    string
		replies func(t *testing.T) *chronytest.Replies
		network string
		auto    bool // the automatic address, finding the dead socket first
		enabled map[string]bool
		names   []string
	}{
		{"transport-unix", capture48, "unixgram", false, nil, transport},
		{"transport-udp", capture48, "udp", false, nil, transport},
		{"transport-fallback", capture48, "udp", true, nil, transport},
		{"too-old-defaults", chrony35, "unixgram", false, nil, []string{upName, successName}},
		{"too-old-authdata", chrony35, "unixgram", false, map[string]bool{"authdata": true}, []string{upName, successName}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := chronytest.NewFake(t, tc.network, tc.replies(t))
			if tc.network == "udp" {
				refuse(f)
			}
			cfg := collector.Config{Address: f.Addr(), Timeout: scrapeTimeout, Enabled: tc.enabled}
			if tc.auto {
				savedPaths, savedUDP := chronyproto.DefaultSocketPaths, chronyproto.DefaultUDPAddrs
				t.Cleanup(func() { chronyproto.DefaultSocketPaths, chronyproto.DefaultUDPAddrs = savedPaths, savedUDP })
				chronyproto.DefaultSocketPaths = []string{filepath.Join(t.TempDir(), "missing.sock"), dead}
				chronyproto.DefaultUDPAddrs = []netip.AddrPort{f.AddrPort()}
				cfg.Address = ""
			}
			e, err := collector.New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			replace := strings.NewReplacer(f.Addr(), "FAKE_ADDRESS", dead, "FAKE_DEAD_SOCKET").Replace
			servedGolden(t, e, tc.file, "", tc.names, replace)
		})
	}
}
