package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/collectors/identity"
	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// Borrow asks the masters to lend holder a seat of pool for d: the
// holder's lease if this collector has one, else a new one. The lease is
// then the holder's until d has passed on this host's monotonic clock (and
// across restarts, on its boot clock), with no master at all; Release
// returns it early. Errors: ErrInvalidInput, ErrNotReady, ErrFull, a
// *RejectedError (the pool lends nothing, d is longer than it allows, no
// free seat...), ErrUnavailable.
func (a *Agent) Borrow(ctx context.Context, pool, holder string, d time.Duration) (leasebook.Lease, error) {
	if err := CheckHolder(pool, holder); err != nil {
		return leasebook.Lease{}, err
	}
	if d < time.Second || d > lease.MaxBorrow {
		return leasebook.Lease{}, fmt.Errorf("%w: borrow for %s: want 1s to %s", ErrInvalidInput, d, lease.MaxBorrow)
	}
	id, tr := a.identity(), a.transport()
	if id == nil || tr == nil {
		return leasebook.Lease{}, ErrNotReady
	}
	var res *leasebook.Reservation
	if _, held := a.book.Find(pool, holder); !held {
		r, err := a.book.Reserve()
		if err != nil {
			return leasebook.Lease{}, fmt.Errorf("%w: %w", ErrFull, err)
		}
		defer r.Cancel()
		res = r
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	defer cancel()
	var got leasebook.Lease
	err := a.call(ctx, tr, a.interactiveAttempt(), func(ctx context.Context, c licmeshv1connect.CollectorServiceClient, addr string) error {
		sentAt := a.clock.Now()
		resp, err := c.Borrow(ctx, connect.NewRequest(&licmeshv1.BorrowRequest{Pool: pool, Holder: holder, DurationMs: d.Milliseconds()}))
		if err != nil {
			return err
		}
		// A lent token is checked in full: it stands alone for days.
		g, err := a.checkLeaseSig(addr, resp.Msg.GetLease(), pool, holder, id, true)
		if err != nil {
			return err
		}
		if resp.Msg.GetLease().GetBorrowedUntilMs() == 0 {
			return badAnswer("lease %d was lent with no end", g.ID)
		}
		// Counted from before the request, the end here comes no later
		// than the masters'.
		g.Borrow = d
		got, err = a.book.Add(res, g, sentAt)
		if err != nil {
			return badAnswer("%v", err)
		}
		return nil
	})
	if err != nil {
		return leasebook.Lease{}, err
	}
	a.saveBorrows()
	a.log.Info("collectord: seat borrowed", "lease_id", got.ID, "pool", pool, "for", d)
	a.kick()
	return got, nil
}

// savedBorrow is a borrowed lease as it is kept on disk.
type savedBorrow struct {
	Token string `json:"token"`
	// BootID and BootEnd place the borrow's end on the boot clock, which
	// no setting of the wall clock moves.
	BootID  string `json:"boot_id,omitempty"`
	BootEnd int64  `json:"boot_end_ns,omitempty"`
	// SavedAt is the wall clock when it was saved: after a reboot, time
	// is judged no earlier than that.
	SavedAt time.Time `json:"saved_at"`
}

// saveBorrows writes the borrowed leases the book holds, so that a
// restart keeps them. A failure is logged: the leases stay held until the
// collector restarts.
func (a *Agent) saveBorrows() {
	if a.store == nil {
		return
	}
	bootID, sinceBoot, bootOK := a.opts.BootClock()
	out := []savedBorrow{}
	for _, l := range a.book.List() {
		if l.State != leasebook.StateBorrowed {
			continue
		}
		sb := savedBorrow{Token: string(l.Token), SavedAt: a.clock.Now().UTC().Round(0)}
		if bootOK {
			sb.BootID, sb.BootEnd = bootID, int64(sinceBoot+l.Remaining)
		}
		out = append(out, sb)
	}
	b, err := json.Marshal(out)
	if err == nil {
		err = a.store.SaveBorrows(b)
	}
	if err != nil {
		a.log.Warn("collectord: could not save the borrowed leases", "error", err)
	}
}

// loadBorrows puts back the borrowed leases a previous run saved, each for
// what is left of it: on the boot clock when the host has not rebooted
// since, else by trusted wall time. One that does not verify, or is over,
// is dropped.
func (a *Agent) loadBorrows() {
	id := a.identity()
	if id == nil || a.store == nil {
		return
	}
	raw, err := a.store.LoadBorrows()
	if err != nil || raw == nil {
		if err != nil {
			a.log.Warn("collectord: ignoring the saved borrowed leases", "error", err)
		}
		return
	}
	var saved []savedBorrow
	if err := json.Unmarshal(raw, &saved); err != nil {
		a.log.Warn("collectord: ignoring the saved borrowed leases", "error", err)
		return
	}
	bootID, sinceBoot, bootOK := a.opts.BootClock()
	now := a.clock.Now()
	kept := 0
	for _, sb := range saved {
		doc, err := lease.Verify(lease.Token(sb.Token), id.SigningKey, time.Time{})
		if err == nil && (!doc.Borrowed || doc.ClusterID != id.ClusterID || doc.CollectorID != string(id.CollectorID)) {
			err = fmt.Errorf("lease %d is not a borrow of this collector", doc.LeaseID)
		}
		if err != nil {
			a.log.Warn("collectord: dropping a saved borrowed lease", "error", err)
			continue
		}
		var left time.Duration
		if bootOK && sb.BootID == bootID {
			left = time.Duration(sb.BootEnd) - sinceBoot
		} else {
			left = doc.ExpiresAt.Sub(latest(now, sb.SavedAt, a.ents.trustedAt(now)))
		}
		if left <= 0 {
			continue
		}
		g := leasebook.Grant{ID: doc.LeaseID, Fence: doc.Fence, Pool: doc.Pool, Holder: doc.Holder, Token: lease.Token(sb.Token),
			TTL: min(left, leasebook.MaxTTL), Grace: doc.Grace, Borrow: min(left, lease.MaxBorrow)}
		r, err := a.book.Reserve()
		if err == nil {
			_, err = a.book.Add(r, g, now)
			r.Cancel()
		}
		if err != nil {
			a.log.Warn("collectord: dropping a saved borrowed lease", "lease_id", doc.LeaseID, "error", err)
			continue
		}
		kept++
	}
	if kept > 0 {
		a.log.Info("collectord: borrowed leases restored", "leases", kept)
	}
}

// latest is the latest of its times.
func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}

// checkLease validates a lease from the master at addr for pool and holder
// and returns it as a grant for the book.
func (a *Agent) checkLease(addr string, l *licmeshv1.Lease, pool, holder string, id *identity.Identity) (leasebook.Grant, error) {
	return a.checkLeaseSig(addr, l, pool, holder, id, a.tokens.due(addr))
}

// checkLeaseSig is checkLease with the token's signature checked or not as
// sig says.
func (a *Agent) checkLeaseSig(addr string, l *licmeshv1.Lease, pool, holder string, id *identity.Identity, sig bool) (leasebook.Grant, error) {
	if l == nil {
		return leasebook.Grant{}, badAnswer("answer has no lease")
	}
	g := leasebook.Grant{
		ID:     lease.ID(l.GetId()),
		Fence:  l.GetFence(),
		Pool:   l.GetPool(),
		Holder: l.GetHolder(),
		Token:  lease.Token(l.GetToken()),
	}
	switch {
	case g.ID == 0:
		return leasebook.Grant{}, badAnswer("answer has lease id 0")
	case g.Pool != pool || g.Holder != holder:
		return leasebook.Grant{}, badAnswer("lease %d is for pool %q holder %q, asked for pool %q holder %q",
			g.ID, clip(g.Pool, 64), clip(g.Holder, 64), pool, clip(holder, 64))
	case l.GetCollectorId() != string(id.CollectorID):
		return leasebook.Grant{}, badAnswer("lease %d is for collector %q, not %q", g.ID, clip(l.GetCollectorId(), 64), id.CollectorID)
	case l.GetGraceMs() < 0 || l.GetGraceMs() > lease.MaxGrace.Milliseconds():
		return leasebook.Grant{}, badAnswer("lease %d has grace %dms, want 0 to %s", g.ID, l.GetGraceMs(), lease.MaxGrace)
	}
	ttl, err := checkTTL(g.ID, l.GetTtlMs())
	if err != nil {
		return leasebook.Grant{}, err
	}
	g.TTL, g.Grace = ttl, time.Duration(l.GetGraceMs())*time.Millisecond
	if err := a.checkTokenSig(addr, string(g.Token), id, g, sig); err != nil {
		return leasebook.Grant{}, err
	}
	return g, nil
}
