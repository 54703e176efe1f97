package release_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/licmesh/licmesh/licensing/release"
)

// t0 is the fixed "now" every test starts from; no test reads the clock.
var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

const (
	hour = time.Hour
	day  = 24 * time.Hour
)

func genKeys(t *testing.T, rootN, rootT, targetsN, targetsT int) release.Keys {
	t.Helper()
	k, err := release.GenerateKeys(rootN, rootT, targetsN, targetsT)
	require.NoError(t, err)
	return k
}

func newRepo(t *testing.T) (*release.Repo, release.Keys) {
	t.Helper()
	keys := genKeys(t, 1, 1, 1, 1)
	r, err := release.NewRepo(keys, release.DefaultExpiries(), t0)
	require.NoError(t, err)
	return r, keys
}

// binary is the fake content of one artifact, distinct per name.
func binary(version, component, goos, goarch string) []byte {
	return bytes.Repeat([]byte(version+"/"+component+"-"+goos+"-"+goarch+"\n"), 50)
}

// publish publishes version on channel with a meshd and a collectord for
// linux/amd64 and a meshd for linux/arm64.
func publish(t *testing.T, r *release.Repo, now time.Time, version, channel string) []release.Artifact {
	t.Helper()
	var in []release.ArtifactInput
	for _, p := range [][3]string{
		{release.ComponentMeshd, "linux", "amd64"},
		{release.ComponentCollectord, "linux", "amd64"},
		{release.ComponentMeshd, "linux", "arm64"},
	} {
		in = append(in, release.ArtifactInput{Component: p[0], OS: p[1], Arch: p[2], Data: bytes.NewReader(binary(version, p[0], p[1], p[2]))})
	}
	arts, err := r.Publish(now, version, channel, in)
	require.NoError(t, err)
	return arts
}

// served is what the hub serves for st: every root and the current files.
func served(st release.RepoState) release.Metadata {
	return release.Metadata{Roots: st.Roots, Timestamp: st.Timestamp, Snapshot: st.Snapshot, Targets: st.Targets}
}

// siteTrust is a site starting from the repository's first root.
func siteTrust(t *testing.T, st release.RepoState) release.Trust {
	t.Helper()
	tr, err := release.TrustFromRoot(st.Roots[0])
	require.NoError(t, err)
	return tr
}

// verifyOK verifies md against trust at now and requires success.
func verifyOK(t *testing.T, trust release.Trust, md release.Metadata, now time.Time) (release.Trust, *release.Verified) {
	t.Helper()
	next, v, err := release.Verify(trust, md, now)
	require.NoError(t, err)
	require.NotNil(t, v)
	return next, v
}

// The forging helpers below build metadata with go-tuf directly, the way an
// attacker holding some keys (or a buggy signer) would, so the package
// itself offers no way to sign below a threshold.

func signWith[T metadata.Roles](t *testing.T, m *metadata.Metadata[T], keys ...ed25519.PrivateKey) []byte {
	t.Helper()
	m.Signatures = []metadata.Signature{}
	for _, k := range keys {
		s, err := signature.LoadED25519Signer(k)
		require.NoError(t, err)
		_, err = m.Sign(s)
		require.NoError(t, err)
	}
	raw, err := m.ToBytes(false)
	require.NoError(t, err)
	return raw
}

func metaFileOf(version int64, raw []byte) *metadata.MetaFiles {
	sum := sha256.Sum256(raw)
	mf := metadata.MetaFile(version)
	mf.Length = int64(len(raw))
	mf.Hashes = metadata.Hashes{"sha256": sum[:]}
	return mf
}

// resignChain signs targetsRaw's snapshot and timestamp anew over the
// current ones in st with the given keys, so that only what the caller did
// to the targets can be wrong.
func resignChain(t *testing.T, st release.RepoState, keys release.Keys, targetsRaw []byte) release.Metadata {
	t.Helper()
	tg, err := metadata.Targets().FromBytes(targetsRaw)
	require.NoError(t, err)
	snap, err := metadata.Snapshot().FromBytes(st.Snapshot)
	require.NoError(t, err)
	snap.Signed.Version++
	snap.Signed.Meta = map[string]*metadata.MetaFiles{"targets.json": metaFileOf(tg.Signed.Version, targetsRaw)}
	snapRaw := signWith(t, snap, keys.Snapshot)
	ts, err := metadata.Timestamp().FromBytes(st.Timestamp)
	require.NoError(t, err)
	ts.Signed.Version++
	ts.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": metaFileOf(snap.Signed.Version, snapRaw)}
	tsRaw := signWith(t, ts, keys.Timestamp)
	return release.Metadata{Roots: st.Roots, Timestamp: tsRaw, Snapshot: snapRaw, Targets: targetsRaw}
}
