package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"
)

// ServerTLS returns a TLS 1.3 server configuration presenting cert and
// verifying client certificates against the CA as clientAuth says: use
// tls.RequireAndVerifyClientCert between masters and for enrolled
// collectors, and tls.VerifyClientCertIfGiven where collectors enroll.
// Callers set NextProtos (http3 and net/http do so themselves).
func (ca *CA) ServerTLS(cert tls.Certificate, clientAuth tls.ClientAuthType) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    ca.Pool(),
		ClientAuth:   clientAuth,
	}
}

// ClientTLS returns a TLS 1.3 client configuration that trusts only caPool
// and checks the server's certificate against serverName (a DNS name or IP
// address in the master's certificate). cert, when not nil, is presented as
// the client certificate.
func ClientTLS(caPool *x509.CertPool, cert *tls.Certificate, serverName string) *tls.Config {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    caPool,
		ServerName: serverName,
	}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return cfg
}

// PinnedClientTLS returns a TLS 1.3 client configuration for enrollment,
// before a collector knows the cluster CA. It trusts no system roots: the
// server's chain must end in a self-signed CA whose pin is pin, and the leaf
// must verify against that CA as a master's server certificate. The server
// name is not checked, since any master of the pinned cluster will do. On a
// pin mismatch the handshake fails with an error wrapping ErrPinMismatch; on
// any other verification failure, with one wrapping ErrUntrustedServer.
func PinnedClientTLS(pin Pin) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The standard verification is replaced, not skipped: the
		// VerifyConnection hook does the full chain check against the
		// pinned CA instead of against system roots.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPinned(pin, cs.PeerCertificates, time.Now())
		},
	}
}

// verifyPinned checks a server's chain, leaf first, against pin.
func verifyPinned(pin Pin, chain []*x509.Certificate, now time.Time) error {
	if len(chain) == 0 {
		return fmt.Errorf("%w: server sent no certificate", ErrUntrustedServer)
	}
	root := chain[len(chain)-1]
	if got := PinOf(root); got != pin {
		if len(chain) == 1 {
			return fmt.Errorf("%w: server sent a single certificate (pin %s), not its CA chain", ErrPinMismatch, got)
		}
		return fmt.Errorf("%w: server's CA has pin %s", ErrPinMismatch, got)
	}
	if len(chain) < 2 {
		return fmt.Errorf("%w: server sent its CA but no leaf certificate", ErrUntrustedServer)
	}
	if !root.BasicConstraintsValid || !root.IsCA {
		return fmt.Errorf("%w: pinned certificate is not a CA", ErrUntrustedServer)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		return fmt.Errorf("%w: pinned CA is not self-signed: %w", ErrUntrustedServer, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	intermediates := x509.NewCertPool()
	for _, c := range chain[1 : len(chain)-1] {
		intermediates.AddCert(c)
	}
	leaf := chain[0]
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return fmt.Errorf("%w: %w", ErrUntrustedServer, err)
	}
	role, _, err := PeerIdentity(leaf)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUntrustedServer, err)
	}
	if role != RoleMaster {
		return fmt.Errorf("%w: server identifies as a %s, not a master", ErrUntrustedServer, role)
	}
	return nil
}

// VerifiedPeer returns the role and ID of the peer of a TLS connection whose
// certificate the handshake verified against the cluster CA. It fails with
// ErrNotVerified when there is no verified chain, for example when a
// collector enrolling under tls.VerifyClientCertIfGiven sent no certificate.
func VerifiedPeer(cs tls.ConnectionState) (Role, string, error) {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return 0, "", ErrNotVerified
	}
	return PeerIdentity(cs.VerifiedChains[0][0])
}
