// Package clock is the module's time: the interface every part that reads
// the time or waits takes (masters, transports, the collector, the lease
// table), the real clock, and an offset clock for tests of clocks set
// wrong. Tests inject the fake in package clocktest. Lease validity is
// counted on it, so Now must carry a monotonic reading, as time.Now does.
package clock

import "time"

// Clock gives the time and timers that fire once d has passed. An
// implementation must be safe for concurrent use.
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

// Offset is the real clock shifted by a fixed amount: ahead when positive,
// behind when negative. It keeps the monotonic reading, so durations on it
// are those of the real clock.
type Offset time.Duration

// Now returns time.Now() shifted by o.
func (o Offset) Now() time.Time { return time.Now().Add(time.Duration(o)) }

// After returns time.After(d): a shift moves no deadline.
func (o Offset) After(d time.Duration) <-chan time.Time { return time.After(d) }
