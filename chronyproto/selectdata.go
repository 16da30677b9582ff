package chronyproto

import (
	"context"
	"strings"
	"time"
)

// SelectOptions are a source's selection options (§8.9).
type SelectOptions uint16

// Selection option bits.
const (
	OptionNoSelect SelectOptions = 0x1
	OptionPrefer   SelectOptions = 0x2
	OptionTrust    SelectOptions = 0x4
	OptionRequire  SelectOptions = 0x8
)

// String returns the options as chronyc prints them, e.g. "N-T--": one
// letter per option in the order N P T R, '-' where unset, and a fifth '-'.
func (o SelectOptions) String() string {
	var b strings.Builder
	for i, c := range "NPTR" {
		if o&(1<<i) != 0 {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	b.WriteByte('-')
	return b.String()
}

// SelectState is chronyd's selection status letter for a source (§8.9).
type SelectState byte

// String explains the letter in the words of chronyc's selectdata legend.
func (s SelectState) String() string {
	switch s {
	case 'N':
		return "ignored"
	case 's':
		return "not synchronised"
	case 'M':
		return "missing samples"
	case 'r':
		return "stratum outside limits"
	case 'd':
		return "unacceptable distance"
	case '~':
		return "jittery"
	case 'w':
		return "waits for others"
	case 'W':
		return "waits for sources"
	case 'S':
		return "stale"
	case 'O':
		return "orphan"
	case 'T':
		return "not trusted"
	case 'x':
		return "falseticker"
	case 'P':
		return "not preferred"
	case 'U':
		return "waits for update"
	case 'D':
		return "large distance"
	case 'L':
		return "outlier"
	case '+':
		return "combined"
	case '*':
		return "best"
	}
	return "unknown"
}

// SelectData is one source of chronyd's selectdata report (§8.9, 4.0+):
// why the source is or is not selected.
type SelectData struct {
	RefID uint32
	// Address is FamilyUnspec for a refclock.
	Address        Address
	State          SelectState
	Authentication bool // authentication is enabled for the source
	Leap           LeapStatus
	ConfOptions    SelectOptions // as configured
	EffOptions     SelectOptions // in effect
	LastSampleAgo  time.Duration
	Score          float64 // reselection score
	LoLimit        float64 // low end of the offset interval, in seconds
	HiLimit        float64 // high end of the offset interval, in seconds
}

// SelectDataCall prepares a SELECT_DATA request for the source at index
// (req 69 → RPY 23).
func SelectDataCall(index int) *Call[SelectData] {
	c := newCall(ReportSelectData, cmdSelectData, []uint16{rpySelectData}, decodeSelectData)
	putU32(c.x.packet, 20, uint32(index))
	return c
}

func decodeSelectData(_ uint16, p []byte) (SelectData, error) {
	return SelectData{
		RefID:          u32(p, 28),
		Address:        address(p, 32),
		State:          SelectState(u8(p, 52)),
		Authentication: u8(p, 53) != 0,
		Leap:           LeapStatus(u8(p, 54)),
		ConfOptions:    SelectOptions(u16(p, 56)),
		EffOptions:     SelectOptions(u16(p, 58)),
		LastSampleAgo:  time.Duration(u32(p, 60)) * time.Second,
		Score:          chronyFloat(p, 64),
		LoLimit:        chronyFloat(p, 68),
		HiLimit:        chronyFloat(p, 72),
	}, nil
}

// SelectData asks chronyd for the selection data of the source at index.
func (c *Client) SelectData(ctx context.Context, index int) (SelectData, error) {
	return do(ctx, c, SelectDataCall(index))
}
