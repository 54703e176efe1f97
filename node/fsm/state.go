package fsm

import (
	"maps"
	"slices"
	"sync/atomic"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
)

// leaseShards is the number of copy-on-write shards the lease table is cut
// into. A snapshot shares every shard; the first write to a shared shard
// copies that shard only (1/256 of the leases), so Snapshot is O(shards)
// and the copying cost is spread over the applies that follow it.
const leaseShards = 256

// leaseRec is a lease as stored: 40 bytes, plus the holder string, which is
// shared with the pool's holder index. Pool and collector are interned
// indexes; the fence is derived from the ID (its Raft index).
type leaseRec struct {
	holder    string
	grantedAt int64
	pool      uint32
	collector uint32
	ttlMs     uint32
	// holdS is, in seconds, the pool's offline grace when the lease was
	// granted (masters count the seat held that long past the lease's
	// deadline), or for a borrowed lease how long after grantedAt it
	// ends.
	holdS uint32
	flags uint8
}

// Lease flags. flagHold only marks, in snapshots, that holdS follows.
const (
	flagOverage  uint8 = 1
	flagBorrowed uint8 = 2
	flagOffline  uint8 = 4
	flagHold     uint8 = 8
	knownFlags         = flagOverage | flagBorrowed | flagOffline | flagHold
)

// graceMs is the offline grace the lease was granted with, in ms; a
// borrowed lease has none (holdS says when it ends).
func (r leaseRec) graceMs() int64 {
	if r.flags&flagBorrowed != 0 {
		return 0
	}
	return int64(r.holdS) * 1000
}

// borrowedUntil is when a borrowed lease ends, in Unix ms; 0 if r is not
// borrowed.
func (r leaseRec) borrowedUntil() int64 {
	if r.flags&flagBorrowed == 0 {
		return 0
	}
	return r.grantedAt + int64(r.holdS)*1000
}

// cowMap is a map that snapshots share. refs counts the snapshots holding
// it; a writer that finds refs > 0 must take a private copy (mutable).
// refs is atomic because Release runs on the snapshot's goroutine; a stale
// read there only causes a needless copy, never a shared write, since refs
// only grows under the FSM's write lock.
type cowMap[K comparable, V any] struct {
	refs atomic.Int32
	m    map[K]V
}

func newCowMap[K comparable, V any](hint int) *cowMap[K, V] {
	return &cowMap[K, V]{m: make(map[K]V, hint)}
}

// mutable returns c if no snapshot shares it, else a private copy to
// replace it with.
func (c *cowMap[K, V]) mutable() *cowMap[K, V] {
	if c.refs.Load() == 0 {
		return c
	}
	return &cowMap[K, V]{m: maps.Clone(c.m)}
}

// poolState is a pool with its counters and its (holder → lease) index; the
// index's size is the pool's held count. The manual config and the counters
// are history, kept in snapshots; pool, source, licenses and amount are
// derived from the licenses and the manual config (see derive.go) and
// recomputed on restore.
type poolState struct {
	idx           uint32
	pool          lease.Pool // effective: what acquires are admitted by
	manual        *lease.Pool
	source        PoolSource
	licenses      []license.LicenseID // never modified in place
	amount        int64
	createdAt     int64
	updatedAt     int64
	overageGrants uint64
	peakHeld      int
	lastOverageAt int64
	holders       map[string]lease.ID
	// borrowed and offline count the held leases that are borrowed, and
	// that a fail-open collector let in offline: what the pool lends off
	// site, and its fail-open overage, at a glance.
	borrowed, offline int
	// markKey is the pool's upstream mark key, made once.
	markKey string
	// utilAgg caches the pool's utilization row of the current month.
	utilAgg *Utilization
}

// countFlags adds d to the counts r's flags put it in.
func (p *poolState) countFlags(r leaseRec, d int) {
	if r.flags&flagBorrowed != 0 {
		p.borrowed += d
	}
	if r.flags&flagOffline != 0 {
		p.offline += d
	}
}

func (p *poolState) status() PoolStatus {
	ps := PoolStatus{
		Pool:          p.pool,
		Source:        p.source,
		Licenses:      slices.Clone(p.licenses),
		Amount:        p.amount,
		Held:          len(p.holders),
		Borrowed:      p.borrowed,
		Offline:       p.offline,
		OverageGrants: p.overageGrants,
		PeakHeld:      p.peakHeld,
		LastOverageAt: p.lastOverageAt,
		CreatedAt:     p.createdAt,
		UpdatedAt:     p.updatedAt,
	}
	if p.manual != nil {
		m := *p.manual
		ps.Manual = &m
	}
	return ps
}

// interner maps collector IDs referenced by leases to small indexes. It only
// grows; a snapshot shares its prefix, which appends never touch.
type interner struct {
	names []string
	ids   map[string]uint32
}

func (in *interner) intern(s string) uint32 {
	if i, ok := in.ids[s]; ok {
		return i
	}
	i := uint32(len(in.names))
	in.names = append(in.names, s)
	in.ids[s] = i
	return i
}

// state is the whole replicated state. It is only touched with the FSM's
// lock held (write lock to mutate); Restore builds a new one and swaps it.
type state struct {
	index    uint64 // last applied Raft index
	trusted  int64  // high-water mark of leader time, Unix ms
	cluster  *ClusterInfo
	pools    map[string]*poolState
	poolList []*poolState // by poolState.idx; nil where a pool was deleted
	licenses map[license.LicenseID]*licenseRec
	// features and next are derived with the pools: the features enabled
	// by licenses in force, and the trusted time (Unix ms) at which a
	// license's standing or pools change next (0: never).
	features   map[string]bool
	next       int64
	tokens     *cowMap[string, Token]
	collectors *cowMap[string, Collector]
	names      interner
	shards     [leaseShards]*cowMap[lease.ID, leaseRec]
	nLeases    int
	credits    creditState
	usage      *usageState
	upstream   *upstreamState
	alerts     *alertsState
	accounts   *accountsState
	audit      *auditState
	alloc      *allocState
	util       *utilState
	costs      map[string]LicenseCost
	purchases  map[string]Purchase
	// updates is the coordinated-update state (updates.go).
	updates UpdateState
	// at is the time of the command being applied (trusted time, or the
	// command's if later); not replicated state, set by applyLocked.
	at int64
	// entChanged is the index of the last command that may have changed
	// what collectors are entitled to (licenses, derived pools, credits,
	// enrollments). It is not replicated state: masters compare it only
	// with their own earlier values, to know when to re-sign.
	entChanged uint64
}

func newState(leaseHint int) *state {
	s := &state{
		pools:      make(map[string]*poolState),
		licenses:   make(map[license.LicenseID]*licenseRec),
		features:   map[string]bool{},
		credits:    newCreditState(),
		usage:      newUsageState(),
		upstream:   newUpstreamState(),
		alerts:     newAlertsState(),
		accounts:   newAccountsState(),
		audit:      newAuditState(),
		alloc:      newAllocState(),
		util:       newUtilState(),
		costs:      map[string]LicenseCost{},
		purchases:  map[string]Purchase{},
		tokens:     newCowMap[string, Token](0),
		collectors: newCowMap[string, Collector](0),
		names:      interner{ids: make(map[string]uint32)},
	}
	for i := range s.shards {
		s.shards[i] = newCowMap[lease.ID, leaseRec](leaseHint / leaseShards)
	}
	s.usage.onClose = s.markClosed
	return s
}

// shardOf spreads IDs over shards. IDs are (raft index << 16 | op), so the
// low bits alone would crowd shard 0; a multiplicative hash mixes them.
func shardOf(id lease.ID) int {
	return int((uint64(id) * 0x9E3779B97F4A7C15) >> 56)
}

func (s *state) lease(id lease.ID) (leaseRec, bool) {
	r, ok := s.shards[shardOf(id)].m[id]
	return r, ok
}

func (s *state) writableShard(id lease.ID) *cowMap[lease.ID, leaseRec] {
	i := shardOf(id)
	sh := s.shards[i].mutable()
	s.shards[i] = sh
	return sh
}

func (s *state) putLease(id lease.ID, r leaseRec) {
	s.writableShard(id).m[id] = r
	p := s.poolList[r.pool]
	s.utilTick(p)
	p.holders[r.holder] = id
	p.countFlags(r, 1)
	dept := s.countDept(p.pool.Name, r.holder, r.collector, 1)
	s.utilPeak(p, dept)
	s.nLeases++
	s.markSeats(p)
}

func (s *state) removeLease(id lease.ID, r leaseRec) {
	delete(s.writableShard(id).m, id)
	p := s.poolList[r.pool]
	s.utilTick(p)
	delete(p.holders, r.holder)
	p.countFlags(r, -1)
	s.countDept(p.pool.Name, r.holder, r.collector, -1)
	s.nLeases--
	s.markSeats(p)
}

func (s *state) toLease(id lease.ID, r leaseRec) Lease {
	return Lease{
		ID:          id,
		Fence:       uint64(id) >> 16,
		Pool:        s.poolList[r.pool].pool.Name,
		Holder:      r.holder,
		CollectorID: s.names.names[r.collector],
		GrantedAt:   r.grantedAt,
		TTLms:       int64(r.ttlMs),
		Overage:     r.flags&flagOverage != 0,
		Offline:     r.flags&flagOffline != 0,
		Borrowed:    r.borrowedUntil(),
		GraceMs:     r.graceMs(),
	}
}

// advance moves trusted time up to now, and re-derives the pools when that
// crosses a moment at which a license's standing or pools change.
func (s *state) advance(now int64) {
	if now > s.trusted {
		s.trusted = now
	}
	if s.next != 0 && s.trusted >= s.next {
		s.derive()
	}
	s.usage.tick(s.trusted)
}

// sourcesChanged is advance for a command that changed the licenses or a
// manual pool: it always re-derives.
func (s *state) sourcesChanged(now int64) {
	if now > s.trusted {
		s.trusted = now
	}
	s.derive()
	s.dropCredits()
	// Seats and credit balances may have moved with the licenses.
	for _, p := range s.pools {
		s.markSeats(p)
	}
	for id, l := range s.licenses {
		if l.lic.Credits != nil {
			s.upstream.mark(string(markCredit)+"\x00"+string(id), s.index)
		}
	}
}

// addPool adds a pool with no source yet; derive or the caller gives it
// one.
func (s *state) addPool(name string, now int64) *poolState {
	ps := &poolState{
		idx:       uint32(len(s.poolList)),
		pool:      lease.Pool{Name: name, Enforce: lease.Hard},
		source:    SourceNone,
		createdAt: now,
		updatedAt: now,
		holders:   make(map[string]lease.ID),
	}
	s.pools[name] = ps
	s.poolList = append(s.poolList, ps)
	return ps
}

// deletePool forgets a pool that no lease refers to. Its slot in poolList
// stays empty: lease records hold pool indexes, and reusing a slot would
// buy nothing for the few pools a cluster ever deletes.
func (s *state) deletePool(ps *poolState) {
	delete(s.pools, ps.pool.Name)
	s.poolList[ps.idx] = nil
}
