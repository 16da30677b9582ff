package chronyproto

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// This file renders decoded reports the way `chronyc -c -n` prints them
// (§9.3), so tests can hold our decoding against chronyc's, field by field.

func csvTime(t interface{ Unix() int64 }, nsec int) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), nsec)
}

func chronycTracking(t Tracking) []string {
	return []string{
		fmt.Sprintf("%08X", t.RefID),
		t.ReferenceName(),
		strconv.Itoa(int(t.Stratum)),
		csvTime(t.RefTime, t.RefTime.Nanosecond()),
		fmt.Sprintf("%.9f", t.CurrentCorrection),
		fmt.Sprintf("%.9f", t.LastOffset),
		fmt.Sprintf("%.9f", t.RMSOffset),
		fmt.Sprintf("%.3f", t.FreqPPM),
		fmt.Sprintf("%.3f", t.ResidFreqPPM),
		fmt.Sprintf("%.3f", t.SkewPPM),
		fmt.Sprintf("%.9f", t.RootDelay),
		fmt.Sprintf("%.9f", t.RootDispersion),
		fmt.Sprintf("%.1f", t.LastUpdateInterval),
		t.LeapStatus.String(),
	}
}

func chronycSource(s SourceData) []string {
	since := "4294967295"
	if s.HasSample {
		since = strconv.FormatInt(int64(s.LastSampleAgo.Seconds()), 10)
	}
	return []string{
		s.Mode.Symbol(),
		s.State.Symbol(),
		s.Name(),
		strconv.Itoa(int(s.Stratum)),
		strconv.Itoa(int(s.Poll)),
		strconv.FormatUint(uint64(s.Reachability), 8),
		since,
		fmt.Sprintf("%.9f", s.LatestMeas),
		fmt.Sprintf("%.9f", s.OrigLatestMeas),
		fmt.Sprintf("%.9f", s.LatestMeasErr),
	}
}

func chronycSourceStats(s SourceStats) []string {
	return []string{
		s.Name(),
		strconv.Itoa(int(s.NSamples)),
		strconv.Itoa(int(s.NRuns)),
		strconv.Itoa(int(s.Span.Seconds())),
		fmt.Sprintf("%.3f", s.ResidFreqPPM),
		fmt.Sprintf("%.3f", s.SkewPPM),
		fmt.Sprintf("%.9f", s.EstOffset),
		fmt.Sprintf("%.9f", s.StdDev),
	}
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func chronycSelectData(s SelectData) []string {
	f := []string{string(rune(s.State)), s.Address.String(), yesNo(s.Authentication, "Y", "N")}
	for _, o := range []SelectOptions{s.ConfOptions, s.EffOptions} {
		for _, c := range o.String() {
			f = append(f, string(c))
		}
	}
	return append(f,
		strconv.Itoa(int(s.LastSampleAgo.Seconds())),
		fmt.Sprintf("%.1f", s.Score),
		fmt.Sprintf("%.9f", s.LoLimit),
		fmt.Sprintf("%.9f", s.HiLimit),
		s.Leap.String(),
	)
}

func chronycAuthData(name string, a AuthData) []string {
	ke := "4294967295"
	if a.HasKE {
		ke = strconv.Itoa(int(a.LastKEAgo.Seconds()))
	}
	return []string{
		name, a.Mode.String(),
		strconv.Itoa(int(a.KeyID)), strconv.Itoa(int(a.KeyType)), strconv.Itoa(int(a.KeyLength)),
		ke, strconv.Itoa(int(a.KEAttempts)), strconv.Itoa(int(a.Cookies)), strconv.Itoa(int(a.CookieLength)),
		yesNo(a.NAK, "1", "0"),
	}
}

// addressRefID is the reference ID chronyc shows beside an address (§5.5);
// the tests only meet IPv4 and unspecified addresses.
func addressRefID(a Address) string {
	if a.Family != FamilyInet4 {
		return "00000000"
	}
	b := a.IP.As4()
	return fmt.Sprintf("%02X%02X%02X%02X", b[0], b[1], b[2], b[3])
}

func chronycNTPData(d NTPData) []string {
	tests := d.Flags.TestsString()
	f := []string{
		d.RemoteAddr.String(), addressRefID(d.RemoteAddr), strconv.Itoa(int(d.RemotePort)),
		d.LocalAddr.String(), addressRefID(d.LocalAddr),
		d.Leap.String(), strconv.Itoa(int(d.Version)), d.Mode.String(), strconv.Itoa(int(d.Stratum)),
		strconv.Itoa(int(d.Poll)), fmt.Sprintf("%.0f", math.Ldexp(1, int(d.Poll))),
		strconv.Itoa(int(d.Precision)), fmt.Sprintf("%.9f", math.Ldexp(1, int(d.Precision))),
		fmt.Sprintf("%.6f", d.RootDelay), fmt.Sprintf("%.6f", d.RootDispersion),
		fmt.Sprintf("%08X", d.RefID), yesNo(d.Stratum <= 1, RefIDText(d.RefID), ""),
		csvTime(d.RefTime, d.RefTime.Nanosecond()),
		fmt.Sprintf("%.9f", d.Offset), fmt.Sprintf("%.9f", d.PeerDelay), fmt.Sprintf("%.9f", d.PeerDispersion),
		fmt.Sprintf("%.9f", d.ResponseTime), fmt.Sprintf("%.2f", d.JitterAsymmetry),
		tests[0:3], tests[4:7], tests[8:12],
		yesNo(d.Flags&NTPInterleaved != 0, "Yes", "No"), yesNo(d.Flags&NTPAuthEnabled != 0, "Yes", "No"),
		d.TxTimestamping.String(), d.RxTimestamping.String(),
		strconv.Itoa(int(d.TotalTx)), strconv.Itoa(int(d.TotalRx)), strconv.Itoa(int(d.TotalValid)),
	}
	if d.HasTotalGood {
		f = append(f, strconv.Itoa(int(d.TotalGood)))
	}
	if d.HasTimestampCounters {
		f = append(f, strconv.Itoa(int(d.TotalKernelTx)), strconv.Itoa(int(d.TotalKernelRx)),
			strconv.Itoa(int(d.TotalHWTx)), strconv.Itoa(int(d.TotalHWRx)))
	}
	return f
}

func chronycActivity(a Activity) []string {
	return []string{strconv.Itoa(int(a.Online)), strconv.Itoa(int(a.Offline)),
		strconv.Itoa(int(a.BurstOnline)), strconv.Itoa(int(a.BurstOffline)), strconv.Itoa(int(a.Unresolved))}
}

// chronycServerStats lists the counters in chronyc's order, which is not
// the wire's (§8.7).
func chronycServerStats(s ServerStats) []string {
	order := []ServerStatsField{StatNTPHits, StatNTPDrops, StatCmdHits, StatCmdDrops, StatLogDrops,
		StatNKEHits, StatNKEDrops, StatNTPAuthHits, StatNTPInterleavedHits, StatNTPTimestamps,
		StatNTPSpanSeconds, StatNTPDaemonRxTimestamps, StatNTPDaemonTxTimestamps,
		StatNTPKernelRxTimestamps, StatNTPKernelTxTimestamps, StatNTPHwRxTimestamps, StatNTPHwTxTimestamps}
	var f []string
	for _, k := range order {
		if v, ok := s.Counter(k); ok {
			f = append(f, strconv.FormatUint(v, 10))
		}
	}
	return f
}

// tolerance says how far a numeric field may be from chronyc's because
// time passed between the two readings.
type tolerance func(field int, want float64) float64

// exact allows no difference but the printing's rounding.
func exact(int, float64) float64 { return 0 }

// drift allows offsets and frequencies to move a little between readings.
func drift(_ int, want float64) float64 { return 2e-5 + 0.05*math.Abs(want) }

// compareCSV compares our fields with a line of chronyc -c output. Fields
// that are not numbers must be equal; numbers may differ by tol.
func compareCSV(got []string, line string, tol tolerance) error {
	want := strings.Split(line, ",")
	if len(got) != len(want) {
		return fmt.Errorf("got %d fields %q, chronyc printed %d %q", len(got), got, len(want), want)
	}
	var errs []string
	for i := range want {
		if got[i] == want[i] {
			continue
		}
		g, gerr := strconv.ParseFloat(got[i], 64)
		w, werr := strconv.ParseFloat(want[i], 64)
		if gerr == nil && werr == nil && math.Abs(g-w) <= tol(i, w)+1e-9 {
			continue
		}
		errs = append(errs, fmt.Sprintf("field %d: got %q, chronyc %q", i, got[i], want[i]))
	}
	if errs != nil {
		return fmt.Errorf("%s\n  got:     %s\n  chronyc: %s", strings.Join(errs, "; "), strings.Join(got, ","), line)
	}
	return nil
}

// chronycSections splits a chronyc.txt capture into its commands' lines.
func chronycSections(t *testing.T, text string) map[string][]string {
	t.Helper()
	sections := map[string][]string{}
	var cur string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(line, "## ") {
			f := strings.Fields(line)
			cur = f[len(f)-1]
			continue
		}
		sections[cur] = append(sections[cur], line)
	}
	return sections
}
