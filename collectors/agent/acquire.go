package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// interactiveAttempt bounds one attempt of a call made for the product, so
// that a master that swallows packets leaves time to try another before the
// request's own deadline.
func (a *Agent) interactiveAttempt() time.Duration {
	d := a.cfg.RequestTimeout / 2
	if d < 100*time.Millisecond {
		d = 100 * time.Millisecond
	}
	return d
}

// CheckHolder checks a pool and holder from the product.
func CheckHolder(pool, holder string) error {
	if err := lease.ValidatePoolName(pool); err != nil {
		return fmt.Errorf("%w: pool: %w", ErrInvalidInput, err)
	}
	if err := lease.ValidateField("holder", holder, lease.MaxHolderLen); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return nil
}

// Acquire gets a seat in pool for holder. If the collector already holds a
// valid lease for them it returns it at once, without a call (acquire is
// idempotent per holder, and this keeps the product working while masters
// are away); otherwise it asks the masters, within ctx and request_timeout.
// Errors: ErrInvalidInput, ErrNotReady, ErrFull, a *RejectedError (no free
// seat, unknown pool...), ErrUnavailable.
func (a *Agent) Acquire(ctx context.Context, pool, holder string) (leasebook.Lease, error) {
	if err := CheckHolder(pool, holder); err != nil {
		return leasebook.Lease{}, err
	}
	if l, ok := a.book.Find(pool, holder); ok {
		return l, nil
	}
	id, tr := a.identity(), a.transport()
	if id == nil || tr == nil {
		return leasebook.Lease{}, ErrNotReady
	}
	// A release of this holder's previous lease that no master confirmed
	// yet is settled first: asked again, a master would hand back that same
	// lease, and the release retried later would then take it away.
	if old, ok := a.book.FindReleasing(pool, holder); ok {
		if err := a.releaseCall(ctx, old); err != nil {
			return leasebook.Lease{}, fmt.Errorf("%w: the release of this holder's previous lease %d is still pending: %w", ErrUnavailable, old, err)
		}
		a.book.RemoveIfReleasing(old)
	}
	res, err := a.book.Reserve()
	if err != nil {
		return leasebook.Lease{}, fmt.Errorf("%w: %w", ErrFull, err)
	}
	defer res.Cancel()

	ctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	defer cancel()
	var got leasebook.Lease
	r, err := a.seat(ctx, seatOp{pool: pool, holder: holder})
	if err == nil {
		if got, err = a.book.Add(res, r.grant, r.sentAt); err != nil {
			err = badAnswer("%v", err)
		}
	}
	if errors.Is(err, ErrUnavailable) && a.failsOpen(pool) {
		// No master answered, and the license lets this pool fail open
		// (P8): the holder works now, and the masters count the seat when
		// they answer again (reconcileOffline).
		l, oerr := a.book.AddOffline(res, pool, holder)
		if oerr != nil {
			return leasebook.Lease{}, fmt.Errorf("%w: %w", err, oerr)
		}
		a.log.Warn("collectord: no master answered; holder let in offline, as the pool fails open", "pool", pool, "lease_id", l.ID)
		return l, nil
	}
	if err != nil {
		return leasebook.Lease{}, err
	}
	a.log.Debug("collectord: lease acquired", "lease_id", got.ID, "pool", pool, "ttl", got.TTL)
	a.kick()
	return got, nil
}

// Release gives a lease back. pending is true when no master could be
// reached: the lease is then no longer renewed nor handed out, and the release
// is retried in the background until the lease would have ended anyway.
// Errors: ErrUnknownLease, a *RejectedError.
func (a *Agent) Release(ctx context.Context, leaseID lease.ID) (l leasebook.Lease, pending bool, err error) {
	l, ok := a.book.Get(leaseID)
	if !ok {
		return leasebook.Lease{}, false, fmt.Errorf("%w: %d", ErrUnknownLease, leaseID)
	}
	if l.State == leasebook.StateLost || leasebook.IsOffline(leaseID) {
		// The masters no longer know it, or never did (let in offline):
		// there is nothing to release there.
		l, err = a.book.Remove(leaseID)
		return l, false, err
	}
	tr := a.transport()
	if tr == nil {
		l, err = a.book.MarkReleasing(leaseID)
		return l, true, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	defer cancel()
	err = a.releaseCall(ctx, leaseID)
	switch {
	case err == nil:
		l, err = a.book.Remove(leaseID)
		if l.Borrowed {
			a.saveBorrows() // returned early
		}
		return l, false, err
	case errors.Is(err, ErrUnavailable):
		l, err = a.book.MarkReleasing(leaseID)
		return l, true, err
	}
	return leasebook.Lease{}, false, err
}

// releaseCall releases one lease at the masters. A master that does not know
// the lease has nothing to release, which is success.
func (a *Agent) releaseCall(ctx context.Context, leaseID lease.ID) error {
	_, err := a.seat(ctx, seatOp{release: true, leaseID: leaseID})
	var rej *RejectedError
	if errors.As(err, &rej) && rej.Code == connect.CodeNotFound {
		return nil
	}
	return err
}

// retryReleases retries releases that no master confirmed.
func (a *Agent) retryReleases(ctx context.Context) error {
	tr := a.transport()
	if tr == nil {
		return ErrNotReady
	}
	for _, id := range a.book.Releasing() {
		err := a.releaseCall(ctx, id)
		if errors.Is(err, ErrUnavailable) {
			return err
		}
		if err != nil {
			a.log.Warn("collectord: master refused a release", "lease_id", id, "error", err)
		}
		a.book.RemoveIfReleasing(id)
	}
	return nil
}

// releaseAll releases every lease at shutdown, a few at a time, within
// request_timeout in all. Borrowed seats stay borrowed: a laptop shut down
// off site keeps what it borrowed, and the next run loads it back.
func (a *Agent) releaseAll(ctx context.Context) {
	tr := a.transport()
	if tr == nil {
		return
	}
	var ids []lease.ID
	for _, l := range a.book.List() {
		if l.State != leasebook.StateLost && !l.Borrowed {
			ids = append(ids, l.ID)
		}
	}
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	defer cancel()
	const workers = 8
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		released int
		work     = make(chan lease.ID)
	)
	for range min(workers, len(ids)) {
		wg.Go(func() {
			for id := range work {
				if err := a.releaseCall(ctx, id); err == nil {
					a.book.Remove(id)
					mu.Lock()
					released++
					mu.Unlock()
				}
			}
		})
	}
feed:
	for _, id := range ids {
		select {
		case work <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	a.log.Info("collectord: released leases at shutdown", "released", released, "held", len(ids))
}

// CheckName checks a feature, product or credit unit name from the
// product: 1 to 128 printable characters, as lease fields are.
func CheckName(what, name string) error {
	if name == "" {
		return fmt.Errorf("%w: %s name is empty", ErrInvalidInput, what)
	}
	if err := lease.ValidateField(what, name, 128); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return nil
}

// finalRefusal reports whether a master's refusal of a seat let in
// offline is the cluster's answer (the pool is full and no longer fails
// open, is gone, or ended), not a master that has not caught up yet after
// the outage (a collector it does not know yet, say): those are asked
// again.
func finalRefusal(c connect.Code) bool {
	switch c {
	case connect.CodeResourceExhausted, connect.CodeNotFound, connect.CodeFailedPrecondition, connect.CodeInvalidArgument:
		return true
	}
	return false
}

// failsOpen reports whether the entitlements, judged at trusted time, let
// pool admit new holders while no master answers.
func (a *Agent) failsOpen(pool string) bool {
	a.ents.mu.Lock()
	defer a.ents.mu.Unlock()
	return a.ents.doc != nil && a.ents.doc.FailsOpen(pool, a.ents.trustedNow(a.clock.Now()))
}

// reconcileOffline asks the masters for the seats let in offline: each
// becomes a lease the masters count (as overage if the pool is full), or,
// if they refuse it, is lost with their reason. It stops at the first
// call no master answers.
func (a *Agent) reconcileOffline(ctx context.Context) error {
	waiting := a.book.Offline()
	if len(waiting) == 0 {
		return nil
	}
	id, tr := a.identity(), a.transport()
	if id == nil || tr == nil {
		return ErrNotReady
	}
	for _, l := range waiting {
		err := a.call(ctx, tr, a.cfg.RequestTimeout, func(ctx context.Context, c licmeshv1connect.CollectorServiceClient, addr string) error {
			sentAt := a.clock.Now()
			resp, err := c.Acquire(ctx, connect.NewRequest(&licmeshv1.AcquireRequest{Pool: l.Pool, Holder: l.Holder, Offline: true}))
			if err != nil {
				return err
			}
			g, err := a.checkGrant(addr, resp.Msg, l.Pool, l.Holder, id)
			if err != nil {
				return err
			}
			got, err := a.book.Settle(l.ID, g, sentAt)
			if err != nil {
				return badAnswer("%v", err)
			}
			a.log.Info("collectord: a seat let in offline is now counted by the masters", "pool", l.Pool, "lease_id", got.ID)
			return nil
		})
		var rej *RejectedError
		switch {
		case errors.As(err, &rej) && finalRefusal(rej.Code):
			a.book.Refuse(l.ID, rej.Message)
			a.log.Warn("collectord: the masters refused a seat let in offline", "pool", l.Pool, "reason", rej.Message)
		case err != nil:
			return err
		}
	}
	return nil
}
