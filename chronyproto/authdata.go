package chronyproto

import (
	"context"
	"strconv"
	"time"
)

// AuthMode is how a source is authenticated (§8.10).
type AuthMode uint16

// Authentication modes.
const (
	AuthNone         AuthMode = 0
	AuthSymmetricKey AuthMode = 1
	AuthNTS          AuthMode = 2
)

// String returns chronyc's word: -, SK or NTS.
func (m AuthMode) String() string {
	switch m {
	case AuthNone:
		return "-"
	case AuthSymmetricKey:
		return "SK"
	case AuthNTS:
		return "NTS"
	}
	return "?"
}

// KeyType is the algorithm of a symmetric key or of NTS (§8.10).
type KeyType uint16

var keyTypeNames = map[KeyType]string{
	1: "MD5", 2: "SHA1", 3: "SHA256", 4: "SHA384", 5: "SHA512",
	6: "SHA3-224", 7: "SHA3-256", 8: "SHA3-384", 9: "SHA3-512",
	10: "TIGER", 11: "WHIRLPOOL", 13: "AES128", 14: "AES256",
	15: "AES-SIV-CMAC-256", 30: "AES-128-GCM-SIV",
}

// String names the algorithm as chronyc does; 0 (none) is "-".
func (k KeyType) String() string {
	if k == 0 {
		return "-"
	}
	if n, ok := keyTypeNames[k]; ok {
		return n
	}
	return strconv.Itoa(int(k))
}

// noKE is last_ke_ago's "never or not applicable" (§8.10).
const noKE = 0xFFFFFFFF

// AuthData is chronyd's authdata report on one NTP source (§8.10, 4.0+).
type AuthData struct {
	Mode      AuthMode
	KeyType   KeyType
	KeyID     uint32 // symmetric key ID, or NTS context ID
	KeyLength uint16 // bits
	// KEAttempts counts NTS-KE attempts since the last success.
	KEAttempts uint16
	// LastKEAgo is the time since the last successful NTS-KE; valid when
	// HasKE.
	LastKEAgo    time.Duration
	HasKE        bool
	Cookies      uint16 // NTS cookies held
	CookieLength uint16 // bytes
	NAK          bool   // the last response was an NTS NAK
}

// AuthDataCall prepares an AUTH_DATA request for the source at addr
// (req 67 → RPY 20). Unix socket only by default.
func AuthDataCall(addr Address) *Call[AuthData] {
	c := newCall(ReportAuthData, cmdAuthData, []uint16{rpyAuthData}, decodeAuthData)
	putAddress(c.x.packet, 20, addr)
	return c
}

func decodeAuthData(_ uint16, p []byte) (AuthData, error) {
	ke := u32(p, 40)
	d := AuthData{
		Mode:         AuthMode(u16(p, 28)),
		KeyType:      KeyType(u16(p, 30)),
		KeyID:        u32(p, 32),
		KeyLength:    u16(p, 36),
		KEAttempts:   u16(p, 38),
		HasKE:        ke != noKE,
		Cookies:      u16(p, 44),
		CookieLength: u16(p, 46),
		NAK:          u16(p, 48) != 0,
	}
	if d.HasKE {
		d.LastKEAgo = time.Duration(ke) * time.Second
	}
	return d, nil
}

// AuthData asks chronyd for the authentication data of the source at addr.
func (c *Client) AuthData(ctx context.Context, addr Address) (AuthData, error) {
	return do(ctx, c, AuthDataCall(addr))
}
