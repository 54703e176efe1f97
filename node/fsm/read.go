package fsm

import (
	"cmp"
	"slices"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
)

// Cluster returns what Bootstrap recorded, and false before bootstrap. The
// returned slices are copies.
func (f *FSM) Cluster() (ClusterInfo, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.st.cluster == nil {
		return ClusterInfo{}, false
	}
	return f.st.cluster.clone(), true
}

// Pools returns every pool with its use, sorted by name.
func (f *FSM) Pools() []PoolStatus {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]PoolStatus, 0, len(f.st.pools))
	for _, p := range f.st.pools {
		out = append(out, p.status())
	}
	slices.SortFunc(out, func(a, b PoolStatus) int { return cmp.Compare(a.Pool.Name, b.Pool.Name) })
	return out
}

// Pool returns one pool with its use.
func (f *FSM) Pool(name string) (PoolStatus, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	p, ok := f.st.pools[name]
	if !ok {
		return PoolStatus{}, false
	}
	return p.status(), true
}

// Lease returns one lease.
func (f *FSM) Lease(id lease.ID) (Lease, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.st.lease(id)
	if !ok {
		return Lease{}, false
	}
	return f.st.toLease(id, r), true
}

// RenewView is what answering a renewal needs to know of one lease.
type RenewView struct {
	// Held: the lease exists and the collector asking holds it.
	Held bool
	// PoolExpired: its pool renews nothing, its licenses all having ended
	// (past their grace) or been removed.
	PoolExpired bool
	// GraceMs and Borrowed are the lease's, as in Lease.
	GraceMs, Borrowed int64
}

// RenewViews sets out[i] to what a renewal of ids[i] by collectorID needs,
// under one read lock: a renewal call carries all its collector's leases,
// and the per-lease lookups are most of what the leader does for it.
func (f *FSM) RenewViews(collectorID string, ids []lease.ID, out []RenewView) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.st
	col, known := s.names.ids[collectorID]
	for i, id := range ids {
		r, ok := s.lease(id)
		if !known || !ok || r.collector != col {
			out[i] = RenewView{}
			continue
		}
		out[i] = RenewView{Held: true, PoolExpired: s.poolList[r.pool].renewsNothing(),
			GraceMs: r.graceMs(), Borrowed: r.borrowedUntil()}
	}
}

// Leases returns the leases matching filter, sorted by ID. A filter with a
// pool uses that pool's index; one with a pool and a holder is a single
// lookup; anything else scans every lease.
func (f *FSM) Leases(filter LeaseFilter) []Lease {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.st
	var col uint32
	if filter.CollectorID != "" {
		i, ok := s.names.ids[filter.CollectorID]
		if !ok {
			return nil
		}
		col = i
	}
	match := func(r leaseRec) bool {
		return (filter.CollectorID == "" || r.collector == col) &&
			(filter.Holder == "" || r.holder == filter.Holder) &&
			(!filter.Borrowed || r.flags&flagBorrowed != 0)
	}
	var ids []lease.ID
	if filter.Pool != "" {
		p, ok := s.pools[filter.Pool]
		if !ok {
			return nil
		}
		if filter.Holder != "" {
			if id, ok := p.holders[filter.Holder]; ok {
				ids = append(ids, id)
			}
		} else {
			ids = make([]lease.ID, 0, len(p.holders))
			for _, id := range p.holders {
				ids = append(ids, id)
			}
		}
		kept := ids[:0]
		for _, id := range ids {
			if r, _ := s.lease(id); match(r) {
				kept = append(kept, id)
			}
		}
		ids = kept
	} else {
		for _, sh := range s.shards {
			for id, r := range sh.m {
				if match(r) {
					ids = append(ids, id)
				}
			}
		}
	}
	slices.Sort(ids)
	if filter.Limit > 0 && len(ids) > filter.Limit {
		ids = ids[:filter.Limit]
	}
	out := make([]Lease, len(ids))
	for i, id := range ids {
		r, _ := s.lease(id)
		out[i] = s.toLease(id, r)
	}
	return out
}

// LeaseIDs returns the IDs of every lease, sorted; a new leader passes them
// to its deadline table's ResetAll.
func (f *FSM) LeaseIDs() []lease.ID {
	f.mu.RLock()
	defer f.mu.RUnlock()
	ids := make([]lease.ID, 0, f.st.nLeases)
	for _, sh := range f.st.shards {
		for id := range sh.m {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Tokens returns every token, sorted by ID.
func (f *FSM) Tokens() []Token {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return sortedValues(f.st.tokens.m)
}

// Token returns one token.
func (f *FSM) Token(id string) (Token, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	t, ok := f.st.tokens.m[id]
	return t, ok
}

// Collectors returns every enrolled collector, sorted by ID.
func (f *FSM) Collectors() []Collector {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return sortedValues(f.st.collectors.m)
}

// Collector returns one enrolled collector.
func (f *FSM) Collector(id string) (Collector, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	c, ok := f.st.collectors.m[id]
	return c, ok
}

// TrustedTime returns the high-water mark of the leader times carried by
// applied commands (zero before any). Validity is judged against it, so
// setting a clock back extends nothing.
func (f *FSM) TrustedTime() time.Time {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.st.trusted == 0 {
		return time.Time{}
	}
	return time.UnixMilli(f.st.trusted).UTC()
}

// AppliedIndex returns the Raft index of the last entry applied (or
// restored from a snapshot).
func (f *FSM) AppliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.index
}

// Counts returns the sizes of the state's tables.
func (f *FSM) Counts() Counts {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return Counts{
		Pools:      len(f.st.pools),
		Leases:     f.st.nLeases,
		Collectors: len(f.st.collectors.m),
		Tokens:     len(f.st.tokens.m),
		Licenses:   len(f.st.licenses),
	}
}

func sortedValues[V any](m map[string]V) []V {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]V, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// LeasesPerCollector returns how many leases each collector holds, by
// collector ID. It walks the leases once without copying them.
func (f *FSM) LeasesPerCollector() map[string]int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	counts := map[uint32]int{}
	for _, sh := range f.st.shards {
		for _, r := range sh.m {
			counts[r.collector]++
		}
	}
	out := make(map[string]int, len(counts))
	for i, n := range counts {
		out[f.st.names.names[i]] = n
	}
	return out
}
