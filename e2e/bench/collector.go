package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/licmesh/licmesh/mesh/wire"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// collectorIdleTimeout drops a QUIC connection whose master went silent; it
// is long enough that a healthy connection never idles out mid-measurement.
const collectorIdleTimeout = 30 * time.Second

// JoinToken is a parsed join token (lmj1.<id>.<secret>.<pin>). Its String
// never shows the secret.
type JoinToken struct {
	ID     string
	secret []byte
	pin    []byte
}

// ParseJoinToken parses the token text CreateToken returns.
func ParseJoinToken(s string) (JoinToken, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 4 || parts[0] != "lmj1" {
		return JoinToken{}, fmt.Errorf("%w: want lmj1.<id>.<secret>.<pin>", ErrBadToken)
	}
	secret, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(secret) != 32 {
		return JoinToken{}, fmt.Errorf("%w: secret is not 32 base64url bytes", ErrBadToken)
	}
	pin, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || len(pin) != sha256.Size {
		return JoinToken{}, fmt.Errorf("%w: pin is not a base64url SHA-256", ErrBadToken)
	}
	return JoinToken{ID: parts[1], secret: secret, pin: pin}, nil
}

// String names the token without its secret.
func (t JoinToken) String() string { return "lmj1." + t.ID + ".<secret>" }

// CheckPin reports whether ca is the CA the token was issued for, as a real
// collector checks before it trusts the masters with its secret.
func (t JoinToken) CheckPin(ca *x509.Certificate) error {
	sum := sha256.Sum256(ca.RawSubjectPublicKeyInfo)
	if !bytes.Equal(sum[:], t.pin) {
		return fmt.Errorf("%w: cluster CA does not match the token's pin", ErrBadToken)
	}
	return nil
}

// Collector is one enrolled collector identity: its client certificate and
// one HTTP/3 transport, so each master it talks to gets one QUIC connection.
// It is safe for concurrent use.
type Collector struct {
	// ID is the collector ID the masters gave it.
	ID string

	tls *tls.Config
	h3  *http3.Transport
}

// Enroll makes a P-256 key and CSR and enrolls with the master whose
// collector protocol listens at addr (host:port), trusting only ca. The
// returned Collector speaks HTTP/3 with mTLS; Close it when done.
func Enroll(ctx context.Context, addr string, ca *x509.Certificate, tok JoinToken, hostname string) (*Collector, error) {
	if err := tok.CheckPin(ca); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("bench: collector key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: hostname},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("bench: collector csr: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	anon := newH3(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13})
	defer anon.Close()
	client := licmeshv1connect.NewCollectorServiceClient(&http.Client{Transport: anon}, "https://"+addr)
	req := &licmeshv1.EnrollRequest{
		ProtocolVersion: wire.ProtocolVersion,
		TokenId:         tok.ID,
		TokenSecret:     tok.secret,
		Csr:             csr,
		Hostname:        hostname,
		Version:         "bench",
	}
	// A master that has not caught up with the cluster since it started
	// answers Unavailable; a collector asks again, as collectord does.
	var resp *connect.Response[licmeshv1.EnrollResponse]
	for {
		resp, err = client.Enroll(ctx, connect.NewRequest(req))
		if connect.CodeOf(err) != connect.CodeUnavailable || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: enroll at %s: %w", ErrMesh, addr, err)
	}
	// No ServerName: http3 takes it from each master's address, and masters'
	// certificates carry their addresses as SANs.
	conf := &tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{resp.Msg.Certificate}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS13,
	}
	return &Collector{ID: resp.Msg.CollectorId, tls: conf, h3: newH3(conf)}, nil
}

func newH3(conf *tls.Config) *http3.Transport {
	return &http3.Transport{
		TLSClientConfig: conf,
		QUICConfig:      &quic.Config{MaxIdleTimeout: collectorIdleTimeout, KeepAlivePeriod: collectorIdleTimeout / 3},
	}
}

// Client returns a CollectorService client for the master at addr over this
// collector's QUIC connections. Every client of one Collector shares them.
func (c *Collector) Client(addr string) licmeshv1connect.CollectorServiceClient {
	return licmeshv1connect.NewCollectorServiceClient(&http.Client{Transport: c.h3}, "https://"+addr)
}

// Fresh returns a copy of c with its own, new QUIC connections, for talking
// to a master that was restarted (a stale connection would only time out).
func (c *Collector) Fresh() *Collector {
	return &Collector{ID: c.ID, tls: c.tls, h3: newH3(c.tls)}
}

// Close closes the collector's QUIC connections.
func (c *Collector) Close() error { return c.h3.Close() }
