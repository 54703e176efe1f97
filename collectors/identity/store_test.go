package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/licmesh/licmesh/collectors"
	"github.com/licmesh/licmesh/mesh/pki"
)

// newIdentity issues a collector identity from a fresh CA.
func newIdentity(t *testing.T) (*Identity, *pki.CA) {
	t.Helper()
	ca, err := pki.NewCA("c1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return issue(t, ca, "col-1"), ca
}

func issue(t *testing.T, ca *pki.CA, id string) *Identity {
	t.Helper()
	csr, key, err := pki.NewCSR("placeholder")
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.SignCSR(csr, id, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.TLSCertificate(key, der)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	return &Identity{CollectorID: collectors.ID(id), ClusterID: "c1", Cert: cert, CA: ca.Cert(), SigningKey: pub}
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("empty dir: %v", err)
	}
	id, _ := newIdentity(t)
	if err := s.Save(id); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got.CollectorID != id.CollectorID || !got.Cert.Leaf.Equal(id.Cert.Leaf) || !got.SigningKey.Equal(id.SigningKey) || !got.CA.Equal(id.CA) {
		t.Fatal("loaded identity differs")
	}
	for name, want := range map[string]os.FileMode{"": 0o700, KeyFile: 0o600, CertFile: 0o644, IDFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%q mode %v, want %v (%v)", name, fi.Mode().Perm(), want, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
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
			if err := s.Save(id); err != nil {
				t.Fatal(err)
			}
			damage(dir)
			_, err := s.Load()
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Load = %v, want ErrCorrupt", err)
			}
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
	if err != nil || !got.Cert.Leaf.Equal(id.Cert.Leaf) {
		t.Fatalf("crash before cert: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, NextKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("stray next-key.pem kept")
	}

	// Crash after cert.pem, before the key rename: the new pair wins.
	os.WriteFile(filepath.Join(dir, NextKeyFile), b, 0o600)
	os.WriteFile(filepath.Join(dir, CertFile), pki.MarshalCertPEM(next.Cert.Leaf.Raw), 0o644)
	got, err = s.Load()
	if err != nil || !got.Cert.Leaf.Equal(next.Cert.Leaf) {
		t.Fatalf("crash after cert: %v", err)
	}

	// A whole renewal.
	third := issue(t, ca, "col-1")
	if err := s.SaveCertificate(third.Key(), third.Cert.Leaf.Raw); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCertificate(third.Key(), id.Cert.Leaf.Raw); !errors.Is(err, ErrInvalid) {
		t.Fatalf("mismatched pair saved: %v", err)
	}
	got, err = s.Load()
	if err != nil || !got.Cert.Leaf.Equal(third.Cert.Leaf) {
		t.Fatalf("after renewal: %v", err)
	}
}

func TestOpenRefusesSharedDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o775); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrInsecureDir) {
		t.Fatalf("Open(0775 dir) = %v, want ErrInsecureDir", err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o775 {
		t.Fatal("Open changed the directory's mode")
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatalf("Open(0755 dir) = %v", err)
	}
}

func TestMastersAndLock(t *testing.T) {
	s, _ := Open(t.TempDir())
	if m, err := s.LoadMasters(); err != nil || m != nil {
		t.Fatalf("no file: %v %v", m, err)
	}
	if err := s.SaveMasters([]string{"a:1", "b:2"}); err != nil {
		t.Fatal(err)
	}
	if m, err := s.LoadMasters(); err != nil || len(m) != 2 {
		t.Fatalf("LoadMasters = %v %v", m, err)
	}
	unlock, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock(); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
	unlock2, err := s.Lock()
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}
