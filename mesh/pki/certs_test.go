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
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"
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
		if (err == nil) != u.want {
			t.Errorf("Verify for usage %v: err = %v, want ok=%v", u.usage, err, u.want)
		}
	}
}

func TestIssueNode(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	cert, err := ca.IssueNode("meshd-1", []string{"10.0.0.5", "Master1.Example.com", "[fd00::1]", "localhost", "10.0.0.5"}, 24*time.Hour, now)
	if err != nil {
		t.Fatalf("IssueNode: %v", err)
	}
	leaf := cert.Leaf
	verifyLeaf(t, ca, leaf, now, true, true)
	if leaf.Subject.CommonName != "meshd-1" {
		t.Errorf("CN = %q", leaf.Subject.CommonName)
	}
	if got, want := leaf.DNSNames, []string{"master1.example.com", "localhost"}; !slices.Equal(got, want) {
		t.Errorf("DNSNames = %v, want %v", got, want)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"10.0.0.5", "fd00::1", "127.0.0.1", "::1"}; !slices.Equal(ips, want) {
		t.Errorf("IPAddresses = %v, want %v", ips, want)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "licmesh://master/meshd-1" {
		t.Errorf("URIs = %v, want [licmesh://master/meshd-1]", leaf.URIs)
	}
	if !leaf.NotBefore.Equal(now.Add(-time.Minute)) || !leaf.NotAfter.Equal(now.Add(24*time.Hour)) {
		t.Errorf("validity %v..%v, want now-1m..now+24h", leaf.NotBefore, leaf.NotAfter)
	}
	if err := leaf.VerifyHostname("master1.example.com"); err != nil {
		t.Errorf("VerifyHostname: %v", err)
	}
	if len(cert.Certificate) != 2 || PinOf(mustParse(t, cert.Certificate[1])) != ca.Pin() {
		t.Errorf("chain should be leaf then CA, got %d certificates", len(cert.Certificate))
	}
	role, id, err := PeerIdentity(leaf)
	if err != nil || role != RoleMaster || id != "meshd-1" {
		t.Errorf("PeerIdentity = %v, %q, %v; want master meshd-1", role, id, err)
	}
	// Defaults are present even with no hosts.
	bare, err := ca.IssueNode("m2", nil, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := bare.Leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("default host 127.0.0.1: %v", err)
	}
	if err := bare.Leaf.VerifyHostname("::1"); err != nil {
		t.Errorf("default host ::1: %v", err)
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
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
			if !errors.Is(err, tt.want) {
				t.Fatalf("IssueNode error = %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
}

func TestIssueNodeClampsToCA(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	cert, err := ca.IssueNode("m1", nil, 20*365*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.Leaf.NotAfter.Equal(ca.Cert().NotAfter) {
		t.Errorf("NotAfter = %v, want clamped to CA's %v", cert.Leaf.NotAfter, ca.Cert().NotAfter)
	}
}

func TestSignCSR(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	csr, key, err := NewCSR("coll-7")
	if err != nil {
		t.Fatalf("NewCSR: %v", err)
	}
	der, err := ca.SignCSR(csr, "coll-7", 72*time.Hour, now)
	if err != nil {
		t.Fatalf("SignCSR: %v", err)
	}
	leaf := mustParse(t, der)
	verifyLeaf(t, ca, leaf, now, false, true)
	if leaf.Subject.CommonName != "coll-7" {
		t.Errorf("CN = %q", leaf.Subject.CommonName)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("ExtKeyUsage = %v, want client only", leaf.ExtKeyUsage)
	}
	if !leaf.NotBefore.Equal(now.Add(-time.Minute)) || !leaf.NotAfter.Equal(now.Add(72*time.Hour)) {
		t.Errorf("validity %v..%v, want now-1m..now+72h", leaf.NotBefore, leaf.NotAfter)
	}
	role, id, err := PeerIdentity(leaf)
	if err != nil || role != RoleCollector || id != "coll-7" {
		t.Errorf("PeerIdentity = %v, %q, %v; want collector coll-7", role, id, err)
	}
	// The collector can assemble its TLS certificate, and only with its own key.
	if _, err := TLSCertificate(key, der, ca.Cert().Raw); err != nil {
		t.Errorf("TLSCertificate: %v", err)
	}
	_, otherKey, err := NewCSR("other")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TLSCertificate(otherKey, der); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("TLSCertificate with wrong key: err = %v, want ErrKeyMismatch", err)
	}
	keyPEM, err := MarshalKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TLSCertificate(back, der); err != nil {
		t.Errorf("TLSCertificate with key after PEM round trip: %v", err)
	}
}

func TestSignCSRIgnoresRequestedIdentity(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	// A collector asks to be a master; the CA issues what the caller decided.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "meshd-1"},
		DNSNames: []string{"evil.example.com"},
		URIs:     []*url.URL{identityURI(RoleMaster, "meshd-1")},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.SignCSR(csr, "coll-1", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := mustParse(t, der)
	role, id, err := PeerIdentity(leaf)
	if err != nil || role != RoleCollector || id != "coll-1" {
		t.Errorf("PeerIdentity = %v, %q, %v; want collector coll-1", role, id, err)
	}
	if len(leaf.DNSNames) != 0 {
		t.Errorf("DNSNames = %v, want none", leaf.DNSNames)
	}
}

func csrFor(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	if err != nil {
		t.Fatalf("CreateCertificateRequest: %v", err)
	}
	return der
}

func TestSignCSRRejects(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	good, _, err := NewCSR("c")
	if err != nil {
		t.Fatal(err)
	}
	badSig := append([]byte(nil), good...)
	badSig[len(badSig)-5] ^= 0xff // inside the signature BIT STRING
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
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
			if !errors.Is(err, tt.want) || der != nil {
				t.Fatalf("SignCSR = %d bytes, %v; want nil, %v", len(der), err, tt.want)
			}
			t.Log(err)
		})
	}
}

func TestSignCSRAcceptsStrongKeys(t *testing.T) {
	now := fixedNow()
	ca := newTestCA(t, "c1", now)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]crypto.Signer{"ed25519": ed, "P-384": p384} {
		if _, err := ca.SignCSR(csrFor(t, key), "c", time.Hour, now); err != nil {
			t.Errorf("%s: SignCSR: %v", name, err)
		}
	}
}

func TestPeerIdentityRejects(t *testing.T) {
	mk := func(uris ...string) *x509.Certificate {
		c := &x509.Certificate{}
		for _, s := range uris {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
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
		if _, _, err := PeerIdentity(c); !errors.Is(err, ErrNoIdentity) {
			t.Errorf("%s: PeerIdentity error = %v, want ErrNoIdentity", name, err)
		}
	}
	// Unrelated URIs beside the identity are ignored.
	role, id, err := PeerIdentity(mk("https://example.com/", "licmesh://collector/c1"))
	if err != nil || role != RoleCollector || id != "c1" {
		t.Errorf("PeerIdentity = %v, %q, %v", role, id, err)
	}
}
