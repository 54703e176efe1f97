package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"time"
)

const (
	// caYears is how long a cluster CA lives; rotating it means re-enrolling
	// every collector, so it is made to outlast the installation.
	caYears = 10
	// caBackdate keeps a freshly made CA valid on nodes whose clocks run a
	// little behind the one that made it.
	caBackdate = time.Hour
)

// CA is the cluster's certificate authority: its self-signed certificate and
// private key. A CA is immutable and safe for concurrent use.
type CA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// NewCA makes a self-signed cluster CA with a fresh ECDSA P-256 key, valid
// for ten years from now and named "licmesh cluster <clusterID>".
func NewCA(clusterID string, now time.Time) (*CA, error) {
	if err := checkID("cluster", clusterID); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate CA key: %w", err)
	}
	return selfSign(caTemplate("licmesh cluster "+clusterID, now.Add(-caBackdate), now.AddDate(caYears, 0, 0), nil), key)
}

// derivedEpoch and derivedYears fix the validity of a derived CA, so that
// every master derives a byte-identical certificate.
var derivedEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const derivedYears = 100

// DeriveCA computes the cluster CA from a 32-byte seed: an Ed25519 key from
// the seed and a certificate whose every field (serial, validity, name)
// follows from the key. Ed25519 signatures are deterministic, so every
// holder of the seed derives the same CA, byte for byte, with no exchange:
// masters given the same cluster secret agree on their CA before any state
// is replicated. The name carries the pin prefix, which identifies the
// cluster.
func DeriveCA(seed []byte) (*CA, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: CA seed must be %d bytes", ErrBadCA, ed25519.SeedSize)
	}
	key := ed25519.NewKeyFromSeed(seed)
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("pki: derive CA: %w", err)
	}
	sum := sha256.Sum256(spki)
	serial := new(big.Int).SetBytes(sum[:16])
	name := fmt.Sprintf("licmesh cluster %x", sum[:6])
	return selfSign(caTemplate(name, derivedEpoch, derivedEpoch.AddDate(derivedYears, 0, 0), serial), key)
}

func caTemplate(name string, notBefore, notAfter time.Time, serial *big.Int) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"licmesh"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		// Path length zero: the cluster CA signs leaves only, never
		// intermediates.
		MaxPathLen:     0,
		MaxPathLenZero: true,
		KeyUsage:       x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
}

func selfSign(tmpl *x509.Certificate, key crypto.Signer) (*CA, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse CA certificate: %w", err)
	}
	return &CA{cert: cert, key: key}, nil
}

// LoadCA reads a CA from its PEM certificate and PEM private key (PKCS #8 or
// SEC 1). It checks that the certificate is a self-signed CA and that the key
// is its key; it does not check the validity period, which IssueNode and
// SignCSR do against their own clock.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := parseCertPEM(certPEM, "CA certificate")
	if err != nil {
		return nil, err
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("%w: basic constraints do not mark it as a CA", ErrBadCA)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		return nil, fmt.Errorf("%w: not self-signed: %w", ErrBadCA, err)
	}
	key, err := parseKeyPEM(keyPEM, "CA key")
	if err != nil {
		return nil, err
	}
	if err := checkKeyPair(cert, key); err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key}, nil
}

// Cert returns the CA certificate. Callers must not modify it.
func (ca *CA) Cert() *x509.Certificate { return ca.cert }

// CertPEM returns the CA certificate in PEM form.
func (ca *CA) CertPEM() []byte { return MarshalCertPEM(ca.cert.Raw) }

// KeyPEM returns the CA private key as a PKCS #8 PEM block. The result is a
// secret: store it with restrictive permissions and never log it.
func (ca *CA) KeyPEM() ([]byte, error) { return MarshalKeyPEM(ca.key) }

// Pool returns a new certificate pool holding only the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return pool
}

// Pin returns the pin of the CA certificate, the value join tokens carry.
func (ca *CA) Pin() Pin { return PinOf(ca.cert) }

// checkKeyPair reports whether key is the private half of cert's public key.
func checkKeyPair(cert *x509.Certificate, key crypto.Signer) error {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return ErrKeyMismatch
	}
	return nil
}

// pinLen is the length of a pin or a token secret in unpadded base64url: 32
// bytes make 43 characters.
const pinLen = 43

// Pin is the SHA-256 hash of a CA certificate's SubjectPublicKeyInfo. It names
// a cluster CA in a form short enough to travel in a join token, and stays the
// same if the CA certificate is re-issued with the same key.
type Pin [32]byte

// PinOf returns the pin of cert.
func PinOf(cert *x509.Certificate) Pin { return sha256.Sum256(cert.RawSubjectPublicKeyInfo) }

// ParsePin parses the form that Pin.String produces.
func ParsePin(s string) (Pin, error) {
	b, problem := decode32(s)
	if problem != "" {
		return Pin{}, fmt.Errorf("%w: %s", ErrBadPin, problem)
	}
	return Pin(b), nil
}

// String returns the pin as 43 characters of unpadded base64url.
func (p Pin) String() string { return base64.RawURLEncoding.EncodeToString(p[:]) }

// IsZero reports whether p is the zero pin, which names no CA.
func (p Pin) IsZero() bool { return p == Pin{} }

// MarshalText encodes the pin as String does, so pins read well in config
// files and JSON.
func (p Pin) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses a pin as ParsePin does.
func (p *Pin) UnmarshalText(b []byte) error {
	v, err := ParsePin(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// decode32 decodes exactly 32 bytes from canonical unpadded base64url. On
// failure it returns a description of the problem that never quotes s, because
// s may be a secret.
func decode32(s string) (out [32]byte, problem string) {
	if len(s) != pinLen {
		return out, fmt.Sprintf("has %d characters, want %d", len(s), pinLen)
	}
	// Check the alphabet by hand: the decoder skips '\r' and '\n', which
	// would let two spellings decode to the same value.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return out, fmt.Sprintf("has a character outside base64url (A-Z a-z 0-9 - _) at position %d", i+1)
		}
	}
	n, err := base64.RawURLEncoding.Strict().Decode(out[:], []byte(s))
	if err != nil || n != len(out) {
		return [32]byte{}, "is not canonical base64url (its last character has stray low bits)"
	}
	return out, ""
}

// checkID checks an identity (cluster, node or collector ID) of the given
// kind. IDs end up in URI SANs and file names, so they keep to a small, safe
// alphabet.
func checkID(kind, id string) error {
	const maxID = 128
	switch {
	case id == "":
		return fmt.Errorf("%w: %s id is empty", ErrBadID, kind)
	case len(id) > maxID:
		return fmt.Errorf("%w: %s id has %d characters, at most %d allowed", ErrBadID, kind, len(id), maxID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("%w: %s id %q must start with a letter or digit", ErrBadID, kind, id)
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("%w: %s id %q has a character outside [A-Za-z0-9._-] at position %d", ErrBadID, kind, id, i+1)
		}
	}
	return nil
}

// trailingGarbage reports whether rest, left after a PEM block, holds
// anything but whitespace.
func trailingGarbage(rest []byte) bool { return len(bytes.TrimSpace(rest)) > 0 }
