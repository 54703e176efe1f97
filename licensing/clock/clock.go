// Package clock is the module's time: the real clock, and the interface
// its parts take so tests can inject a fake one. Lease validity is counted
// on it, so Now must carry a monotonic reading, as time.Now does.
package clock

import "time"

// Clock gives the time and timers that fire once d has passed.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// System is the real clock.
type System struct{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (System) After(d time.Duration) <-chan time.Time { return time.After(d) }
