package hub

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/licmesh/licmesh/mesh/pki"
)

// Passwords are hashed with argon2id at OWASP's recommended floor (19 MiB,
// two passes), as the masters' are (mesh/pki): a sign-in costs a few tens
// of milliseconds, a stolen hash costs a guesser as much per try.
const (
	// MinPasswordLen is the shortest password the hub accepts.
	MinPasswordLen = 12
	maxPasswordLen = 1024
)

var errBadHash = errors.New("hub: malformed password hash")

// hashPassword returns the encoded argon2id hash of pw.
func hashPassword(pw string) (string, error) {
	if len(pw) < MinPasswordLen || len(pw) > maxPasswordLen {
		return "", fmt.Errorf("%w: a password has %d to %d characters", ErrInvalidArgument, MinPasswordLen, maxPasswordLen)
	}
	return pki.HashAnyPassword(pw), nil
}

// checkPassword reports whether pw matches the encoded hash, in constant
// time with respect to the hash.
func checkPassword(encoded, pw string) (bool, error) {
	if err := pki.CheckPasswordHash(encoded); err != nil {
		return false, errBadHash
	}
	if len(pw) > maxPasswordLen {
		return false, nil
	}
	return pki.VerifyPassword(encoded, pw), nil
}

// newPassword makes a password for a new account, shown once: 20
// characters from a 32-letter alphabet (100 bits).
func newPassword() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789A"
	for i := range b {
		b[i] = alphabet[int(b[i])%32]
	}
	return string(b)
}
