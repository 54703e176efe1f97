package usage

import (
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// InstallationID names one installation of the vendor's product: the unit
// metrics are kept for (seed 004's "subscriber").
type InstallationID string

// UserID is a pseudonymised user identity, a keyed hash computed on the
// collector. The package only compares IDs; it never needs the name.
type UserID string

// MaxIDLength is the longest InstallationID or UserID accepted, in bytes.
const MaxIDLength = 256

// maxUnix is 2200-01-01T00:00:00Z. Observation times must fall in
// [1970-01-01, 2200-01-01) UTC: the bound keeps every instant representable in
// Unix nanoseconds, which session intervals are stored in.
const maxUnix = 7258118400

func validTime(t time.Time) bool { return t.Unix() >= 0 && t.Unix() < maxUnix }

func checkID(kind, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: %s is empty", ErrInvalidID, kind)
	case len(s) > MaxIDLength:
		return fmt.Errorf("%w: %s is %d bytes (max %d)", ErrInvalidID, kind, len(s), MaxIDLength)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidID, kind)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s holds a control character", ErrInvalidID, kind)
		}
	}
	return nil
}

// Validate reports whether id is a usable installation ID.
func (id InstallationID) Validate() error { return checkID("installation id", string(id)) }

// Validate reports whether id is a usable user ID.
func (id UserID) Validate() error { return checkID("user id", string(id)) }

// Role is a user's role as seed 004 distinguishes them. The zero value is
// invalid so that a forgotten role fails validation instead of counting as
// some role.
type Role uint8

// Roles. Super is the staff super-user role; Manager and Rep are the agent
// manager and agent rep users.
const (
	RoleSuper Role = iota + 1
	RoleStaff
	RoleManager
	RoleRep
)

// String returns "super", "staff", "manager" or "rep", or a diagnostic form
// for invalid values.
func (r Role) String() string {
	switch r {
	case RoleSuper:
		return "super"
	case RoleStaff:
		return "staff"
	case RoleManager:
		return "manager"
	case RoleRep:
		return "rep"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return r >= RoleSuper && r <= RoleRep }

// ParseRole parses "super", "staff", "manager" or "rep" (exactly).
func ParseRole(s string) (Role, error) {
	for r := RoleSuper; r <= RoleRep; r++ {
		if s == r.String() {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%w: got %q", ErrInvalidRole, clip(s))
}

// MarshalText encodes r by name; an invalid role is an error, not a number.
func (r Role) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrInvalidRole, r)
	}
	return []byte(r.String()), nil
}

// UnmarshalText decodes a role name.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}
