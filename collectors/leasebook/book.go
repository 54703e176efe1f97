package leasebook

import (
	"cmp"
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
	// StateGrace means its validity ran out with no master renewing it,
	// but the pool's offline grace keeps the seat its holder's: the masters
	// count it held that long. It is still renewed when a master answers.
	StateGrace State = "grace"
	// StateBorrowed means the masters lent the seat until a set end: no
	// renewal is due, and no master is needed, until then.
	StateBorrowed State = "borrowed"
	// StateOffline means the collector let the holder in while it reached
	// no master, as a fail-open pool allows: no master granted it yet, so
	// it has no token. When a master answers again the collector asks for
	// the seat, and the masters count it (as overage if the pool is full).
	StateOffline State = "offline"
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
	// Grace is the pool's offline grace the lease was granted with.
	Grace time.Duration
	// Borrow, when not 0, says the seat is lent for that long from the
	// request: the lease is the holder's until then, with no renewal.
	Borrow time.Duration
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
	// Remaining is how long the lease stays the holder's without another
	// renewal (through the grace, or to the borrow's end); zero unless
	// State is valid, grace or borrowed.
	Remaining time.Duration
	// TTL is the last TTL a master gave.
	TTL time.Duration
	// Grace is the offline grace past the lease's validity.
	Grace time.Duration
	// Borrowed says the seat is lent until ValidUntil.
	Borrowed bool
	// ValidUntil is the end of validity (a borrow's end for a borrowed
	// lease) as a wall-clock estimate, for display only: the book decides
	// on the monotonic clock.
	ValidUntil time.Time
	// Reason says why a lease was lost.
	Reason string
}

// Counts summarises the book.
type Counts struct {
	// Held is valid, grace, borrowed and expired: the leases the
	// collector still keeps.
	Held, Valid, Grace, Borrowed, Offline, Expired, Lost, Releasing int
}

type holderKey struct{ pool, holder string }

type entry struct {
	g          Grant
	sentAt     time.Time // before the request that last granted or renewed it
	validUntil time.Time
	nextRenew  time.Time
	lost       bool
	offline    bool // admitted with no master; ID is local (offlineID)
	reason     string
	lostAt     time.Time
	releasing  bool
	expiredSaw bool // Sweep already reported its expiry
}

func (e *entry) state(now time.Time) State {
	switch {
	case e.lost:
		return StateLost
	case e.offline:
		return StateOffline
	case e.releasing:
		return StateReleasing
	case e.borrowed():
		if now.Before(e.validUntil) {
			return StateBorrowed
		}
	case now.Before(e.validUntil):
		return StateValid
	case now.Before(e.validUntil.Add(e.g.Grace)):
		return StateGrace
	}
	return StateExpired
}

// holds reports whether the lease is the holder's at now: valid, in its
// grace, or borrowed.
func (e *entry) holds(now time.Time) bool {
	switch e.state(now) {
	case StateValid, StateGrace, StateBorrowed, StateOffline:
		return true
	}
	return false
}

func (e *entry) borrowed() bool { return e.g.Borrow != 0 }

// renewable: a borrowed lease needs no renewal until it ends, and then it
// has ended.
func (e *entry) renewable() bool { return !e.lost && !e.releasing && !e.borrowed() && !e.offline }

// setValidity sets how long the lease is valid from a request sent at
// sentAt that the master answered with ttl (or with a borrow).
func (e *entry) setValidity(sentAt time.Time) {
	e.sentAt = sentAt
	if e.borrowed() {
		e.validUntil = sentAt.Add(e.g.Borrow)
		e.nextRenew = e.validUntil
		return
	}
	e.validUntil = sentAt.Add(e.g.TTL)
	e.nextRenew = sentAt.Add(e.g.TTL / 3)
}

// Book holds the collector's leases. The zero value is not usable; call New.
type Book struct {
	clock     clock.Clock
	max       int
	retention time.Duration

	mu          sync.Mutex
	entries     map[lease.ID]*entry
	byHolder    map[holderKey]lease.ID
	reserved    int
	nextOffline uint64
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
	if r == nil {
		return // refreshing a lease the book holds takes no new place
	}
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
// or Cancel. r may be nil only for a lease the book holds already. A grant
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
		e.setValidity(sentAt)
		b.byHolder[holderKey{g.Pool, g.Holder}] = g.ID
		r.consumeLocked()
		return b.snapshotLocked(e, b.clock.Now()), nil
	}
	if r == nil {
		return Lease{}, fmt.Errorf("%w: lease %d is new and has no reserved place", ErrFull, g.ID)
	}
	e := &entry{g: g}
	e.setValidity(sentAt)
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
	case g.Grace < 0 || g.Grace > lease.MaxGrace:
		return fmt.Errorf("%w: lease %d has grace %s, want [0, %s]", ErrBadGrant, g.ID, g.Grace, lease.MaxGrace)
	case g.Borrow < 0 || g.Borrow > lease.MaxBorrow:
		return fmt.Errorf("%w: lease %d is borrowed for %s, want at most %s", ErrBadGrant, g.ID, g.Borrow, lease.MaxBorrow)
	}
	return nil
}

// Find returns the lease held for holder in pool, if it is the holder's
// now: valid, in its offline grace, or borrowed.
func (b *Book) Find(pool, holder string) (Lease, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id, ok := b.byHolder[holderKey{pool, holder}]
	if !ok {
		return Lease{}, false
	}
	now := b.clock.Now()
	e := b.entries[id]
	if e == nil || !e.holds(now) {
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
	return Tally(b.List())
}

// Tally counts leases by state.
func Tally(ls []Lease) Counts {
	var c Counts
	for _, l := range ls {
		switch l.State {
		case StateValid:
			c.Valid++
		case StateGrace:
			c.Grace++
		case StateBorrowed:
			c.Borrowed++
		case StateOffline:
			c.Offline++
		case StateExpired:
			c.Expired++
		case StateLost:
			c.Lost++
		case StateReleasing:
			c.Releasing++
		}
	}
	c.Held = c.Valid + c.Grace + c.Borrowed + c.Offline + c.Expired
	return c
}

// Holds reports whether the lease is its holder's: valid, in its offline
// grace, borrowed, or let in offline.
func (l Lease) Holds() bool {
	return l.State == StateValid || l.State == StateGrace || l.State == StateBorrowed || l.State == StateOffline
}

// offlineBit marks the IDs the book gives seats it admitted with no master:
// masters make IDs from Raft indexes below 1<<48, so the two never meet.
const offlineBit = lease.ID(1) << 63

// IsOffline reports whether id is one the book gave a seat it admitted
// with no master.
func IsOffline(id lease.ID) bool { return id&offlineBit != 0 }

// AddOffline records a holder let in while no master answered (a fail-open
// pool), in r's place. The lease has a local ID and no token; Settle swaps
// in the masters' grant when they answer again.
func (b *Book) AddOffline(r *Reservation, pool, holder string) (Lease, error) {
	if pool == "" || holder == "" {
		return Lease{}, fmt.Errorf("%w: an offline admission has no pool or holder", ErrBadGrant)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := holderKey{pool, holder}
	if id, ok := b.byHolder[k]; ok && b.entries[id] != nil && b.entries[id].holds(b.clock.Now()) {
		return b.snapshotLocked(b.entries[id], b.clock.Now()), nil
	}
	b.nextOffline++
	id := offlineBit | lease.ID(b.nextOffline)
	now := b.clock.Now()
	e := &entry{g: Grant{ID: id, Pool: pool, Holder: holder}, offline: true, sentAt: now, validUntil: now}
	b.entries[id] = e
	b.byHolder[k] = id
	r.consumeLocked()
	return b.snapshotLocked(e, now), nil
}

// Offline lists the seats admitted with no master that still wait for one.
func (b *Book) Offline() []Lease {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	var out []Lease
	for _, e := range b.entries {
		if e.offline && !e.lost && !e.releasing {
			out = append(out, b.snapshotLocked(e, now))
		}
	}
	slices.SortFunc(out, func(x, y Lease) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

// Settle replaces the offline admission local with the masters' grant g
// for the same pool and holder, asked at sentAt. If the admission was
// released meanwhile, g is added anyway for the caller to release.
func (b *Book) Settle(local lease.ID, g Grant, sentAt time.Time) (Lease, error) {
	if err := checkGrant(g); err != nil {
		return Lease{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[local]
	if !ok || !e.offline || e.g.Pool != g.Pool || e.g.Holder != g.Holder {
		return Lease{}, fmt.Errorf("%w: %d is no offline admission of pool %q holder %q", ErrUnknown, local, g.Pool, g.Holder)
	}
	if _, taken := b.entries[g.ID]; taken {
		return Lease{}, fmt.Errorf("%w: lease %d is already in the book", ErrCollision, g.ID)
	}
	releasing := e.releasing
	b.removeLocked(local)
	n := &entry{g: g, releasing: releasing}
	n.setValidity(sentAt)
	b.entries[g.ID] = n
	b.byHolder[holderKey{g.Pool, g.Holder}] = g.ID
	return b.snapshotLocked(n, b.clock.Now()), nil
}

// Refuse marks an offline admission lost: a master refused the seat (the
// pool no longer fails open, or is gone). reason says why.
func (b *Book) Refuse(local lease.ID, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[local]; ok && e.offline {
		e.lost, e.reason, e.lostAt = true, reason, b.clock.Now()
		k := holderKey{e.g.Pool, e.g.Holder}
		if b.byHolder[k] == local {
			delete(b.byHolder, k)
		}
	}
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
		Grace:      e.g.Grace,
		Borrowed:   e.borrowed(),
		ValidUntil: now.Add(e.validUntil.Sub(now)).Round(0),
		Reason:     e.reason,
	}
	if e.offline {
		l.ValidUntil = time.Time{}
	}
	switch st {
	case StateValid, StateBorrowed:
		l.Remaining = e.validUntil.Sub(now)
	case StateGrace:
		l.Remaining = e.validUntil.Add(e.g.Grace).Sub(now)
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

// AddReleasing records a grant that nobody waits for (its acquire gave up
// while the masters granted it) as a lease whose release waits for a
// master, and reports whether it did. It needs no reservation (the acquire
// that had one has ended) and holds a place only until the release is
// confirmed. A book that already holds the lease (a later
// acquire of the same holder got it back) keeps it as it is; one that holds
// another lease for the holder keeps that one findable.
func (b *Book) AddReleasing(g Grant, sentAt time.Time) bool {
	if checkGrant(g) != nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.entries[g.ID]; ok {
		return false
	}
	e := &entry{g: g, releasing: true}
	e.setValidity(sentAt)
	b.entries[g.ID] = e
	k := holderKey{g.Pool, g.Holder}
	if _, ok := b.byHolder[k]; !ok {
		b.byHolder[k] = g.ID
	}
	return true
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
