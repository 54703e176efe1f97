package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"
)

// fixedNow is the injected clock for tests that do not do a real handshake.
func fixedNow() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

func newTestCA(t *testing.T, clusterID string, now time.Time) *CA {
	t.Helper()
	ca, err := NewCA(clusterID, now)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

func TestNewCA(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "acme-prod", now)
	c := ca.Cert()
	if got, want := c.Subject.CommonName, "licmesh cluster acme-prod"; got != want {
		t.Errorf("CN = %q, want %q", got, want)
	}
	if !c.IsCA || !c.BasicConstraintsValid || !c.MaxPathLenZero {
		t.Errorf("IsCA=%v BasicConstraintsValid=%v MaxPathLenZero=%v, want all true", c.IsCA, c.BasicConstraintsValid, c.MaxPathLenZero)
	}
	if got, want := c.NotAfter, now.AddDate(10, 0, 0); !got.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", got, want)
	}
	if c.NotBefore.After(now) {
		t.Errorf("NotBefore %v is after now %v", c.NotBefore, now)
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key is %T, want ECDSA P-256", c.PublicKey)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
}

func TestNewCARejectsBadClusterID(t *testing.T) {
	for _, id := range []string{"", "has space", "-lead", "a/b", strings.Repeat("x", 129)} {
		if _, err := NewCA(id, fixedNow()); !errors.Is(err, ErrBadID) {
			t.Errorf("NewCA(%q) error = %v, want ErrBadID", id, err)
		}
	}
}

func TestCAPEMRoundTrip(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatalf("KeyPEM: %v", err)
	}
	loaded, err := LoadCA(ca.CertPEM(), keyPEM)
	if err != nil {
		t.Fatalf("LoadCA: %v", err)
	}
	if loaded.Pin() != ca.Pin() {
		t.Errorf("pin changed across PEM round trip")
	}
	if !bytes.Equal(loaded.Cert().Raw, ca.Cert().Raw) {
		t.Errorf("certificate changed across PEM round trip")
	}
	// The loaded CA's key must really sign: a cert it issues verifies
	// against the original CA's pool.
	cert, err := loaded.IssueNode("m1", nil, time.Hour, now)
	if err != nil {
		t.Fatalf("IssueNode with loaded CA: %v", err)
	}
	verifyLeaf(t, ca, cert.Leaf, now, true, true)
}

func TestLoadCARejects(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	other := newTestCA(t, "c2", now)
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	otherKeyPEM, err := other.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	node, err := ca.IssueNode("m1", nil, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	nodeKeyPEM, err := MarshalKeyPEM(node.PrivateKey.(crypto.Signer))
	if err != nil {
		t.Fatal(err)
	}
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
			if !errors.Is(err, tt.want) {
				t.Fatalf("LoadCA error = %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
}

func TestLoadCAAcceptsSEC1Key(t *testing.T) {
	ca := newTestCA(t, "c1", fixedNow())
	der, err := x509.MarshalECPrivateKey(ca.key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	if _, err := LoadCA(ca.CertPEM(), keyPEM); err != nil {
		t.Fatalf("LoadCA with SEC 1 key: %v", err)
	}
}

func TestPin(t *testing.T) {
	ca := newTestCA(t, "c1", fixedNow())
	pin := ca.Pin()
	if pin != Pin(sha256.Sum256(ca.Cert().RawSubjectPublicKeyInfo)) {
		t.Fatalf("Pin is not sha256 of the SPKI")
	}
	s := pin.String()
	if len(s) != 43 || strings.ContainsAny(s, "=+/") {
		t.Fatalf("Pin.String() = %q, want 43 chars of unpadded base64url", s)
	}
	back, err := ParsePin(s)
	if err != nil || back != pin {
		t.Fatalf("ParsePin(String()) = %v, %v; want the same pin", back, err)
	}
	text, err := pin.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var un Pin
	if err := un.UnmarshalText(text); err != nil || un != pin {
		t.Fatalf("UnmarshalText(MarshalText()) = %v, %v", un, err)
	}
	if pin.IsZero() || !(Pin{}).IsZero() {
		t.Fatalf("IsZero wrong")
	}
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
		if _, err := ParsePin(s); !errors.Is(err, ErrBadPin) {
			t.Errorf("%s: ParsePin error = %v, want ErrBadPin", name, err)
		}
	}
}

func TestDeriveCAIsDeterministic(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, 32)
	a, err := DeriveCA(seed)
	if err != nil {
		t.Fatal(err)
	}
	b, err := DeriveCA(seed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.CertPEM(), b.CertPEM()) {
		t.Fatal("two derivations from one seed differ")
	}
	other, _ := DeriveCA(bytes.Repeat([]byte{8}, 32))
	if other.Pin() == a.Pin() {
		t.Fatal("different seeds gave the same CA")
	}
	// A derived CA issues certificates that verify against the other copy.
	cert, err := a.IssueNode("m1", []string{"127.0.0.1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: b.Pool()}); err != nil {
		t.Fatal(err)
	}
	if _, err := DeriveCA([]byte("short")); err == nil {
		t.Fatal("short seed accepted")
	}
}
