package failover

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Backoff defaults.
const (
	DefaultBackoffBase = 100 * time.Millisecond
	DefaultBackoffCap  = 5 * time.Second
)

// Backoff is exponential backoff with full jitter: the n-th wait in a row is
// uniform in [0, min(Cap, Base*2^n)). Full jitter spreads a fleet of
// collectors that lost the same master over the whole window instead of
// having them return together. It is safe for concurrent use.
type Backoff struct {
	base, cap time.Duration
	rand      func(n int64) int64

	mu       sync.Mutex
	failures int
}

// NewBackoff returns a backoff between base and cap; rnd (nil for
// math/rand/v2) returns a uniform value in [0, n) and is injected by tests.
func NewBackoff(base, cap time.Duration, rnd func(n int64) int64) *Backoff {
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if cap < base {
		cap = base
	}
	if rnd == nil {
		rnd = rand.Int64N
	}
	return &Backoff{base: base, cap: cap, rand: rnd}
}

// Next records a failure and returns how long to wait before the next try.
func (b *Backoff) Next() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	ceil := b.cap
	if b.failures < 32 {
		if d := b.base << b.failures; d > 0 && d < b.cap {
			ceil = d
		}
	}
	b.failures++
	return time.Duration(b.rand(int64(ceil)))
}

// Reset records a success: the next failure waits from the base again.
func (b *Backoff) Reset() {
	b.mu.Lock()
	b.failures = 0
	b.mu.Unlock()
}

// Failures returns the failures since the last success.
func (b *Backoff) Failures() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures
}
