package collector

import (
	"strconv"

	"github.com/second-hand/chrony_exporter/chronyproto"
)

// Help texts follow chronyc's manual for the authdata report: how each NTP
// source is authenticated, and the state of NTS.
var (
	authInfo = gauge("authdata", "authdata_info",
		"How the source is authenticated: mode (- for none, SK for a symmetric key, NTS), key type and key length in bits. The other authdata metrics exist only for authenticated sources.",
		"source_address", "source_name", "mode", "key_type", "key_length")
	authKeyID = gauge("authdata", "authdata_key_id",
		"ID of the symmetric key, or of the NTS context.", sourceLabelNames...)
	authKEAttempts = gauge("authdata", "authdata_nts_ke_attempts",
		"Number of NTS-KE attempts since the last successful one.", sourceLabelNames...)
	authLastKE = gauge("authdata", "authdata_nts_ke_last_success_age_seconds",
		"Time since the last successful NTS-KE; absent when there was none.", sourceLabelNames...)
	authCookies = gauge("authdata", "authdata_nts_cookies",
		"Number of NTS cookies currently held.", sourceLabelNames...)
	authCookieLength = gauge("authdata", "authdata_nts_cookie_length_bytes",
		"Length of the NTS cookie in use.", sourceLabelNames...)
	authNAK = gauge("authdata", "authdata_nts_nak",
		"Whether the last response from the source was an NTS NAK.", sourceLabelNames...)
)

func init() {
	register(&reportCollector{
		name:           "authdata",
		help:           "the authentication (symmetric key, NTS) of every NTP source (chronyc authdata)",
		reports:        []chronyproto.Report{chronyproto.ReportAuthData},
		extra:          []chronyproto.Report{chronyproto.ReportSourceName},
		unixOnly:       true,
		defaultEnabled: true,
		update:         updateAuthData,
	})
}

func updateAuthData(s *scrape, ch sink) {
	series := s.sourceSeries()
	for i := range s.Sources {
		src := &s.Sources[i]
		d := src.Auth
		if d == nil {
			continue
		}
		lv, ok := series.labels(i)
		if !ok {
			continue
		}
		authInfo.emit(ch, 1, lv[0], lv[1], d.Mode.String(), d.KeyType.String(), strconv.Itoa(int(d.KeyLength)))
		if d.Mode == chronyproto.AuthNone {
			continue
		}
		authKeyID.emit(ch, float64(d.KeyID), lv...)
		authKEAttempts.emit(ch, float64(d.KEAttempts), lv...)
		if d.HasKE {
			authLastKE.emit(ch, d.LastKEAgo.Seconds(), lv...)
		}
		authCookies.emit(ch, float64(d.Cookies), lv...)
		authCookieLength.emit(ch, float64(d.CookieLength), lv...)
		authNAK.emit(ch, boolValue(d.NAK), lv...)
	}
}
