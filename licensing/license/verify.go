package license

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"time"
)

// VerifyOptions say where and when a license is being judged.
type VerifyOptions struct {
	// ClusterID is the verifying cluster's ID; a license bound to another
	// cluster is refused. A master always sets it.
	ClusterID ClusterID
	// AnyCluster skips the binding check, for offline inspection
	// (`meshctl license verify` without --cluster-id). Without it, a bound
	// license is refused when ClusterID is empty.
	AnyCluster bool
	// Now is the local clock's reading; it must be set.
	Now time.Time
	// TrustedTime is the replicated high-water mark of trusted time, or
	// zero if there is none yet. Validity is judged at TrustedNow(Now,
	// TrustedTime).
	TrustedTime time.Time
}

// License is a verified license: its payload, the vendor key that signed
// it and its canonical text (what a master stores and hands on).
type License struct {
	Payload
	// KeyID is the vendor key that signed the license.
	KeyID KeyID
	// Text is the canonical armoured license (Envelope.Marshal).
	Text []byte
}

// Verify checks e, in this order, and returns the first failure:
//
//   - the key ID is in keys (ErrUnknownKey, naming it and the trusted IDs);
//   - the signature verifies with that key (ErrBadSignature, naming it);
//   - the payload parses and validates (ErrInvalidPayload,
//     ErrUnsupportedFormat, ErrInvalidField naming the field);
//   - the cluster binding matches (ErrWrongCluster, naming both IDs);
//   - trusted time is on or after not_before (ErrNotYetValid, with the
//     date) and before the end of grace (ErrExpired, with the expiry and
//     the grace end).
//
// A license within its grace period verifies: Status tells grace from
// active. With ErrWrongCluster, ErrNotYetValid and ErrExpired the
// signed license is returned too, for display only: it is genuine but
// not in force here and now. With every other error it is nil.
func (e *Envelope) Verify(keys Keyring, opts VerifyOptions) (*License, error) {
	if opts.Now.IsZero() {
		return nil, fmt.Errorf("%w: Now is not set", ErrInvalidOptions)
	}
	pub, ok := keys[e.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w: key id %q is not among the trusted keys (%s)", ErrUnknownKey, e.KeyID, listIDs(keys))
	}
	if len(pub) != ed25519.PublicKeySize || len(e.Signature) != ed25519.SignatureSize ||
		!ed25519.Verify(pub, signedMessage(e.KeyID, e.Payload), e.Signature) {
		return nil, fmt.Errorf("%w: the license does not verify with vendor key %q: it was changed after signing, or signed with another key",
			ErrBadSignature, e.KeyID)
	}
	p, err := ParsePayload(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("license signed by vendor key %q: %w", e.KeyID, err)
	}
	l := &License{Payload: *p, KeyID: e.KeyID, Text: e.Marshal()}

	if p.ClusterID != "" && !opts.AnyCluster && p.ClusterID != opts.ClusterID {
		if opts.ClusterID == "" {
			return l, fmt.Errorf("%w: license %s is bound to cluster %q, and no cluster ID was given to check it against",
				ErrWrongCluster, p.ID, p.ClusterID)
		}
		return l, fmt.Errorf("%w: license %s is bound to cluster %q, this is cluster %q", ErrWrongCluster, p.ID, p.ClusterID, opts.ClusterID)
	}
	now := TrustedNow(opts.Now, opts.TrustedTime)
	if now.Before(p.NotBefore) {
		return l, fmt.Errorf("%w: license %s is valid from %s; trusted time is %s", ErrNotYetValid, p.ID, stamp(p.NotBefore), stamp(now))
	}
	if end := p.GraceEnd(); !end.IsZero() && !now.Before(end) {
		grace := "no grace period"
		if p.Grace > 0 {
			grace = fmt.Sprintf("grace of %s ended %s", p.Grace, stamp(end))
		}
		return l, fmt.Errorf("%w: license %s expired %s, %s; trusted time is %s", ErrExpired, p.ID, stamp(p.ExpiresAt), grace, stamp(now))
	}
	return l, nil
}

// Verify opens and verifies armoured license text in one step; see Open
// and Envelope.Verify.
func Verify(text []byte, keys Keyring, opts VerifyOptions) (*License, error) {
	e, err := Open(text)
	if err != nil {
		return nil, err
	}
	return e.Verify(keys, opts)
}

// Inspect decodes e's payload without checking the signature, for showing
// what an unverifiable license claims to be. Never act on it.
func (e *Envelope) Inspect() (*Payload, error) { return ParsePayload(e.Payload) }

func listIDs(keys Keyring) string {
	if len(keys) == 0 {
		return "none configured"
	}
	ids := keys.IDs()
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return "trusted: " + strings.Join(s, ", ")
}
