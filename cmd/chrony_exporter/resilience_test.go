package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
	"github.com/second-hand/chrony_exporter/internal/testenv"
)

// The resilience tests with a fake chronyd: one that lies, and 100 scrapes
// at once. Those with the real one (killed, frozen, behind a lossy path)
// and the 10 000 scrapes in a row are in resilience_lab_test.go. They
// assert no time but deadlines that prove "does not hang".

// capturesDir holds the replies of a real chronyd 4.8 the fake serves.
const capturesDir = "../../chronyproto/testdata/captures/chrony-4.8"

// answer is one HTTP answer, fetched without failing the test, so that
// goroutines can fetch.
type answer struct{ testenv.Response }

func fetch(client *http.Client, url string, header http.Header) answer {
	return answer{testenv.Get(context.Background(), client, url, header)}
}

// metrics parses an answer of /metrics or /probe.
func (a answer) metrics() (scrape, error) {
	if a.Err != nil {
		return scrape{}, a.Err
	}
	if a.Status != http.StatusOK {
		return scrape{}, fmt.Errorf("HTTP %d: %.300s", a.Status, a.Body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(a.Body))
	if err != nil {
		return scrape{}, fmt.Errorf("parsing: %w", err)
	}
	return scrape{raw: a.Body, families: fams, took: a.Took}, nil
}

// up returns chrony_up of an answer, or an error.
func (a answer) up() (float64, error) {
	s, err := a.metrics()
	if err != nil {
		return 0, err
	}
	return s.value("chrony_up", nil)
}

// chronyValues returns every chrony_* sample but the durations, keyed by
// name and labels: what must not change when chronyd misbehaves.
func chronyValues(s scrape) map[string]float64 {
	out := map[string]float64{}
	for name, fam := range s.families {
		if !strings.HasPrefix(name, "chrony_") || name == "chrony_scrape_collector_duration_seconds" || name == "chrony_exporter_build_info" {
			continue
		}
		for _, m := range fam.Metric {
			// Histograms (clients) have no single value; the collectors
			// this test covers send none.
			v, _ := sampleValue(m)
			out[name+labelText(labels(m))] = v
		}
	}
	return out
}

// diffValues lists the differences between two chronyValues.
func diffValues(want, got map[string]float64) []string {
	var d []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			d = append(d, "missing "+k)
		} else if g != v && !(g != g && v != v) { // NaN equals NaN here
			d = append(d, fmt.Sprintf("%s = %v, want %v", k, g, v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			d = append(d, "unexpected "+k)
		}
	}
	sort.Strings(d)
	return d
}

func countSeries(s scrape, name string) int { return len(s.series(name, nil)) }

func fakeReplies(t testing.TB) *chronytest.Replies {
	t.Helper()
	r, err := chronytest.LoadCaptures(capturesDir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFakeFaults: a chronyd that sends truncated, garbage,
// wrong-sequence, duplicated and late replies, or floods, never makes the
// exporter panic or show a value other than the clean answer's; a valid
// reply that follows a bad one is used at once, without a retransmission.
func TestFakeFaults(t *testing.T) {
	for _, network := range []string{"unixgram", "udp"} {
		t.Run(network, func(t *testing.T) {
			f := chronytest.NewFake(t, network, fakeReplies(t))
			e := startExporter(t, "--chrony.address="+f.Addr(), "--chrony.timeout=3s")
			client := &http.Client{}
			read := func(t *testing.T) (scrape, uint64) {
				t.Helper()
				before := f.Requests()
				s, err := fetch(client, e.url+"/metrics", nil).metrics()
				if err != nil {
					t.Fatalf("scrape: %v\nstderr:\n%s", err, e.Out)
				}
				return s, f.Requests() - before
			}
			read(t) // the first read of a client takes another path
			clean, perScrape := read(t)
			want := chronyValues(clean)
			if v, _ := clean.value("chrony_up", nil); v != 1 || countSeries(clean, "chrony_sources_state_info") != 5 {
				t.Fatalf("clean scrape: chrony_up %v, %d sources", v, countSeries(clean, "chrony_sources_state_info"))
			}
			for _, tc := range []struct {
				name string
				spec chronytest.FaultSpec
				// sameRequests: the good reply that follows the bad
				// one is taken, so nothing is sent again.
				sameRequests bool
			}{
				{"truncated then reply", chronytest.FaultSpec{Fault: chronytest.FaultTruncated, ThenReply: true}, true},
				{"garbage then reply", chronytest.FaultSpec{Fault: chronytest.FaultGarbage, ThenReply: true}, true},
				{"wrong sequence then reply", chronytest.FaultSpec{Fault: chronytest.FaultWrongSeq, ThenReply: true}, true},
				{"duplicate", chronytest.FaultSpec{Fault: chronytest.FaultDuplicate}, true},
				{"flood", chronytest.FaultSpec{Fault: chronytest.FaultFlood, Flood: 100}, true},
				// Only bad datagrams for the first requests: the
				// retransmissions get the answer.
				{"truncated only", chronytest.FaultSpec{Fault: chronytest.FaultTruncated, Count: 4}, false},
				{"garbage only", chronytest.FaultSpec{Fault: chronytest.FaultGarbage, Count: 4}, false},
				{"wrong sequence only", chronytest.FaultSpec{Fault: chronytest.FaultWrongSeq, Count: 4}, false},
				{"late", chronytest.FaultSpec{Fault: chronytest.FaultLate, Count: 4, Delay: 700 * time.Millisecond}, false},
				{"no reply", chronytest.FaultSpec{Fault: chronytest.FaultNoReply, Count: 4}, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					f.SetFault(chronytest.AnyCommand, tc.spec)
					s, n := read(t)
					f.ClearFaults()
					if d := diffValues(want, chronyValues(s)); d != nil {
						t.Errorf("values differ from the clean answer:\n%s", strings.Join(d, "\n"))
					}
					if tc.sameRequests && n != perScrape {
						t.Errorf("%d requests, the clean scrape sent %d: the good reply was not taken", n, perScrape)
					}
					// Late and stray datagrams may still arrive: the
					// next scrape must not take them either.
					s, _ = read(t)
					if d := diffValues(want, chronyValues(s)); d != nil {
						t.Errorf("next scrape differs from the clean answer:\n%s", strings.Join(d, "\n"))
					}
				})
			}
			e.stop()
			if strings.Contains(e.Out.String(), "panic") {
				t.Errorf("panic:\n%s", e.Out)
			}
		})
	}
}

// TestHundredConcurrentScrapes: 100 scrapes at once all get the whole
// answer, and chronyd sees about the load of one snapshot: they share the
// reads in progress. A proxy adds 100 ms each way, so that a read lasts
// longer than it takes the hundred to arrive: with 20 ms, a pipelined
// read (one round trip) ended before the last scrapes of a loaded CI
// machine under -race arrived, and they needed a third read.
func TestHundredConcurrentScrapes(t *testing.T) {
	f := chronytest.NewFake(t, "udp", fakeReplies(t))
	p := chronytest.NewDelayProxy(t, f.AddrPort(), 100*time.Millisecond, 0)
	e := startExporter(t, "--chrony.address="+p.URL())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	one := func() (scrape, uint64) {
		before := f.Requests()
		s, err := fetch(client, e.url+"/metrics", nil).metrics()
		if err != nil {
			t.Fatal(err)
		}
		return s, f.Requests() - before
	}
	one()
	clean, perScrape := one()
	want := chronyValues(clean)

	const n = 100
	start := make(chan struct{})
	answers := make([]answer, n)
	var wg sync.WaitGroup
	before := f.Requests()
	for i := range n {
		wg.Go(func() {
			<-start
			answers[i] = fetch(client, e.url+"/metrics", nil)
		})
	}
	close(start)
	wg.Wait()
	requests := f.Requests() - before
	for i, a := range answers {
		s, err := a.metrics()
		if err != nil {
			t.Errorf("scrape %d: %v", i, err)
			continue
		}
		if d := diffValues(want, chronyValues(s)); d != nil {
			t.Errorf("scrape %d differs from a lone scrape:\n%s", i, strings.Join(d, "\n"))
		}
	}
	t.Logf("%d concurrent scrapes: chronyd got %d requests; one scrape sends %d", n, requests, perScrape)
	// One read, or two when some scrapes arrive after the first ended.
	if requests > 2*perScrape {
		t.Errorf("chronyd got %d requests for %d concurrent scrapes, %.1f snapshots; want at most 2", requests, n, float64(requests)/float64(perScrape))
	}
}
