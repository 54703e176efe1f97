package release

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Keys are the vendor's private signing keys per TUF role (ed25519). Root
// and targets may have several keys and a threshold of them must sign;
// snapshot and timestamp, re-signed unattended every few minutes, have one.
type Keys struct {
	Root             []ed25519.PrivateKey
	RootThreshold    int
	Targets          []ed25519.PrivateKey
	TargetsThreshold int
	Snapshot         ed25519.PrivateKey
	Timestamp        ed25519.PrivateKey
}

// maxRoleKeys bounds rootN and targetsN: more keys than this is a mistake,
// not a policy.
const maxRoleKeys = 64

// GenerateKeys makes fresh keys: rootN root keys of which rootThreshold must
// sign, targetsN targets keys of which targetsThreshold must sign, and one
// snapshot and one timestamp key.
func GenerateKeys(rootN, rootThreshold, targetsN, targetsThreshold int) (Keys, error) {
	if err := checkThreshold("root", rootN, rootThreshold); err != nil {
		return Keys{}, err
	}
	if err := checkThreshold("targets", targetsN, targetsThreshold); err != nil {
		return Keys{}, err
	}
	gen := func() (ed25519.PrivateKey, error) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("release: generating a key: %w", err)
		}
		return priv, nil
	}
	k := Keys{RootThreshold: rootThreshold, TargetsThreshold: targetsThreshold}
	for range rootN {
		priv, err := gen()
		if err != nil {
			return Keys{}, err
		}
		k.Root = append(k.Root, priv)
	}
	for range targetsN {
		priv, err := gen()
		if err != nil {
			return Keys{}, err
		}
		k.Targets = append(k.Targets, priv)
	}
	var err error
	if k.Snapshot, err = gen(); err != nil {
		return Keys{}, err
	}
	if k.Timestamp, err = gen(); err != nil {
		return Keys{}, err
	}
	return k, nil
}

func checkThreshold(role string, n, threshold int) error {
	if n < 1 || n > maxRoleKeys {
		return fail(ErrBadRelease, nil, "%s needs 1 to %d keys, got %d", role, maxRoleKeys, n)
	}
	if threshold < 1 || threshold > n {
		return fail(ErrBadRelease, nil, "%s threshold %d is not within 1..%d", role, threshold, n)
	}
	return nil
}

// String describes the keys without their material, so that logging a Keys
// by mistake leaks nothing.
func (k Keys) String() string {
	return fmt.Sprintf("release.Keys{root %d of %d, targets %d of %d, snapshot, timestamp}",
		k.RootThreshold, len(k.Root), k.TargetsThreshold, len(k.Targets))
}

// GoString is String, so %#v leaks nothing either.
func (k Keys) GoString() string { return k.String() }

// keysFormat names the MarshalBinary encoding, so that a later one can be
// told apart from it.
const keysFormat = "licmesh-release-keys/1"

// keysFile is the MarshalBinary encoding: each key as its 32-byte seed,
// from which ed25519 derives the rest.
type keysFile struct {
	Format           string   `json:"format"`
	Root             [][]byte `json:"root"`
	RootThreshold    int      `json:"root_threshold"`
	Targets          [][]byte `json:"targets"`
	TargetsThreshold int      `json:"targets_threshold"`
	Snapshot         []byte   `json:"snapshot"`
	Timestamp        []byte   `json:"timestamp"`
}

// MarshalBinary encodes the keys (JSON of their seeds) for the hub to seal
// at rest. The result is secret.
func (k Keys) MarshalBinary() ([]byte, error) {
	if err := k.validate(); err != nil {
		return nil, err
	}
	f := keysFile{
		Format:           keysFormat,
		RootThreshold:    k.RootThreshold,
		TargetsThreshold: k.TargetsThreshold,
		Snapshot:         k.Snapshot.Seed(),
		Timestamp:        k.Timestamp.Seed(),
	}
	for _, p := range k.Root {
		f.Root = append(f.Root, p.Seed())
	}
	for _, p := range k.Targets {
		f.Targets = append(f.Targets, p.Seed())
	}
	return json.Marshal(f)
}

// UnmarshalBinary decodes what MarshalBinary encoded and checks the keys
// are usable.
func (k *Keys) UnmarshalBinary(data []byte) error {
	var f keysFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	// The decoder's error is dropped: a syntax error quotes the offending
	// character, which may be part of a seed.
	if err := dec.Decode(&f); err != nil {
		return fail(ErrBadRelease, nil, "keys do not decode as %s JSON", keysFormat)
	}
	if f.Format != keysFormat {
		return fail(ErrBadRelease, nil, "keys are in format %q, want %q", f.Format, keysFormat)
	}
	fromSeed := func(role string, seed []byte) (ed25519.PrivateKey, error) {
		if len(seed) != ed25519.SeedSize {
			return nil, fail(ErrBadRelease, nil, "a %s key seed has %d bytes, want %d", role, len(seed), ed25519.SeedSize)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	out := Keys{RootThreshold: f.RootThreshold, TargetsThreshold: f.TargetsThreshold}
	for _, s := range f.Root {
		p, err := fromSeed("root", s)
		if err != nil {
			return err
		}
		out.Root = append(out.Root, p)
	}
	for _, s := range f.Targets {
		p, err := fromSeed("targets", s)
		if err != nil {
			return err
		}
		out.Targets = append(out.Targets, p)
	}
	var err error
	if out.Snapshot, err = fromSeed("snapshot", f.Snapshot); err != nil {
		return err
	}
	if out.Timestamp, err = fromSeed("timestamp", f.Timestamp); err != nil {
		return err
	}
	if err := out.validate(); err != nil {
		return err
	}
	*k = out
	return nil
}

// validate refuses keys that would sign something no site can verify: a
// short key, a key whose public half does not belong to its seed, a
// threshold that cannot be met, one key listed twice in a role (TUF counts
// it once, so the threshold would silently drop).
func (k Keys) validate() error {
	if err := checkThreshold("root", len(k.Root), k.RootThreshold); err != nil {
		return err
	}
	if err := checkThreshold("targets", len(k.Targets), k.TargetsThreshold); err != nil {
		return err
	}
	check := func(role string, keys []ed25519.PrivateKey) error {
		seen := map[string]bool{}
		for i, p := range keys {
			if len(p) != ed25519.PrivateKeySize {
				return fail(ErrBadRelease, nil, "%s key %d has %d bytes, want %d", role, i+1, len(p), ed25519.PrivateKeySize)
			}
			if !bytes.Equal(ed25519.NewKeyFromSeed(p.Seed()), p) {
				return fail(ErrBadRelease, nil, "%s key %d: its public half does not match its seed", role, i+1)
			}
			pub := string(p.Public().(ed25519.PublicKey))
			if seen[pub] {
				return fail(ErrBadRelease, nil, "%s key %d is listed twice", role, i+1)
			}
			seen[pub] = true
		}
		return nil
	}
	if err := check("root", k.Root); err != nil {
		return err
	}
	if err := check("targets", k.Targets); err != nil {
		return err
	}
	if err := check("snapshot", []ed25519.PrivateKey{k.Snapshot}); err != nil {
		return err
	}
	return check("timestamp", []ed25519.PrivateKey{k.Timestamp})
}

// roleKeys lists each role's keys and threshold in the order root, targets,
// snapshot, timestamp.
func (k Keys) roleKeys() []roleKeys {
	return []roleKeys{
		{metadata.ROOT, k.Root, k.RootThreshold},
		{metadata.TARGETS, k.Targets, k.TargetsThreshold},
		{metadata.SNAPSHOT, []ed25519.PrivateKey{k.Snapshot}, 1},
		{metadata.TIMESTAMP, []ed25519.PrivateKey{k.Timestamp}, 1},
	}
}

type roleKeys struct {
	role      string
	keys      []ed25519.PrivateKey
	threshold int
}

// tufKey is the public TUF key of priv and its key ID.
func tufKey(priv ed25519.PrivateKey) (*metadata.Key, string, error) {
	key, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		return nil, "", fmt.Errorf("release: converting a public key: %w", err)
	}
	id, err := key.ID()
	if err != nil {
		return nil, "", fmt.Errorf("release: computing a key ID: %w", err)
	}
	return key, id, nil
}

// signer wraps priv for go-tuf's Metadata.Sign.
func signer(priv ed25519.PrivateKey) (signature.Signer, error) {
	s, err := signature.LoadED25519Signer(priv)
	if err != nil {
		// sigstore's message names only the problem (nil key, bad size).
		return nil, fmt.Errorf("release: loading a signing key: %w", err)
	}
	return s, nil
}
