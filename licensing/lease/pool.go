package lease

import (
	"fmt"
	"strconv"
)

// ID identifies a lease. The master derives it from the Raft index of the
// entry that granted it, so it is unique within a cluster and never 0.
type ID uint64

// String formats the ID in decimal.
func (id ID) String() string { return strconv.FormatUint(uint64(id), 10) }

// Enforcement says what a pool does when every seat is taken.
type Enforcement uint8

// Enforcement modes. The zero value is invalid so that a pool whose mode was
// forgotten fails validation instead of silently becoming hard or soft.
const (
	// Hard refuses a grant when every seat is held.
	Hard Enforcement = iota + 1
	// Soft grants past the seat count and records the overage.
	Soft
)

// Pool limits for names and seats.
const (
	MaxPoolNameLen = 64
	MaxSeats       = 1_000_000
)

// String returns "hard" or "soft", or a diagnostic form for invalid values.
func (e Enforcement) String() string {
	switch e {
	case Hard:
		return "hard"
	case Soft:
		return "soft"
	}
	return "Enforcement(" + strconv.Itoa(int(e)) + ")"
}

// Valid reports whether e is Hard or Soft.
func (e Enforcement) Valid() bool { return e == Hard || e == Soft }

// ParseEnforcement parses "hard" or "soft" (exactly, lower case).
func ParseEnforcement(s string) (Enforcement, error) {
	switch s {
	case "hard":
		return Hard, nil
	case "soft":
		return Soft, nil
	}
	return 0, fmt.Errorf("%w: got %q", ErrInvalidEnforcement, clip(s))
}

// MarshalText encodes e as "hard" or "soft" so that configs and commands stay
// readable; an invalid value is an error rather than a number.
func (e Enforcement) MarshalText() ([]byte, error) {
	if !e.Valid() {
		return nil, fmt.Errorf("%w: value %d", ErrInvalidEnforcement, uint8(e))
	}
	return []byte(e.String()), nil
}

// UnmarshalText parses "hard" or "soft".
func (e *Enforcement) UnmarshalText(b []byte) error {
	v, err := ParseEnforcement(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// Pool is a set of seats that leases are granted from.
type Pool struct {
	// Name is 1-64 characters of [a-z0-9._-], starting with a letter or
	// digit.
	Name string
	// Seats is the number of concurrent leases the pool was sold with,
	// 0..MaxSeats.
	Seats int
	// Enforce says what happens when every seat is held.
	Enforce Enforcement
}

// Validate checks the pool's name, seat count and enforcement mode.
func (p Pool) Validate() error {
	if err := ValidatePoolName(p.Name); err != nil {
		return err
	}
	if p.Seats < 0 || p.Seats > MaxSeats {
		return fmt.Errorf("%w: pool %q: seats %d out of range 0..%d", ErrInvalidPool, p.Name, p.Seats, MaxSeats)
	}
	if !p.Enforce.Valid() {
		return fmt.Errorf("%w: pool %q: enforcement must be hard or soft", ErrInvalidPool, p.Name)
	}
	return nil
}

// ValidatePoolName checks a pool name on its own, for lookups that carry
// only the name.
func ValidatePoolName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidPool)
	}
	if len(name) > MaxPoolNameLen {
		return fmt.Errorf("%w: name has %d characters, at most %d allowed", ErrInvalidPool, len(name), MaxPoolNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("%w: name %q must start with a lower-case letter or digit", ErrInvalidPool, name)
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("%w: name %q has a character outside [a-z0-9._-] at byte %d", ErrInvalidPool, clip(name), i)
		}
	}
	return nil
}

// Decision is the outcome of asking a pool for one more seat.
type Decision struct {
	// Grant says whether a lease may be granted.
	Grant bool
	// Overage says the grant goes past the pool's seats (soft pools only).
	Overage bool
}

// Admit decides whether a pool that currently has held leases may grant one
// more. A hard pool grants only while held < Seats; a soft pool always
// grants and flags the grant as overage when held >= Seats. A pool shrunk
// below its held count therefore grants nothing new (hard) or only overage
// (soft) until releases bring it under.
func (p Pool) Admit(held int) Decision {
	under := held < p.Seats
	if p.Enforce == Soft {
		return Decision{Grant: true, Overage: !under}
	}
	return Decision{Grant: under}
}

// clip bounds user-supplied text quoted in error messages.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
