package leasebook

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/licmesh/licmesh/licensing/clock"
	"github.com/licmesh/licmesh/licensing/lease"
)

// MaxTTL is the longest lease TTL the book accepts from a master. Anything
// longer is a broken or hostile answer: a seat held for days by a collector
// that vanished would defeat the lease.
const MaxTTL = 24 * time.Hour

// DefaultRetention is how long a lost lease stays visible in the list before
// the book forgets it.
const DefaultRetention = 10 * time.Minute

// State is where a lease stands.
type State string

// States of a lease.
const (
	// StateValid means the lease is within its validity.
	StateValid State = "valid"
	// StateExpired means its validity ran out before a master renewed it; it
	// is still renewed when a master answers again.
	StateExpired State = "expired"
	// StateLost means a master said it does not know the lease (or that it
	// expired on its side); it will not be renewed.
	StateLost State = "lost"
	// StateReleasing means the product released it but no master has
	// confirmed yet; the release is retried until the lease would have ended.
	StateReleasing State = "releasing"
)

// Grant is a lease as a master granted it, already validated by the caller.
type Grant struct {
	ID     lease.ID
	Fence  uint64
	Pool   string
	Holder string
	Token  lease.Token
	TTL    time.Duration
}

// Renewal is a master's answer for one lease of a renew batch.
type Renewal struct {
	ID lease.ID
	OK bool
	// TTL is set when OK; Token when the master signed a fresh one (empty
	// keeps the previous token).
	TTL   time.Duration
	Token lease.Token
	// Reason is set when not OK ("unknown_lease", "expired").
	Reason string
}

// Lease is a snapshot of one lease for the product.
type Lease struct {
	ID     lease.ID
	Fence  uint64
	Pool   string
	Holder string
	Token  lease.Token
	State  State
	// Remaining is how long the lease stays valid without another renewal;
	// zero unless State is valid.
	Remaining time.Duration
	// TTL is the last TTL a master gave.
	TTL time.Duration
	// ValidUntil is the end of validity as a wall-clock estimate, for
	// display only: the book decides on the monotonic clock.
	ValidUntil time.Time
	// Reason says why a lease was lost.
	Reason string
}

// Counts summarises the book.
type Counts struct {
	// Held is valid plus expired: the leases the collector still tries to
	// keep.
	Held, Valid, Expired, Lost, Releasing int
}

type holderKey struct{ pool, holder string }

type entry struct {
	g          Grant
	sentAt     time.Time // before the request that last granted or renewed it
	validUntil time.Time
	nextRenew  time.Time
	lost       bool
	reason     string
	lostAt     time.Time
	releasing  bool
	expiredSaw bool // Sweep already reported its expiry
}

func (e *entry) state(now time.Time) State {
	switch {
	case e.lost:
		return StateLost
	case e.releasing:
		return StateReleasing
	case now.Before(e.validUntil):
		return StateValid
	}
	return StateExpired
}

func (e *entry) renewable() bool { return !e.lost && !e.releasing }

// Book holds the collector's leases. The zero value is not usable; call New.
type Book struct {
	clock     clock.Clock
	max       int
	retention time.Duration

	mu       sync.Mutex
	entries  map[lease.ID]*entry
	byHolder map[holderKey]lease.ID
	reserved int
}

// New returns an empty book holding at most max leases, counting validity
// on clk. clk.Now must carry a monotonic reading (the system clock's does),
// so that validity never moves with the wall clock.
func New(clk clock.Clock, max int) *Book {
	if max < 1 {
		max = 1
	}
	return &Book{
		clock:     clk,
		max:       max,
		retention: DefaultRetention,
		entries:   make(map[lease.ID]*entry),
		byHolder:  make(map[holderKey]lease.ID),
	}
}

// Max returns the book's capacity.
func (b *Book) Max() int { return b.max }

// Reservation holds a place in the book while an acquire is in flight, so
// that concurrent acquires cannot overfill it. Pass it to Add, or Cancel it.
type Reservation struct {
	b    *Book
	once sync.Once
}

// Cancel gives the place back. It is safe to call more than once and after
// Add.
func (r *Reservation) Cancel() {
	r.once.Do(func() {
		r.b.mu.Lock()
		r.b.reserved--
		r.b.mu.Unlock()
	})
}

// consumeLocked ends the reservation with b.mu held: the lease added under
// the same lock holds the place now.
func (r *Reservation) consumeLocked() {
	r.once.Do(func() { r.b.reserved-- })
}

// Reserve takes a place for one more lease, dropping the oldest lost lease if
// the book is full, or fails with ErrFull.
func (b *Book) Reserve() (*Reservation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.entries)+b.reserved >= b.max && !b.dropOldestLostLocked() {
		return nil, fmt.Errorf("%w: %d of %d in use", ErrFull, len(b.entries)+b.reserved, b.max)
	}
	b.reserved++
	return &Reservation{b: b}, nil
}

// dropOldestLostLocked forgets the lost lease that was lost first.
func (b *Book) dropOldestLostLocked() bool {
	var victim *entry
	for _, e := range b.entries {
		if e.lost && (victim == nil || e.lostAt.Before(victim.lostAt)) {
			victim = e
		}
	}
	if victim == nil {
		return false
	}
	b.removeLocked(victim.g.ID)
	return true
}

// Add records a grant whose request was sent at sentAt. On success the
// lease takes r's place; on failure r stays reserved for the caller to retry
// or Cancel. A grant
// for an ID the book holds for the same pool and holder refreshes it (the
// master said the holder already had it); for another pool or holder it
// fails with ErrCollision and changes nothing.
func (b *Book) Add(r *Reservation, g Grant, sentAt time.Time) (Lease, error) {
	if err := checkGrant(g); err != nil {
		return Lease{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[g.ID]; ok {
		if e.g.Pool != g.Pool || e.g.Holder != g.Holder {
			return Lease{}, fmt.Errorf("%w: lease %d is held for pool %q holder %q", ErrCollision, g.ID, e.g.Pool, e.g.Holder)
		}
		e.lost, e.reason, e.releasing, e.expiredSaw = false, "", false, false
		e.g = g
		e.sentAt = sentAt
		e.validUntil = sentAt.Add(g.TTL)
		e.nextRenew = sentAt.Add(g.TTL / 3)
		b.byHolder[holderKey{g.Pool, g.Holder}] = g.ID
		r.consumeLocked()
		return b.snapshotLocked(e, b.clock.Now()), nil
	}
	e := &entry{
		g:          g,
		sentAt:     sentAt,
		validUntil: sentAt.Add(g.TTL),
		nextRenew:  sentAt.Add(g.TTL / 3),
	}
	b.entries[g.ID] = e
	b.byHolder[holderKey{g.Pool, g.Holder}] = g.ID
	r.consumeLocked()
	return b.snapshotLocked(e, b.clock.Now()), nil
}

func checkGrant(g Grant) error {
	switch {
	case g.ID == 0:
		return fmt.Errorf("%w: lease id is 0", ErrBadGrant)
	case g.Pool == "" || g.Holder == "":
		return fmt.Errorf("%w: lease %d has no pool or holder", ErrBadGrant, g.ID)
	case g.Token == "":
		return fmt.Errorf("%w: lease %d has no token", ErrBadGrant, g.ID)
	case g.TTL <= 0 || g.TTL > MaxTTL:
		return fmt.Errorf("%w: lease %d has ttl %s, want (0, %s]", ErrBadGrant, g.ID, g.TTL, MaxTTL)
	}
	return nil
}

// Find returns the valid lease held for holder in pool, if any.
func (b *Book) Find(pool, holder string) (Lease, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id, ok := b.byHolder[holderKey{pool, holder}]
	if !ok {
		return Lease{}, false
	}
	now := b.clock.Now()
	e := b.entries[id]
	if e == nil || e.state(now) != StateValid {
		return Lease{}, false
	}
	return b.snapshotLocked(e, now), true
}

// Get returns the lease with that ID.
func (b *Book) Get(id lease.ID) (Lease, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[id]
	if !ok {
		return Lease{}, false
	}
	return b.snapshotLocked(e, b.clock.Now()), true
}

// List returns every lease, ordered by ID.
func (b *Book) List() []Lease {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	out := make([]Lease, 0, len(b.entries))
	for _, e := range b.entries {
		out = append(out, b.snapshotLocked(e, now))
	}
	slices.SortFunc(out, func(x, y Lease) int {
		switch {
		case x.ID < y.ID:
			return -1
		case x.ID > y.ID:
			return 1
		}
		return 0
	})
	return out
}

// Counts counts the leases by state.
func (b *Book) Counts() Counts {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	var c Counts
	for _, e := range b.entries {
		switch e.state(now) {
		case StateValid:
			c.Valid++
		case StateExpired:
			c.Expired++
		case StateLost:
			c.Lost++
		case StateReleasing:
			c.Releasing++
		}
	}
	c.Held = c.Valid + c.Expired
	return c
}

func (b *Book) snapshotLocked(e *entry, now time.Time) Lease {
	st := e.state(now)
	l := Lease{
		ID:         e.g.ID,
		Fence:      e.g.Fence,
		Pool:       e.g.Pool,
		Holder:     e.g.Holder,
		Token:      e.g.Token,
		State:      st,
		TTL:        e.g.TTL,
		ValidUntil: now.Add(e.validUntil.Sub(now)).Round(0),
		Reason:     e.reason,
	}
	if st == StateValid {
		l.Remaining = e.validUntil.Sub(now)
	}
	return l
}

// removeLocked forgets a lease.
func (b *Book) removeLocked(id lease.ID) {
	e, ok := b.entries[id]
	if !ok {
		return
	}
	delete(b.entries, id)
	k := holderKey{e.g.Pool, e.g.Holder}
	if b.byHolder[k] == id {
		delete(b.byHolder, k)
	}
}

// Remove forgets a lease (a master confirmed its release) and returns it as
// it was.
func (b *Book) Remove(id lease.ID) (Lease, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[id]
	if !ok {
		return Lease{}, fmt.Errorf("%w: %d", ErrUnknown, id)
	}
	l := b.snapshotLocked(e, b.clock.Now())
	b.removeLocked(id)
	return l, nil
}

// MarkReleasing records that the product released a lease that no master has
// confirmed yet: it is no longer renewed nor found for its holder, and the
// release is retried until the lease would have ended anyway.
func (b *Book) MarkReleasing(id lease.ID) (Lease, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[id]
	if !ok {
		return Lease{}, fmt.Errorf("%w: %d", ErrUnknown, id)
	}
	// The holder stays indexed: until a master confirms the release, a new
	// acquire for the same holder must settle this one first (see
	// FindReleasing), or the pending release could take back the seat the
	// masters hand out again.
	e.releasing = true
	return b.snapshotLocked(e, b.clock.Now()), nil
}

// FindReleasing returns the lease of pool and holder whose release waits
// for a master, if there is one.
func (b *Book) FindReleasing(pool, holder string) (lease.ID, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id, ok := b.byHolder[holderKey{pool, holder}]
	if !ok {
		return 0, false
	}
	if e := b.entries[id]; e != nil && e.releasing {
		return id, true
	}
	return 0, false
}

// RemoveIfReleasing removes the lease only if it still waits for its
// release; it reports whether it did.
func (b *Book) RemoveIfReleasing(id lease.ID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[id]; ok && e.releasing {
		b.removeLocked(id)
		return true
	}
	return false
}

// Releasing returns the IDs of leases whose release waits for a master.
func (b *Book) Releasing() []lease.ID {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ids []lease.ID
	for id, e := range b.entries {
		if e.releasing {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}
