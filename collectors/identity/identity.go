package identity

import (
	"crypto"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/licmesh/licmesh/collectors"
	"github.com/licmesh/licmesh/mesh/pki"
)

// Identity is an enrolled collector's identity.
type Identity struct {
	// CollectorID is the ID the masters assigned.
	CollectorID collectors.ID
	// ClusterID names the cluster that enrolled it.
	ClusterID string
	// Cert is the client certificate with its key; Cert.Leaf is set.
	Cert tls.Certificate
	// CA is the cluster CA.
	CA *x509.Certificate
	// SigningKey is the cluster's public key for lease tokens.
	SigningKey ed25519.PublicKey
}

// CAPool returns a pool holding only the cluster CA.
func (id *Identity) CAPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(id.CA)
	return p
}

// Key returns the certificate's private key.
func (id *Identity) Key() crypto.Signer {
	s, _ := id.Cert.PrivateKey.(crypto.Signer)
	return s
}

// Validate checks that the parts agree: the key matches the certificate, the
// certificate was issued by the CA to this collector for client
// authentication, and the signing key has the right size. It does not check
// the certificate's validity period: an expired certificate is still this
// collector's, it only needs renewing or re-enrolling.
func (id *Identity) Validate() error {
	if err := CheckCertificate(id.Cert, id.CA, id.CollectorID, time.Time{}); err != nil {
		return err
	}
	if id.ClusterID == "" {
		return fmt.Errorf("%w: empty cluster id", ErrInvalid)
	}
	if len(id.SigningKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: signing key has %d bytes, want %d", ErrInvalid, len(id.SigningKey), ed25519.PublicKeySize)
	}
	return nil
}

// CheckCertificate checks a client certificate for this collector: key and
// leaf match (pki.TLSCertificate ensures it when built there), the leaf is
// signed by ca, names collector id, and is for client authentication. When
// now is not zero it must also be within the certificate's validity.
func CheckCertificate(cert tls.Certificate, ca *x509.Certificate, id collectors.ID, now time.Time) error {
	if ca == nil || !ca.IsCA {
		return fmt.Errorf("%w: no CA certificate", ErrInvalid)
	}
	leaf := cert.Leaf
	if leaf == nil {
		return fmt.Errorf("%w: certificate has no parsed leaf", ErrInvalid)
	}
	signer, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return fmt.Errorf("%w: certificate has no private key", ErrInvalid)
	}
	if _, err := pki.TLSCertificate(signer, leaf.Raw); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	opts := x509.VerifyOptions{Roots: pool(ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if now.IsZero() {
		// Check the chain at a time the leaf is valid; expiry is the
		// caller's concern.
		opts.CurrentTime = leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
	} else {
		opts.CurrentTime = now
	}
	if _, err := leaf.Verify(opts); err != nil {
		return fmt.Errorf("%w: certificate does not verify against the cluster CA: %w", ErrInvalid, err)
	}
	role, got, err := pki.PeerIdentity(leaf)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if role != pki.RoleCollector || collectors.ID(got) != id {
		return fmt.Errorf("%w: certificate is for %s %q, want collector %q", ErrInvalid, role, got, id)
	}
	return nil
}

func pool(ca *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca)
	return p
}
