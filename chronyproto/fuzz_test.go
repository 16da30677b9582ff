package chronyproto

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/second-hand/chrony_exporter/chronyproto/chronytest"
)

// fuzzReply feeds arbitrary datagrams through the path a live reply takes:
// the header check, then the call's own handling and decoder. Nothing may
// panic, a reply shorter than its format must never be decoded, and a
// decoded reply must carry a code the call accepts.
func fuzzReply[T any](f *testing.F, seedPrefix string, newCall func() *Call[T]) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "captures", "*", seedPrefix+"*.bin"))
	for _, path := range seeds {
		if p, err := os.ReadFile(path); err == nil {
			f.Add(p)
		}
	}
	hexes, _ := filepath.Glob(filepath.Join("testdata", "handmade", "*.hex"))
	for _, path := range hexes {
		if p, err := chronytest.ReadHex(path); err == nil {
			f.Add(p)
		}
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		call := newCall()
		h, ok := parseReplyHeader(p)
		if !ok || h.command != call.x.command() {
			return
		}
		done, err := call.x.handle(h, p)
		if !done {
			if h.status == StatusSuccess && len(p) >= replyLen[h.reply] {
				t.Fatalf("whole reply (code %d, %d bytes) left unfinished", h.reply, len(p))
			}
			return
		}
		if err == nil && (h.status != StatusSuccess || !acceptsCode(call.x.codes, h.reply) || len(p) < replyLen[h.reply]) {
			t.Fatalf("decoded a reply it should refuse: status %d code %d, %d bytes", h.status, h.reply, len(p))
		}
	})
}

func FuzzTracking(f *testing.F) { fuzzReply(f, "tracking", TrackingCall) }
func FuzzNSources(f *testing.F) { fuzzReply(f, "n_sources", NSourcesCall) }
func FuzzSourceData(f *testing.F) {
	fuzzReply(f, "source_data", func() *Call[SourceData] { return SourceDataCall(0) })
}
func FuzzSourceStats(f *testing.F) {
	fuzzReply(f, "sourcestats", func() *Call[SourceStats] { return SourceStatsCall(0) })
}
func FuzzSelectData(f *testing.F) {
	fuzzReply(f, "select_data", func() *Call[SelectData] { return SelectDataCall(0) })
}
func FuzzNTPData(f *testing.F) {
	fuzzReply(f, "ntp_data", func() *Call[NTPData] { return NTPDataCall(Address{}) })
}
func FuzzAuthData(f *testing.F) {
	fuzzReply(f, "auth_data", func() *Call[AuthData] { return AuthDataCall(Address{}) })
}
func FuzzSourceName(f *testing.F) {
	fuzzReply(f, "ntp_source_name", func() *Call[string] { return SourceNameCall(Address{}) })
}
func FuzzRTC(f *testing.F)         { fuzzReply(f, "rtcreport", RTCCall) }
func FuzzActivity(f *testing.F)    { fuzzReply(f, "activity", ActivityCall) }
func FuzzSmoothing(f *testing.F)   { fuzzReply(f, "smoothing", SmoothingCall) }
func FuzzServerStats(f *testing.F) { fuzzReply(f, "server_stats", ServerStatsCall) }

// FuzzReplyMatcher throws datagrams at the matcher of a client waiting for
// two requests. Only a datagram with a waiting sequence and the right
// command may finish one, and nothing may panic.
func FuzzReplyMatcher(f *testing.F) {
	for _, name := range []string{"tracking", "activity"} {
		if p, err := os.ReadFile(filepath.Join("testdata", "captures", "chrony-4.8", name+".bin")); err == nil {
			f.Add(p)
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, 28))
	f.Fuzz(func(t *testing.T, p []byte) {
		c := &Client{}
		tr, act := TrackingCall(), ActivityCall()
		inflight := map[uint32]*exchange{}
		// Sequences the captures carry, so seeds can match.
		for _, x := range []*exchange{tr.exchange(), act.exchange()} {
			if len(p) >= 20 && u16(p, 4) == uint16(x.command()) {
				inflight[u32(p, 16)] = x
			} else {
				inflight[uint32(len(inflight))+1] = x
			}
		}
		before := len(inflight)
		finished := 0
		c.receive(p, inflight, func(x *exchange, err error) { finished++ })
		if finished > 1 || len(inflight) != before-finished {
			t.Fatalf("one datagram finished %d exchanges, %d of %d left", finished, len(inflight), before)
		}
		if finished == 1 {
			h, ok := parseReplyHeader(p)
			if !ok {
				t.Fatal("finished an exchange with a datagram that is no reply")
			}
			if _, still := inflight[h.sequence]; still {
				t.Fatal("finished exchange still in flight")
			}
		}
	})
}

func FuzzClientAccesses(f *testing.F) {
	fuzzReply(f, "client_accesses", func() *Call[ClientAccessPage] { return ClientAccessesCall(0) })
}
