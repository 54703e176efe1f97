package lease

import (
	"container/heap"
	"sync"
	"time"

	"github.com/licmesh/licmesh/licensing/clock"
)

// Table is the leader's in-memory table of lease deadlines. Renewals are
// answered from it without a Raft write; expiry is committed through Raft
// only after a deadline in this table has passed.
//
// Deadlines are kept as offsets from a reading of the injected clock taken
// when the table was made, so with the system clock they are monotonic: a
// wall-clock step neither extends nor ends a lease early.
//
// Table is safe for concurrent use. Internally it is a min-heap plus a map
// from ID to heap position. The heap is ordered by each entry's due time,
// which is never later than its deadline and is brought up to it lazily:
// deadlines only ever move later, so Renew (and every other extension) is
// a map lookup and a store, with no sift and no allocation, and an entry is
// moved down the heap at most once per deadline that passes, by Expired.
type Table struct {
	clock clock.Clock
	// epoch is the clock reading offsets count from.
	epoch time.Time

	mu   sync.Mutex
	pos  map[ID]int
	heap []entry
	// stale is Expired's scratch list, kept to spare an allocation a call.
	stale []ID
}

type entry struct {
	// due orders the heap: the deadline the entry had when it was last
	// sifted, never later than deadline. Both are offsets from epoch.
	due, deadline time.Duration
	ttl           time.Duration
	// grace is added to every deadline the lease gets: the offline grace
	// its holder may work through when its collector reaches no master.
	grace time.Duration
	id    ID
}

// NewTable returns an empty table reading time from clk; nil means the
// system clock.
func NewTable(clk clock.Clock) *Table {
	if clk == nil {
		clk = clock.System{}
	}
	return &Table{clock: clk, epoch: clk.Now(), pos: make(map[ID]int)}
}

// now is the clock's reading as an offset from the epoch.
func (t *Table) now() time.Duration { return t.clock.Now().Sub(t.epoch) }

// at turns an offset back into a time.
func (t *Table) at(d time.Duration) time.Time { return t.epoch.Add(d) }

// Grant starts (or restarts) tracking a lease whose renewals last ttl,
// with grace on top of every deadline, and returns its deadline, now + ttl
// + grace. Granting an ID already in the table keeps the later of the two
// deadlines and adopts the new ttl and grace for renewals.
func (t *Table) Grant(id ID, ttl, grace time.Duration) (time.Time, error) {
	if ttl <= 0 || grace < 0 {
		return time.Time{}, ErrInvalidTTL
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.at(t.upsertLocked(id, now, ttl, grace, true)), nil
}

// Hold keeps a tracked lease until at least until (a borrowed seat):
// deadlines only ever move later, so no reset or renewal undoes it. It
// reports whether it tracks the lease.
func (t *Table) Hold(id ID, until time.Time) bool {
	d := until.Sub(t.epoch)
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.pos[id]
	if !ok {
		return false
	}
	e := &t.heap[i]
	e.deadline = max(e.deadline, d)
	return true
}

// Renew extends a lease to now + its ttl + its grace and returns the new
// deadline. It fails with ErrUnknownLease if the table does not hold the
// lease and with ErrExpired if the deadline has already passed: an expired
// lease is only waiting for its expiry to commit and cannot be revived. A
// collector back within the grace still renews: its holder may have worked
// through it, and the seat was counted held all along. Renew never
// shortens a deadline (one set by ResetAll or Hold may be later).
func (t *Table) Renew(id ID) (time.Time, error) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	d, err := t.renewLocked(id, now)
	if err != nil {
		return time.Time{}, err
	}
	return t.at(d), nil
}

// RenewEach renews every lease in ids as Renew does, under one lock and
// one clock reading, and calls fn with each one's outcome, in order. fn
// runs with the table locked and must not call back into it.
func (t *Table) RenewEach(ids []ID, fn func(i int, deadline time.Time, err error)) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, id := range ids {
		d, err := t.renewLocked(id, now)
		if err != nil {
			fn(i, time.Time{}, err)
			continue
		}
		fn(i, t.at(d), nil)
	}
}

func (t *Table) renewLocked(id ID, now time.Duration) (time.Duration, error) {
	i, ok := t.pos[id]
	if !ok {
		return 0, ErrUnknownLease
	}
	e := &t.heap[i]
	if e.deadline < now {
		return 0, ErrExpired
	}
	e.deadline = max(e.deadline, now+e.ttl+e.grace)
	return e.deadline, nil
}

// Deadline returns the current deadline of a lease.
func (t *Table) Deadline(id ID) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.pos[id]
	if !ok {
		return time.Time{}, false
	}
	return t.at(t.heap[i].deadline), true
}

// Remove stops tracking a lease (released or expiry committed) and reports
// whether it was tracked.
func (t *Table) Remove(id ID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.pos[id]
	if !ok {
		return false
	}
	last := len(t.heap) - 1
	if i != last {
		t.swap(i, last)
	}
	t.heap = t.heap[:last]
	delete(t.pos, id)
	if i != last {
		t.fix(i)
	}
	return true
}

// ResetAll is what a new leader does on taking office: every listed lease
// gets the deadline now + ttl + its grace unless it already has a later
// one. It may extend a lease, never shorten one, so a lease its collector
// still believes valid (or its holder works on through the grace) stays so
// through the failover. Leases not yet in the table are added with ttl as
// their renewal ttl and no grace; those already present keep their own.
// Leases in the table but not listed are left alone.
func (t *Table) ResetAll(ids []ID, ttl time.Duration) error {
	if ttl <= 0 {
		return ErrInvalidTTL
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		if i, ok := t.pos[id]; ok {
			e := &t.heap[i]
			e.deadline = max(e.deadline, now+ttl+e.grace)
			continue
		}
		t.upsertLocked(id, now, ttl, 0, false)
	}
	return nil
}

// Expired returns the leases whose deadline is before now, oldest deadline
// first (ties by ID), at most limit of them; limit <= 0 means all. It does
// not remove them: the caller proposes their expiry and removes each once
// the expiry commits.
func (t *Table) Expired(limit int) []ID {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.heap) == 0 || t.heap[0].due >= now {
		return nil
	}
	t.settleLocked(now)
	if t.heap[0].due >= now {
		return nil
	}
	// Walk the heap in order without popping it: a small frontier heap of
	// positions holds the candidates, and a position's children join only
	// after it is taken. Heap order guarantees that once the smallest
	// candidate is not expired, nothing left is.
	f := frontier{t: t, idx: []int{0}}
	var out []ID
	for f.Len() > 0 && (limit <= 0 || len(out) < limit) {
		i := heap.Pop(&f).(int)
		e := t.heap[i]
		if e.due >= now {
			break
		}
		out = append(out, e.id)
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(t.heap) && t.heap[c].due < now {
				heap.Push(&f, c)
			}
		}
	}
	return out
}

// settleLocked brings every entry whose due time is before now up to its
// deadline, so that afterwards the entries due before now are exactly the
// expired ones, ordered by deadline. Those entries form a subtree at the
// heap's root (a child is never due before its parent); they are listed
// first and moved after, since moving one reorders the others.
func (t *Table) settleLocked(now time.Duration) {
	stale := t.appendStale(t.stale[:0], 0, now)
	for _, id := range stale {
		i := t.pos[id]
		t.heap[i].due = t.heap[i].deadline
		t.down(i)
	}
	t.stale = stale[:0]
}

// appendStale appends the IDs of the entries in the subtree at i that are
// due before now but whose deadline has moved since they were sifted.
func (t *Table) appendStale(stale []ID, i int, now time.Duration) []ID {
	if i >= len(t.heap) || t.heap[i].due >= now {
		return stale
	}
	if e := &t.heap[i]; e.due != e.deadline {
		stale = append(stale, e.id)
	}
	stale = t.appendStale(stale, 2*i+1, now)
	return t.appendStale(stale, 2*i+2, now)
}

// Len returns the number of leases in the table.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.heap)
}

// upsertLocked sets a lease's deadline to now + ttl + grace unless it
// already has a later one, and returns the resulting deadline; with
// setTTL a tracked lease adopts ttl and grace. t.mu must be held.
func (t *Table) upsertLocked(id ID, now, ttl, grace time.Duration, setTTL bool) time.Duration {
	d := now + ttl + grace
	if i, ok := t.pos[id]; ok {
		e := &t.heap[i]
		if setTTL {
			e.ttl, e.grace = ttl, grace
		}
		e.deadline = max(e.deadline, d)
		return e.deadline
	}
	t.heap = append(t.heap, entry{due: d, deadline: d, ttl: ttl, grace: grace, id: id})
	i := len(t.heap) - 1
	t.pos[id] = i
	t.up(i)
	return d
}

func (t *Table) less(i, j int) bool {
	a, b := &t.heap[i], &t.heap[j]
	if a.due == b.due {
		return a.id < b.id
	}
	return a.due < b.due
}
func (t *Table) swap(i, j int) {
	t.heap[i], t.heap[j] = t.heap[j], t.heap[i]
	t.pos[t.heap[i].id] = i
	t.pos[t.heap[j].id] = j
}

func (t *Table) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(i, p) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

func (t *Table) down(i int) {
	n := len(t.heap)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if r := c + 1; r < n && t.less(r, c) {
			c = r
		}
		if !t.less(c, i) {
			return
		}
		t.swap(i, c)
		i = c
	}
}

func (t *Table) fix(i int) {
	if i > 0 && t.less(i, (i-1)/2) {
		t.up(i)
		return
	}
	t.down(i)
}

// frontier is a heap of positions in t.heap, ordered like t.heap itself.
type frontier struct {
	t   *Table
	idx []int
}

func (f *frontier) Len() int           { return len(f.idx) }
func (f *frontier) Less(i, j int) bool { return f.t.less(f.idx[i], f.idx[j]) }
func (f *frontier) Swap(i, j int)      { f.idx[i], f.idx[j] = f.idx[j], f.idx[i] }
func (f *frontier) Push(x any)         { f.idx = append(f.idx, x.(int)) }
func (f *frontier) Pop() any {
	x := f.idx[len(f.idx)-1]
	f.idx = f.idx[:len(f.idx)-1]
	return x
}
