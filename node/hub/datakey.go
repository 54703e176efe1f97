package hub

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// dataKeyFile holds the key that seals the vendor's private signing keys
// in the database: a stolen database backup without the data directory
// signs nothing.
const dataKeyFile = "data.key"

// dataKey seals and opens secrets at rest with AES-256-GCM.
type dataKey struct{ aead cipher.AEAD }

// ErrDataKey is returned when data.key is missing, unreadable or wrong.
var ErrDataKey = errors.New("hub: data key")

func newDataKey(raw []byte) (*dataKey, error) {
	if len(raw) != 32 {
		return nil, fmt.Errorf("%w: want 32 bytes, have %d", ErrDataKey, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &dataKey{aead: aead}, nil
}

// createDataKey writes a new random key at path (0600); it refuses to
// replace one.
func createDataKey(path string) (*dataKey, error) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDataKey, err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(raw) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("%w: write %s: %w", ErrDataKey, path, err)
	}
	return newDataKey(raw)
}

// loadDataKey reads the key at path; it must not be readable by others.
func loadDataKey(path string) (*dataKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (run hubd init)", ErrDataKey, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o: others may read it (chmod 600)", ErrDataKey, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDataKey, err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not base64", ErrDataKey, path)
	}
	return newDataKey(raw)
}

// seal encrypts plain; label binds the ciphertext to what it is for, so a
// sealed value copied to another row does not open there.
func (k *dataKey) seal(plain []byte, label string) string {
	nonce := make([]byte, k.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return "v1." + base64.RawStdEncoding.EncodeToString(k.aead.Seal(nonce, nonce, plain, []byte(label)))
}

// open decrypts what seal made for label.
func (k *dataKey) open(sealed, label string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, "v1.")
	if !ok {
		return nil, fmt.Errorf("%w: sealed value of an unknown format", ErrDataKey)
	}
	b, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(b) < k.aead.NonceSize() {
		return nil, fmt.Errorf("%w: sealed value is malformed", ErrDataKey)
	}
	plain, err := k.aead.Open(nil, b[:k.aead.NonceSize()], b[k.aead.NonceSize():], []byte(label))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot open %s: wrong data.key or altered value", ErrDataKey, label)
	}
	return plain, nil
}
