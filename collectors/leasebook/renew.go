package leasebook

import (
	"fmt"
	"slices"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
)

// RenewDue returns when the next renewal is due: the earliest point at which
// a renewable lease reaches a third of its TTL since it was last granted or
// renewed. ok is false when there is nothing to renew.
func (b *Book) RenewDue() (at time.Time, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.entries {
		if !e.renewable() {
			continue
		}
		if !ok || e.nextRenew.Before(at) {
			at, ok = e.nextRenew, true
		}
	}
	return at, ok
}

// RenewBatch returns the IDs to renew now: every lease that is valid or
// expired. Renewing all of them together, rather than each at its own third,
// puts them all on one schedule after the first batch, so one RPC serves all.
func (b *Book) RenewBatch() []lease.ID {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := make([]lease.ID, 0, len(b.entries))
	for id, e := range b.entries {
		if e.renewable() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// RenewOutcome says what a renew answer did.
type RenewOutcome struct {
	// Renewed counts leases whose validity was extended.
	Renewed int
	// Lost lists leases the master no longer knows.
	Lost []Lease
	// Revived lists leases that had expired here and are valid again.
	Revived []Lease
}

// ApplyRenew records a master's answers to a renew request sent at sentAt.
// The answers are checked first, all of them: a bad one (TTL out of range,
// missing token) fails the whole answer with ErrBadGrant and changes
// nothing. Answers for leases the book no longer holds (released meanwhile)
// are ignored. A lease renewed OK is valid until sentAt+TTL, never less than
// it was already, and takes the fresh token if the answer has one; a lease
// refused is lost.
func (b *Book) ApplyRenew(sentAt time.Time, answers []Renewal) (RenewOutcome, error) {
	for _, a := range answers {
		if !a.OK {
			continue
		}
		if a.TTL <= 0 || a.TTL > MaxTTL {
			return RenewOutcome{}, fmt.Errorf("%w: renewal of lease %d has ttl %s, want (0, %s]", ErrBadGrant, a.ID, a.TTL, MaxTTL)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	var out RenewOutcome
	for _, a := range answers {
		e, ok := b.entries[a.ID]
		if !ok || !e.renewable() {
			continue
		}
		if !a.OK {
			e.lost, e.reason, e.lostAt = true, a.Reason, now
			k := holderKey{e.g.Pool, e.g.Holder}
			if b.byHolder[k] == a.ID {
				delete(b.byHolder, k)
			}
			out.Lost = append(out.Lost, b.snapshotLocked(e, now))
			continue
		}
		wasExpired := e.state(now) == StateExpired || e.state(now) == StateGrace
		until := sentAt.Add(a.TTL)
		if until.After(e.validUntil) {
			e.validUntil = until
		}
		e.sentAt = sentAt
		e.nextRenew = sentAt.Add(a.TTL / 3)
		e.g.TTL = a.TTL
		if a.Token != "" {
			e.g.Token = a.Token
		}
		e.expiredSaw = false
		out.Renewed++
		if wasExpired && e.state(now) == StateValid {
			out.Revived = append(out.Revived, b.snapshotLocked(e, now))
		}
	}
	return out, nil
}

// SweepOutcome says what a sweep found.
type SweepOutcome struct {
	// Expired lists leases whose validity ran out since the last sweep.
	Expired []Lease
	// Dropped counts leases forgotten: lost ones past retention and
	// unconfirmed releases past their end.
	Dropped int
}

// Sweep reports leases that expired since the last sweep and forgets lost
// leases older than the retention and releases no master confirmed before the
// lease would have ended (the masters expire those on their own).
func (b *Book) Sweep() SweepOutcome {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	var out SweepOutcome
	for id, e := range b.entries {
		switch e.state(now) {
		case StateExpired:
			if !e.expiredSaw {
				e.expiredSaw = true
				out.Expired = append(out.Expired, b.snapshotLocked(e, now))
			}
		case StateLost:
			if now.Sub(e.lostAt) >= b.retention {
				b.removeLocked(id)
				out.Dropped++
			}
		case StateReleasing:
			if !now.Before(e.validUntil) {
				b.removeLocked(id)
				out.Dropped++
			}
		}
	}
	return out
}

// NextSweep returns when Sweep next has something to do, or false if
// nothing is pending.
func (b *Book) NextSweep() (at time.Time, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	consider := func(t time.Time) {
		if !ok || t.Before(at) {
			at, ok = t, true
		}
	}
	now := b.clock.Now()
	for _, e := range b.entries {
		switch {
		case e.lost:
			consider(e.lostAt.Add(b.retention))
		case e.offline:
			// Waits for a master, not for time.
		case e.releasing, !e.expiredSaw && (e.state(now) == StateValid || e.state(now) == StateBorrowed):
			consider(e.validUntil)
		case !e.expiredSaw && e.state(now) == StateGrace:
			consider(e.validUntil.Add(e.g.Grace))
		case !e.expiredSaw:
			consider(now)
		}
	}
	return at, ok
}
