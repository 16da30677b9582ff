package statuspage

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// The formatting helpers of the status page. Each one turns a value from
// chronyd into the text a person reads, and none of them prints NaN,
// ±Inf, negative zero or a sentinel as if it were a measurement.

// Placeholders for values that are not numbers.
const (
	// noValue stands for NaN and for a value chronyd did not send.
	noValue = "—"
	// never stands for chronyd's "no sample yet" and "never" sentinels.
	never = "never"
)

// offsetText formats a signed offset in seconds, always with its sign:
// |x| ≥ 1 s in s with 3 decimals ("+1.234 s"), ≥ 1 ms in ms with 3
// decimals ("-12.345 ms"), ≥ 1 µs in µs with 1 decimal ("+3.1 µs"), below
// that in whole ns ("-17 ns").
//
// The unit is chosen after rounding, so a value never prints as 1000 of a
// unit: 999.5 ns is "+1.0 µs" and 999.9996 ms is "+1.000 s". A value that
// rounds to zero is "+0 ns", never "-0 ns".
func offsetText(x float64) string {
	return seconds(x, true)
}

// magnitudeText formats an unsigned time in seconds (an error bound, a delay,
// a dispersion, a standard deviation) with the units and rounding of
// offsetText but no "+". A negative value, which chronyd does not send for
// these, keeps its "-".
func magnitudeText(x float64) string {
	return seconds(x, false)
}

// scales are the units of offsetText, smallest first: the factor from seconds,
// the decimals shown.
var scales = []struct {
	unit     string
	factor   float64
	decimals int
}{
	{"ns", 1e9, 0},
	{"µs", 1e6, 1},
	{"ms", 1e3, 3},
	{"s", 1, 3},
}

func seconds(x float64, signed bool) string {
	if s, ok := notFinite(x); ok {
		return s
	}
	a := math.Abs(x)
	for i, sc := range scales {
		v := roundTo(a*sc.factor, sc.decimals)
		if v < 1000 || i == len(scales)-1 {
			return sign(x, v, signed) + strconv.FormatFloat(v, 'f', sc.decimals, 64) + " " + sc.unit
		}
	}
	panic("unreachable")
}

// roundTo rounds a non-negative v half away from zero to the given
// decimals.
func roundTo(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	r := math.Round(v*p) / p
	if math.IsInf(r, 0) { // v*p overflowed: v has no decimals to round
		return v
	}
	return r
}

// sign returns the sign to print for x once its magnitude rounded to v:
// "-" for a negative x that does not round to zero, otherwise "+" when
// signed and "" when not.
func sign(x, v float64, signed bool) string {
	switch {
	case x < 0 && v != 0:
		return "-"
	case signed:
		return "+"
	}
	return ""
}

// notFinite returns the text of NaN and ±Inf.
func notFinite(x float64) (string, bool) {
	switch {
	case math.IsNaN(x):
		return noValue, true
	case math.IsInf(x, 1):
		return "+∞", true
	case math.IsInf(x, -1):
		return "-∞", true
	}
	return "", false
}

// ppmText formats a frequency in ppm with its sign and 3 decimals:
// "+1.234 ppm". A value that rounds to zero is "+0.000 ppm".
func ppmText(x float64) string {
	return ppm(x, true)
}

// ppmBoundText formats an error bound of a frequency (a skew) in ppm with 3
// decimals and no "+": "2.041 ppm".
func ppmBoundText(x float64) string {
	return ppm(x, false)
}

func ppm(x float64, signed bool) string {
	if s, ok := notFinite(x); ok {
		return s
	}
	v := roundTo(math.Abs(x), 3)
	return sign(x, v, signed) + strconv.FormatFloat(v, 'f', 3, 64) + " ppm"
}

// durationText formats a length of time the way a person reads it: the
// largest unit and the next one, "45s", "4m 16s", "3h 12m", "2d 5h",
// dropping a next unit that is zero ("1m", "2h"). Whole seconds are
// rounded half up, the rest cut off ("3h 12m 59s" is "3h 12m"). Under a
// second it is "250ms" (rounded; 999.5ms is "1s"), under a millisecond
// "500µs", under a microsecond "20ns". Zero is "0s"; a negative duration
// gets a "-".
func durationText(d time.Duration) string {
	switch {
	case d == math.MinInt64:
		return "-" + durationText(math.MaxInt64)
	case d < 0:
		return "-" + durationText(-d)
	case d == 0:
		return "0s"
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + "ns"
	}
	if d < time.Millisecond {
		if us := roundDiv(d, time.Microsecond); us < 1000 {
			return strconv.FormatInt(us, 10) + "µs"
		}
		return "1ms"
	}
	if d < time.Second {
		if ms := roundDiv(d, time.Millisecond); ms < 1000 {
			return strconv.FormatInt(ms, 10) + "ms"
		}
	}
	return wholeSeconds(roundDiv(d, time.Second))
}

// roundDiv divides a positive d by unit, rounding half up, without
// overflowing.
func roundDiv(d, unit time.Duration) int64 {
	q, r := d/unit, d%unit
	if r >= unit-r {
		q++
	}
	return int64(q)
}

// wholeSeconds formats a positive number of seconds as durationText does.
func wholeSeconds(s int64) string {
	two := func(hi int64, hiUnit string, lo int64, loUnit string) string {
		out := strconv.FormatInt(hi, 10) + hiUnit
		if lo != 0 {
			out += " " + strconv.FormatInt(lo, 10) + loUnit
		}
		return out
	}
	switch {
	case s < 60:
		return strconv.FormatInt(s, 10) + "s"
	case s < 3600:
		return two(s/60, "m", s%60, "s")
	case s < 86400:
		return two(s/3600, "h", s%3600/60, "m")
	}
	return two(s/86400, "d", s%86400/3600, "h")
}

// maxDurationSeconds is the longest time.Duration in seconds.
const maxDurationSeconds = float64(math.MaxInt64) / float64(time.Second)

// secondsText formats a length of time chronyd sends as a float of seconds
// (the update interval) as durationText does. NaN is noValue and ±Inf "+∞" and
// "-∞"; lengths beyond time.Duration's 292 years print in days.
func secondsText(x float64) string {
	if math.IsNaN(x) {
		return noValue
	}
	if math.IsInf(x, 0) {
		s, _ := notFinite(x)
		return s
	}
	if math.Abs(x) >= maxDurationSeconds {
		d := strconv.FormatFloat(math.Round(math.Abs(x)/86400), 'f', 0, 64) + "d"
		if x < 0 {
			return "-" + d
		}
		return d
	}
	return durationText(time.Duration(x * float64(time.Second)))
}

// pollText formats a polling interval, 2^poll seconds, as durationText does:
// poll 6 is "1m 4s", poll -2 "250ms".
func pollText(poll int16) string {
	return durationText(pollInterval(poll))
}

func pollInterval(poll int16) time.Duration {
	// chronyd's polls are within -7..24; beyond -20..32 the interval
	// would not fit time.Duration or would round to nothing.
	switch {
	case poll > 32:
		poll = 32
	case poll < -20:
		poll = -20
	}
	if poll >= 0 {
		return time.Second << poll
	}
	return time.Second >> -poll
}

// agoText formats how long ago something happened, for a sample age:
// durationText's text, or never when there is no sample.
func agoText(d time.Duration, ok bool) string {
	if !ok {
		return never
	}
	return durationText(d)
}

// reachText formats chronyd's reachability register as chronyc does: 3 octal
// digits, "377" when the last 8 polls were answered.
func reachText(r uint8) string {
	return fmt.Sprintf("%03o", r)
}

// reachBits returns the 8 polls of the reachability register, oldest
// first: bit 7 is the oldest poll and bit 0 the latest (§8.2.3), so the
// order is that of the octal digits.
func reachBits(r uint8) [8]bool {
	var b [8]bool
	for i := range b {
		b[i] = r&(1<<(7-i)) != 0
	}
	return b
}

// timeText formats a time from chronyd in UTC, to the second:
// "2026-01-01 01:02:03 UTC". The zero time and the Unix epoch, which is
// chronyd's "never", are never.
func timeText(t time.Time) string {
	if isNever(t) {
		return never
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// sinceText formats how long before now t was: "4m 16s ago", "in 3s" for a
// time ahead of now, "now" under a second, never for chronyd's sentinel.
func sinceText(t, now time.Time) string {
	if isNever(t) {
		return never
	}
	d := now.Sub(t)
	switch {
	case d > -time.Second && d < time.Second:
		return "now"
	case d < 0:
		return "in " + durationText(-d)
	}
	return durationText(d) + " ago"
}

func isNever(t time.Time) bool {
	return t.IsZero() || t.Unix() == 0
}

// refIDText formats a reference ID as chronyc does: 8 hex digits.
func refIDText(id uint32) string {
	return fmt.Sprintf("%08X", id)
}
