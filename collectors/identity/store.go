package identity

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/licmesh/licmesh/collectors"
	"github.com/licmesh/licmesh/mesh/diskfile"
	"github.com/licmesh/licmesh/mesh/pki"
)

// File names inside the data directory.
const (
	KeyFile     = "key.pem"
	NextKeyFile = "next-key.pem"
	CertFile    = "cert.pem"
	CAFile      = "ca.pem"
	SigningFile = "signing.pub"
	IDFile      = "identity.json"
	MastersFile = "masters.json"
	// EntitlementsFile holds the latest signed entitlement document.
	EntitlementsFile = "entitlements.lme"
	// BorrowsFile holds the borrowed leases, to outlive a restart.
	BorrowsFile  = "borrowed.json"
	lockFile     = "lock"
	maxFileBytes = 1 << 20
)

// Store reads and writes the identity in one data directory. It is not safe
// for concurrent writes; the agent owns it.
type Store struct {
	dir string
}

// Open returns a store for dir, creating it with mode 0700. An existing
// directory is used as it is (the key file itself is 0600), except one that
// others can write to, which is refused rather than changed: anyone who can
// write there could swap the identity, and it may be a shared directory set
// by mistake.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity: create data_dir %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("identity: data_dir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: data_dir %s is not a directory", ErrInvalid, dir)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return nil, fmt.Errorf("%w: data_dir %s has mode %04o: others can write to it, and it holds the collector's identity (chmod 700)", ErrInsecureDir, dir, perm)
	}
	return &Store{dir: dir}, nil
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Lock takes an exclusive lock on the data directory for the life of the
// process (or until unlock), so two collectors never share an identity.
func (s *Store) Lock() (unlock func() error, err error) {
	f, err := os.OpenFile(filepath.Join(s.dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("identity: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, s.dir)
		}
		return nil, fmt.Errorf("identity: lock data_dir: %w", err)
	}
	return f.Close, nil
}

// idFile is identity.json.
type idFile struct {
	CollectorID string `json:"collector_id"`
	ClusterID   string `json:"cluster_id"`
}

// mastersFile is masters.json.
type mastersFile struct {
	Masters []string `json:"masters"`
}

// Enrolled reports whether the directory holds an identity (it may still be
// corrupt; Load says).
func (s *Store) Enrolled() bool {
	_, err := os.Stat(filepath.Join(s.dir, IDFile))
	return err == nil
}

// Load reads the identity. It returns ErrNotEnrolled when there is none and
// an error wrapping ErrCorrupt, naming the file, when the files are damaged
// or disagree.
func (s *Store) Load() (*Identity, error) {
	raw, err := s.read(IDFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, s.corrupt(IDFile, err)
	}
	var idf idFile
	if err := strictJSON(raw, &idf); err != nil {
		return nil, s.corrupt(IDFile, err)
	}
	if err := s.finishRenewal(); err != nil {
		return nil, err
	}
	keyPEM, err := s.read(KeyFile)
	if err != nil {
		return nil, s.corrupt(KeyFile, err)
	}
	key, err := pki.ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, s.corrupt(KeyFile, err)
	}
	certPEM, err := s.read(CertFile)
	if err != nil {
		return nil, s.corrupt(CertFile, err)
	}
	leaf, err := pki.ParseCertPEM(certPEM)
	if err != nil {
		return nil, s.corrupt(CertFile, err)
	}
	cert, err := pki.TLSCertificate(key, leaf.Raw)
	if err != nil {
		return nil, s.corrupt(CertFile, err)
	}
	caPEM, err := s.read(CAFile)
	if err != nil {
		return nil, s.corrupt(CAFile, err)
	}
	ca, err := pki.ParseCertPEM(caPEM)
	if err != nil {
		return nil, s.corrupt(CAFile, err)
	}
	sigPEM, err := s.read(SigningFile)
	if err != nil {
		return nil, s.corrupt(SigningFile, err)
	}
	sig, err := ParseSigningKeyPEM(sigPEM)
	if err != nil {
		return nil, s.corrupt(SigningFile, err)
	}
	id := &Identity{
		CollectorID: collectors.ID(idf.CollectorID),
		ClusterID:   idf.ClusterID,
		Cert:        cert,
		CA:          ca,
		SigningKey:  sig,
	}
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, s.dir, err)
	}
	return id, nil
}

// finishRenewal completes or undoes a certificate renewal that a crash
// interrupted: next-key.pem is the new key if cert.pem is the new
// certificate, and garbage otherwise.
func (s *Store) finishRenewal() error {
	next, err := s.read(NextKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	nextPath := filepath.Join(s.dir, NextKeyFile)
	if err == nil {
		key, kerr := pki.ParseKeyPEM(next)
		certPEM, cerr := s.read(CertFile)
		if kerr == nil && cerr == nil {
			if leaf, perr := pki.ParseCertPEM(certPEM); perr == nil {
				if _, merr := pki.TLSCertificate(key, leaf.Raw); merr == nil {
					return s.commitRename(nextPath, filepath.Join(s.dir, KeyFile))
				}
			}
		}
	}
	if err := os.Remove(nextPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("identity: remove stale %s: %w", NextKeyFile, err)
	}
	return nil
}

// Save writes a whole identity, identity.json last.
func (s *Store) Save(id *Identity) error {
	if err := id.Validate(); err != nil {
		return err
	}
	keyPEM, err := pki.MarshalKeyPEM(id.Key())
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	sigPEM, err := MarshalSigningKeyPEM(id.SigningKey)
	if err != nil {
		return err
	}
	idJSON, err := json.MarshalIndent(idFile{CollectorID: string(id.CollectorID), ClusterID: id.ClusterID}, "", "  ")
	if err != nil {
		return fmt.Errorf("identity: encode %s: %w", IDFile, err)
	}
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{KeyFile, keyPEM, 0o600},
		{CertFile, pki.MarshalCertPEM(id.Cert.Leaf.Raw), 0o644},
		{CAFile, pki.MarshalCertPEM(id.CA.Raw), 0o644},
		{SigningFile, sigPEM, 0o644},
		{IDFile, append(idJSON, '\n'), 0o644},
	} {
		if err := s.write(f.name, f.data, f.perm); err != nil {
			return err
		}
	}
	return nil
}

// SaveCertificate replaces the key and certificate after a renewal: the new
// key goes to next-key.pem, then the certificate to cert.pem, then the key is
// renamed to key.pem, so that a crash at any point leaves a matching pair
// (Load finishes the rename).
func (s *Store) SaveCertificate(key crypto.Signer, certDER []byte) error {
	if _, err := pki.TLSCertificate(key, certDER); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	keyPEM, err := pki.MarshalKeyPEM(key)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if err := s.write(NextKeyFile, keyPEM, 0o600); err != nil {
		return err
	}
	if err := s.write(CertFile, pki.MarshalCertPEM(certDER), 0o644); err != nil {
		return err
	}
	return s.commitRename(filepath.Join(s.dir, NextKeyFile), filepath.Join(s.dir, KeyFile))
}

// SaveSigningKey replaces the cluster's signing key.
func (s *Store) SaveSigningKey(pub ed25519.PublicKey) error {
	b, err := MarshalSigningKeyPEM(pub)
	if err != nil {
		return err
	}
	return s.write(SigningFile, b, 0o644)
}

// LoadMasters returns the masters list saved by SaveMasters, or nil when
// there is none. A damaged file is reported, and the caller goes on with its
// configured masters.
func (s *Store) LoadMasters() ([]string, error) {
	raw, err := s.read(MastersFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, s.corrupt(MastersFile, err)
	}
	var mf mastersFile
	if err := strictJSON(raw, &mf); err != nil {
		return nil, s.corrupt(MastersFile, err)
	}
	return mf.Masters, nil
}

// SaveMasters remembers the masters list for the next start.
func (s *Store) SaveMasters(addrs []string) error {
	b, err := json.MarshalIndent(mastersFile{Masters: addrs}, "", "  ")
	if err != nil {
		return fmt.Errorf("identity: encode %s: %w", MastersFile, err)
	}
	return s.write(MastersFile, append(b, '\n'), 0o644)
}

// MarshalSigningKeyPEM encodes an ed25519 public key as a PKIX "PUBLIC KEY"
// PEM block.
func MarshalSigningKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: signing key has %d bytes, want %d", ErrInvalid, len(pub), ed25519.PublicKeySize)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("identity: encode signing key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParseSigningKeyPEM decodes what MarshalSigningKeyPEM writes.
func ParseSigningKeyPEM(b []byte) (ed25519.PublicKey, error) {
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("want exactly one PUBLIC KEY PEM block")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want ed25519", k)
	}
	return pub, nil
}

func (s *Store) corrupt(name string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, filepath.Join(s.dir, name), err)
}

// read reads a small file from the directory.
func (s *Store) read(name string) ([]byte, error) {
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxFileBytes)
	}
	return b, nil
}

// write replaces a file atomically: a temporary file in the same directory
// is written, synced and renamed over the old one, then the directory is
// synced so the rename survives a crash.
func (s *Store) write(name string, data []byte, perm os.FileMode) error {
	if err := diskfile.Replace(filepath.Join(s.dir, name), data, perm); err != nil {
		return fmt.Errorf("identity: write %s: %w", name, err)
	}
	return nil
}

// commitRename renames and syncs the directory.
func (s *Store) commitRename(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		os.Remove(from)
		return fmt.Errorf("identity: rename %s: %w", filepath.Base(to), err)
	}
	if err := diskfile.SyncDir(s.dir); err != nil {
		return fmt.Errorf("identity: sync data_dir: %w", err)
	}
	return nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// LoadEntitlements returns the signed entitlement document saved by
// SaveEntitlements, or "" when there is none. The caller verifies it.
func (s *Store) LoadEntitlements() (string, error) {
	raw, err := s.read(EntitlementsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", s.corrupt(EntitlementsFile, err)
	}
	return strings.TrimSpace(string(raw)), nil
}

// SaveEntitlements keeps the latest signed entitlement document, so that a
// collector restarted while every master is down still answers feature
// checks until the licenses' grace ends.
func (s *Store) SaveEntitlements(token string) error {
	return s.write(EntitlementsFile, []byte(token+"\n"), 0o600)
}

// LoadBorrows returns what SaveBorrows saved, or nil when nothing was. The
// caller verifies it.
func (s *Store) LoadBorrows() ([]byte, error) {
	raw, err := s.read(BorrowsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, s.corrupt(BorrowsFile, err)
	}
	return raw, nil
}

// SaveBorrows keeps the collector's borrowed leases, so that a collector
// restarted with no master still holds them to their end.
func (s *Store) SaveBorrows(data []byte) error {
	return s.write(BorrowsFile, data, 0o600)
}
