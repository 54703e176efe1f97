package hub

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/licmesh/licmesh/mesh/pki"
)

// The self-signed certificate `hubd init` makes when no certificate is
// given: kept in the data directory, valid for ten years, for the listen
// host, localhost and the loopback addresses. Its SHA-256 fingerprint is
// printed so that a client can pin it.
const (
	selfCertFile = "hub-cert.pem"
	selfKeyFile  = "hub-key.pem"
)

// makeSelfSigned writes a new self-signed certificate and key into dir and
// returns the certificate's fingerprint.
func makeSelfSigned(dir string, hosts []string, now time.Time) (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "licmesh hub"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range append([]string{"localhost", "127.0.0.1", "::1"}, hosts...) {
		if h == "" || h == "0.0.0.0" || h == "::" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	keyPEM, err := pki.MarshalKeyPEM(key)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, selfKeyFile), keyPEM, 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, selfCertFile), pki.MarshalCertPEM(der), 0o644); err != nil {
		return "", err
	}
	return fingerprint(der), nil
}

// fingerprint is the SHA-256 of a certificate, as hex pairs.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := hex.EncodeToString(sum[:])
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(h[i : i+2]))
	}
	return b.String()
}

// loadCertificate loads the configured certificate, or the self-signed one.
func (c *Config) loadCertificate() (tls.Certificate, string, error) {
	certFile, keyFile := c.TLSCertFile, c.TLSKeyFile
	if certFile == "" {
		certFile, keyFile = filepath.Join(c.DataDir, selfCertFile), filepath.Join(c.DataDir, selfKeyFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("hub: TLS certificate: %w", err)
	}
	return cert, fingerprint(cert.Certificate[0]), nil
}
