package chronyproto

import "context"

// Activity is chronyd's activity report (§8.8): how many sources are in
// each state of being polled.
type Activity struct {
	Online       int32
	Offline      int32
	BurstOnline  int32 // doing a burst, then back online
	BurstOffline int32 // doing a burst, then back offline
	Unresolved   int32 // address not known yet
}

// ActivityCall prepares an ACTIVITY request (req 44 → RPY 12).
func ActivityCall() *Call[Activity] {
	return newCall(ReportActivity, cmdActivity, []uint16{rpyActivity}, func(_ uint16, p []byte) (Activity, error) {
		return Activity{
			Online:       int32(u32(p, 28)),
			Offline:      int32(u32(p, 32)),
			BurstOnline:  int32(u32(p, 36)),
			BurstOffline: int32(u32(p, 40)),
			Unresolved:   int32(u32(p, 44)),
		}, nil
	})
}

// Activity asks chronyd for its activity report.
func (c *Client) Activity(ctx context.Context) (Activity, error) {
	return do(ctx, c, ActivityCall())
}
