package license

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// KeyID names a vendor key. Licenses carry it so that a master holding
// several vendor keys (during a rotation) knows which one to check.
type KeyID string

// LicenseID identifies one signed license.
type LicenseID string

// ClusterID identifies a cluster of masters (like "lm-3f2a9c0b1d4e"); a
// license bound to one is refused by every other.
type ClusterID string

// CustomerID identifies the customer a license was sold to.
type CustomerID string

// SubscriptionID identifies a subscription across its renewals: each
// renewal is a new license with the same subscription ID.
type SubscriptionID string

// SKU identifies a product (stock-keeping unit).
type SKU string

// Length limits for identifiers and text fields, in bytes.
const (
	MaxKeyIDLen = 64
	MaxIDLen    = 128
	MaxNameLen  = 200
	// MaxItemNameLen bounds pool, feature and credit unit names.
	MaxItemNameLen = 64
)

// Validate checks that id is 1..MaxKeyIDLen bytes of [A-Za-z0-9._-]
// starting with a letter or digit; the error wraps ErrBadKey.
func (id KeyID) Validate() error {
	if pr := checkID(string(id), MaxKeyIDLen); pr != "" {
		return fmt.Errorf("%w: key id %s", ErrBadKey, pr)
	}
	return nil
}

// Validate checks that id is 1..MaxIDLen bytes of [A-Za-z0-9._-] starting
// with a letter or digit; the error is a *FieldError for "cluster_id".
func (id ClusterID) Validate() error {
	if pr := checkID(string(id), MaxIDLen); pr != "" {
		return fieldErr("cluster_id", pr)
	}
	return nil
}

// checkID returns why s is not an identifier: 1..max bytes of
// [A-Za-z0-9._-] starting with a letter or digit, the alphabet the rest of
// licmesh uses for IDs. It returns "" when s is fine.
func checkID(s string, max int) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > max:
		return fmt.Sprintf("has %d bytes, at most %d allowed", len(s), max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if i == 0 && !alnum {
			return fmt.Sprintf("%s must start with a letter or digit", quote(s))
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return fmt.Sprintf("%s has %s at byte %d, outside [A-Za-z0-9._-]", quote(s), quoteByte(c), i)
		}
	}
	return ""
}

// checkVersion returns why s is not a version string: 1..64 bytes of
// [A-Za-z0-9.+_-] ("2.3.0", "7.1.0-rc.1+build.5").
func checkVersion(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > 64:
		return fmt.Sprintf("has %d bytes, at most 64 allowed", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '+' || c == '_' || c == '-') {
			return fmt.Sprintf("%s has %s at byte %d, outside [A-Za-z0-9.+_-]", quote(s), quoteByte(c), i)
		}
	}
	return ""
}

// checkText returns why s is not a display name: 1..max bytes of UTF-8
// with no control or bidi-control characters and not only spaces. Names
// end up on dashboards and terminals, where such characters could hide or
// reorder what an operator reads.
func checkText(s string, max int) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > max:
		return fmt.Sprintf("has %d bytes, at most %d allowed", len(s), max)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	blank := true
	for i, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return fmt.Sprintf("has control character %U at byte %d", r, i)
		}
		if !unicode.IsSpace(r) {
			blank = false
		}
	}
	if blank {
		return "is blank"
	}
	return ""
}

// quote quotes user-supplied text for an error message, bounded so that a
// huge value cannot flood a log.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}
