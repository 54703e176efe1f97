package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// verifyLeaf checks leaf against ca's pool for server and client use, as
// wantServer and wantClient say it should (or should not) verify.
func verifyLeaf(t *testing.T, ca *CA, leaf *x509.Certificate, now time.Time, wantServer, wantClient bool) {
	t.Helper()
	for _, u := range []struct {
		usage x509.ExtKeyUsage
		want  bool
	}{{x509.ExtKeyUsageServerAuth, wantServer}, {x509.ExtKeyUsageClientAuth, wantClient}} {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{u.usage}})
		if u.want {
			assert.NoError(t, err, "Verify for usage %v", u.usage)
		} else {
			assert.Error(t, err, "Verify for usage %v", u.usage)
		}
	}
}

func TestIssueNode(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	cert, err := ca.IssueNode("meshd-1", []string{"10.0.0.5", "Master1.Example.com", "[fd00::1]", "localhost", "10.0.0.5"}, 24*time.Hour, now)
	require.NoError(t, err, "IssueNode")
	leaf := cert.Leaf
	verifyLeaf(t, ca, leaf, now, true, true)
	assert.Equal(t, "meshd-1", leaf.Subject.CommonName, "CN")
	assert.Equal(t, []string{"master1.example.com", "localhost"}, leaf.DNSNames, "DNSNames")
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	assert.Equal(t, []string{"10.0.0.5", "fd00::1", "127.0.0.1", "::1"}, ips, "IPAddresses")
	if assert.Len(t, leaf.URIs, 1, "URIs = %v", leaf.URIs) {
		assert.Equal(t, "licmesh://master/meshd-1", leaf.URIs[0].String(), "URIs")
	}
	// Validity: now-1m..now+24h.
	assert.True(t, leaf.NotBefore.Equal(now.Add(-time.Minute)), "NotBefore %v, want now-1m", leaf.NotBefore)
	assert.True(t, leaf.NotAfter.Equal(now.Add(24*time.Hour)), "NotAfter %v, want now+24h", leaf.NotAfter)
	assert.NoError(t, leaf.VerifyHostname("master1.example.com"), "VerifyHostname")
	// The chain is the leaf, then the CA.
	if assert.Len(t, cert.Certificate, 2, "chain") {
		assert.Equal(t, ca.Pin(), PinOf(mustParse(t, cert.Certificate[1])), "chain's second certificate is not the CA")
	}
	role, id, err := PeerIdentity(leaf)
	if assert.NoError(t, err, "PeerIdentity") {
		assert.Equal(t, RoleMaster, role, "PeerIdentity role")
		assert.Equal(t, "meshd-1", id, "PeerIdentity id")
	}
	// Defaults are present even with no hosts.
	bare, err := ca.IssueNode("m2", nil, time.Hour, now)
	require.NoError(t, err)
	assert.NoError(t, bare.Leaf.VerifyHostname("127.0.0.1"), "default host 127.0.0.1")
	assert.NoError(t, bare.Leaf.VerifyHostname("::1"), "default host ::1")
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

func TestIssueNodeRejects(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	tests := []struct {
		name   string
		nodeID string
		hosts  []string
		ttl    time.Duration
		now    time.Time
		want   error
	}{
		{"empty id", "", nil, time.Hour, now, ErrBadID},
		{"id with slash", "a/b", nil, time.Hour, now, ErrBadID},
		{"empty host", "m1", []string{""}, time.Hour, now, ErrBadHost},
		{"host with port", "m1", []string{"10.0.0.1:7400"}, time.Hour, now, ErrBadHost},
		{"host with space", "m1", []string{"a b"}, time.Hour, now, ErrBadHost},
		{"empty label", "m1", []string{"a..b"}, time.Hour, now, ErrBadHost},
		{"zero ttl", "m1", nil, 0, now, ErrBadTTL},
		{"negative ttl", "m1", nil, -time.Hour, now, ErrBadTTL},
		{"CA expired", "m1", nil, time.Hour, now.AddDate(11, 0, 0), ErrCANotValid},
		{"CA not yet valid", "m1", nil, time.Hour, now.AddDate(-1, 0, 0), ErrCANotValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ca.IssueNode(tt.nodeID, tt.hosts, tt.ttl, tt.now)
			require.ErrorIs(t, err, tt.want, "IssueNode")
			t.Log(err)
		})
	}
}

func TestIssueNodeClampsToCA(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	cert, err := ca.IssueNode("m1", nil, 20*365*24*time.Hour, now)
	require.NoError(t, err)
	assert.True(t, cert.Leaf.NotAfter.Equal(ca.Cert().NotAfter), "NotAfter = %v, want clamped to CA's %v", cert.Leaf.NotAfter, ca.Cert().NotAfter)
}

func TestSignCSR(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	csr, key, err := NewCSR("coll-7")
	require.NoError(t, err, "NewCSR")
	der, err := ca.SignCSR(csr, "coll-7", 72*time.Hour, now)
	require.NoError(t, err, "SignCSR")
	leaf := mustParse(t, der)
	verifyLeaf(t, ca, leaf, now, false, true)
	assert.Equal(t, "coll-7", leaf.Subject.CommonName, "CN")
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, leaf.ExtKeyUsage, "ExtKeyUsage, want client only")
	// Validity: now-1m..now+72h.
	assert.True(t, leaf.NotBefore.Equal(now.Add(-time.Minute)), "NotBefore %v, want now-1m", leaf.NotBefore)
	assert.True(t, leaf.NotAfter.Equal(now.Add(72*time.Hour)), "NotAfter %v, want now+72h", leaf.NotAfter)
	role, id, err := PeerIdentity(leaf)
	if assert.NoError(t, err, "PeerIdentity") {
		assert.Equal(t, RoleCollector, role, "PeerIdentity role")
		assert.Equal(t, "coll-7", id, "PeerIdentity id")
	}
	// The collector can assemble its TLS certificate, and only with its own key.
	_, err = TLSCertificate(key, der, ca.Cert().Raw)
	assert.NoError(t, err, "TLSCertificate")
	_, otherKey, err := NewCSR("other")
	require.NoError(t, err)
	_, err = TLSCertificate(otherKey, der)
	assert.ErrorIs(t, err, ErrKeyMismatch, "TLSCertificate with wrong key")
	keyPEM, err := MarshalKeyPEM(key)
	require.NoError(t, err)
	back, err := ParseKeyPEM(keyPEM)
	require.NoError(t, err)
	_, err = TLSCertificate(back, der)
	assert.NoError(t, err, "TLSCertificate with key after PEM round trip")
}

func TestSignCSRIgnoresRequestedIdentity(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	// A collector asks to be a master; the CA issues what the caller decided.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "meshd-1"},
		DNSNames: []string{"evil.example.com"},
		URIs:     []*url.URL{identityURI(RoleMaster, "meshd-1")},
	}, key)
	require.NoError(t, err)
	der, err := ca.SignCSR(csr, "coll-1", time.Hour, now)
	require.NoError(t, err)
	leaf := mustParse(t, der)
	role, id, err := PeerIdentity(leaf)
	if assert.NoError(t, err, "PeerIdentity") {
		assert.Equal(t, RoleCollector, role, "PeerIdentity role")
		assert.Equal(t, "coll-1", id, "PeerIdentity id")
	}
	assert.Empty(t, leaf.DNSNames, "DNSNames")
}

func csrFor(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	require.NoError(t, err, "CreateCertificateRequest")
	return der
}

func TestSignCSRRejects(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	good, _, err := NewCSR("c")
	require.NoError(t, err)
	badSig := append([]byte(nil), good...)
	badSig[len(badSig)-5] ^= 0xff // inside the signature BIT STRING
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	require.NoError(t, err)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	tests := []struct {
		name string
		csr  []byte
		id   string
		ttl  time.Duration
		want error
	}{
		{"bad signature", badSig, "c", time.Hour, ErrBadCSR},
		{"not DER", []byte("hello"), "c", time.Hour, ErrBadCSR},
		{"empty", nil, "c", time.Hour, ErrBadCSR},
		{"certificate instead of CSR", ca.Cert().Raw, "c", time.Hour, ErrBadCSR},
		{"P-224 key", csrFor(t, p224), "c", time.Hour, ErrWeakKey},
		{"RSA 1024 key", csrFor(t, rsa1024), "c", time.Hour, ErrWeakKey},
		{"bad id", good, "", time.Hour, ErrBadID},
		{"bad ttl", good, "c", 0, ErrBadTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := ca.SignCSR(tt.csr, tt.id, tt.ttl, now)
			require.ErrorIs(t, err, tt.want, "SignCSR")
			require.Nil(t, der, "SignCSR returned %d bytes", len(der))
			t.Log(err)
		})
	}
}

func TestSignCSRAcceptsStrongKeys(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	for name, key := range map[string]crypto.Signer{"ed25519": ed, "P-384": p384} {
		_, err := ca.SignCSR(csrFor(t, key), "c", time.Hour, now)
		assert.NoError(t, err, "%s: SignCSR", name)
	}
}

func TestPeerIdentityRejects(t *testing.T) {
	mk := func(uris ...string) *x509.Certificate {
		c := &x509.Certificate{}
		for _, s := range uris {
			u, err := url.Parse(s)
			require.NoError(t, err)
			c.URIs = append(c.URIs, u)
		}
		return c
	}
	tests := map[string]*x509.Certificate{
		"nil":            nil,
		"no URI":         mk(),
		"other scheme":   mk("spiffe://master/m1"),
		"two identities": mk("licmesh://master/m1", "licmesh://collector/c1"),
		"unknown role":   mk("licmesh://admin/m1"),
		"empty id":       mk("licmesh://master/"),
		"nested path":    mk("licmesh://master/a/b"),
		"query":          mk("licmesh://master/m1?x=1"),
		"fragment":       mk("licmesh://master/m1#f"),
		"user":           mk("licmesh://u@master/m1"),
		"escaped":        mk("licmesh://master/m%2F1"),
		"opaque":         mk("licmesh:master/m1"),
	}
	for name, c := range tests {
		_, _, err := PeerIdentity(c)
		assert.ErrorIs(t, err, ErrNoIdentity, "%s: PeerIdentity", name)
	}
	// Unrelated URIs beside the identity are ignored.
	role, id, err := PeerIdentity(mk("https://example.com/", "licmesh://collector/c1"))
	if assert.NoError(t, err, "PeerIdentity") {
		assert.Equal(t, RoleCollector, role, "PeerIdentity role")
		assert.Equal(t, "c1", id, "PeerIdentity id")
	}
}
