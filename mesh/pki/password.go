package pki

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password limits. The floor is the length a passphrase needs to stand up
// to an offline guess against a stolen Raft log; the ceiling keeps one
// sign-in from costing more than the hash's own memory.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// Argon2id parameters: OWASP's second recommended setting (19 MiB, two
// passes, one lane), about 30 ms on the masters' class of machine. They are
// written into every hash, so raising them later keeps old hashes valid.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
	// maxArgonMemory refuses a stored hash that would make a check use more
	// than 256 MiB: a hash is data from the replicated state, and must not
	// be a way to exhaust a master.
	maxArgonMemory = 256 * 1024
	maxArgonTime   = 10
)

// Password errors.
var (
	// ErrPasswordPolicy is a password too short, too long or not UTF-8.
	ErrPasswordPolicy = errors.New("pki: password refused")
	// ErrPasswordHash is a stored hash that is not one HashPassword wrote.
	ErrPasswordHash = errors.New("pki: malformed password hash")
)

var rawB64 = base64.RawStdEncoding

// CheckPasswordPolicy says why pw cannot be a password, naming the rule,
// or returns nil. The error never holds the password.
func CheckPasswordPolicy(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return fmt.Errorf("%w: it is not valid UTF-8", ErrPasswordPolicy)
	case n < MinPasswordLen:
		return fmt.Errorf("%w: it has %d characters, at least %d are needed", ErrPasswordPolicy, n, MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("%w: it has %d bytes, at most %d are allowed", ErrPasswordPolicy, len(pw), MaxPasswordLen)
	case strings.TrimSpace(pw) != pw:
		return fmt.Errorf("%w: it starts or ends with a space, which a copy and paste loses", ErrPasswordPolicy)
	}
	return nil
}

// HashPassword checks pw against the policy and hashes it with argon2id
// and a fresh salt, in the PHC string form
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
func HashPassword(pw string) (string, error) {
	if err := CheckPasswordPolicy(pw); err != nil {
		return "", err
	}
	return HashAnyPassword(pw), nil
}

// HashAnyPassword hashes pw as HashPassword does, with no policy: for a
// caller with rules of its own (the hub's accounts).
func HashAnyPassword(pw string) string {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt) // crypto/rand.Read never returns an error.
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		rawB64.EncodeToString(salt), rawB64.EncodeToString(key))
}

type argonHash struct {
	time, memory uint32
	threads      uint8
	salt, key    []byte
}

func parseArgonHash(encoded string) (argonHash, error) {
	var h argonHash
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return h, fmt.Errorf("%w: want $argon2id$v=..$m=..,t=..,p=..$salt$key", ErrPasswordHash)
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return h, fmt.Errorf("%w: version %q", ErrPasswordHash, parts[2])
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &threads); err != nil {
		return h, fmt.Errorf("%w: parameters %q", ErrPasswordHash, parts[3])
	}
	if h.memory < 8*1024 || h.memory > maxArgonMemory || h.time < 1 || h.time > maxArgonTime || threads < 1 || threads > 16 {
		return h, fmt.Errorf("%w: parameters %q out of range", ErrPasswordHash, parts[3])
	}
	h.threads = uint8(threads)
	var err error
	if h.salt, err = rawB64.DecodeString(parts[4]); err != nil || len(h.salt) < 8 || len(h.salt) > 64 {
		return h, fmt.Errorf("%w: salt", ErrPasswordHash)
	}
	if h.key, err = rawB64.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return h, fmt.Errorf("%w: key", ErrPasswordHash)
	}
	return h, nil
}

// CheckPasswordHash reports whether encoded is a hash HashPassword could
// have written, with parameters a master can afford to check.
func CheckPasswordHash(encoded string) error {
	if len(encoded) > 256 {
		return fmt.Errorf("%w: %d bytes", ErrPasswordHash, len(encoded))
	}
	_, err := parseArgonHash(encoded)
	return err
}

// maxVerifyLen bounds what VerifyPassword hashes: policies differ (the
// hub takes longer passwords than the masters), a denial of service does
// not.
const maxVerifyLen = 4096

// VerifyPassword reports whether pw matches encoded, in time that does not
// depend on where they differ. A malformed hash matches nothing.
func VerifyPassword(encoded, pw string) bool {
	if len(pw) > maxVerifyLen {
		return false
	}
	h, err := parseArgonHash(encoded)
	if err != nil {
		return false
	}
	key := argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}
