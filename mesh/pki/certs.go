package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

const (
	// leafBackdate lets a certificate be used at once by a peer whose clock
	// is a little behind the issuer's.
	leafBackdate = time.Minute
	// identityScheme is the URI scheme of the identity SAN.
	identityScheme = "licmesh"
	// minRSABits is the smallest RSA modulus a CSR may carry.
	minRSABits = 2048
)

// Role is the kind of cluster member a certificate identifies.
type Role uint8

// Roles a certificate can carry. The zero Role is no role.
const (
	RoleMaster Role = iota + 1
	RoleCollector
)

// String returns "master" or "collector", the host part of the identity URI.
func (r Role) String() string {
	switch r {
	case RoleMaster:
		return "master"
	case RoleCollector:
		return "collector"
	default:
		return fmt.Sprintf("Role(%d)", uint8(r))
	}
}

// identityURI is the URI SAN naming a member: licmesh://<role>/<id>.
func identityURI(r Role, id string) *url.URL {
	return &url.URL{Scheme: identityScheme, Host: r.String(), Path: "/" + id}
}

// IssueNode issues a master's certificate, usable as both TLS server and
// client, with a fresh ECDSA P-256 key. hosts are IP addresses and DNS names
// the master is reached by; 127.0.0.1, ::1 and localhost are always added.
// The certificate lives for ttl from now, but never beyond the CA. The
// returned chain holds the leaf and then the CA certificate, so that a
// collector enrolling by pin can see the CA.
func (ca *CA) IssueNode(nodeID string, hosts []string, ttl time.Duration, now time.Time) (tls.Certificate, error) {
	if err := checkID("node", nodeID); err != nil {
		return tls.Certificate{}, err
	}
	ips, names, err := splitHosts(hosts)
	if err != nil {
		return tls.Certificate{}, err
	}
	notBefore, notAfter, err := ca.validity(ttl, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: generate node key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: nodeID},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              names,
		IPAddresses:           ips,
		URIs:                  []*url.URL{identityURI(RoleMaster, nodeID)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: create node certificate: %w", err)
	}
	return TLSCertificate(key, der, ca.cert.Raw)
}

// NewCSR makes a collector's key (ECDSA P-256) and a certificate request for
// it. The key never leaves the collector; the CSR goes to the masters, which
// answer with SignCSR.
func NewCSR(collectorID string) (csrDER []byte, key crypto.Signer, err error) {
	if err := checkID("collector", collectorID); err != nil {
		return nil, nil, err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generate collector key: %w", err)
	}
	tmpl := &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: collectorID},
		URIs:    []*url.URL{identityURI(RoleCollector, collectorID)},
	}
	csrDER, err = x509.CreateCertificateRequest(rand.Reader, tmpl, k)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: create certificate request: %w", err)
	}
	return csrDER, k, nil
}

// SignCSR issues a collector's client certificate for the key in csrDER. Only
// the CSR's public key is used: the identity is collectorID, chosen by the
// caller, whatever names the CSR asks for. The certificate is valid from a
// minute before now until now+ttl (never beyond the CA) for TLS client
// authentication only. It refuses a CSR whose signature does not verify or
// whose key is weak (RSA under 2048 bits, P-224) or of an unsupported kind.
func (ca *CA) SignCSR(csrDER []byte, collectorID string, ttl time.Duration, now time.Time) (certDER []byte, err error) {
	if err := checkID("collector", collectorID); err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCSR, err)
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature does not verify: %w", ErrBadCSR, err)
	}
	notBefore, notAfter, err := ca.validity(ttl, now)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: collectorID},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{identityURI(RoleCollector, collectorID)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: create collector certificate: %w", err)
	}
	return der, nil
}

// validity returns the validity window of a leaf issued at now for ttl,
// clamped to the CA's own window.
func (ca *CA) validity(ttl time.Duration, now time.Time) (notBefore, notAfter time.Time, err error) {
	if ttl <= 0 {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: got %v", ErrBadTTL, ttl)
	}
	if now.Before(ca.cert.NotBefore) || !now.Before(ca.cert.NotAfter) {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: now is %s, CA is valid from %s to %s", ErrCANotValid,
			now.UTC().Format(time.RFC3339), ca.cert.NotBefore.UTC().Format(time.RFC3339), ca.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	notBefore = now.Add(-leafBackdate)
	if notBefore.Before(ca.cert.NotBefore) {
		notBefore = ca.cert.NotBefore
	}
	notAfter = now.Add(ttl)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	return notBefore, notAfter, nil
}

// checkPublicKey refuses keys too weak or of a kind we do not issue for.
func checkPublicKey(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		case elliptic.P224():
			return fmt.Errorf("%w: ECDSA P-224, want P-256 or larger", ErrWeakKey)
		}
		return fmt.Errorf("%w: ECDSA on an unknown curve", ErrUnsupportedKey)
	case ed25519.PublicKey:
		return nil
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits {
			return fmt.Errorf("%w: RSA key has %d bits, want at least %d", ErrWeakKey, bits, minRSABits)
		}
		return nil
	case nil:
		return fmt.Errorf("%w: the request's key algorithm is not recognized", ErrUnsupportedKey)
	default:
		return fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
	}
}

// splitHosts sorts hosts into IP addresses and DNS names, adds the loopback
// names and drops duplicates.
func splitHosts(hosts []string) ([]net.IP, []string, error) {
	var (
		ips   []net.IP
		names []string
		seen  = make(map[string]bool)
	)
	all := append(append([]string(nil), hosts...), "127.0.0.1", "::1", "localhost")
	for _, h := range all {
		if h == "" {
			return nil, nil, fmt.Errorf("%w: empty host", ErrBadHost)
		}
		bare := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if ip := net.ParseIP(bare); ip != nil {
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			if key := ip.String(); !seen[key] {
				seen[key] = true
				ips = append(ips, ip)
			}
			continue
		}
		name := strings.ToLower(h)
		if err := checkDNSName(name); err != nil {
			return nil, nil, fmt.Errorf("%w: %q %s", ErrBadHost, h, err.Error())
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return ips, names, nil
}

// checkDNSName checks a lower-case DNS name, allowing one leading wildcard
// label. The returned error is a bare description for splitHosts to wrap.
func checkDNSName(name string) error {
	if len(name) > 253 {
		return fmt.Errorf("is longer than 253 characters")
	}
	labels := strings.Split(strings.TrimPrefix(name, "*."), ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("is not an IP address or a DNS name (a label is empty or longer than 63 characters; ports are not allowed)")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("is not a DNS name (a label starts or ends with '-')")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Errorf("is not an IP address or a DNS name (character %q; ports are not allowed)", c)
			}
		}
	}
	return nil
}

// PeerIdentity reads the role and ID from a certificate's licmesh URI SAN. It
// does not verify the certificate: call it only on a certificate that TLS has
// verified against the cluster CA (see VerifiedPeer).
func PeerIdentity(cert *x509.Certificate) (Role, string, error) {
	if cert == nil {
		return 0, "", fmt.Errorf("%w: no certificate", ErrNoIdentity)
	}
	var found *url.URL
	for _, u := range cert.URIs {
		if u.Scheme != identityScheme {
			continue
		}
		if found != nil {
			return 0, "", fmt.Errorf("%w: more than one %s URI", ErrNoIdentity, identityScheme)
		}
		found = u
	}
	if found == nil {
		return 0, "", fmt.Errorf("%w: no %s:// URI SAN", ErrNoIdentity, identityScheme)
	}
	if found.Opaque != "" || found.User != nil || found.RawQuery != "" || found.Fragment != "" || found.ForceQuery {
		return 0, "", fmt.Errorf("%w: identity URI %q has extra parts", ErrNoIdentity, found.String())
	}
	var role Role
	switch found.Host {
	case RoleMaster.String():
		role = RoleMaster
	case RoleCollector.String():
		role = RoleCollector
	default:
		return 0, "", fmt.Errorf("%w: identity URI %q has unknown role", ErrNoIdentity, found.String())
	}
	id, ok := strings.CutPrefix(found.Path, "/")
	if !ok || found.RawPath != "" {
		return 0, "", fmt.Errorf("%w: identity URI %q has a malformed path", ErrNoIdentity, found.String())
	}
	if err := checkID(role.String(), id); err != nil {
		return 0, "", fmt.Errorf("%w: %w", ErrNoIdentity, err)
	}
	return role, id, nil
}

// TLSCertificate assembles a tls.Certificate from a key and a chain of DER
// certificates, leaf first, checking that the key belongs to the leaf. A
// collector uses it with the key from NewCSR and the DER from SignCSR.
func TLSCertificate(key crypto.Signer, chainDER ...[]byte) (tls.Certificate, error) {
	if len(chainDER) == 0 {
		return tls.Certificate{}, fmt.Errorf("pki: empty certificate chain")
	}
	leaf, err := x509.ParseCertificate(chainDER[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: parse leaf certificate: %w", err)
	}
	if err := checkKeyPair(leaf, key); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: chainDER, PrivateKey: key, Leaf: leaf}, nil
}

// MarshalCertPEM encodes a DER certificate as a PEM block.
func MarshalCertPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// ParseCertPEM decodes exactly one PEM certificate.
func ParseCertPEM(b []byte) (*x509.Certificate, error) { return parseCertPEM(b, "certificate") }

// parseCertPEM is ParseCertPEM naming what is parsed, for its errors.
func parseCertPEM(b []byte, what string) (*x509.Certificate, error) {
	block, rest := pem.Decode(b)
	switch {
	case block == nil:
		return nil, fmt.Errorf("%w: %s: no PEM block found", ErrBadPEM, what)
	case block.Type != "CERTIFICATE":
		return nil, fmt.Errorf("%w: %s: block type %q, want CERTIFICATE", ErrBadPEM, what, block.Type)
	case trailingGarbage(rest):
		return nil, fmt.Errorf("%w: %s: data after the first block", ErrBadPEM, what)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadPEM, what, err)
	}
	return cert, nil
}

// MarshalKeyPEM encodes a private key as a PKCS #8 PEM block. The result is a
// secret.
func MarshalKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKeyPEM decodes exactly one PEM private key, PKCS #8 ("PRIVATE KEY") or
// SEC 1 ("EC PRIVATE KEY"). Its errors never include key material.
func ParseKeyPEM(b []byte) (crypto.Signer, error) { return parseKeyPEM(b, "private key") }

// parseKeyPEM is ParseKeyPEM naming what is parsed, for its errors. It drops
// the parser's own error text, which describes the key's bytes.
func parseKeyPEM(b []byte, what string) (crypto.Signer, error) {
	block, rest := pem.Decode(b)
	switch {
	case block == nil:
		return nil, fmt.Errorf("%w: %s: no PEM block found", ErrBadPEM, what)
	case trailingGarbage(rest):
		return nil, fmt.Errorf("%w: %s: data after the first block", ErrBadPEM, what)
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w: %s: block type %q, want PRIVATE KEY or EC PRIVATE KEY", ErrBadPEM, what, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s block does not hold a valid key", ErrBadPEM, what, block.Type)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %s: %T", ErrUnsupportedKey, what, key)
	}
	return signer, nil
}
