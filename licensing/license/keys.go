package license

import (
	"bufio"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Keyring is the set of vendor public keys a master trusts, by key ID.
// Holding several lets a vendor rotate keys: licenses signed with the old
// key keep verifying while new ones use the new key.
type Keyring map[KeyID]ed25519.PublicKey

// Add trusts pub under id. An ID already present is refused, even with
// the same key: two config lines for one ID are a mistake worth hearing
// about.
func (k Keyring) Add(id KeyID, pub ed25519.PublicKey) error {
	if err := id.Validate(); err != nil {
		return err
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: key %q: public key has %d bytes, want %d", ErrBadKey, id, len(pub), ed25519.PublicKeySize)
	}
	if _, dup := k[id]; dup {
		return fmt.Errorf("%w: key id %q is given twice", ErrBadKey, id)
	}
	k[id] = slices.Clone(pub)
	return nil
}

// IDs lists the key IDs in order, for messages and displays.
func (k Keyring) IDs() []KeyID {
	ids := make([]KeyID, 0, len(k))
	for id := range k {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// FormatPublicKey writes a vendor public key in the config form that
// ParsePublicKey reads: "KEY-ID:BASE64".
func FormatPublicKey(id KeyID, pub ed25519.PublicKey) string {
	return string(id) + ":" + b64.EncodeToString(pub)
}

// ParsePublicKey parses one vendor key in config form, "KEY-ID:BASE64",
// where BASE64 is the standard base64 of the 32-byte Ed25519 public key.
// Surrounding white space is ignored.
func ParsePublicKey(s string) (KeyID, ed25519.PublicKey, error) {
	idText, keyText, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return "", nil, fmt.Errorf("%w: %s: want KEY-ID:BASE64", ErrBadKey, quote(s))
	}
	id := KeyID(strings.TrimSpace(idText))
	if err := id.Validate(); err != nil {
		return "", nil, err
	}
	pub, err := b64.DecodeString(strings.TrimSpace(keyText))
	if err != nil {
		return "", nil, fmt.Errorf("%w: key %q: not standard base64", ErrBadKey, id)
	}
	if len(pub) != ed25519.PublicKeySize {
		return "", nil, fmt.Errorf("%w: key %q: public key has %d bytes, want %d", ErrBadKey, id, len(pub), ed25519.PublicKeySize)
	}
	return id, ed25519.PublicKey(pub), nil
}

// ParseKeyring builds a keyring from keys in config form (see
// ParsePublicKey), refusing duplicate IDs.
func ParseKeyring(entries ...string) (Keyring, error) {
	k := make(Keyring, len(entries))
	for i, e := range entries {
		id, pub, err := ParsePublicKey(e)
		if err != nil {
			return nil, fmt.Errorf("vendor key %d: %w", i+1, err)
		}
		if err := k.Add(id, pub); err != nil {
			return nil, fmt.Errorf("vendor key %d: %w", i+1, err)
		}
	}
	return k, nil
}

// ReadKeyring reads a keys file: one key in config form per line; blank
// lines and lines starting with # are skipped. It reads at most
// MaxTextSize bytes.
func ReadKeyring(r io.Reader) (Keyring, error) {
	k := make(Keyring)
	sc := bufio.NewScanner(io.LimitReader(r, MaxTextSize+1))
	n, total := 0, 0
	for sc.Scan() {
		n++
		total += len(sc.Bytes()) + 1
		if total > MaxTextSize {
			return nil, fmt.Errorf("%w: keys file has more than %d bytes", ErrTooLarge, MaxTextSize)
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, pub, err := ParsePublicKey(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if err := k.Add(id, pub); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: reading keys: %v", ErrBadKey, err)
	}
	return k, nil
}

// privateKeyPEM is the PEM type of a vendor private key: PKCS #8, as
// openssl writes it, with the key ID as a header.
const privateKeyPEM = "PRIVATE KEY"

// MarshalPrivateKey encodes a vendor private key as PKCS #8 PEM with a
// "Key-Id" header, the form `meshctl vendor keygen` writes.
func MarshalPrivateKey(id KeyID, key ed25519.PrivateKey) ([]byte, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key has %d bytes, want %d", ErrBadKey, len(key), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding the private key: %v", ErrBadKey, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: privateKeyPEM, Headers: map[string]string{keyIDHeader: string(id)}, Bytes: der}), nil
}

// ParsePrivateKey decodes a vendor private key written by
// MarshalPrivateKey (or any PKCS #8 Ed25519 key in PEM; its key ID is then
// empty). Errors never quote the file's content.
func ParsePrivateKey(b []byte) (KeyID, ed25519.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != privateKeyPEM {
		return "", nil, fmt.Errorf("%w: no %q PEM block", ErrBadKey, privateKeyPEM)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return "", nil, fmt.Errorf("%w: not a PKCS #8 private key", ErrBadKey)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return "", nil, fmt.Errorf("%w: a %T, not an Ed25519 key", ErrBadKey, k)
	}
	id := KeyID(block.Headers[keyIDHeader])
	if id != "" {
		if pr := checkID(string(id), MaxKeyIDLen); pr != "" {
			return "", nil, fmt.Errorf("%w: key id header %s", ErrBadKey, pr)
		}
	}
	return id, key, nil
}
