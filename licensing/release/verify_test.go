package release_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/licmesh/licmesh/licensing/release"
)

func TestPublishVerifyArtifact(t *testing.T) {
	r, _ := newRepo(t)
	arts := publish(t, r, t0, "1.4.0", release.ChannelStable)
	require.Len(t, arts, 3)
	st := r.State()

	trust, v := verifyOK(t, siteTrust(t, st), served(st), t0.Add(hour))
	assert.Equal(t, int64(1), v.RootVersion)
	assert.Equal(t, int64(2), v.TargetsVersion)
	assert.Equal(t, t0.Add(day), v.Expires, "the timestamp expires first")
	assert.Equal(t, st.Roots[0], trust.Root)
	assert.Equal(t, st.Timestamp, trust.Timestamp)
	assert.Equal(t, st.Snapshot, trust.Snapshot)
	assert.Equal(t, st.Targets, trust.Targets)

	rel, ok := v.Find("1.4.0")
	require.True(t, ok)
	assert.Equal(t, release.ChannelStable, rel.Channel)
	assert.Equal(t, t0, rel.Released)
	assert.False(t, rel.Withdrawn)
	require.Len(t, rel.Artifacts, 3)
	assert.Equal(t, "collectord", rel.Artifacts[0].Component, "artifacts are ordered by component, os, arch")

	a, ok := v.Artifact("1.4.0", release.ComponentMeshd, "linux", "amd64")
	require.True(t, ok)
	assert.Equal(t, "1.4.0/meshd-linux-amd64", a.Name)
	assert.Contains(t, arts, a, "Publish returns the artifacts as sites see them")
	good := binary("1.4.0", "meshd", "linux", "amd64")
	assert.Equal(t, int64(len(good)), a.Length)
	require.NoError(t, release.VerifyArtifact(a, bytes.NewReader(good)))

	_, ok = v.Artifact("1.4.0", release.ComponentCollectord, "linux", "arm64")
	assert.False(t, ok)
	_, ok = v.Find("1.3.0")
	assert.False(t, ok)

	tampered := bytes.Clone(good)
	tampered[7] ^= 1
	for name, data := range map[string][]byte{
		"tampered byte":     tampered,
		"truncated":         good[:len(good)-1],
		"extended":          append(bytes.Clone(good), 'x'),
		"other artifact":    binary("1.4.0", "meshd", "linux", "arm64"),
		"empty":             nil,
		"same length other": bytes.Repeat([]byte{'z'}, len(good)),
	} {
		t.Run(name, func(t *testing.T) {
			err := release.VerifyArtifact(a, bytes.NewReader(data))
			require.ErrorIs(t, err, release.ErrMismatch)
			assert.Contains(t, err.Error(), a.Name)
		})
	}
	wrongLen := a
	wrongLen.Length++
	require.ErrorIs(t, release.VerifyArtifact(wrongLen, bytes.NewReader(good)), release.ErrMismatch)
}

func TestVerifyEqualTimestampKeepsTrust(t *testing.T) {
	r, _ := newRepo(t)
	publish(t, r, t0, "1.0.0", release.ChannelStable)
	md := served(r.State())
	trust, _ := verifyOK(t, siteTrust(t, r.State()), md, t0.Add(hour))

	again, v := verifyOK(t, trust, md, t0.Add(2*hour))
	assert.Equal(t, trust, again)
	_, ok := v.Find("1.0.0")
	assert.True(t, ok)

	// Without a refresh the same set freezes once its timestamp expires,
	// however trusted it was.
	_, _, err := release.Verify(trust, md, t0.Add(day+time.Second))
	require.ErrorIs(t, err, release.ErrExpired)
}

func TestVerifyRollback(t *testing.T) {
	r, _ := newRepo(t)
	publish(t, r, t0, "1.0.0", release.ChannelStable)
	v2 := served(r.State())
	publish(t, r, t0.Add(hour), "1.1.0", release.ChannelStable)
	v3 := served(r.State())

	site := siteTrust(t, r.State())
	site, _ = verifyOK(t, site, v2, t0.Add(2*hour))
	site, v := verifyOK(t, site, v3, t0.Add(2*hour))
	require.Equal(t, int64(3), v.TargetsVersion)

	cases := map[string]release.Metadata{
		"whole older set":                 v2,
		"older timestamp, newer snapshot": {Timestamp: v2.Timestamp, Snapshot: v3.Snapshot, Targets: v3.Targets},
	}
	for name, md := range cases {
		t.Run(name, func(t *testing.T) {
			got, ver, err := release.Verify(site, md, t0.Add(3*hour))
			require.ErrorIs(t, err, release.ErrRollback)
			assert.ErrorIs(t, err, &metadata.ErrBadVersionNumber{}, "go-tuf's error stays in the chain")
			assert.Contains(t, err.Error(), "timestamp.json")
			assert.Nil(t, ver)
			assert.Equal(t, site, got, "trust unchanged")
		})
	}

	// An expired trusted timestamp still guards against rollback.
	later := t0.Add(2 * day)
	_, _, err := release.Verify(site, v2, later)
	require.ErrorIs(t, err, release.ErrRollback)
	// ... and does not stand in the way of fresh metadata.
	_, err = r.Refresh(later)
	require.NoError(t, err)
	_, v = verifyOK(t, site, served(r.State()), later)
	assert.Equal(t, int64(3), v.TargetsVersion)
}

func TestVerifyFreeze(t *testing.T) {
	const min = time.Minute
	cases := []struct {
		name string
		exp  release.Expiries
		at   time.Duration // after t0
		file string
	}{
		{"timestamp", release.Expiries{}, day + time.Second, "timestamp.json"},
		{"snapshot", release.Expiries{Timestamp: 10 * day, Snapshot: 2 * day}, 3 * day, "snapshot.json"},
		{"targets", release.Expiries{Timestamp: 10 * day, Snapshot: 10 * day, Targets: 2 * day}, 3 * day, "targets.json"},
		{"root", release.Expiries{Root: 30 * min, Timestamp: 10 * day}, hour, "root.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keys := genKeys(t, 1, 1, 1, 1)
			r, err := release.NewRepo(keys, c.exp, t0)
			require.NoError(t, err)
			publish(t, r, t0, "1.0.0", release.ChannelStable)
			st := r.State()
			site := siteTrust(t, st)
			verifyOK(t, site, served(st), t0.Add(c.at/2))

			// The site's trusted time is past expiry: a clock set back on
			// the host changes nothing, because Verify only sees now.
			now := t0.Add(c.at)
			got, v, err := release.Verify(site, served(st), now)
			require.ErrorIs(t, err, release.ErrExpired)
			assert.Nil(t, v)
			assert.Equal(t, site, got)
			assert.Contains(t, err.Error(), c.file+" ")
			assert.Contains(t, err.Error(), "is expired at "+now.Format(time.RFC3339))
		})
	}
}

func TestVerifyMixAndMatch(t *testing.T) {
	r, _ := newRepo(t)
	publish(t, r, t0, "1.0.0", release.ChannelStable)
	a := served(r.State())
	publish(t, r, t0.Add(hour), "1.1.0", release.ChannelStable)
	b := served(r.State())
	site := siteTrust(t, r.State())
	now := t0.Add(2 * hour)

	cases := map[string]release.Metadata{
		"targets from an older version":   {Roots: b.Roots, Timestamp: b.Timestamp, Snapshot: b.Snapshot, Targets: a.Targets},
		"snapshot from an older version":  {Roots: b.Roots, Timestamp: b.Timestamp, Snapshot: a.Snapshot, Targets: b.Targets},
		"older snapshot and targets":      {Roots: b.Roots, Timestamp: b.Timestamp, Snapshot: a.Snapshot, Targets: a.Targets},
		"timestamp from an older version": {Roots: b.Roots, Timestamp: a.Timestamp, Snapshot: b.Snapshot, Targets: b.Targets},
		"targets from a newer version":    {Roots: b.Roots, Timestamp: a.Timestamp, Snapshot: a.Snapshot, Targets: b.Targets},
	}
	for name, md := range cases {
		t.Run(name, func(t *testing.T) {
			got, v, err := release.Verify(site, md, now)
			require.ErrorIs(t, err, release.ErrMismatch)
			assert.ErrorIs(t, err, &metadata.ErrLengthOrHashMismatch{})
			assert.Nil(t, v)
			assert.Equal(t, site, got)
		})
	}
	// Targets from another repository version listed under the right
	// version number are still caught by the snapshot's hash.
	t.Run("targets swapped by a site that trusts the snapshot", func(t *testing.T) {
		trusted, _ := verifyOK(t, site, b, now)
		trusted.Targets = nil
		_, _, err := release.Verify(trusted, release.Metadata{Timestamp: b.Timestamp, Targets: a.Targets}, now)
		require.ErrorIs(t, err, release.ErrMismatch)
	})
}

func TestVerifyMissingOrMalformed(t *testing.T) {
	r, _ := newRepo(t)
	publish(t, r, t0, "1.0.0", release.ChannelStable)
	st := r.State()
	site := siteTrust(t, st)
	full := served(st)
	cases := map[string]struct {
		trust release.Trust
		md    release.Metadata
	}{
		"no trusted root": {release.Trust{}, full},
		"no timestamp":    {site, release.Metadata{Snapshot: st.Snapshot, Targets: st.Targets}},
		"no snapshot":     {site, release.Metadata{Timestamp: st.Timestamp, Targets: st.Targets}},
		"no targets":      {site, release.Metadata{Timestamp: st.Timestamp, Snapshot: st.Snapshot}},
		"garbage root":    {site, release.Metadata{Roots: [][]byte{[]byte("{")}, Timestamp: st.Timestamp}},
		"corrupt trust":   {release.Trust{Root: site.Root, Timestamp: []byte("not json")}, full},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := release.Verify(c.trust, c.md, t0)
			require.ErrorIs(t, err, release.ErrMalformed)
		})
	}
}

func TestVerifyThreshold(t *testing.T) {
	keys := genKeys(t, 1, 1, 2, 2)
	r, err := release.NewRepo(keys, release.DefaultExpiries(), t0)
	require.NoError(t, err)
	publish(t, r, t0, "1.0.0", release.ChannelStable)
	st := r.State()
	site := siteTrust(t, st)
	now := t0.Add(hour)

	forge := func(signers ...int) release.Metadata {
		tg, err := metadata.Targets().FromBytes(st.Targets)
		require.NoError(t, err)
		tg.Signed.Version++
		ks := make([]ed25519.PrivateKey, 0, len(signers))
		for _, i := range signers {
			ks = append(ks, keys.Targets[i])
		}
		return resignChain(t, st, keys, signWith(t, tg, ks...))
	}

	// Both keys: the forgery is otherwise faithful, so only the threshold
	// decides below.
	_, v := verifyOK(t, site, forge(0, 1), now)
	assert.Equal(t, int64(3), v.TargetsVersion)

	for name, md := range map[string]release.Metadata{
		"only the first targets key":  forge(0),
		"only the second targets key": forge(1),
		"no targets signature":        forge(),
	} {
		t.Run(name, func(t *testing.T) {
			got, v, err := release.Verify(site, md, now)
			require.ErrorIs(t, err, release.ErrSignature)
			assert.ErrorIs(t, err, &metadata.ErrUnsignedMetadata{})
			assert.Contains(t, err.Error(), "targets.json")
			assert.Nil(t, v)
			assert.Equal(t, site, got)
		})
	}

	t.Run("timestamp signed by a stranger", func(t *testing.T) {
		stranger := genKeys(t, 1, 1, 1, 1)
		md := served(st)
		ts, err := metadata.Timestamp().FromBytes(md.Timestamp)
		require.NoError(t, err)
		ts.Signed.Version++
		md.Timestamp = signWith(t, ts, stranger.Timestamp)
		_, _, err = release.Verify(site, md, now)
		require.ErrorIs(t, err, release.ErrSignature)
		assert.Contains(t, err.Error(), "timestamp.json")
	})
}

func TestVerifyRootRotation(t *testing.T) {
	r, oldKeys := newRepo(t)
	publish(t, r, t0, "1.0.0", release.ChannelStable)
	site := siteTrust(t, r.State())
	site, _ = verifyOK(t, site, served(r.State()), t0.Add(hour))

	newKeys := genKeys(t, 3, 2, 2, 2)
	require.NoError(t, r.RotateRoot(t0.Add(2*hour), newKeys))
	st := r.State()
	require.Len(t, st.Roots, 2)

	t.Run("site on v1 follows the chain", func(t *testing.T) {
		trust, v := verifyOK(t, site, served(st), t0.Add(3*hour))
		assert.Equal(t, int64(2), v.RootVersion)
		assert.Equal(t, st.Roots[1], trust.Root)
		_, ok := v.Find("1.0.0")
		assert.True(t, ok)
		// Only the roots newer than the trusted one are needed.
		_, v = verifyOK(t, trust, release.Metadata{Timestamp: st.Timestamp, Snapshot: st.Snapshot, Targets: st.Targets}, t0.Add(3*hour))
		assert.Equal(t, int64(2), v.RootVersion)
	})

	t.Run("site without the new root refuses the new keys", func(t *testing.T) {
		md := served(st)
		md.Roots = md.Roots[:1]
		_, _, err := release.Verify(site, md, t0.Add(3*hour))
		require.ErrorIs(t, err, release.ErrSignature)
	})

	t.Run("forged v2 signed only by the new keys", func(t *testing.T) {
		root, err := metadata.Root().FromBytes(st.Roots[1])
		require.NoError(t, err)
		forged := signWith(t, root, newKeys.Root...)
		md := served(st)
		md.Roots = [][]byte{st.Roots[0], forged}
		got, v, err := release.Verify(site, md, t0.Add(3*hour))
		require.ErrorIs(t, err, release.ErrSignature)
		assert.Contains(t, err.Error(), "2.root.json")
		assert.Nil(t, v)
		assert.Equal(t, site, got)
	})

	t.Run("forged v2 signed only by the old keys", func(t *testing.T) {
		attacker := genKeys(t, 1, 1, 1, 1)
		root, err := metadata.Root().FromBytes(st.Roots[1])
		require.NoError(t, err)
		// The old root key signs a root naming keys nobody holds: the new
		// root's own threshold is not met.
		for id := range root.Signed.Keys {
			delete(root.Signed.Keys, id)
		}
		for _, role := range root.Signed.Roles {
			role.KeyIDs = nil
		}
		pub, err := metadata.KeyFromPublicKey(attacker.Root[0].Public())
		require.NoError(t, err)
		require.NoError(t, root.Signed.AddKey(pub, metadata.ROOT))
		md := served(st)
		md.Roots = [][]byte{st.Roots[0], signWith(t, root, oldKeys.Root[0])}
		_, _, err = release.Verify(site, md, t0.Add(3*hour))
		require.ErrorIs(t, err, release.ErrSignature)
	})

	t.Run("gap in the chain", func(t *testing.T) {
		require.NoError(t, r.RotateRoot(t0.Add(4*hour), newKeys))
		st3 := r.State()
		md := served(st3)
		md.Roots = [][]byte{st3.Roots[0], st3.Roots[2]}
		_, _, err := release.Verify(site, md, t0.Add(5*hour))
		require.ErrorIs(t, err, release.ErrMismatch)
		_, v := verifyOK(t, site, served(st3), t0.Add(5*hour))
		assert.Equal(t, int64(3), v.RootVersion)
	})
}

func TestTrustFromRoot(t *testing.T) {
	r, _ := newRepo(t)
	st := r.State()
	_, err := release.TrustFromRoot(st.Roots[0])
	require.NoError(t, err)
	for name, raw := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("root"),
		"targets":   st.Targets,
		"timestamp": st.Timestamp,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := release.TrustFromRoot(raw)
			require.Error(t, err)
		})
	}
	root, err := metadata.Root().FromBytes(st.Roots[0])
	require.NoError(t, err)
	root.Signed.Version = 7 // the signature no longer covers it
	raw, err := root.ToBytes(false)
	require.NoError(t, err)
	_, err = release.TrustFromRoot(raw)
	require.ErrorIs(t, err, release.ErrSignature)
}
