package collector_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
)

// chrony35 is the 4.3 capture answering as chronyd 3.5 does the requests
// that came with 4.0: SELECT_DATA, AUTH_DATA and NTP_SOURCE_NAME get
// INVALID, "502 Invalid command" (§4.2 step 6; the fake answers INVALID to
// a command it has no reply of).
func chrony35(t *testing.T) *chronytest.Replies {
	r := loadCaptures(t, captures43)
	for _, cmd := range []uint16{cmdSelectData, cmdAuthData, cmdSourceName} {
		r.DeleteCommand(cmd)
	}
	return r
}

// TestTooOldGolden: a collector on by default whose report chronyd is too
// old for is skipped quietly, as one that needs the Unix socket is over
// UDP: no success series, no warning, a debug line; every scrape asks
// again, so an upgraded chronyd is read at once. Turned on by the user, it
// fails visibly: success 0 and one warning.
func TestTooOldGolden(t *testing.T) {
	names := []string{upName, successName}
	for _, tc := range []struct {
		file, about string
		enabled     map[string]bool
		explicit    bool
	}{
		{"too-old-defaults", "chrony-4.3 capture answering SELECT_DATA, AUTH_DATA and NTP_SOURCE_NAME with INVALID, as\n" +
			"chronyd 3.5 does; default collectors: authdata is skipped, with no success series.", nil, false},
		{"too-old-authdata", "chrony-4.3 capture answering SELECT_DATA, AUTH_DATA and NTP_SOURCE_NAME with INVALID, as\n" +
			"chronyd 3.5 does; default collectors and authdata turned on explicitly: authdata fails.", map[string]bool{"authdata": true}, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := chronytest.NewFake(t, "unixgram", chrony35(t))
			var logs lockedLog
			e, err := collector.New(collector.Config{Address: f.Addr(), Timeout: scrapeTimeout, Enabled: tc.enabled}, &logs)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			got, err := testutil.CollectAndFormat(e, expfmt.TypeTextPlain, names...)
			if err != nil {
				t.Fatal(err)
			}
			// The second scrape, with the source list known, is the same.
			again, err := testutil.CollectAndFormat(e, expfmt.TypeTextPlain, names...)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(got) {
				t.Errorf("second scrape differs:\n%s\nfirst:\n%s", again, got)
			}
			// One AUTH_DATA probe per scrape, and nothing more.
			if n := f.RequestsFor(cmdAuthData); n != 2 {
				t.Errorf("%d AUTH_DATA requests in two scrapes, want 2: one probe each", n)
			}
			// And as /metrics serves it.
			servedGolden(t, e, tc.file, tc.about, names, nil)

			var st collector.CollectorState
			for _, s := range e.States() {
				if s.Name == "authdata" {
					st = s
				}
			}
			warns := logs.count(`level=warn`)
			if tc.explicit {
				if st.Skipped != "" || st.Err == nil || warns != 1 || logs.count(`msg="collector failed" collector=authdata`) != 1 {
					t.Errorf("authdata turned on: state %+v, %d warnings; want failed, warned once:\n%s", st, warns, logs.String())
				}
				return
			}
			want := "this chronyd is too old for the authdata report (chrony 4.0 added it)"
			if st.Skipped != want || !st.TooOld || st.Err != nil {
				t.Errorf("authdata state %+v, want skipped: %q", st, want)
			}
			if warns != 0 || logs.count(`level=debug msg="collector skipped" collector=authdata`) != 1 {
				t.Errorf("log of a quietly skipped collector:\n%s\nwant no warning, one debug line", logs.String())
			}

			// chronyd upgraded: the next scrape reads authdata.
			f.SetReplies(loadCaptures(t, captures43))
			got, err = testutil.CollectAndFormat(e, expfmt.TypeTextPlain, successName)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(got), `chrony_scrape_collector_success{collector="authdata"} 1`) {
				t.Errorf("after the upgrade:\n%s\nwant authdata's success 1", got)
			}
		})
	}
}
