package collector_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/collector"
	"github.com/second-hand/chrony_exporter/statuspage"
)

// namingReplies is the 4.8 capture with one source of each kind of name:
// 127.0.1.1 configured as ntp1.example.net (its reverse DNS name differs
// and must lose), 127.0.1.2 named by reverse DNS, 127.0.1.3 and 127.0.2.1
// without a name (the resolver fails, or knows none), and #4 the refclock
// PPS0 in place of 127.0.2.2.
func namingReplies(t *testing.T) *chronytest.Replies {
	r := capture48(t)
	key := chronytest.AddrKey(mustAddr("127.0.1.1"))
	p := stored(t, r, cmdSourceName, key)
	clear(p[28:284])
	copy(p[28:], "ntp1.example.net")
	r.Set(cmdSourceName, key, p)

	putHex(t, r, chronytest.IndexKey(4), "source_data-refclock.hex")
	putHex(t, r, chronytest.IndexKey(4), "sourcestats-refclock.hex")
	sel := readHex(t, "select_data.hex")
	binary.BigEndian.PutUint32(sel[28:], 0x50505330) // "PPS0"
	putIPAddr(sel, 32, netip.Addr{})                 // refclocks have no address
	r.Set(cmdSelectData, chronytest.IndexKey(4), sel)
	return r
}

// namingResolver answers reverse DNS for the naming test, counting the
// questions per address.
type namingResolver struct {
	mu    sync.Mutex
	asked map[netip.Addr]int
}

func (n *namingResolver) resolve(_ context.Context, ip netip.Addr) (string, error) {
	n.mu.Lock()
	n.asked[ip]++
	n.mu.Unlock()
	switch ip.String() {
	case "127.0.1.1":
		return "ptr-of-127.0.1.1.example", nil
	case "127.0.1.2":
		return "ntp2.dns.example", nil
	case "127.0.2.1":
		return "", nil
	}
	return "", errors.New("no PTR record")
}

// TestPageNamesAsMetrics: with --collector.dns-lookups, the status page
// names every source and the tracking reference as the metrics label
// them (source_name, tracking_info), whichever way the name comes: a
// configured name, reverse DNS, the address, a refclock's reference ID.
// The page's read and the scrape ask the resolver through one cache.
func TestPageNamesAsMetrics(t *testing.T) {
	// want is every source's name, by source_address.
	want := map[string]string{
		"127.0.1.1": "ntp1.example.net",
		"127.0.1.2": "ntp2.dns.example",
		"127.0.1.3": "127.0.1.3",
		"127.0.2.1": "127.0.2.1",
		"PPS0":      "PPS0",
	}
	for _, tc := range []struct {
		name string
		// tracking changes the replies' reference; nil keeps 127.0.1.2.
		tracking func(t *testing.T, r *chronytest.Replies)
		want     [3]string // tracking_address, tracking_name, tracking_refid
		// refclock: the page gives the reference no address.
		refclock bool
	}{{
		name: "reference-by-dns",
		want: [3]string{"127.0.1.2", "ntp2.dns.example", "7F000102"},
	}, {
		name:     "reference-configured",
		tracking: referenceAt("127.0.1.1"),
		want:     [3]string{"127.0.1.1", "ntp1.example.net", "7F000101"},
	}, {
		name:     "reference-address",
		tracking: referenceAt("127.0.1.3"),
		want:     [3]string{"127.0.1.3", "127.0.1.3", "7F000103"},
	}, {
		name: "reference-refclock",
		tracking: func(t *testing.T, r *chronytest.Replies) {
			putHex(t, r, chronytest.NoKey, "tracking-refclock.hex")
		},
		want:     [3]string{"PPS0", "PPS0", "50505330"},
		refclock: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := namingReplies(t)
			if tc.tracking != nil {
				tc.tracking(t, r)
			}
			f := chronytest.NewFake(t, "unixgram", r)
			e, err := collector.New(collector.Config{Address: f.Addr(), Timeout: scrapeTimeout, DNSLookups: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			res := &namingResolver{asked: map[netip.Addr]int{}}
			collector.SetResolver(e, res.resolve)

			page := pageNames(t, e)
			metrics, ref := metricNames(t, e)

			for addr, name := range want {
				if metrics[addr] != name {
					t.Errorf("metrics: source_address %q has source_name %q, want %q", addr, metrics[addr], name)
				}
			}
			if len(metrics) != len(want) {
				t.Errorf("metrics name sources %v, want %v", metrics, want)
			}
			for _, list := range []string{"sources", "sourcestats"} {
				got := page.names[list]
				for addr, name := range metrics {
					if got[addr] != name {
						t.Errorf("page's %s: %q named %q, the metrics' source_name %q", list, addr, got[addr], name)
					}
				}
				if len(got) != len(metrics) {
					t.Errorf("page's %s name %v, the metrics %v", list, got, metrics)
				}
			}
			for _, name := range want {
				if !strings.Contains(page.html, ">"+html.EscapeString(name)+"<") {
					t.Errorf("the HTML page does not show %q", name)
				}
			}

			if ref != tc.want {
				t.Errorf("tracking_info labels %q, want %q", ref, tc.want)
			}
			wantAddress := ref[0]
			if tc.refclock {
				wantAddress = ""
			}
			if page.ref != [3]string{wantAddress, ref[1], ref[2]} {
				t.Errorf("page's reference (address, name, ID) %q, tracking_info's %q", page.ref, ref)
			}

			res.mu.Lock()
			defer res.mu.Unlock()
			for ip, n := range res.asked {
				if n != 1 {
					t.Errorf("the resolver was asked for %s %d times, want once: the page and the metrics share one cache", ip, n)
				}
			}
			if len(res.asked) != 4 {
				t.Errorf("the resolver was asked for %v, want the four NTP sources", res.asked)
			}
		})
	}
}

// referenceAt makes the capture's TRACKING follow the source at a.
func referenceAt(a string) func(t *testing.T, r *chronytest.Replies) {
	return func(t *testing.T, r *chronytest.Replies) {
		p := stored(t, r, cmdTracking, chronytest.NoKey)
		ip := mustAddr(a)
		b := ip.As4()
		binary.BigEndian.PutUint32(p[28:], binary.BigEndian.Uint32(b[:]))
		putIPAddr(p, 32, ip)
		r.Set(cmdTracking, chronytest.NoKey, p)
	}
}

// shownNames is how the status page names the sources and the reference.
type shownNames struct {
	names map[string]map[string]string // section → address → name
	ref   [3]string                    // reference_address, reference, ref_id
	html  string
}

// pageNames reads /api/status and / of a status page on e.
func pageNames(t *testing.T, e *collector.Exporter) shownNames {
	t.Helper()
	h := statuspage.New(e, statuspage.Info{Timeout: scrapeTimeout})
	get := func(path string) []byte {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		return rec.Body.Bytes()
	}
	type named struct{ Name, Address string }
	var doc struct {
		Sources     []named
		SourceStats []named `json:"sourcestats"`
		Tracking    struct {
			Reference        string
			ReferenceAddress string `json:"reference_address"`
			RefID            string `json:"ref_id"`
		}
	}
	if err := json.Unmarshal(get("/api/status"), &doc); err != nil {
		t.Fatal(err)
	}
	out := shownNames{names: map[string]map[string]string{}, html: string(get("/"))}
	for list, ns := range map[string][]named{"sources": doc.Sources, "sourcestats": doc.SourceStats} {
		out.names[list] = map[string]string{}
		for _, n := range ns {
			out.names[list][n.Address] = n.Name
		}
	}
	out.ref = [3]string{doc.Tracking.ReferenceAddress, doc.Tracking.Reference, doc.Tracking.RefID}
	return out
}

// metricNames scrapes e and returns source_name by source_address, the
// same on every series, and tracking_info's labels.
func metricNames(t *testing.T, e *collector.Exporter) (map[string]string, [3]string) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	var ref [3]string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if a, ok := l["source_address"]; ok {
				if n, seen := names[a]; seen && n != l["source_name"] {
					t.Errorf("%s: %s named %q, elsewhere %q", mf.GetName(), a, l["source_name"], n)
				}
				names[a] = l["source_name"]
			}
			if mf.GetName() == "chrony_tracking_info" {
				ref = [3]string{l["tracking_address"], l["tracking_name"], l["tracking_refid"]}
			}
		}
	}
	return names, ref
}

// TestReferenceLookedUpAlone: with only the tracking collector on, a
// scrape reads no source list, yet tracking_info's name is the
// reference's reverse DNS name, as on the page: the reference's address
// is looked up with the sources'.
func TestReferenceLookedUpAlone(t *testing.T) {
	f := chronytest.NewFake(t, "unixgram", namingReplies(t))
	e, err := collector.New(collector.Config{Address: f.Addr(), Timeout: scrapeTimeout, Enabled: only("tracking"), DNSLookups: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	res := &namingResolver{asked: map[netip.Addr]int{}}
	collector.SetResolver(e, res.resolve)
	names, ref := metricNames(t, e)
	if len(names) != 0 {
		t.Errorf("source series %v with only tracking on", names)
	}
	if want := [3]string{"127.0.1.2", "ntp2.dns.example", "7F000102"}; ref != want {
		t.Errorf("tracking_info labels %q, want %q", ref, want)
	}
	if page := pageNames(t, e); page.ref[1] != ref[1] {
		t.Errorf("page's reference %q, tracking_info's %q", page.ref[1], ref[1])
	}
}
