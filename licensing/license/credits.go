package license

import "fmt"

// Credits are usage credits, for a license sold "on usage" (seed 001): a
// balance that metered usage consumes, with an alert when it runs low and
// a stop when it runs out. The value in a payload is the balance bought;
// whoever keeps the running balance (the masters' state) copies it and
// calls Consume. Credits holds no lock: its owner serializes calls.
type Credits struct {
	// Unit names what is counted, like "case" or "api_call".
	Unit string `json:"unit"`
	// Balance is how many units are left.
	Balance int64 `json:"balance"`
	// LowAlertAt is the balance at or below which Consume reports an
	// alert; 0 alerts only when the credits are gone.
	LowAlertAt int64 `json:"low_alert_at,omitempty"`
}

// MaxCredits bounds a credit balance.
const MaxCredits = 1 << 53

func (c Credits) check() (field, problem string) {
	if pr := checkID(c.Unit, MaxItemNameLen); pr != "" {
		return "unit", pr
	}
	if c.Balance < 1 || c.Balance > MaxCredits {
		return "balance", fmt.Sprintf("%d is out of range 1..%d", c.Balance, int64(MaxCredits))
	}
	if c.LowAlertAt < 0 || c.LowAlertAt >= c.Balance {
		return "low_alert_at", fmt.Sprintf("%d is out of range 0..%d (below the balance)", c.LowAlertAt, c.Balance-1)
	}
	return "", ""
}

// Consume takes n units from the balance and returns what remains and
// whether the balance is now at or below the alert level. It is all or
// nothing: when fewer than n units are left it consumes none and returns
// an error wrapping ErrCreditsExhausted, so usage that must be paid for
// is refused before it happens. A negative n is refused with
// ErrInvalidUsage; 0 changes nothing.
func (c *Credits) Consume(n int64) (remaining int64, alert bool, err error) {
	switch {
	case n < 0:
		return c.Balance, c.Low(), fmt.Errorf("%w: cannot consume %d %s", ErrInvalidUsage, n, c.Unit)
	case n > c.Balance:
		return c.Balance, true, fmt.Errorf("%w: %d %s needed, %d left", ErrCreditsExhausted, n, c.Unit, c.Balance)
	}
	c.Balance -= n
	return c.Balance, c.Low(), nil
}

// Low reports whether the balance is at or below the alert level, or gone.
func (c *Credits) Low() bool { return c.Balance <= c.LowAlertAt }

// Exhausted reports whether no credit is left.
func (c *Credits) Exhausted() bool { return c.Balance <= 0 }
