package master

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/release"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// vendorRepo is the vendor's repository, in the test's hands.
type vendorRepo struct {
	r     *release.Repo
	files map[string][]byte // artifact bytes by target name
}

func newVendorRepo(t *testing.T, now time.Time) *vendorRepo {
	t.Helper()
	keys, err := release.GenerateKeys(1, 1, 1, 1)
	require.NoError(t, err)
	r, err := release.NewRepo(keys, release.DefaultExpiries(), now)
	require.NoError(t, err)
	return &vendorRepo{r: r, files: map[string][]byte{}}
}

func (v *vendorRepo) publish(t *testing.T, now time.Time, version string) {
	t.Helper()
	var in []release.ArtifactInput
	for _, c := range []string{release.ComponentMeshd, release.ComponentCollectord} {
		b := bytes.Repeat([]byte(version+" "+c+"\n"), 1000)
		in = append(in, release.ArtifactInput{Component: c, OS: "linux", Arch: "amd64", Data: bytes.NewReader(b)})
		v.files[version+"/"+c+"-linux-amd64"] = b
	}
	_, err := v.r.Publish(now, version, release.ChannelStable, in)
	require.NoError(t, err)
}

// bundle is the repository as it stands, with every artifact, as the
// portal would give it; tamper, if set, changes it first.
func (v *vendorRepo) bundle(t *testing.T, st release.RepoState, tamper func(name string, b []byte) []byte, versions ...string) []byte {
	t.Helper()
	var files []release.BundleFile
	for _, rel := range v.r.Releases() {
		if len(versions) > 0 && !slices.Contains(versions, rel.Version) {
			continue
		}
		for _, a := range rel.Artifacts {
			b := v.files[a.Name]
			if tamper != nil {
				b = tamper(a.Name, bytes.Clone(b))
			}
			files = append(files, release.BundleFile{Name: a.Name, Size: int64(len(b)), Data: bytes.NewReader(b)})
		}
	}
	var out bytes.Buffer
	require.NoError(t, release.WriteBundle(&out, st, files))
	return out.Bytes()
}

// TestBundleAttacksInstallNothing: each attack on an offline bundle is
// refused with an error that names it, and the site records nothing of
// it: no release, no artifact, no new trust.
func TestBundleAttacksInstallNothing(t *testing.T) {
	dir := t.TempDir()
	rootFile := filepath.Join(dir, "root.json")
	s, clk := startMaster(t, func(c *Config) { c.ReleaseRootFile = rootFile })
	ctx := context.Background()
	start := clk.Now()
	v := newVendorRepo(t, start)
	st := v.r.State()
	require.NoError(t, os.WriteFile(rootFile, st.Roots[0], 0o644))

	v.publish(t, start, "1.0.0")
	old := v.r.State()
	_, n, err := s.importBundle(ctx, bytes.NewReader(v.bundle(t, old, nil)))
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	v.publish(t, start.Add(time.Hour), "1.1.0")
	cur := v.r.State()
	_, _, err = s.importBundle(ctx, bytes.NewReader(v.bundle(t, cur, nil)))
	require.NoError(t, err)
	good := s.fsm.Updates()
	require.Len(t, good.Releases, 2)

	unchanged := func(t *testing.T) {
		t.Helper()
		assert.Equal(t, good, s.fsm.Updates(), "the refused bundle changed the recorded state")
	}
	t.Run("rollback to older metadata", func(t *testing.T) {
		_, _, err := s.importBundle(ctx, bytes.NewReader(v.bundle(t, old, nil, "1.0.0")))
		require.ErrorIs(t, err, release.ErrRollback)
		unchanged(t)
	})
	t.Run("tampered artifact", func(t *testing.T) {
		v.publish(t, start.Add(2*time.Hour), "1.2.0")
		st := v.r.State()
		_, _, err := s.importBundle(ctx, bytes.NewReader(v.bundle(t, st, func(name string, b []byte) []byte {
			if name == "1.2.0/meshd-linux-amd64" {
				b[10] ^= 1
			}
			return b
		})))
		require.ErrorContains(t, err, "SHA-256")
		unchanged(t)
		assert.False(t, s.hasArtifact(fileSHA(v.files["1.2.0/meshd-linux-amd64"])), "a tampered artifact is not kept")
	})
	t.Run("mixed snapshot and targets", func(t *testing.T) {
		mixed := v.r.State()
		mixed.Targets = cur.Targets
		_, _, err := s.importBundle(ctx, bytes.NewReader(v.bundle(t, mixed, nil, "1.0.0", "1.1.0")))
		require.Error(t, err)
		assert.ErrorIs(t, err, release.ErrMismatch)
		unchanged(t)
	})
	t.Run("expired timestamp with the clock set back", func(t *testing.T) {
		// Three days on, a command carries trusted time forward; then the
		// clock is set back to the start. The vendor's day-old timestamp
		// is stale at trusted time, whatever the clock says.
		clk.Set(start.Add(72 * time.Hour))
		_, err := adminHandler{s}.SetUpdateSettings(ctx, connect.NewRequest(&licmeshv1.SetUpdateSettingsRequest{Settings: &licmeshv1.UpdateSettings{AutoDownload: true}}))
		require.NoError(t, err)
		clk.Set(start.Add(3 * time.Hour))
		good = s.fsm.Updates()
		st := v.r.State() // signed at the start: expires a day later
		_, _, err = s.importBundle(ctx, bytes.NewReader(v.bundle(t, st, nil)))
		require.ErrorIs(t, err, release.ErrExpired)
		assert.Contains(t, err.Error(), "timestamp.json")
		unchanged(t)
	})
}

func fileSHA(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestSelfArtifactIsNamedAsTheHubServesIt: a master installing itself
// fetches its build from the hub when no master holds it, by the name the
// vendor's repository gave it, whether or not the release is recorded here
// yet. It once asked for "<version>/meshd", which the hub never serves.
func TestSelfArtifactIsNamedAsTheHubServesIt(t *testing.T) {
	if goos != "linux" || goarch != "amd64" {
		t.Skipf("the test repository publishes linux/amd64 builds; this is %s/%s", goos, goarch)
	}
	dir := t.TempDir()
	rootFile := filepath.Join(dir, "root.json")
	s, clk := startMaster(t, func(c *Config) { c.ReleaseRootFile = rootFile })
	v := newVendorRepo(t, clk.Now())
	require.NoError(t, os.WriteFile(rootFile, v.r.State().Roots[0], 0o644))
	v.publish(t, clk.Now(), "1.0.0")
	_, _, err := s.importBundle(context.Background(), bytes.NewReader(v.bundle(t, v.r.State(), nil)))
	require.NoError(t, err)
	v.publish(t, clk.Now(), "1.1.0") // at the hub, not yet here

	for _, version := range []string{"1.0.0", "1.1.0"} {
		name := version + "/meshd-linux-amd64"
		b := v.files[name]
		a := s.selfArtifact(version, fileSHA(b), int64(len(b)))
		assert.Equal(t, name, a.Name, "version %s", version)
		assert.Equal(t, fileSHA(b), a.SHA256)
		assert.Equal(t, int64(len(b)), a.Size)
	}
}
