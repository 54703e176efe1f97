package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedNow is the injected clock for tests that do not do a real handshake.
func fixedNow() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

func newTestCA(t *testing.T, clusterID string, now time.Time) *CA {
	t.Helper()
	ca, err := NewCA(clusterID, now)
	require.NoError(t, err, "NewCA")
	return ca
}

func TestNewCA(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "acme-prod", now)
	c := ca.Cert()
	assert.Equal(t, "licmesh cluster acme-prod", c.Subject.CommonName, "CN")
	assert.True(t, c.IsCA, "IsCA")
	assert.True(t, c.BasicConstraintsValid, "BasicConstraintsValid")
	assert.True(t, c.MaxPathLenZero, "MaxPathLenZero")
	assert.True(t, c.NotAfter.Equal(now.AddDate(10, 0, 0)), "NotAfter = %v, want %v", c.NotAfter, now.AddDate(10, 0, 0))
	assert.False(t, c.NotBefore.After(now), "NotBefore %v is after now %v", c.NotBefore, now)
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if assert.True(t, ok, "public key is %T, want ECDSA P-256", c.PublicKey) {
		assert.Same(t, elliptic.P256(), pub.Curve, "curve %s, want P-256", pub.Curve.Params().Name)
	}
	assert.NoError(t, c.CheckSignatureFrom(c), "not self-signed")
}

func TestNewCARejectsBadClusterID(t *testing.T) {
	for _, id := range []string{"", "has space", "-lead", "a/b", strings.Repeat("x", 129)} {
		_, err := NewCA(id, fixedNow())
		assert.ErrorIs(t, err, ErrBadID, "NewCA(%q)", id)
	}
}

func TestCAPEMRoundTrip(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	keyPEM, err := ca.KeyPEM()
	require.NoError(t, err, "KeyPEM")
	loaded, err := LoadCA(ca.CertPEM(), keyPEM)
	require.NoError(t, err, "LoadCA")
	assert.Equal(t, ca.Pin(), loaded.Pin(), "pin changed across PEM round trip")
	assert.Equal(t, ca.Cert().Raw, loaded.Cert().Raw, "certificate changed across PEM round trip")
	// The loaded CA's key must really sign: a cert it issues verifies
	// against the original CA's pool.
	cert, err := loaded.IssueNode("m1", nil, time.Hour, now)
	require.NoError(t, err, "IssueNode with loaded CA")
	verifyLeaf(t, ca, cert.Leaf, now, true, true)
}

func TestLoadCARejects(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	other := newTestCA(t, "c2", now)
	keyPEM, err := ca.KeyPEM()
	require.NoError(t, err)
	otherKeyPEM, err := other.KeyPEM()
	require.NoError(t, err)
	node, err := ca.IssueNode("m1", nil, time.Hour, now)
	require.NoError(t, err)
	nodeKeyPEM, err := MarshalKeyPEM(node.PrivateKey.(crypto.Signer))
	require.NoError(t, err)
	certPEM := ca.CertPEM()
	tests := []struct {
		name            string
		certPEM, keyPEM []byte
		want            error
	}{
		{"key of another CA", certPEM, otherKeyPEM, ErrKeyMismatch},
		{"leaf certificate", MarshalCertPEM(node.Leaf.Raw), nodeKeyPEM, ErrBadCA},
		{"empty certificate", nil, keyPEM, ErrBadPEM},
		{"garbage certificate", []byte("not pem"), keyPEM, ErrBadPEM},
		{"key given as certificate", keyPEM, keyPEM, ErrBadPEM},
		{"two certificates", append(append([]byte{}, certPEM...), certPEM...), keyPEM, ErrBadPEM},
		{"empty key", certPEM, nil, ErrBadPEM},
		{"certificate given as key", certPEM, certPEM, ErrBadPEM},
		{"corrupt key", certPEM, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), ErrBadPEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadCA(tt.certPEM, tt.keyPEM)
			require.ErrorIs(t, err, tt.want, "LoadCA")
			t.Log(err)
		})
	}
}

func TestLoadCAAcceptsSEC1Key(t *testing.T) {
	ca := newTestCA(t, "c1", fixedNow())
	der, err := x509.MarshalECPrivateKey(ca.key.(*ecdsa.PrivateKey))
	require.NoError(t, err)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	_, err = LoadCA(ca.CertPEM(), keyPEM)
	require.NoError(t, err, "LoadCA with SEC 1 key")
}

func TestPin(t *testing.T) {
	ca := newTestCA(t, "c1", fixedNow())
	pin := ca.Pin()
	require.Equal(t, Pin(sha256.Sum256(ca.Cert().RawSubjectPublicKeyInfo)), pin, "Pin is not sha256 of the SPKI")
	s := pin.String()
	// Want 43 chars of unpadded base64url.
	require.Len(t, s, 43, "Pin.String() = %q", s)
	require.False(t, strings.ContainsAny(s, "=+/"), "Pin.String() = %q, want unpadded base64url", s)
	back, err := ParsePin(s)
	require.NoError(t, err, "ParsePin(String())")
	require.Equal(t, pin, back, "ParsePin(String())")
	text, err := pin.MarshalText()
	require.NoError(t, err)
	var un Pin
	require.NoError(t, un.UnmarshalText(text), "UnmarshalText(MarshalText())")
	require.Equal(t, pin, un, "UnmarshalText(MarshalText())")
	require.False(t, pin.IsZero(), "IsZero of a pin")
	require.True(t, (Pin{}).IsZero(), "IsZero of the zero pin")
}

func TestParsePinRejects(t *testing.T) {
	good := newTestCA(t, "c1", fixedNow()).Pin().String()
	for name, s := range map[string]string{
		"empty":          "",
		"short":          good[:42],
		"long":           good + "A",
		"padded":         good[:42] + "=",
		"std alphabet":   "+" + good[1:],
		"newline":        good[:20] + "\n" + good[21:],
		"stray low bits": good[:42] + "B", // only A, Q, g and w end a canonical 32-byte encoding
	} {
		_, err := ParsePin(s)
		assert.ErrorIs(t, err, ErrBadPin, "%s: ParsePin", name)
	}
}

func TestDeriveCAIsDeterministic(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, 32)
	a, err := DeriveCA(seed)
	require.NoError(t, err)
	b, err := DeriveCA(seed)
	require.NoError(t, err)
	require.Equal(t, string(a.CertPEM()), string(b.CertPEM()), "two derivations from one seed differ")
	other, _ := DeriveCA(bytes.Repeat([]byte{8}, 32))
	require.NotEqual(t, a.Pin(), other.Pin(), "different seeds gave the same CA")
	// A derived CA issues certificates that verify against the other copy.
	cert, err := a.IssueNode("m1", []string{"127.0.0.1"}, time.Hour, time.Now())
	require.NoError(t, err)
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	_, err = leaf.Verify(x509.VerifyOptions{Roots: b.Pool()})
	require.NoError(t, err)
	_, err = DeriveCA([]byte("short"))
	require.Error(t, err, "short seed accepted")
}
