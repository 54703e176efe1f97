// Package clock is the module's time: the interface every part that reads
// the time or waits takes (masters, transports, the collector, the lease
// table), the real clock, and an offset clock for tests of clocks set
// wrong. Tests inject the fake in package clocktest. Lease validity is
// counted on it, so Now must carry a monotonic reading, as time.Now does.
package clock

import (
	"os"
	"strings"
	"sync"
	"time"
)

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

// FileOffset is the real clock shifted by the duration written in a file
// ("36h", "-2h"; a missing or empty file is no shift), read again at most
// every 100 ms: tests move the clock of a running process forward (days
// of license life in seconds) by rewriting the file. A shift moves the
// monotonic reading too, so leases jump with it.
type FileOffset struct {
	Path string
	// Every is how often the file is read again: 0 is 100 ms, a negative
	// value every time.
	Every time.Duration

	mu     sync.Mutex
	readAt time.Time
	offset time.Duration
}

// Now returns time.Now() shifted by the file's duration.
func (f *FileOffset) Now() time.Time {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	every := f.Every
	if every == 0 {
		every = 100 * time.Millisecond
	}
	if f.readAt.IsZero() || now.Sub(f.readAt) >= every {
		f.readAt = now
		if b, err := os.ReadFile(f.Path); err == nil {
			if d, err := time.ParseDuration(strings.TrimSpace(string(b))); err == nil {
				f.offset = d
			}
		}
	}
	return now.Add(f.offset)
}

// After returns time.After(d).
func (f *FileOffset) After(d time.Duration) <-chan time.Time { return time.After(d) }
