package upstream

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
)

// RequestFormat is the payload format version of activation requests and
// proofs.
const RequestFormat = 1

// MaxRequestBytes bounds an activation request or a proof.
const MaxRequestBytes = 64 << 10

const (
	maxProducts = 64
	maxVersions = 256
)

// ActivationRequest introduces a cluster to its vendor's hub: its ID, the
// public key its batches and proofs are signed with, the products it runs
// and the versions of its masters and collectors. It is signed with that
// same key, which proves the sender holds it. Online it travels with an
// API key; offline, as a file the vendor turns into a license.
type ActivationRequest struct {
	Format    int               `json:"format"`
	ClusterID license.ClusterID `json:"cluster_id"`
	PublicKey []byte            `json:"public_key"`
	Products  []license.SKU     `json:"products,omitempty"`
	Versions  Versions          `json:"versions"`
	// ChainSeq and ChainHash are the last usage batch the cluster holds
	// for delivered (0 and empty before any): a hub that registers the
	// cluster expects the batch after it next.
	ChainSeq  uint64    `json:"chain_seq,omitempty"`
	ChainHash string    `json:"chain_hash,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Versions are the release versions a cluster runs, each once.
type Versions struct {
	Masters    []string `json:"masters,omitempty"`
	Collectors []string `json:"collectors,omitempty"`
}

// SealRequest signs r with the cluster key, setting its public key.
func SealRequest(r ActivationRequest, key ed25519.PrivateKey) (Signed, error) {
	if len(key) != ed25519.PrivateKeySize {
		return Signed{}, fmt.Errorf("%w: cluster key has %d bytes", ErrBadSignature, len(key))
	}
	r.Format = RequestFormat
	r.PublicKey = key.Public().(ed25519.PublicKey)
	if err := r.validate(); err != nil {
		return Signed{}, err
	}
	payload, _ := json.Marshal(r) // plain fields cannot fail
	return sign(requestContext, key, "", payload), nil
}

func (r ActivationRequest) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: activation request: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	switch {
	case r.Format != RequestFormat:
		return bad("format %d, this build reads %d", r.Format, RequestFormat)
	case r.ClusterID.Validate() != nil:
		return bad("%v", r.ClusterID.Validate())
	case len(r.PublicKey) != ed25519.PublicKeySize:
		return bad("public key has %d bytes, want %d", len(r.PublicKey), ed25519.PublicKeySize)
	case len(r.Products) > maxProducts:
		return bad("%d products, at most %d", len(r.Products), maxProducts)
	case len(r.Versions.Masters)+len(r.Versions.Collectors) > maxVersions:
		return bad("too many versions")
	case r.CreatedAt.IsZero():
		return bad("created_at is missing")
	case (r.ChainSeq == 0) != (r.ChainHash == "") || r.ChainHash != "" && !validHash(r.ChainHash):
		return bad("chain position %d %q is not a batch and its hash", r.ChainSeq, clip(r.ChainHash))
	}
	for _, p := range r.Products {
		if err := checkName("product", string(p)); err != nil {
			return bad("%v", err)
		}
	}
	for _, v := range append(r.Versions.Masters, r.Versions.Collectors...) {
		if err := checkName("version", v); err != nil {
			return bad("%v", err)
		}
	}
	return nil
}

// OpenRequest verifies an activation request with the key it carries and
// returns it. It proves the sender holds the key; whether the key belongs
// to the cluster it names is for the hub's registry to say.
func OpenRequest(s Signed) (*ActivationRequest, error) {
	var r ActivationRequest
	if err := decodeStrict(s.Payload, MaxRequestBytes, &r, "activation request"); err != nil {
		return nil, err
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	if err := s.verify(requestContext, r.PublicKey); err != nil {
		return nil, fmt.Errorf("activation request: %w", err)
	}
	return &r, nil
}

// Proof shows that a registered cluster is the one asking: its ID, what it
// asks for and when, signed with its key. The hub accepts one within a
// window of its own clock.
type Proof struct {
	Format    int               `json:"format"`
	ClusterID license.ClusterID `json:"cluster_id"`
	Purpose   string            `json:"purpose"`
	At        time.Time         `json:"at"`
}

// SealProof signs a proof for purpose at time at.
func SealProof(cluster license.ClusterID, purpose string, at time.Time, key ed25519.PrivateKey) (Signed, error) {
	if len(key) != ed25519.PrivateKeySize {
		return Signed{}, fmt.Errorf("%w: cluster key has %d bytes", ErrBadSignature, len(key))
	}
	p := Proof{Format: RequestFormat, ClusterID: cluster, Purpose: purpose, At: at.UTC()}
	payload, _ := json.Marshal(p)
	return sign(proofContext, key, "", payload), nil
}

// PeekProof returns the cluster a proof claims to come from, unverified.
func PeekProof(s Signed) (*Proof, error) {
	var p Proof
	if err := decodeStrict(s.Payload, MaxRequestBytes, &p, "proof"); err != nil {
		return nil, err
	}
	if p.Format != RequestFormat || p.ClusterID.Validate() != nil || p.Purpose == "" || p.At.IsZero() {
		return nil, fmt.Errorf("%w: proof is incomplete", ErrMalformed)
	}
	return &p, nil
}

// OpenProof verifies a proof with the cluster's registered key and checks
// its purpose and that it was made within skew of now.
func OpenProof(s Signed, cluster license.ClusterID, pub ed25519.PublicKey, purpose string, now time.Time, skew time.Duration) (*Proof, error) {
	p, err := PeekProof(s)
	if err != nil {
		return nil, err
	}
	if err := s.verify(proofContext, pub); err != nil {
		return nil, fmt.Errorf("proof of cluster %s: %w", cluster, err)
	}
	switch {
	case p.ClusterID != cluster:
		return nil, fmt.Errorf("%w: proof is from cluster %s, not %s", ErrWrongCluster, p.ClusterID, cluster)
	case p.Purpose != purpose:
		return nil, fmt.Errorf("%w: proof is for %q, not %q", ErrMalformed, clip(p.Purpose), purpose)
	case p.At.Before(now.Add(-skew)) || p.At.After(now.Add(skew)):
		return nil, fmt.Errorf("%w: proof made at %s, the hub's time is %s (more than %s apart: check the site's clock)",
			ErrStale, p.At.Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew)
	}
	return p, nil
}
