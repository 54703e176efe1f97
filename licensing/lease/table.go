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
// Deadlines are time.Time values read from the injected clock, so with the
// system clock they carry a monotonic reading and a wall-clock
// step neither extends nor ends a lease early.
//
// Table is safe for concurrent use. Internally it is a min-heap ordered by
// (deadline, ID) plus a map from ID to heap position: Renew is a map lookup
// and a sift, with no allocation, and Expired reads the oldest deadlines
// without scanning the table.
type Table struct {
	clock clock.Clock

	mu   sync.Mutex
	pos  map[ID]int
	heap []entry
}

type entry struct {
	deadline time.Time
	ttl      time.Duration
	id       ID
}

// NewTable returns an empty table reading time from clk; nil means the
// system clock.
func NewTable(clk clock.Clock) *Table {
	if clk == nil {
		clk = clock.System{}
	}
	return &Table{clock: clk, pos: make(map[ID]int)}
}

// Grant starts (or restarts) tracking a lease whose renewals last ttl and
// returns its deadline, now + ttl. Granting an ID already in the table keeps
// the later of the two deadlines and adopts the new ttl for renewals.
func (t *Table) Grant(id ID, ttl time.Duration) (time.Time, error) {
	if ttl <= 0 {
		return time.Time{}, ErrInvalidTTL
	}
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.upsertLocked(id, now.Add(ttl), ttl, true), nil
}

// Renew extends a lease to now + its ttl and returns the new deadline. It
// fails with ErrUnknownLease if the table does not hold the lease and with
// ErrExpired if the deadline has already passed: an expired lease is only
// waiting for its expiry to commit and cannot be revived. Renew never
// shortens a deadline (one set by ResetAll may be later than now + ttl).
func (t *Table) Renew(id ID) (time.Time, error) {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.pos[id]
	if !ok {
		return time.Time{}, ErrUnknownLease
	}
	e := &t.heap[i]
	if e.deadline.Before(now) {
		return time.Time{}, ErrExpired
	}
	if d := now.Add(e.ttl); d.After(e.deadline) {
		e.deadline = d
		t.down(i)
		return d, nil
	}
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
	return t.heap[i].deadline, true
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
// gets the deadline now + ttl unless it already has a later one. It may
// extend a lease, never shorten one, so a lease its collector still believes
// valid stays valid through the failover. Leases not yet in the table are
// added with ttl as their renewal ttl; those already present keep their own.
// Leases in the table but not listed are left alone.
func (t *Table) ResetAll(ids []ID, ttl time.Duration) error {
	if ttl <= 0 {
		return ErrInvalidTTL
	}
	d := t.clock.Now().Add(ttl)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		t.upsertLocked(id, d, ttl, false)
	}
	return nil
}

// Expired returns the leases whose deadline is before now, oldest deadline
// first (ties by ID), at most limit of them; limit <= 0 means all. It does
// not remove them: the caller proposes their expiry and removes each once
// the expiry commits.
func (t *Table) Expired(limit int) []ID {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.heap) == 0 || !t.heap[0].deadline.Before(now) {
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
		if !e.deadline.Before(now) {
			break
		}
		out = append(out, e.id)
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(t.heap) && t.heap[c].deadline.Before(now) {
				heap.Push(&f, c)
			}
		}
	}
	return out
}

// Len returns the number of leases in the table.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.heap)
}

// upsertLocked sets a lease's deadline to d unless it already has a later
// one, and returns the resulting deadline. t.mu must be held.
func (t *Table) upsertLocked(id ID, d time.Time, ttl time.Duration, setTTL bool) time.Time {
	if i, ok := t.pos[id]; ok {
		e := &t.heap[i]
		if setTTL {
			e.ttl = ttl
		}
		if d.After(e.deadline) {
			e.deadline = d
			t.down(i)
			return d
		}
		return e.deadline
	}
	t.heap = append(t.heap, entry{deadline: d, ttl: ttl, id: id})
	i := len(t.heap) - 1
	t.pos[id] = i
	t.up(i)
	return d
}

func (t *Table) less(i, j int) bool {
	a, b := &t.heap[i], &t.heap[j]
	if a.deadline.Equal(b.deadline) {
		return a.id < b.id
	}
	return a.deadline.Before(b.deadline)
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
