package agent

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/collectors"
	"github.com/licmesh/licmesh/collectors/failover"
	"github.com/licmesh/licmesh/collectors/identity"
	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/licmesh/licmesh/mesh/wire"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// csrPlaceholder is the subject of the enrollment CSR: the masters choose the
// collector's ID and put it in the certificate, whatever the CSR asks for.
const csrPlaceholder = "enrolling"

// enrollLoop enrolls, retrying with backoff while masters are unreachable.
// It gives up with ErrEnroll when every master refused the token or failed
// the pin check in one round, since retrying will not change that.
func (a *Agent) enrollLoop(ctx context.Context) error {
	a.setPhase(PhaseEnrolling)
	bo := failover.NewBackoff(failover.DefaultBackoffBase, failover.DefaultBackoffCap, a.opts.Rand)
	for {
		err := a.enroll(ctx)
		if err == nil {
			return nil
		}
		a.noteError(err)
		if errors.Is(err, ErrEnroll) {
			a.log.Error("collectord: enrollment failed", "error", err)
			return err
		}
		wait := bo.Next()
		a.log.Warn("collectord: enrollment: no master answered, retrying", "retry_in", wait.Round(time.Millisecond), "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.clock.After(wait):
		}
	}
}

// enroll makes one round of enrollment attempts over the masters.
func (a *Agent) enroll(ctx context.Context) error {
	tok := a.token
	if tok == nil {
		return fmt.Errorf("%w: no join token configured", ErrEnroll)
	}
	secret, err := tokenSecret(*tok)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEnroll, err)
	}
	csr, key, err := pki.NewCSR(csrPlaceholder)
	if err != nil {
		return fmt.Errorf("agent: enrollment: %w", err)
	}
	hostname := a.opts.Hostname
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	tr := a.opts.NewTransport(pki.PinnedClientTLS(tok.Pin), a.mode)
	defer tr.Close()

	req := &licmeshv1.EnrollRequest{
		ProtocolVersion: wire.ProtocolVersion,
		TokenId:         string(tok.ID),
		TokenSecret:     secret,
		Csr:             csr,
		Hostname:        clip(hostname, 253),
		Version:         a.opts.Version,
	}
	var (
		id      *identity.Identity
		learned []string
		final   []error // refusals and pin mismatches: retrying will not help
		other   []error
	)
	for _, addr := range a.masters.Snapshot() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		actx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
		resp, err := newClient(tr, addr).Enroll(actx, connect.NewRequest(req))
		cancel()
		if err == nil {
			id, learned, err = a.checkEnrollment(resp.Msg, key, tok.Pin)
			if err == nil {
				a.masters.Succeeded(addr)
				a.noteContact(tr, addr)
				break
			}
		}
		switch rej := asRejection(addr, err); {
		case rej != nil:
			final = append(final, rej)
		case errors.Is(err, pki.ErrPinMismatch), errors.Is(err, ErrProtocolVersion):
			final = append(final, fmt.Errorf("%s: %w", addr, err))
		default:
			other = append(other, fmt.Errorf("%s: %w", addr, err))
		}
		a.masters.Failed(addr)
	}
	if id == nil {
		if len(other) == 0 && len(final) > 0 {
			return fmt.Errorf("%w: %w", ErrEnroll, errors.Join(final...))
		}
		return fmt.Errorf("%w: %w", ErrUnavailable, errors.Join(append(final, other...)...))
	}
	if err := a.store.Save(id); err != nil {
		return fmt.Errorf("agent: save identity: %w", err)
	}
	if _, err := a.masters.Learn(a.masters.Current(), learned); err == nil {
		a.saveMasters()
	}
	a.setIdentity(id)
	a.setPhase(PhaseConnecting)
	a.log.Info("collectord: enrolled", "collector_id", id.CollectorID, "cluster_id", id.ClusterID,
		"cert_not_after", id.Cert.Leaf.NotAfter.Format(time.RFC3339))
	return nil
}

// checkEnrollment validates an Enroll answer and builds the identity from it.
// The CA it returns must be the one the token pins: the TLS handshake checked
// the CA the server presented, this checks the one it sends to be stored.
func (a *Agent) checkEnrollment(m *licmeshv1.EnrollResponse, key crypto.Signer, pin pki.Pin) (*identity.Identity, []string, error) {
	if !wire.Supported(m.GetProtocolVersion()) {
		return nil, nil, versionError(m.GetProtocolVersion())
	}
	ca, err := x509.ParseCertificate(m.GetCaCertificate())
	if err != nil {
		return nil, nil, badAnswer("CA certificate: %v", err)
	}
	if pki.PinOf(ca) != pin {
		return nil, nil, fmt.Errorf("%w: the CA certificate sent at enrollment", pki.ErrPinMismatch)
	}
	if !ca.IsCA {
		return nil, nil, badAnswer("CA certificate is not a CA")
	}
	cert, err := pki.TLSCertificate(key, m.GetCertificate())
	if err != nil {
		return nil, nil, badAnswer("certificate: %v", err)
	}
	cid := collectors.ID(m.GetCollectorId())
	if err := identity.CheckCertificate(cert, ca, cid, a.clock.Now()); err != nil {
		return nil, nil, badAnswer("certificate: %v", err)
	}
	if len(m.GetSigningPublicKey()) != ed25519.PublicKeySize {
		return nil, nil, badAnswer("signing public key has %d bytes, want %d", len(m.GetSigningPublicKey()), ed25519.PublicKeySize)
	}
	if err := checkText("cluster id", m.GetClusterId(), 128); err != nil {
		return nil, nil, err
	}
	id := &identity.Identity{
		CollectorID: cid,
		ClusterID:   m.GetClusterId(),
		Cert:        cert,
		CA:          ca,
		SigningKey:  ed25519.PublicKey(append([]byte(nil), m.GetSigningPublicKey()...)),
	}
	return id, m.GetMasters(), nil
}

// tokenSecret returns the raw bytes of a join token's secret, which Enroll
// carries. pki keeps the secret unprintable and offers no accessor, so it is
// read back from the token's one rendering.
func tokenSecret(tok pki.JoinToken) ([]byte, error) {
	parts := strings.Split(tok.String(), ".")
	if len(parts) != 4 {
		return nil, errors.New("agent: join token has an unexpected shape")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(b) != 32 {
		return nil, errors.New("agent: join token secret does not decode")
	}
	return b, nil
}

// versionError describes a master whose protocol version this collector
// cannot speak.
func versionError(v uint32) error {
	return fmt.Errorf("%w: master speaks collector protocol version %d, this collector speaks %d to %d",
		ErrProtocolVersion, v, wire.MinProtocolVersion, wire.ProtocolVersion)
}

// checkText checks a short string from a master.
func checkText(field, s string, max int) error {
	switch {
	case s == "":
		return badAnswer("%s is empty", field)
	case len(s) > max:
		return badAnswer("%s has %d bytes, at most %d allowed", field, len(s), max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return badAnswer("%s has a control or invalid character", field)
		}
	}
	return nil
}
