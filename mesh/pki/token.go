package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// Token text formats. A join token is lmj1.<id>.<secret>.<pin>, an admin
// token lma1.<id>.<secret>. The digit is the format version.
const (
	joinPrefix  = "lmj1"
	adminPrefix = "lma1"
	joinParts   = 4
	adminParts  = 3

	tokenIDLen      = 10
	tokenIDAlphabet = "abcdefghijklmnopqrstuvwxyz234567"
	redacted        = "[REDACTED]"
)

// TokenID names a join or admin token: 10 characters of lower-case base32
// (a-z, 2-7). It is not secret; it is how a stored token is found, listed and
// revoked.
type TokenID string

// ParseTokenID checks that s is a well-formed token ID.
func ParseTokenID(s string) (TokenID, error) {
	if problem := checkTokenID(s); problem != "" {
		return "", &tokenError{kind: ErrTokenID, detail: "id " + problem}
	}
	return TokenID(s), nil
}

// String returns the ID as text.
func (id TokenID) String() string { return string(id) }

func newTokenID() (TokenID, error) {
	var b [tokenIDLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("pki: generate token id: %w", err)
	}
	for i := range b {
		// 256 is a multiple of 32, so masking keeps the choice uniform.
		b[i] = tokenIDAlphabet[b[i]&31]
	}
	return TokenID(b[:]), nil
}

func checkTokenID(s string) string {
	if len(s) != tokenIDLen {
		return fmt.Sprintf("has %d characters, want %d", len(s), tokenIDLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return fmt.Sprintf("has a character outside a-z2-7 at position %d", i+1)
		}
	}
	return ""
}

// Secret is a token's 32 random bytes. Every way fmt, slog and encoding/json
// have of rendering it prints "[REDACTED]" or nothing. The only way to render
// a secret is the String method of the token that holds it.
//
// The bytes sit two pointers deep because fmt cannot call methods on
// unexported fields and falls back to reflection: it dereferences one pointer
// when reporting a bad verb (%s on a pointer), but prints only the address of
// a second.
type Secret struct {
	box *secretBox
}

type secretBox struct {
	b *[32]byte
}

func newSecret() (Secret, error) {
	b := new([32]byte)
	if _, err := rand.Read(b[:]); err != nil {
		return Secret{}, fmt.Errorf("pki: generate token secret: %w", err)
	}
	return Secret{box: &secretBox{b: b}}, nil
}

// IsZero reports whether s holds no secret.
func (s Secret) IsZero() bool { return s.box == nil }

// String returns "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString returns "[REDACTED]".
func (s Secret) GoString() string { return redacted }

// Format prints "[REDACTED]" for every verb, so %x or %d cannot show the bytes.
func (s Secret) Format(f fmt.State, verb rune) { writeRedacted(f, verb, redacted) }

// LogValue keeps the secret out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// bytes returns the secret's bytes, all zero for the zero Secret.
func (s Secret) bytes() []byte {
	if s.box == nil {
		return make([]byte, 32)
	}
	return s.box.b[:]
}

func (s Secret) encode() string { return base64.RawURLEncoding.EncodeToString(s.bytes()) }

// HashSecret returns the SHA-256 hash of a secret, the form in which masters
// store it. Secrets are 256 random bits, so a fast hash is enough.
func HashSecret(s Secret) [32]byte { return sha256.Sum256(s.bytes()) }

// VerifySecret reports, in constant time, whether s hashes to hash. The zero
// Secret never verifies.
func VerifySecret(hash [32]byte, s Secret) bool {
	if s.IsZero() {
		return false
	}
	got := HashSecret(s)
	return subtle.ConstantTimeCompare(got[:], hash[:]) == 1
}

// JoinToken lets a collector enroll: its ID and secret authenticate the
// collector to the masters, its Pin lets the collector authenticate the
// masters' CA before it has a certificate.
type JoinToken struct {
	ID     TokenID
	Secret Secret
	Pin    Pin
}

// NewJoinToken makes a join token with a fresh ID and secret for the CA
// pinned by pin.
func NewJoinToken(pin Pin) (JoinToken, error) {
	id, err := newTokenID()
	if err != nil {
		return JoinToken{}, err
	}
	secret, err := newSecret()
	if err != nil {
		return JoinToken{}, err
	}
	return JoinToken{ID: id, Secret: secret, Pin: pin}, nil
}

// ParseJoinToken parses lmj1.<id>.<secret>.<pin> exactly as String writes
// it; callers trim surrounding whitespace first. Errors wrap ErrMalformedToken
// and one of ErrTokenPrefix, ErrTokenParts, ErrTokenID, ErrTokenSecret or
// ErrTokenPin, and never contain the input.
func ParseJoinToken(s string) (JoinToken, error) {
	id, secret, pin, err := parseToken(s, joinPrefix, joinParts)
	if err != nil {
		return JoinToken{}, err
	}
	return JoinToken{ID: id, Secret: secret, Pin: pin}, nil
}

// String returns the full token text, secret included. It is the only way
// this package renders a secret: call it only to hand the token to the
// person who will use it. fmt and slog print the token redacted.
func (t JoinToken) String() string {
	return joinPrefix + "." + string(t.ID) + "." + t.Secret.encode() + "." + t.Pin.String()
}

// Format prints the token with its secret redacted, for every verb.
func (t JoinToken) Format(f fmt.State, verb rune) {
	writeRedacted(f, verb, joinPrefix+"."+string(t.ID)+"."+redacted+"."+t.Pin.String())
}

// LogValue prints the token with its secret redacted.
func (t JoinToken) LogValue() slog.Value {
	return slog.StringValue(joinPrefix + "." + string(t.ID) + "." + redacted + "." + t.Pin.String())
}

// AdminToken authorizes calls to the admin API. Its ID finds the stored hash
// and the role bound to it.
type AdminToken struct {
	ID     TokenID
	Secret Secret
}

// NewAdminToken makes an admin token with a fresh ID and secret.
func NewAdminToken() (AdminToken, error) {
	id, err := newTokenID()
	if err != nil {
		return AdminToken{}, err
	}
	secret, err := newSecret()
	if err != nil {
		return AdminToken{}, err
	}
	return AdminToken{ID: id, Secret: secret}, nil
}

// ParseAdminToken parses lma1.<id>.<secret> exactly as String writes it, with
// errors as ParseJoinToken's.
func ParseAdminToken(s string) (AdminToken, error) {
	id, secret, _, err := parseToken(s, adminPrefix, adminParts)
	if err != nil {
		return AdminToken{}, err
	}
	return AdminToken{ID: id, Secret: secret}, nil
}

// String returns the full token text, secret included, with the same caveat
// as JoinToken.String.
func (t AdminToken) String() string {
	return adminPrefix + "." + string(t.ID) + "." + t.Secret.encode()
}

// Format prints the token with its secret redacted, for every verb.
func (t AdminToken) Format(f fmt.State, verb rune) {
	writeRedacted(f, verb, adminPrefix+"."+string(t.ID)+"."+redacted)
}

// LogValue prints the token with its secret redacted.
func (t AdminToken) LogValue() slog.Value {
	return slog.StringValue(adminPrefix + "." + string(t.ID) + "." + redacted)
}

func writeRedacted(w io.Writer, verb rune, text string) {
	if verb == 'q' {
		text = strconv.Quote(text)
	}
	_, _ = io.WriteString(w, text)
}

// parseToken parses a token of the given prefix and number of dot-separated
// parts: prefix, id, secret and, when parts is 4, a CA pin. Its errors
// describe the problem by position and length only, never by content.
func parseToken(s, prefix string, parts int) (TokenID, Secret, Pin, error) {
	fail := func(kind error, format string, args ...any) (TokenID, Secret, Pin, error) {
		return "", Secret{}, Pin{}, &tokenError{kind: kind, detail: fmt.Sprintf(format, args...)}
	}
	want := tokenKind(prefix)
	if s == "" {
		return fail(ErrTokenPrefix, "%s is empty", want)
	}
	if strings.TrimSpace(s) != s {
		return fail(ErrMalformedToken, "%s has leading or trailing whitespace", want)
	}
	head, _, _ := strings.Cut(s, ".")
	if head != prefix {
		switch {
		case tokenKind(head) != "":
			return fail(ErrTokenPrefix, "given %s (%s), want %s (%s)", tokenKind(head), head, want, prefix)
		case len(head) == len(prefix) && strings.HasPrefix(head, prefix[:len(prefix)-1]) && '0' <= head[len(head)-1] && head[len(head)-1] <= '9':
			return fail(ErrTokenPrefix, "%s version %s is not supported, want %s", want, head, prefix)
		default:
			return fail(ErrTokenPrefix, "%s does not start with %q", want, prefix+".")
		}
	}
	if n := strings.Count(s, ".") + 1; n != parts {
		return fail(ErrTokenParts, "%s has %d dot-separated parts, want %d", want, n, parts)
	}
	fields := strings.Split(s, ".")
	if problem := checkTokenID(fields[1]); problem != "" {
		return fail(ErrTokenID, "id %s", problem)
	}
	raw, problem := decode32(fields[2])
	if problem != "" {
		return fail(ErrTokenSecret, "secret %s", problem)
	}
	var pin Pin
	if parts == joinParts {
		p, problem := decode32(fields[3])
		if problem != "" {
			return fail(ErrTokenPin, "pin %s", problem)
		}
		pin = Pin(p)
	}
	return TokenID(fields[1]), Secret{box: &secretBox{b: &raw}}, pin, nil
}

// tokenKind names the kind of token a prefix introduces, or "" if none.
func tokenKind(prefix string) string {
	switch prefix {
	case joinPrefix:
		return "join token"
	case adminPrefix:
		return "admin token"
	}
	return ""
}
