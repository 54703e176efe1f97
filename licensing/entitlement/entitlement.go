// Package entitlement is what a collector may do, signed by its cluster:
// for each license on record, the product, whether the license covers this
// collector's installation, its features and pools, its dates and its
// usage credits. Masters build a Document per collector from the
// replicated state and sign it with the cluster key; the collector verifies
// it offline and answers the product's "is module X on?" from it, through
// outages, until each license's expiry plus grace and no longer.
//
// The signed form is "lme1.<base64url(payload)>.<base64url(signature)>":
// the payload is the document's JSON, the signature Ed25519 over a context
// string and the payload, so a lease signature can never pass for an
// entitlement signature or the reverse.
package entitlement

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/alert"
	"github.com/licmesh/licmesh/licensing/license"
)

// FormatVersion is the document format this build writes and reads.
const FormatVersion = 1

// MaxTokenLen bounds a signed document; longer input is refused before any
// decoding.
const MaxTokenLen = 512 << 10

const (
	tokenPrefix = "lme1."
	signContext = "licmesh/entitlements/v1\x00"
)

var b64 = base64.RawURLEncoding.Strict()

// Errors.
var (
	// ErrMalformed means a token is not a well-formed entitlement document.
	ErrMalformed = errors.New("entitlement: malformed document")
	// ErrBadSignature means the signature does not verify with the
	// cluster's key: the document was altered or signed by another
	// cluster.
	ErrBadSignature = errors.New("entitlement: bad signature")
	// ErrWrongCollector means the document was issued to another collector
	// or by another cluster.
	ErrWrongCollector = errors.New("entitlement: document is not for this collector")
)

// Phase is an entitlement's standing at a time: its license's phase.
type Phase = license.Phase

// Phases, the license's.
const (
	NotYetValid = license.NotYetValid
	Active      = license.Active
	InGrace     = license.InGrace
	Expired     = license.Expired
)

// Document is one collector's entitlements as its cluster issued them.
type Document struct {
	Format      int    `json:"format"`
	ClusterID   string `json:"cluster_id"`
	CollectorID string `json:"collector_id"`
	// Serial orders documents: the Raft index of the state it was built
	// from. A collector never replaces a document by one with a lower
	// serial (a master that lags behind).
	Serial uint64 `json:"serial"`
	// IssuedAt is the cluster's trusted time when the document was built.
	// A collector never judges it at an earlier time, so setting its
	// clock back extends nothing.
	IssuedAt     time.Time     `json:"issued_at"`
	Entitlements []Entitlement `json:"entitlements"`
	// NoticeRules are the site's own alert rules of the kinds a product
	// shows its users (alert.NoticeKinds): its expiry schedule, say. The
	// collector judges its notices by them, and by the defaults where the
	// site set none. A collector older than the field ignores it.
	NoticeRules []alert.Rule `json:"notice_rules,omitempty"`
}

// Entitlement is one license as it applies to this collector.
type Entitlement struct {
	License  string  `json:"license_id"`
	Customer string  `json:"customer"`
	Product  Product `json:"product"`
	// Type is the license type: subscription, perpetual, trial or volume.
	Type      string    `json:"type"`
	NotBefore time.Time `json:"not_before"`
	// ExpiresAt and GraceEnd are zero for a perpetual license.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	GraceEnd  time.Time `json:"grace_end,omitzero"`
	// UpdatesUntil is the last release date the license covers.
	UpdatesUntil time.Time `json:"updates_until,omitzero"`
	// TrialEnd is when a trial period ends, if the license has one.
	TrialEnd time.Time `json:"trial_end,omitzero"`
	// Covered is false when the license does not extend to this
	// collector's installation (a volume license whose installations are
	// taken); Note says why. An uncovered entitlement enables nothing.
	Covered bool   `json:"covered"`
	Note    string `json:"note,omitempty"`
	// Features are the modules the license enables, sorted.
	Features []string `json:"features,omitempty"`
	// Pools are the seat pools the license grants at IssuedAt.
	Pools []Pool `json:"pools,omitempty"`
	// Credits are the license's usage credits at IssuedAt, if it has any.
	Credits *Credits `json:"credits,omitempty"`
}

// Product is what the license is for (a SKU, seed 002).
type Product struct {
	SKU         string `json:"sku"`
	Name        string `json:"name"`
	Application string `json:"application,omitempty"`
	Version     string `json:"version,omitempty"`
}

// Pool is a seat pool the license grants.
type Pool struct {
	Name    string `json:"name"`
	Seats   int    `json:"seats"`
	Enforce string `json:"enforce"`
	Overage int    `json:"overage,omitempty"`
	// GraceMS, MaxBorrowMS and FailOpen are the pool's offline terms (see
	// license.Offline): the collector needs them when no master answers.
	GraceMS     int64 `json:"grace_ms,omitempty"`
	MaxBorrowMS int64 `json:"max_borrow_ms,omitempty"`
	FailOpen    bool  `json:"fail_open,omitempty"`
}

// FailsOpen reports whether a collector that reaches no master may admit a
// new holder to pool at t: some license in force grants the pool, and every
// one that does says fail_open, as the masters combine them (a license that
// fails closed is not lifted by another that fails open).
func (d *Document) FailsOpen(pool string, t time.Time) bool {
	granted := false
	for i := range d.Entitlements {
		e := &d.Entitlements[i]
		if !e.InForce(t) {
			continue
		}
		for _, p := range e.Pools {
			if p.Name != pool {
				continue
			}
			if !p.FailOpen {
				return false
			}
			granted = true
		}
	}
	return granted
}

// Credits is a usage-credit balance.
type Credits struct {
	Unit      string `json:"unit"`
	Remaining int64  `json:"remaining"`
	Low       bool   `json:"low"`
	Exhausted bool   `json:"exhausted"`
}

// PhaseAt judges the entitlement at t, which should be the collector's
// trusted time (see Clock), never the bare local clock.
func (e *Entitlement) PhaseAt(t time.Time) Phase {
	switch {
	case t.Before(e.NotBefore):
		return NotYetValid
	case e.ExpiresAt.IsZero() || t.Before(e.ExpiresAt):
		return Active
	case t.Before(e.GraceEnd):
		return InGrace
	}
	return Expired
}

// InForce reports whether the entitlement covers this collector and is
// active or in grace at t.
func (e *Entitlement) InForce(t time.Time) bool {
	ph := e.PhaseAt(t)
	return e.Covered && (ph == Active || ph == InGrace)
}

// Validate checks the fields a verifier relies on.
func (d *Document) Validate() error {
	switch {
	case d.Format != FormatVersion:
		return fmt.Errorf("%w: format %d, this build reads %d", ErrMalformed, d.Format, FormatVersion)
	case d.ClusterID == "" || d.CollectorID == "":
		return fmt.Errorf("%w: cluster_id and collector_id are required", ErrMalformed)
	case d.Serial == 0:
		return fmt.Errorf("%w: serial is 0", ErrMalformed)
	case d.IssuedAt.IsZero():
		return fmt.Errorf("%w: issued_at is missing", ErrMalformed)
	}
	seen := map[string]bool{}
	for i, e := range d.Entitlements {
		switch {
		case e.License == "" || seen[e.License]:
			return fmt.Errorf("%w: entitlement %d: license_id empty or repeated", ErrMalformed, i)
		case e.Product.SKU == "":
			return fmt.Errorf("%w: entitlement %s: product sku is missing", ErrMalformed, e.License)
		case !e.ExpiresAt.IsZero() && e.GraceEnd.Before(e.ExpiresAt):
			return fmt.Errorf("%w: entitlement %s: grace_end before expires_at", ErrMalformed, e.License)
		}
		seen[e.License] = true
	}
	for i, r := range d.NoticeRules {
		if !r.Kind.Notice() {
			return fmt.Errorf("%w: notice rule %d: kind %q is not one products show", ErrMalformed, i, r.Kind)
		}
		if _, err := r.Normalize(); err != nil {
			return fmt.Errorf("%w: notice rule %d: %v", ErrMalformed, i, err)
		}
	}
	return nil
}

// Sign encodes d and signs it with the cluster's private key.
func Sign(d *Document, key ed25519.PrivateKey) (string, error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("entitlement: private key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	if err := d.Validate(); err != nil {
		return "", err
	}
	d.IssuedAt = d.IssuedAt.UTC()
	payload, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("entitlement: encode: %w", err)
	}
	sig := ed25519.Sign(key, append([]byte(signContext), payload...))
	tok := tokenPrefix + b64.EncodeToString(payload) + "." + b64.EncodeToString(sig)
	if len(tok) > MaxTokenLen {
		return "", fmt.Errorf("entitlement: document of %d bytes exceeds %d", len(tok), MaxTokenLen)
	}
	return tok, nil
}

// Verify checks a signed document's form and signature against the
// cluster's public key and returns it. It does not judge dates: a verified
// document is judged entitlement by entitlement, at trusted time.
func Verify(token string, pub ed25519.PublicKey) (*Document, error) {
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(token), MaxTokenLen)
	}
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: does not start with %q", ErrMalformed, tokenPrefix)
	}
	p64, s64, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s64, ".") {
		return nil, fmt.Errorf("%w: want two dot-separated parts after the prefix", ErrMalformed)
	}
	payload, err := b64.DecodeString(p64)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	sig, err := b64.DecodeString(s64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature is not %d bytes of base64url", ErrMalformed, ed25519.SignatureSize)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("entitlement: public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	if !ed25519.Verify(pub, append([]byte(signContext), payload...), sig) {
		return nil, ErrBadSignature
	}
	// Unknown fields are allowed: the signature vouches for them, and a
	// newer master may add some that this collector can ignore.
	var d Document
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the document", ErrMalformed)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Check is the answer to "is this feature on?".
type Check struct {
	Feature string `json:"feature"`
	Enabled bool   `json:"enabled"`
	// License is the license that enables it, when Enabled.
	License string `json:"license_id,omitempty"`
	// ValidUntil is when that license stops enabling it (expiry plus
	// grace); zero for a perpetual license.
	ValidUntil time.Time `json:"valid_until,omitzero"`
	// Reason says why the feature is off, or that it is on in grace.
	Reason string `json:"reason,omitempty"`
}

// Feature answers whether feature is on at t: some covered license in
// force (for the product with SKU sku, if sku is not empty) enables it.
// When several do, the one that lasts longest answers. When none does,
// Reason says the nearest miss: a license that enables it but expired,
// is not yet valid, or does not cover this installation.
func (d *Document) Feature(feature, sku string, t time.Time) Check {
	c := Check{Feature: feature}
	var misses []string
	for i := range d.Entitlements {
		e := &d.Entitlements[i]
		if sku != "" && e.Product.SKU != sku || !slices.Contains(e.Features, feature) {
			continue
		}
		ph := e.PhaseAt(t)
		switch {
		case !e.Covered:
			misses = append(misses, fmt.Sprintf("license %s does not cover this installation: %s", e.License, e.Note))
		case ph == Expired:
			misses = append(misses, fmt.Sprintf("license %s expired %s (grace ended %s)", e.License, stamp(e.ExpiresAt), stamp(e.GraceEnd)))
		case ph == NotYetValid:
			misses = append(misses, fmt.Sprintf("license %s starts %s", e.License, stamp(e.NotBefore)))
		default:
			if !c.Enabled || lastsLonger(e.GraceEnd, c.ValidUntil) {
				c.Enabled, c.License, c.ValidUntil = true, e.License, e.GraceEnd
				c.Reason = ""
				if ph == InGrace {
					c.Reason = fmt.Sprintf("license %s expired %s and is in grace until %s", e.License, stamp(e.ExpiresAt), stamp(e.GraceEnd))
				}
			}
		}
	}
	if !c.Enabled {
		switch {
		case len(misses) > 0:
			c.Reason = misses[0]
		case sku != "":
			c.Reason = fmt.Sprintf("no license for product %q enables %q", sku, feature)
		default:
			c.Reason = fmt.Sprintf("no license enables %q", feature)
		}
	}
	return c
}

// lastsLonger reports whether end a is later than end b, a zero end
// (perpetual) being the latest.
func lastsLonger(a, b time.Time) bool {
	switch {
	case b.IsZero():
		return false
	case a.IsZero():
		return true
	}
	return a.After(b)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
