package hub

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Passwords are hashed with argon2id at OWASP's recommended floor (19 MiB,
// two passes): a sign-in costs a few tens of milliseconds, a stolen hash
// costs a guesser as much per try.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
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
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	sum := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

// checkPassword reports whether pw matches the encoded hash, in constant
// time with respect to the hash.
func checkPassword(encoded, pw string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 16 {
		return false, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	if len(pw) > maxPasswordLen {
		return false, nil
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
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
