package fsm

import (
	"cmp"
	"fmt"
	"math"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
)

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
	d, refused := s.admitDept(p, op.Holder, op.CollectorID, held)
	if !d.Grant && op.Offline && p.pool.FailOpen {
		// The holder is already working: a fail-open collector let it in
		// while it reached no master. Refusing now would not undo that;
		// counting it as overage is what the license asks.
		d = lease.Decision{Grant: true, Overage: true}
	}
	if !d.Grant {
		return OpResult{Err: cmp.Or(refused, ErrPoolFull)}
	}
	r := leaseRec{
		holder:    op.Holder,
		grantedAt: now,
		pool:      p.idx,
		collector: s.names.intern(op.CollectorID),
		ttlMs:     uint32(op.TTLms),
		holdS:     uint32(p.pool.Grace / time.Second),
	}
	if op.Offline {
		r.flags |= flagOffline
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
// release already removed. A borrowed lease does not expire before its end
// in trusted time, whatever a leader's table says.
func (s *state) expire(ac *applyCtx, op *LeaseOp) OpResult {
	r, ok := s.lease(op.LeaseID)
	if !ok {
		return OpResult{}
	}
	if until := r.borrowedUntil(); until != 0 && s.trusted < until {
		l := s.toLease(op.LeaseID, r)
		return OpResult{Lease: &l, Err: ErrBorrowed}
	}
	return s.drop(ac, op.LeaseID, r)
}

// applyBorrowLease lends a seat until c.Until: the holder's lease through
// that collector becomes borrowed, or a new one is granted as an acquire
// would be and borrowed from the start.
func applyBorrowLease(s *state, ac *applyCtx, c *BorrowLease) Response {
	if ac.index == 0 || ac.index >= maxLeaseIndex {
		return Response{Err: ErrBadIndex}
	}
	// As a lease batch does, the borrow moves trusted time whatever its
	// outcome, and is judged by the pools as they stand then.
	s.advance(c.Now)
	p, ok := s.pools[c.Pool]
	switch {
	case !ok || p.source == SourceNone:
		return Response{Err: ErrUnknownPool}
	case p.pool.MaxBorrow == 0:
		return Response{Err: ErrNoBorrow}
	case c.Until-c.Now > p.pool.MaxBorrow.Milliseconds():
		return Response{Err: fmt.Errorf("%w: %s asked, at most %s", ErrBorrowTooLong,
			time.Duration(c.Until-c.Now)*time.Millisecond, p.pool.MaxBorrow)}
	}
	id, held := p.holders[c.Holder]
	if held {
		if r, _ := s.lease(id); s.names.names[r.collector] != c.CollectorID {
			return Response{Err: ErrHeldElsewhere}
		}
	} else {
		op := LeaseOp{Kind: Acquire, Pool: c.Pool, Holder: c.Holder, CollectorID: c.CollectorID, TTLms: c.TTLms}
		res := s.acquire(ac, &op, lease.ID(ac.index<<16), c.Now)
		if res.Err != nil {
			return Response{Err: res.Err}
		}
		id = res.Lease.ID
	}
	r, _ := s.lease(id)
	// The end is kept as whole seconds after the grant, rounded up: the
	// seat is held a little longer rather than a little shorter than asked.
	hold := (c.Until - r.grantedAt + 999) / 1000
	if hold > math.MaxUint32 {
		return Response{Err: fmt.Errorf("%w: the lease was granted too long ago to borrow it that long", ErrBorrowTooLong)}
	}
	if r.flags&flagBorrowed == 0 {
		p.borrowed++
	}
	r.flags |= flagBorrowed
	r.holdS = uint32(hold)
	s.writableShard(id).m[id] = r
	s.markSeats(p)
	l := s.toLease(id, r)
	if ac.obs != nil {
		ac.obs.LeaseGranted(l)
	}
	return Response{Ops: []OpResult{{Lease: &l, Existing: held}}}
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
