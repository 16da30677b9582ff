package probe

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeResolver answers from a table and counts lookups.
type fakeResolver struct {
	names   map[string][]netip.Addr
	lookups atomic.Int32
}

var errNoSuchHost = errors.New("no such host")

func (f *fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	f.lookups.Add(1)
	if network != "ip" {
		return nil, errors.New("unexpected network " + network)
	}
	ips, ok := f.names[host]
	if !ok {
		return nil, errNoSuchHost
	}
	return ips, nil
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestParseAllowList(t *testing.T) {
	for _, tc := range []struct {
		entries []string
		want    string // String(), or the start of the error
		err     bool
	}{
		{[]string{"10.0.0.0/8"}, "10.0.0.0/8", false},
		{[]string{"10.1.2.3/8"}, "10.0.0.0/8", false}, // masked
		{[]string{"192.0.2.1"}, "192.0.2.1/32", false},
		{[]string{"2001:db8::/32"}, "2001:db8::/32", false},
		{[]string{"::ffff:192.0.2.0/120"}, "192.0.2.0/24", false},
		{[]string{"::ffff:192.0.2.1"}, "192.0.2.1/32", false},
		{[]string{"NTP1.Example.COM."}, "ntp1.example.com", false},
		{[]string{" 10.0.0.0/8 "}, "10.0.0.0/8", false},
		{nil, "--probe.allow: no entry", true},
		{[]string{""}, "--probe.allow: empty entry", true},
		{[]string{"10.0.0.0/33"}, `--probe.allow="10.0.0.0/33": not a network`, true},
		{[]string{"fe80::1%eth0"}, "--probe.allow", true},
		{[]string{"http://ntp1"}, "--probe.allow", true},
		{[]string{"ntp 1"}, "--probe.allow", true},
		{[]string{"127.1"}, "--probe.allow", true},
	} {
		a, err := ParseAllowList(tc.entries)
		switch {
		case tc.err && err == nil:
			t.Errorf("ParseAllowList(%q) = %v, want an error", tc.entries, a)
		case tc.err && !strings.HasPrefix(err.Error(), tc.want):
			t.Errorf("ParseAllowList(%q): %v, want it to start with %q", tc.entries, err, tc.want)
		case !tc.err && err != nil:
			t.Errorf("ParseAllowList(%q): %v", tc.entries, err)
		case !tc.err && a.String() != tc.want:
			t.Errorf("ParseAllowList(%q) = %s, want %s", tc.entries, a, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	r := &fakeResolver{names: map[string][]netip.Addr{
		"ntp1.example.com":   addrs("10.1.1.1"),
		"dual.example.com":   addrs("2001:db8::1", "10.1.1.2"),
		"mixed.example.com":  addrs("10.1.1.3", "169.254.169.254"),
		"meta.example.com":   addrs("169.254.169.254"),
		"named.example.com":  addrs("192.0.2.7", "192.0.2.7"), // allowed by name; duplicate
		"zero.example.com":   addrs("0.0.0.0"),
		"mapped.example.com": addrs("::ffff:10.1.1.4"),
	}}
	a, err := ParseAllowList([]string{"10.0.0.0/8", "2001:db8::/32", "named.example.com", "zero.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target string
		want   []string // addresses, when allowed
		status int      // 400 or 403 when refused
		lookup bool     // whether the name may be resolved
	}{
		{target: "10.1.2.3", want: []string{"10.1.2.3:323"}},
		{target: "10.1.2.3:1323", want: []string{"10.1.2.3:1323"}},
		{target: "[2001:db8::5]:323", want: []string{"[2001:db8::5]:323"}},
		{target: "2001:db8::5", want: []string{"[2001:db8::5]:323"}},
		{target: "::ffff:10.1.2.3", want: []string{"10.1.2.3:323"}},
		{target: "ntp1.example.com", want: []string{"10.1.1.1:323"}, lookup: true},
		{target: "NTP1.example.com.:4000", want: []string{"10.1.1.1:4000"}, lookup: true},
		{target: "dual.example.com", want: []string{"[2001:db8::1]:323", "10.1.1.2:323"}, lookup: true},
		{target: "named.example.com", want: []string{"192.0.2.7:323"}, lookup: true},
		{target: "mapped.example.com", want: []string{"10.1.1.4:323"}, lookup: true},

		// Outside the list.
		{target: "192.0.2.1", status: 403},
		{target: "127.0.0.1:323", status: 403},
		{target: "[::1]:323", status: 403},
		{target: "::ffff:127.0.0.1", status: 403},
		{target: "169.254.169.254", status: 403},
		{target: "meta.example.com", status: 403, lookup: true},
		{target: "mixed.example.com", status: 403, lookup: true},
		{target: "zero.example.com", status: 403, lookup: true}, // allowed by name, but 0.0.0.0 is the exporter's host

		// Malformed: refused before any lookup.
		{target: "", status: 400},
		{target: "file:///etc/passwd", status: 400},
		{target: "http://10.1.1.1:323/", status: 400},
		{target: "udp://10.1.1.1:323", status: 400},
		{target: "10.1.1.1/32", status: 400},
		{target: "user@10.1.1.1", status: 400},
		{target: "10.1.1.1?x=1", status: 400},
		{target: "10.1.1.1:99999", status: 400},
		{target: "10.1.1.1:0", status: 400},
		{target: "10.1.1.1:-1", status: 400},
		{target: "10.1.1.1:ntp", status: 400},
		{target: ":323", status: 400},
		{target: strings.Repeat("a", 100000), status: 400},
		{target: strings.Repeat("a.", 130) + "com", status: 400},
		{target: strings.Repeat("a", 64) + ".com", status: 400},
		{target: "0.0.0.0", status: 400},
		{target: "[::]:323", status: 400},
		{target: "::ffff:0.0.0.0", status: 400},
		{target: "[::ffff:255.255.255.255]:323", status: 400},
		{target: "224.0.0.1", status: 400},
		{target: "255.255.255.255", status: 400},
		{target: "fe80::1%eth0", status: 400},
		{target: "ntp 1.example.com", status: 400},
		{target: "ntp1.example.com\x00.evil", status: 400},
		{target: "127.1", status: 400},
		{target: "0x7f000001", status: 400},
		{target: "-ntp.example.com", status: 400},
		{target: "ntp..example.com", status: 400},
		{target: "nosuch.example.com", status: 400, lookup: true},
	} {
		t.Run(tc.target[:min(len(tc.target), 40)], func(t *testing.T) {
			before := r.lookups.Load()
			got, err := a.Check(context.Background(), r, tc.target)
			looked := r.lookups.Load() != before
			if looked && !tc.lookup {
				t.Errorf("Check(%q) resolved a name", tc.target)
			}
			if tc.status != 0 {
				var te *TargetError
				if !errors.As(err, &te) || te.Status != tc.status {
					t.Fatalf("Check(%q) = %v, %v; want a %d", tc.target, got, err, tc.status)
				}
				if len(te.Reason) > 300 {
					t.Errorf("reason of %d bytes: %.100q…", len(te.Reason), te.Reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check(%q): %v", tc.target, err)
			}
			var s []string
			for _, ap := range got {
				s = append(s, ap.String())
			}
			if !slices.Equal(s, tc.want) {
				t.Errorf("Check(%q) = %v, want %v", tc.target, s, tc.want)
			}
		})
	}
}

// TestCheckNamesOnly: with only names on the list, another name is
// refused without a lookup, so the exporter cannot be made to query DNS
// for names of the requester's choosing.
func TestCheckNamesOnly(t *testing.T) {
	r := &fakeResolver{names: map[string][]netip.Addr{"ntp1.example.com": addrs("10.1.1.1")}}
	a, err := ParseAllowList([]string{"ntp1.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.Check(context.Background(), r, "ntp1.example.com"); err != nil || len(got) != 1 {
		t.Errorf("allowed name: %v, %v", got, err)
	}
	for _, target := range []string{"ntp2.example.com", "10.1.1.1", "attacker.example"} {
		before := r.lookups.Load()
		_, err := a.Check(context.Background(), r, target)
		var te *TargetError
		if !errors.As(err, &te) || te.Status != 403 {
			t.Errorf("Check(%q): %v, want 403", target, err)
		}
		if r.lookups.Load() != before {
			t.Errorf("Check(%q) resolved a name", target)
		}
	}
}
