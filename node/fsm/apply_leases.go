package fsm

import "github.com/licmesh/licmesh/licensing/lease"

// maxLeaseIndex is the first Raft index that cannot form lease IDs: an ID is
// (index << 16 | op) in 64 bits.
const maxLeaseIndex = 1 << 48

// applyLeaseBatch applies a batch's operations in order, each against the
// state the previous ones left, so capacity is decided here and no
// optimistic view on the leader can over-allocate. An operation that fails
// changes nothing and does not stop the others.
func applyLeaseBatch(s *state, ac *applyCtx, c *LeaseBatch) Response {
	if ac.index == 0 || ac.index >= maxLeaseIndex {
		return Response{Err: ErrBadIndex}
	}
	// The batch cannot fail from here on, so trusted time may move now:
	// acquires are judged by the pools as they stand at the batch's time,
	// a license that expired by then grants nothing.
	s.advance(c.Now)
	res := make([]OpResult, len(c.Ops))
	for i := range c.Ops {
		op := &c.Ops[i]
		if err := validateOp(op); err != nil {
			res[i].Err = err
			continue
		}
		switch op.Kind {
		case Acquire:
			res[i] = s.acquire(ac, op, lease.ID(ac.index<<16|uint64(i)), c.Now)
		case Release:
			res[i] = s.release(ac, op)
		case Expire:
			res[i] = s.expire(ac, op)
		}
	}
	return Response{Ops: res}
}

func (s *state) acquire(ac *applyCtx, op *LeaseOp, id lease.ID, now int64) OpResult {
	p, ok := s.pools[op.Pool]
	if !ok {
		return OpResult{Err: ErrUnknownPool}
	}
	// A lease already held is found whatever became of its pool: finding
	// it grants nothing new.
	if have, ok := p.holders[op.Holder]; ok {
		r, _ := s.lease(have)
		if s.names.names[r.collector] != op.CollectorID {
			return OpResult{Err: ErrHeldElsewhere}
		}
		l := s.toLease(have, r)
		return OpResult{Lease: &l, Existing: true}
	}
	switch p.source {
	case SourceNone:
		return OpResult{Err: ErrUnknownPool}
	case SourceExpired:
		return OpResult{Err: ErrPoolExpired}
	}
	held := len(p.holders)
	d := p.pool.Admit(held)
	if !d.Grant {
		return OpResult{Err: ErrPoolFull}
	}
	r := leaseRec{
		holder:    op.Holder,
		grantedAt: now,
		pool:      p.idx,
		collector: s.names.intern(op.CollectorID),
		ttlMs:     uint32(op.TTLms),
	}
	if d.Overage {
		r.flags |= flagOverage
		p.overageGrants++
		p.lastOverageAt = now
	}
	s.putLease(id, r)
	if held+1 > p.peakHeld {
		p.peakHeld = held + 1
	}
	l := s.toLease(id, r)
	if ac.obs != nil {
		ac.obs.LeaseGranted(l)
	}
	return OpResult{Lease: &l}
}

func (s *state) release(ac *applyCtx, op *LeaseOp) OpResult {
	r, ok := s.lease(op.LeaseID)
	if !ok {
		return OpResult{Err: ErrUnknownLease}
	}
	if s.names.names[r.collector] != op.CollectorID {
		return OpResult{Err: ErrNotHolder}
	}
	return s.drop(ac, op.LeaseID, r)
}

// expire is idempotent: the leader may propose the expiry of a lease that a
// release already removed.
func (s *state) expire(ac *applyCtx, op *LeaseOp) OpResult {
	r, ok := s.lease(op.LeaseID)
	if !ok {
		return OpResult{}
	}
	return s.drop(ac, op.LeaseID, r)
}

// drop removes a lease, and its pool with it if nothing grants the pool
// any more and this was its last lease.
func (s *state) drop(ac *applyCtx, id lease.ID, r leaseRec) OpResult {
	l := s.toLease(id, r)
	s.removeLease(id, r)
	if p := s.poolList[r.pool]; p.source == SourceNone && len(p.holders) == 0 {
		s.deletePool(p)
	}
	if ac.obs != nil {
		ac.obs.LeaseRemoved(id)
	}
	return OpResult{Lease: &l}
}
