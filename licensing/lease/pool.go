package lease

import (
	"fmt"
	"strconv"
	"time"
)

// ID identifies a lease. The master derives it from the Raft index of the
// entry that granted it, so it is unique within a cluster and never 0.
type ID uint64

// String formats the ID in decimal.
func (id ID) String() string { return strconv.FormatUint(uint64(id), 10) }

// Enforcement says what a pool does when every seat is taken. It is the one
// enforcement type of licmesh: lease pools, the pools a license grants and
// the commands and snapshots that carry them all use it, and all spell it
// "hard" or "soft" in text.
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

// UnmarshalText parses "hard" or "soft". The empty string decodes to the
// zero value, unset, which Valid refuses: whoever validates the value then
// reports it missing in its own terms (a license template entry reads it
// as hard, an explicit license pool names the field), as it did when a
// missing mode and an empty one decoded alike.
func (e *Enforcement) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*e = 0
		return nil
	}
	v, err := ParseEnforcement(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// Pool is a set of seats that leases are granted from.
type Pool struct {
	// Name is 1-64 characters of [A-Za-z0-9._-], starting with a letter or
	// digit. Names are case-sensitive: capitals are allowed because pools
	// come from vendor licenses, whose names are the product's own
	// ("orektic__timehseetAdminUser").
	Name string
	// Seats is the number of concurrent leases the pool was sold with,
	// 0..MaxSeats.
	Seats int
	// Enforce says what happens when every seat is held.
	Enforce Enforcement
	// Overage is how many leases a hard pool may grant past Seats, each
	// marked as overage, before it refuses; 0..MaxSeats, and 0 for a soft
	// pool, which has no limit. It is left out of the JSON form when 0, so
	// pools without it encode as they always did.
	Overage int `json:",omitempty"`
	// Grace is how long past a lease's end its seat stays valid for a
	// holder whose collector reaches no master, and so how long after a
	// lease's last renewal (plus its TTL) masters still count it held.
	Grace time.Duration `json:",omitempty"`
	// MaxBorrow is the longest a seat may be borrowed for; 0 lends none.
	MaxBorrow time.Duration `json:",omitempty"`
	// FailOpen lets a collector that reaches no master admit new holders,
	// counted as overage once the masters hear of them.
	FailOpen bool `json:",omitempty"`
}

// Bounds of a pool's offline terms, as licenses sign them
// (licensing/license), checked again here for pools set by hand.
const (
	MaxGrace  = 30 * 24 * time.Hour
	MaxBorrow = 90 * 24 * time.Hour
)

// Validate checks the pool's name, seat count, enforcement mode and
// overage.
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
	if p.Overage < 0 || p.Overage > MaxSeats {
		return fmt.Errorf("%w: pool %q: overage %d out of range 0..%d", ErrInvalidPool, p.Name, p.Overage, MaxSeats)
	}
	if p.Overage > 0 && p.Enforce == Soft {
		return fmt.Errorf("%w: pool %q: overage applies to hard pools only (a soft pool grants past its seats without limit)", ErrInvalidPool, p.Name)
	}
	if p.Grace < 0 || p.Grace > MaxGrace || p.Grace%time.Second != 0 {
		return fmt.Errorf("%w: pool %q: offline grace %s out of range 0..%s in whole seconds", ErrInvalidPool, p.Name, p.Grace, MaxGrace)
	}
	if p.MaxBorrow < 0 || p.MaxBorrow > MaxBorrow || p.MaxBorrow%time.Second != 0 {
		return fmt.Errorf("%w: pool %q: maximum borrow %s out of range 0..%s in whole seconds", ErrInvalidPool, p.Name, p.MaxBorrow, MaxBorrow)
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
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("%w: name %q must start with a letter or digit", ErrInvalidPool, clip(name))
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("%w: name %q has a character outside [A-Za-z0-9._-] at byte %d", ErrInvalidPool, clip(name), i)
		}
	}
	return nil
}

// Decision is the outcome of asking a pool for one more seat.
type Decision struct {
	// Grant says whether a lease may be granted.
	Grant bool
	// Overage says the grant goes past the pool's seats: any grant of a
	// soft pool at or past its seats, or one of a hard pool's allowed
	// overage.
	Overage bool
}

// Admit decides whether a pool that currently has held leases may grant one
// more. A hard pool grants while held < Seats, then as overage while held <
// Seats+Overage, then refuses; a soft pool always grants and flags the
// grant as overage when held >= Seats. A pool shrunk below its held count
// therefore grants nothing new (hard) or only overage (soft) until releases
// bring it under. It is the only admission rule: a pool a license grants
// is admitted by it too, once converted (license.Pool.LeasePool).
func (p Pool) Admit(held int) Decision {
	under := held < p.Seats
	if p.Enforce == Soft {
		return Decision{Grant: true, Overage: !under}
	}
	if under {
		return Decision{Grant: true}
	}
	if held < p.Seats+p.Overage {
		return Decision{Grant: true, Overage: true}
	}
	return Decision{}
}

// clip bounds user-supplied text quoted in error messages.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
