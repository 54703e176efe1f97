package release_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/release"
)

func TestPublishRefuses(t *testing.T) {
	r, _ := newRepo(t)
	publish(t, r, t0, "1.0.0", release.ChannelStable)
	before := r.State()

	one := func(c, goos, arch string) release.ArtifactInput {
		return release.ArtifactInput{Component: c, OS: goos, Arch: arch, Data: bytes.NewReader([]byte("bin"))}
	}
	meshd := one(release.ComponentMeshd, "linux", "amd64")
	cases := []struct {
		name, version, channel string
		in                     []release.ArtifactInput
	}{
		{"leading v", "v1.1.0", release.ChannelStable, []release.ArtifactInput{meshd}},
		{"two parts", "1.1", release.ChannelStable, []release.ArtifactInput{meshd}},
		{"leading zero", "1.01.0", release.ChannelStable, []release.ArtifactInput{meshd}},
		{"build metadata", "1.1.0+abc", release.ChannelStable, []release.ArtifactInput{meshd}},
		{"path in version", "1.1.0/../x", release.ChannelStable, []release.ArtifactInput{meshd}},
		{"empty version", "", release.ChannelStable, []release.ArtifactInput{meshd}},
		{"already published", "1.0.0", release.ChannelStable, []release.ArtifactInput{meshd}},
		{"unknown channel", "1.1.0", "nightly", []release.ArtifactInput{meshd}},
		{"no artifacts", "1.1.0", release.ChannelStable, nil},
		{"unknown component", "1.1.0", release.ChannelStable, []release.ArtifactInput{one("agentd", "linux", "amd64")}},
		{"bad os", "1.1.0", release.ChannelStable, []release.ArtifactInput{one(release.ComponentMeshd, "Linux", "amd64")}},
		{"dash in arch", "1.1.0", release.ChannelStable, []release.ArtifactInput{one(release.ComponentMeshd, "linux", "amd-64")}},
		{"empty arch", "1.1.0", release.ChannelStable, []release.ArtifactInput{one(release.ComponentMeshd, "linux", "")}},
		{"duplicate platform", "1.1.0", release.ChannelStable, []release.ArtifactInput{meshd, one(release.ComponentMeshd, "linux", "amd64")}},
		{"no data", "1.1.0", release.ChannelStable, []release.ArtifactInput{{Component: release.ComponentMeshd, OS: "linux", Arch: "amd64"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := r.Publish(t0.Add(hour), c.version, c.channel, c.in)
			require.ErrorIs(t, err, release.ErrBadRelease)
			assert.Equal(t, before, r.State(), "a refused publish signs nothing")
		})
	}

	t.Run("read error", func(t *testing.T) {
		boom := errors.New("disk on fire")
		_, err := r.Publish(t0.Add(hour), "1.1.0", release.ChannelStable, []release.ArtifactInput{
			{Component: release.ComponentMeshd, OS: "linux", Arch: "amd64", Data: io.MultiReader(bytes.NewReader([]byte("x")), errReader{boom})},
		})
		require.ErrorIs(t, err, boom)
		assert.Equal(t, before, r.State())
	})

	t.Run("pre-release is fine", func(t *testing.T) {
		_, err := r.Publish(t0.Add(hour), "1.1.0-rc.1", release.ChannelBeta, []release.ArtifactInput{meshd})
		require.NoError(t, err)
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestWithdrawRemoveChannels(t *testing.T) {
	r, _ := newRepo(t)
	publish(t, r, t0, "1.9.0", release.ChannelStable)
	publish(t, r, t0.Add(1*hour), "1.10.0", release.ChannelStable)
	publish(t, r, t0.Add(2*hour), "1.11.0-beta.2", release.ChannelBeta)
	publish(t, r, t0.Add(3*hour), "1.11.0-beta.10", release.ChannelBeta)

	var versions []string
	for _, rel := range r.Releases() {
		versions = append(versions, rel.Version)
	}
	assert.Equal(t, []string{"1.11.0-beta.10", "1.11.0-beta.2", "1.10.0", "1.9.0"}, versions, "SemVer order, newest first")

	site := siteTrust(t, r.State())
	check := func(now time.Time) *release.Verified {
		t.Helper()
		var v *release.Verified
		site, v = verifyOK(t, site, served(r.State()), now)
		return v
	}
	latest := func(v *release.Verified, channel string) string {
		rel, ok := v.Latest(channel)
		if !ok {
			return ""
		}
		return rel.Version
	}

	v := check(t0.Add(4 * hour))
	assert.Equal(t, "1.10.0", latest(v, release.ChannelStable))
	assert.Equal(t, "1.11.0-beta.10", latest(v, release.ChannelBeta))
	assert.Equal(t, "", latest(v, "nightly"))

	require.NoError(t, r.Withdraw(t0.Add(5*hour), "1.10.0"))
	require.NoError(t, r.Withdraw(t0.Add(5*hour), "1.11.0-beta.10"))
	v = check(t0.Add(5 * hour))
	rel, ok := v.Find("1.10.0")
	require.True(t, ok)
	assert.True(t, rel.Withdrawn, "sites see the withdrawal")
	assert.Equal(t, t0.Add(hour), rel.Released, "withdrawal keeps the release time")
	assert.Equal(t, "1.9.0", latest(v, release.ChannelStable), "withdrawn releases are skipped")
	assert.Equal(t, "1.11.0-beta.2", latest(v, release.ChannelBeta))

	before := r.State()
	require.NoError(t, r.Withdraw(t0.Add(6*hour), "1.10.0"))
	assert.Equal(t, before, r.State(), "withdrawing twice signs nothing")

	require.NoError(t, r.SetChannel(t0.Add(6*hour), "1.11.0-beta.2", release.ChannelStable))
	v = check(t0.Add(6 * hour))
	assert.Equal(t, "1.11.0-beta.2", latest(v, release.ChannelStable))
	assert.Equal(t, "1.11.0-beta.2", latest(v, release.ChannelBeta), "beta includes stable")

	require.NoError(t, r.Remove(t0.Add(7*hour), "1.9.0", "1.11.0-beta.2"))
	v = check(t0.Add(7 * hour))
	_, ok = v.Find("1.9.0")
	assert.False(t, ok, "sites see the removal")
	assert.Len(t, v.Releases, 2)
	assert.Equal(t, "", latest(v, release.ChannelStable), "only withdrawn releases left")

	before = r.State()
	for name, err := range map[string]error{
		"withdraw unknown":     r.Withdraw(t0.Add(8*hour), "2.0.0"),
		"remove unknown":       r.Remove(t0.Add(8*hour), "1.10.0", "2.0.0"),
		"set channel unknown":  r.SetChannel(t0.Add(8*hour), "2.0.0", release.ChannelBeta),
		"set channel bad name": r.SetChannel(t0.Add(8*hour), "1.10.0", "nightly"),
	} {
		assert.ErrorIs(t, err, release.ErrBadRelease, name)
	}
	assert.Equal(t, before, r.State(), "refusals sign nothing")
	require.NoError(t, r.Remove(t0.Add(8*hour)))
	assert.Equal(t, before, r.State(), "removing nothing signs nothing")
}

func TestRefresh(t *testing.T) {
	r, _ := newRepo(t)
	publish(t, r, t0, "1.0.0", release.ChannelStable)
	site, _ := verifyOK(t, siteTrust(t, r.State()), served(r.State()), t0)

	before := r.State()
	changed, err := r.Refresh(t0.Add(11 * hour))
	require.NoError(t, err)
	assert.False(t, changed, "timestamp not yet in its second half")
	assert.Equal(t, before, r.State())

	changed, err = r.Refresh(t0.Add(13 * hour))
	require.NoError(t, err)
	assert.True(t, changed)
	after := r.State()
	assert.NotEqual(t, before.Timestamp, after.Timestamp)
	assert.Equal(t, before.Snapshot, after.Snapshot, "snapshot not due yet")
	assert.Equal(t, before.Targets, after.Targets)

	changed, err = r.Refresh(t0.Add(13*hour + 5*time.Minute))
	require.NoError(t, err)
	assert.False(t, changed, "just refreshed")

	// Past the first timestamp's expiry, the refreshed one verifies.
	site, _ = verifyOK(t, site, served(r.State()), t0.Add(30*hour))

	// A hub refreshing every few hours keeps sites verifying for longer
	// than any role's expiry, the root's included.
	now := t0.Add(13 * hour)
	for now.Before(t0.Add(400 * day)) {
		now = now.Add(6 * hour)
		_, err := r.Refresh(now)
		require.NoError(t, err)
	}
	st := r.State()
	assert.Greater(t, len(st.Roots), 1, "the root was renewed")
	_, v := verifyOK(t, site, served(st), now)
	assert.Equal(t, int64(len(st.Roots)), v.RootVersion)
	_, ok := v.Find("1.0.0")
	assert.True(t, ok)
	assert.True(t, v.Expires.After(now))
}

func TestLoadRepo(t *testing.T) {
	r, keys := newRepo(t)
	publish(t, r, t0, "1.0.0", release.ChannelStable)
	require.NoError(t, r.RotateRoot(t0.Add(hour), keys))
	st := r.State()

	loaded, err := release.LoadRepo(keys, release.DefaultExpiries(), st)
	require.NoError(t, err)
	assert.Equal(t, st, loaded.State())
	assert.Equal(t, r.Releases(), loaded.Releases())
	publish(t, loaded, t0.Add(2*hour), "1.1.0", release.ChannelBeta)
	_, v := verifyOK(t, siteTrust(t, st), served(loaded.State()), t0.Add(3*hour))
	assert.Len(t, v.Releases, 2)

	// Loading ignores expiry: the hub restarts after a long outage and
	// Refresh repairs it.
	late, err := release.LoadRepo(keys, release.DefaultExpiries(), st)
	require.NoError(t, err)
	changed, err := late.Refresh(t0.Add(30 * day))
	require.NoError(t, err)
	assert.True(t, changed)
	verifyOK(t, siteTrust(t, st), served(late.State()), t0.Add(30*day))

	other := genKeys(t, 1, 1, 1, 1)
	swapped := keys
	swapped.Targets = other.Targets
	wrongThreshold := genKeys(t, 2, 1, 1, 1)
	wrongThreshold.Root = []ed25519.PrivateKey{keys.Root[0], wrongThreshold.Root[1]}
	for name, k := range map[string]release.Keys{
		"other keys":          other,
		"other targets key":   swapped,
		"extra root key":      wrongThreshold,
		"snapshot as targets": {Root: keys.Root, RootThreshold: 1, Targets: []ed25519.PrivateKey{keys.Snapshot}, TargetsThreshold: 1, Snapshot: keys.Snapshot, Timestamp: keys.Timestamp},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := release.LoadRepo(k, release.DefaultExpiries(), st)
			require.ErrorIs(t, err, release.ErrSignature)
		})
	}

	r2, _ := newRepo(t)
	for name, bad := range map[string]release.RepoState{
		"no roots":            {Targets: st.Targets, Snapshot: st.Snapshot, Timestamp: st.Timestamp},
		"roots out of order":  {Roots: [][]byte{st.Roots[1], st.Roots[0]}, Targets: st.Targets, Snapshot: st.Snapshot, Timestamp: st.Timestamp},
		"targets of another":  {Roots: st.Roots, Targets: r2.State().Targets, Snapshot: st.Snapshot, Timestamp: st.Timestamp},
		"snapshot of another": {Roots: st.Roots, Targets: st.Targets, Snapshot: r2.State().Snapshot, Timestamp: st.Timestamp},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := release.LoadRepo(keys, release.DefaultExpiries(), bad)
			require.Error(t, err)
		})
	}
}

func TestNewRepoRefuses(t *testing.T) {
	keys := genKeys(t, 1, 1, 1, 1)
	_, err := release.NewRepo(keys, release.Expiries{Timestamp: time.Second}, t0)
	require.ErrorIs(t, err, release.ErrBadRelease)
	_, err = release.NewRepo(release.Keys{}, release.DefaultExpiries(), t0)
	require.ErrorIs(t, err, release.ErrBadRelease)
	dup := keys
	dup.Root = append(dup.Root, keys.Root[0])
	_, err = release.NewRepo(dup, release.DefaultExpiries(), t0)
	require.ErrorIs(t, err, release.ErrBadRelease)
	short := keys
	short.Timestamp = keys.Timestamp[:10]
	_, err = release.NewRepo(short, release.DefaultExpiries(), t0)
	require.ErrorIs(t, err, release.ErrBadRelease)
}

func TestKeys(t *testing.T) {
	keys := genKeys(t, 3, 2, 2, 1)

	raw, err := keys.MarshalBinary()
	require.NoError(t, err)
	var back release.Keys
	require.NoError(t, back.UnmarshalBinary(raw))
	assert.Equal(t, keys, back)

	js, err := json.Marshal(keys)
	require.NoError(t, err)
	var viaJSON release.Keys
	require.NoError(t, json.Unmarshal(js, &viaJSON))
	assert.Equal(t, keys, viaJSON)

	// The round-tripped keys still run the repository they made.
	r, err := release.NewRepo(keys, release.DefaultExpiries(), t0)
	require.NoError(t, err)
	_, err = release.LoadRepo(back, release.DefaultExpiries(), r.State())
	require.NoError(t, err)

	for _, s := range []string{keys.String(), fmt.Sprintf("%v", keys), fmt.Sprintf("%#v", keys), fmt.Sprint(keys)} {
		assert.Equal(t, "release.Keys{root 2 of 3, targets 1 of 2, snapshot, timestamp}", s)
	}

	for name, data := range map[string]string{
		"garbage":        "not json",
		"other format":   `{"format":"x"}`,
		"unknown field":  `{"format":"licmesh-release-keys/1","extra":1}`,
		"short seed":     `{"format":"licmesh-release-keys/1","root":["AAAA"],"root_threshold":1}`,
		"threshold high": string(mustReplace(t, raw, `"root_threshold":2`, `"root_threshold":4`)),
	} {
		t.Run(name, func(t *testing.T) {
			var k release.Keys
			err := k.UnmarshalBinary([]byte(data))
			require.ErrorIs(t, err, release.ErrBadRelease)
			assert.Equal(t, release.Keys{}, k, "a failed unmarshal leaves the keys alone")
		})
	}

	// Errors about a bad key never quote it.
	broken := keys
	broken.Snapshot = bytes.Clone(keys.Snapshot)
	broken.Snapshot[40] ^= 1
	_, err = broken.MarshalBinary()
	require.ErrorIs(t, err, release.ErrBadRelease)
	for _, secret := range []string{hex.EncodeToString(broken.Snapshot), hex.EncodeToString(broken.Snapshot.Seed()), base64.StdEncoding.EncodeToString(broken.Snapshot.Seed())} {
		assert.NotContains(t, err.Error(), secret)
	}

	for _, bad := range [][4]int{{0, 0, 1, 1}, {1, 2, 1, 1}, {1, 1, 2, 0}, {1, 1, 65, 1}} {
		_, err := release.GenerateKeys(bad[0], bad[1], bad[2], bad[3])
		assert.ErrorIs(t, err, release.ErrBadRelease, "%v", bad)
	}
}

func mustReplace(t *testing.T, b []byte, old, new string) []byte {
	t.Helper()
	require.Contains(t, string(b), old)
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}
