package statuspage

import (
	"math"
	"testing"
	"time"
)

var (
	nan    = math.NaN()
	posInf = math.Inf(1)
	negInf = math.Inf(-1)
	negZ   = math.Copysign(0, -1)
)

func TestOffset(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		// Zero, and values that round to zero, are "+0 ns": never "-0".
		{0, "+0 ns"},
		{negZ, "+0 ns"},
		{0.4e-9, "+0 ns"},
		{-0.4e-9, "+0 ns"},
		{1e-300, "+0 ns"},
		// ns: whole nanoseconds, rounded half away from zero.
		{0.5e-9, "+1 ns"},
		{-0.5e-9, "-1 ns"},
		{17e-9, "+17 ns"},
		{-17e-9, "-17 ns"},
		{999e-9, "+999 ns"},
		{999.4e-9, "+999 ns"},
		{-999.4e-9, "-999 ns"},
		// 999.5 ns rounds to 1000 ns: shown in the next unit. (999.5e-9
		// itself is 999.4999… ns in a float64.)
		{999.5001e-9, "+1.0 µs"},
		{999.9e-9, "+1.0 µs"},
		{-999.9e-9, "-1.0 µs"},
		// µs: 1 decimal.
		{1e-6, "+1.0 µs"},
		{1.04e-6, "+1.0 µs"},
		{1.06e-6, "+1.1 µs"},
		{-3.139e-6, "-3.1 µs"},
		{4.565e-6, "+4.6 µs"},
		{999.94e-6, "+999.9 µs"},
		{-999.94e-6, "-999.9 µs"},
		{999.96e-6, "+1.000 ms"},
		// ms: 3 decimals.
		{1e-3, "+1.000 ms"},
		{-1e-3, "-1.000 ms"},
		{9.99949e-3, "+9.999 ms"},
		{9.99951e-3, "+10.000 ms"},
		{-12.345e-3, "-12.345 ms"},
		{999.9994e-3, "+999.999 ms"},
		{999.9996e-3, "+1.000 s"},
		{-999.9996e-3, "-1.000 s"},
		// s: 3 decimals, however large.
		{1, "+1.000 s"},
		{-1, "-1.000 s"},
		{1.2344, "+1.234 s"},
		{1.2346, "+1.235 s"},
		{-86400.5, "-86400.500 s"},
		{4.6e18, "+4600000000000000000.000 s"},
		// Not numbers.
		{nan, "—"},
		{posInf, "+∞"},
		{negInf, "-∞"},
	} {
		if got := offsetText(tc.in); got != tc.want {
			t.Errorf("Offset(%g) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMagnitude(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0 ns"},
		{negZ, "0 ns"},
		{-0.2e-9, "0 ns"},
		{999.4e-9, "999 ns"},
		{999.5001e-9, "1.0 µs"},
		{4.036e-6, "4.0 µs"},
		{7.982e-6, "8.0 µs"},
		{37.919e-6, "37.9 µs"},
		{0.5, "500.000 ms"},
		{4, "4.000 s"},
		// Negative: chronyd does not send it, but it must not look positive.
		{-2e-6, "-2.0 µs"},
		{nan, "—"},
		{posInf, "+∞"},
		{negInf, "-∞"},
	} {
		if got := magnitudeText(tc.in); got != tc.want {
			t.Errorf("Magnitude(%g) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPPM(t *testing.T) {
	for _, tc := range []struct {
		in         float64
		want, hold string // PPM, PPMBound
	}{
		{0, "+0.000 ppm", "0.000 ppm"},
		{negZ, "+0.000 ppm", "0.000 ppm"},
		{-0.0004, "+0.000 ppm", "0.000 ppm"}, // chronyc prints -0.000; we do not
		{0.0004, "+0.000 ppm", "0.000 ppm"},
		{0.0005, "+0.001 ppm", "0.001 ppm"},
		{-0.0005, "-0.001 ppm", "-0.001 ppm"},
		{1.234, "+1.234 ppm", "1.234 ppm"},
		{1.2345, "+1.235 ppm", "1.235 ppm"},
		{-1.5, "-1.500 ppm", "-1.500 ppm"},
		{0.063, "+0.063 ppm", "0.063 ppm"},
		{2000, "+2000.000 ppm", "2000.000 ppm"},
		{-123456.789, "-123456.789 ppm", "-123456.789 ppm"},
		{nan, "—", "—"},
		{posInf, "+∞", "+∞"},
		{negInf, "-∞", "-∞"},
	} {
		if got := ppmText(tc.in); got != tc.want {
			t.Errorf("PPM(%g) = %q, want %q", tc.in, got, tc.want)
		}
		if got := ppmBoundText(tc.in); got != tc.hold {
			t.Errorf("PPMBound(%g) = %q, want %q", tc.in, got, tc.hold)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{1, "1ns"},
		{999, "999ns"},
		{time.Microsecond, "1µs"},
		{1499 * time.Nanosecond, "1µs"},
		{1500 * time.Nanosecond, "2µs"},
		{999499 * time.Nanosecond, "999µs"},
		{999500 * time.Nanosecond, "1ms"},
		{time.Millisecond, "1ms"},
		{7812500 * time.Nanosecond, "8ms"}, // poll -7
		{250 * time.Millisecond, "250ms"},
		{999499 * time.Microsecond, "999ms"},
		{999500 * time.Microsecond, "1s"},
		{time.Second, "1s"},
		{1499 * time.Millisecond, "1s"},
		{1500 * time.Millisecond, "2s"},
		{45 * time.Second, "45s"},
		{59 * time.Second, "59s"},
		{59500 * time.Millisecond, "1m"},
		{60 * time.Second, "1m"},
		{64 * time.Second, "1m 4s"},
		{4*time.Minute + 16*time.Second, "4m 16s"},
		{59*time.Minute + 59*time.Second, "59m 59s"},
		{time.Hour, "1h"},
		{time.Hour + 59*time.Second, "1h"}, // seconds cut off under the hour
		{3*time.Hour + 12*time.Minute + 59*time.Second, "3h 12m"},
		{23*time.Hour + 59*time.Minute + 59*time.Second, "23h 59m"},
		{24 * time.Hour, "1d"},
		{2*24*time.Hour + 5*time.Hour + 59*time.Minute, "2d 5h"},
		{131072 * time.Second, "1d 12h"}, // poll 17
		{math.MaxInt64, "106751d 23h"},
		// Negative: the same with a "-".
		{-250 * time.Millisecond, "-250ms"},
		{-(4*time.Minute + 16*time.Second), "-4m 16s"},
		{math.MinInt64, "-106751d 23h"},
	} {
		if got := durationText(tc.in); got != tc.want {
			t.Errorf("Duration(%d) = %q, want %q", int64(tc.in), got, tc.want)
		}
	}
}

func TestSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0s"},
		{negZ, "0s"},
		{2.0, "2s"},
		{0.25, "250ms"},
		{1024, "17m 4s"},
		{-3, "-3s"},
		{1e-10, "0s"},
		{1e12, "11574074d"},
		{-1e12, "-11574074d"},
		{nan, "—"},
		{posInf, "+∞"},
		{negInf, "-∞"},
	} {
		if got := secondsText(tc.in); got != tc.want {
			t.Errorf("Seconds(%g) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPoll(t *testing.T) {
	for _, tc := range []struct {
		in   int16
		want string
	}{
		{-7, "8ms"},
		{-6, "16ms"},
		{-1, "500ms"},
		{0, "1s"},
		{5, "32s"},
		{6, "1m 4s"},
		{10, "17m 4s"},
		{12, "1h 8m"},
		{17, "1d 12h"},
		{24, "194d 4h"},
		// Out of chronyd's range: clamped, never garbage.
		{32, "49710d 6h"},
		{math.MaxInt16, "49710d 6h"},
		{-20, "953ns"},
		{-21, "953ns"},
		{math.MinInt16, "953ns"},
	} {
		if got := pollText(tc.in); got != tc.want {
			t.Errorf("Poll(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAgo(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		ok   bool
		want string
	}{
		{0, true, "0s"},
		{12 * time.Second, true, "12s"},
		{1200 * time.Second, true, "20m"},
		// chronyd's "no sample" (since_sample 0xFFFFFFFF).
		{0, false, "never"},
		{4294967295 * time.Second, false, "never"},
	} {
		if got := agoText(tc.d, tc.ok); got != tc.want {
			t.Errorf("Ago(%v, %v) = %q, want %q", tc.d, tc.ok, got, tc.want)
		}
	}
}

func TestReach(t *testing.T) {
	for _, tc := range []struct {
		in   uint8
		want string
		bits string // oldest poll first
	}{
		{0, "000", "........"},
		{1, "001", ".......#"},
		{0o17, "017", "....####"},
		{0o200, "200", "#......."},
		{0o252, "252", "#.#.#.#."},
		{0o376, "376", "#######."},
		{0o377, "377", "########"},
	} {
		if got := reachText(tc.in); got != tc.want {
			t.Errorf("Reach(%#o) = %q, want %q", tc.in, got, tc.want)
		}
		var bits []byte
		for _, on := range reachBits(tc.in) {
			if on {
				bits = append(bits, '#')
			} else {
				bits = append(bits, '.')
			}
		}
		if string(bits) != tc.bits {
			t.Errorf("ReachBits(%#o) = %s, want %s", tc.in, bits, tc.bits)
		}
	}
}

func TestTime(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 1, 1, 1, 2, 3, 0, time.UTC), "2026-01-01 01:02:03 UTC"},
		// Shown in UTC whatever the zone; nanoseconds cut, as chronyc does.
		{time.Date(2026, 1, 1, 3, 2, 3, 999999999, time.FixedZone("X", 2*3600)), "2026-01-01 01:02:03 UTC"},
		// chronyd's "never" is the epoch; Go's zero time is no time.
		{time.Unix(0, 0), "never"},
		{time.Unix(0, 0).UTC(), "never"},
		{time.Time{}, "never"},
		{time.Unix(1, 0), "1970-01-01 00:00:01 UTC"},
	} {
		if got := timeText(tc.in); got != tc.want {
			t.Errorf("Time(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSince(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{now, "now"},
		{now.Add(-999 * time.Millisecond), "now"},
		{now.Add(999 * time.Millisecond), "now"},
		{now.Add(-time.Second), "1s ago"},
		{now.Add(-(4*time.Minute + 16*time.Second)), "4m 16s ago"},
		{now.Add(3 * time.Second), "in 3s"},
		{time.Unix(0, 0), "never"},
		{time.Time{}, "never"},
	} {
		if got := sinceText(tc.in, now); got != tc.want {
			t.Errorf("Since(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRefID(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want string
	}{
		{0, "00000000"},
		{0x7F000102, "7F000102"},
		{0x7F7F0101, "7F7F0101"},
		{0xFFFFFFFF, "FFFFFFFF"},
	} {
		if got := refIDText(tc.in); got != tc.want {
			t.Errorf("RefID(%#x) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFloatJSON(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{-3.139e-6, "-0.000003139"},
		{1.5, "1.5"},
		{nan, "null"},
		{posInf, "null"},
		{negInf, "null"},
	} {
		got, err := jsonFloat(tc.in).MarshalJSON()
		if err != nil || string(got) != tc.want {
			t.Errorf("Float(%g).MarshalJSON() = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}
