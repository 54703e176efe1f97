package master

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/licmesh/licmesh/mesh/pki"
)

// The cluster secret is the one thing every master is given. Keys are
// derived from it with HKDF under different labels, so learning one reveals
// nothing about another or about the secret:
//   - the memberlist gossip key;
//   - the key that signs the dashboard's session cookies, which is why a
//     sign-in holds on every master and through restarts; and
//   - the seed of the cluster CA's Ed25519 key, which makes every master
//     compute the same CA on its own. That is what lets Raft run over mTLS
//     from the very first election, before any state is replicated, and lets
//     a new master join with nothing but the secret. The CA certificate is
//     also recorded in the replicated state at bootstrap.
func deriveKey(secret []byte, label string, n int) []byte {
	out, err := hkdf.Key(sha256.New, secret, []byte("licmesh cluster v1"), label, n)
	if err != nil {
		panic("master: hkdf: " + err.Error()) // only for n > 255*32
	}
	return out
}

// identity is what a master derives from the cluster secret at start.
type identity struct {
	clusterID string
	ca        *pki.CA
	gossipKey []byte
	// sessionKey signs the dashboard's session cookies: the same on every
	// master and across restarts, so a sign-in holds on any of them.
	sessionKey []byte
}

func deriveIdentity(secret []byte) (*identity, error) {
	ca, err := pki.DeriveCA(deriveKey(secret, "ca ed25519 seed", ed25519.SeedSize))
	if err != nil {
		return nil, fmt.Errorf("master: derive cluster CA: %w", err)
	}
	pin := ca.Pin()
	return &identity{
		clusterID:  fmt.Sprintf("lm-%x", pin[:6]),
		ca:         ca,
		gossipKey:  deriveKey(secret, "memberlist gossip key", 32),
		sessionKey: deriveKey(secret, "dashboard session key", 32),
	}, nil
}

// NewClusterSecret returns a fresh cluster secret in the form the
// configuration takes (`meshd keygen`).
func NewClusterSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
