//go:build integration

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// selfSigned writes a new self-signed certificate for 127.0.0.1 and
// localhost and its key to dir, and returns their paths and a pool that
// trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "chrony_exporter test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestWebConfig serves TLS with basic auth through --web.config.file
// (exporter-toolkit) and checks that it covers every page: the status page,
// its JSON, the metrics and the probe answer only over TLS, only with the
// password.
func TestWebConfig(t *testing.T) {
	l := sharedLab.get(t)
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	const user, password = "prometheus", "correct horse battery staple"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "web-config.yml")
	text := "tls_server_config:\n" +
		"  cert_file: " + certFile + "\n" +
		"  key_file: " + keyFile + "\n" +
		"basic_auth_users:\n" +
		"  " + user + ": " + string(hash) + "\n"
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	e := launchExporter(t, launch{scheme: "https", client: tlsClient},
		"--chrony.address="+socketAddr(l), "--web.config.file="+config, "--probe.allow=127.0.0.1")
	addr := strings.TrimPrefix(e.url, "https://")

	withPassword := func(pw string) http.Header {
		return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))}}
	}
	probePath := "/probe?target=" + url.QueryEscape(l.UDPAddr.String())
	for _, tc := range []struct {
		path string
		want string // in the body of the authorised answer
	}{
		{"/", "<html"},
		{"/api/status", `"up": true`},
		{"/metrics", "\nchrony_up 1\n"},
		{probePath, "\nchrony_up 1\n"},
	} {
		t.Run(strings.SplitN(tc.path, "?", 2)[0], func(t *testing.T) {
			if a := fetch(tlsClient, e.url+tc.path, nil); a.Status != http.StatusUnauthorized || strings.Contains(a.Body, "chrony") {
				t.Errorf("no password: %d (%v) %.100q, want 401 and nothing of chronyd", a.Status, a.Err, a.Body)
			}
			if a := fetch(tlsClient, e.url+tc.path, withPassword("wrong")); a.Status != http.StatusUnauthorized {
				t.Errorf("wrong password: %d (%v), want 401", a.Status, a.Err)
			}
			if a := fetch(tlsClient, e.url+tc.path, withPassword(password)); a.Status != http.StatusOK || !strings.Contains(a.Body, tc.want) {
				t.Errorf("with the password: %d (%v), want 200 with %q: %.300q", a.Status, a.Err, tc.want, a.Body)
			}
			// Plain HTTP on the TLS port: Go's TLS server answers 400 and
			// nothing else.
			if a := fetch(http.DefaultClient, "http://"+addr+tc.path, withPassword(password)); a.Status != http.StatusBadRequest || strings.Contains(a.Body, "chrony_") {
				t.Errorf("plain HTTP: %d (%v) %.100q, want 400", a.Status, a.Err, a.Body)
			}
		})
	}
	// The probe's own checks come after authentication: without the
	// password, a forbidden target says no more than a permitted one.
	forbidden := "/probe?target=10.0.0.1"
	if a := fetch(tlsClient, e.url+forbidden, nil); a.Status != http.StatusUnauthorized {
		t.Errorf("forbidden target without password: %d, want 401", a.Status)
	}
	if a := fetch(tlsClient, e.url+forbidden, withPassword(password)); a.Status != http.StatusForbidden {
		t.Errorf("forbidden target with password: %d %q, want 403", a.Status, a.Body)
	}
	// A client that does not trust the certificate gets no answer.
	if a := fetch(&http.Client{}, e.url+"/metrics", withPassword(password)); a.Err == nil || !strings.Contains(a.Err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %d %v, want a certificate error", a.Status, a.Err)
	}
	e.stop()
}
