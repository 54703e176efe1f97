package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/licmesh/licmesh/collectors"
	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/licmesh/licmesh/mesh/pki/pkitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newIdentity issues a collector identity from a fresh CA.
func newIdentity(t *testing.T) (*Identity, *pki.CA) {
	t.Helper()
	ca := pkitest.NewCA(t, "c1")
	return issue(t, ca, "col-1"), ca
}

func issue(t *testing.T, ca *pki.CA, id string) *Identity {
	t.Helper()
	cert := pkitest.CollectorCert(t, ca, id)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	return &Identity{CollectorID: collectors.ID(id), ClusterID: "c1", Cert: cert, CA: ca.Cert(), SigningKey: pub}
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir)
	require.NoError(t, err)
	_, err = s.Load()
	require.ErrorIs(t, err, ErrNotEnrolled, "empty dir")
	id, _ := newIdentity(t)
	require.NoError(t, s.Save(id))
	got, err := s.Load()
	require.NoError(t, err)
	require.Equal(t, id.CollectorID, got.CollectorID, "loaded identity differs")
	require.True(t, got.Cert.Leaf.Equal(id.Cert.Leaf), "loaded identity differs: certificate")
	require.True(t, got.SigningKey.Equal(id.SigningKey), "loaded identity differs: signing key")
	require.True(t, got.CA.Equal(id.CA), "loaded identity differs: CA")
	for name, want := range map[string]os.FileMode{"": 0o700, KeyFile: 0o600, CertFile: 0o644, IDFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if assert.NoError(t, err, "%q", name) {
			assert.Equal(t, want, fi.Mode().Perm(), "%q mode", name)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".tmp", "temporary file left")
	}
}

func TestLoadCorrupt(t *testing.T) {
	id, ca := newIdentity(t)
	for name, damage := range map[string]func(dir string){
		"key garbage":  func(dir string) { os.WriteFile(filepath.Join(dir, KeyFile), []byte("nope"), 0o600) },
		"cert missing": func(dir string) { os.Remove(filepath.Join(dir, CertFile)) },
		"id json extra": func(dir string) {
			os.WriteFile(filepath.Join(dir, IDFile), []byte(`{"collector_id":"col-1","cluster_id":"c1","x":1}`), 0o644)
		},
		"id mismatch": func(dir string) {
			os.WriteFile(filepath.Join(dir, IDFile), []byte(`{"collector_id":"col-2","cluster_id":"c1"}`), 0o644)
		},
		"signing key": func(dir string) {
			os.WriteFile(filepath.Join(dir, SigningFile), []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), 0o644)
		},
		"other key": func(dir string) {
			other := issue(t, ca, "col-1")
			b, _ := pki.MarshalKeyPEM(other.Key())
			os.WriteFile(filepath.Join(dir, KeyFile), b, 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := Open(dir)
			require.NoError(t, s.Save(id))
			damage(dir)
			_, err := s.Load()
			require.ErrorIs(t, err, ErrCorrupt, "Load")
			t.Log(err)
		})
	}
}

func TestRenewalCrashRecovery(t *testing.T) {
	id, ca := newIdentity(t)
	next := issue(t, ca, "col-1")

	// Crash after next-key.pem was written, before cert.pem: the old pair
	// stays and the stray key goes.
	dir := t.TempDir()
	s, _ := Open(dir)
	s.Save(id)
	b, _ := pki.MarshalKeyPEM(next.Key())
	os.WriteFile(filepath.Join(dir, NextKeyFile), b, 0o600)
	got, err := s.Load()
	require.NoError(t, err, "crash before cert")
	require.True(t, got.Cert.Leaf.Equal(id.Cert.Leaf), "crash before cert: not the old certificate")
	_, err = os.Stat(filepath.Join(dir, NextKeyFile))
	require.ErrorIs(t, err, os.ErrNotExist, "stray next-key.pem kept")

	// Crash after cert.pem, before the key rename: the new pair wins.
	os.WriteFile(filepath.Join(dir, NextKeyFile), b, 0o600)
	os.WriteFile(filepath.Join(dir, CertFile), pki.MarshalCertPEM(next.Cert.Leaf.Raw), 0o644)
	got, err = s.Load()
	require.NoError(t, err, "crash after cert")
	require.True(t, got.Cert.Leaf.Equal(next.Cert.Leaf), "crash after cert: not the new certificate")

	// A whole renewal.
	third := issue(t, ca, "col-1")
	require.NoError(t, s.SaveCertificate(third.Key(), third.Cert.Leaf.Raw))
	require.ErrorIs(t, s.SaveCertificate(third.Key(), id.Cert.Leaf.Raw), ErrInvalid, "mismatched pair saved")
	got, err = s.Load()
	require.NoError(t, err, "after renewal")
	require.True(t, got.Cert.Leaf.Equal(third.Cert.Leaf), "after renewal: not the renewed certificate")
}

func TestOpenRefusesSharedDir(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o775))
	_, err := Open(dir)
	require.ErrorIs(t, err, ErrInsecureDir, "Open(0775 dir)")
	fi, _ := os.Stat(dir)
	require.Equal(t, os.FileMode(0o775), fi.Mode().Perm(), "Open changed the directory's mode")
	require.NoError(t, os.Chmod(dir, 0o755))
	_, err = Open(dir)
	require.NoError(t, err, "Open(0755 dir)")
}

func TestMastersAndLock(t *testing.T) {
	s, _ := Open(t.TempDir())
	m, err := s.LoadMasters()
	require.NoError(t, err, "no file")
	require.Nil(t, m, "no file")
	require.NoError(t, s.SaveMasters([]string{"a:1", "b:2"}))
	m, err = s.LoadMasters()
	require.NoError(t, err, "LoadMasters")
	require.Len(t, m, 2, "LoadMasters = %v", m)
	unlock, err := s.Lock()
	require.NoError(t, err)
	_, err = s.Lock()
	require.ErrorIs(t, err, ErrLocked, "second lock")
	unlock()
	unlock2, err := s.Lock()
	require.NoError(t, err, "lock after unlock")
	unlock2()
}
