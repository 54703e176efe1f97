package agent

import (
	"errors"
	"time"

	"github.com/licmesh/licmesh/collectors/identity"
	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// checkToken checks a lease token from the master at addr: that it says
// what the master's message says, and, when the sampler picks it (see
// tokenCheckEvery), its signature with the cluster key. The token's own
// times are not judged here: the collector counts validity on its monotonic
// clock, and the master's wall clock may differ from this host's.
func (a *Agent) checkToken(addr, tok string, id *identity.Identity, want leasebook.Grant) error {
	return a.checkTokenSig(addr, tok, id, want, a.tokens.due(addr))
}

// checkTokenSig is checkToken with the signature checked or not as sig says.
func (a *Agent) checkTokenSig(addr, tok string, id *identity.Identity, want leasebook.Grant, sig bool) error {
	if tok == "" {
		return badAnswer("lease %d has no token", want.ID)
	}
	var doc lease.Document
	var err error
	if sig {
		// The zero time is before any lease's end, so Verify checks
		// format and signature only.
		doc, err = lease.Verify(lease.Token(tok), id.SigningKey, time.Time{})
		if errors.Is(err, lease.ErrBadSignature) && a.tokens.failed(addr) {
			a.log.Error("collectord: a master's lease token does not verify with the cluster key; every token it sends is checked from now on", "master", addr, "lease_id", want.ID)
		}
	} else {
		doc, err = lease.Decode(lease.Token(tok))
	}
	if err != nil {
		return badAnswer("lease %d token: %v", want.ID, err)
	}
	switch {
	case doc.LeaseID != want.ID:
		return badAnswer("lease %d token is for lease %d", want.ID, doc.LeaseID)
	case doc.ClusterID != id.ClusterID:
		return badAnswer("lease %d token is for cluster %q, not %q", want.ID, clip(doc.ClusterID, 64), id.ClusterID)
	case doc.CollectorID != string(id.CollectorID):
		return badAnswer("lease %d token is for collector %q, not %q", want.ID, clip(doc.CollectorID, 64), id.CollectorID)
	case doc.Pool != want.Pool || doc.Holder != want.Holder:
		return badAnswer("lease %d token is for pool %q holder %q, not pool %q holder %q",
			want.ID, doc.Pool, clip(doc.Holder, 64), want.Pool, clip(want.Holder, 64))
	case doc.Fence != want.Fence:
		return badAnswer("lease %d token has fence %d, the lease %d", want.ID, doc.Fence, want.Fence)
	case want.Grace != 0 && doc.Grace != want.Grace:
		return badAnswer("lease %d token has grace %s, the lease %s", want.ID, doc.Grace, want.Grace)
	}
	return nil
}

// checkTTL checks a TTL in milliseconds from a master.
func checkTTL(id lease.ID, ms int64) (time.Duration, error) {
	if ms <= 0 || ms > leasebook.MaxTTL.Milliseconds() {
		return 0, badAnswer("lease %d has ttl %dms, want 1ms to %s", id, ms, leasebook.MaxTTL)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// checkGrant validates an Acquire answer from the master at addr for pool
// and holder and returns it as a grant for the book.
func (a *Agent) checkGrant(addr string, m *licmeshv1.AcquireResponse, pool, holder string, id *identity.Identity) (leasebook.Grant, error) {
	return a.checkLease(addr, m.GetLease(), pool, holder, id)
}

// Renew reasons a master may give for a lease it no longer renews.
const (
	ReasonUnknownLease = "unknown_lease"
	ReasonExpired      = "expired"
)

// checkRenewals validates a Renew answer from the master at addr for the
// requested IDs: exactly one result per requested lease, each either renewed
// with a TTL in range (and, if it carries one, a token that matches the
// lease, checked as checkToken does), or refused for a known reason.
func (a *Agent) checkRenewals(addr string, results []*licmeshv1.RenewResult, asked []lease.ID, id *identity.Identity) ([]leasebook.Renewal, error) {
	if len(results) != len(asked) {
		return nil, badAnswer("renew answer has %d results for %d leases", len(results), len(asked))
	}
	want := make(map[lease.ID]bool, len(asked))
	for _, x := range asked {
		want[x] = true
	}
	out := make([]leasebook.Renewal, 0, len(results))
	for _, r := range results {
		if r == nil {
			return nil, badAnswer("renew answer has an empty result")
		}
		lid := lease.ID(r.GetLeaseId())
		if !want[lid] {
			return nil, badAnswer("renew answer has a result for lease %d, not asked or repeated", lid)
		}
		delete(want, lid)
		if !r.GetOk() {
			switch r.GetReason() {
			case ReasonUnknownLease, ReasonExpired:
			default:
				return nil, badAnswer("lease %d refused for unknown reason %q", lid, clip(r.GetReason(), 64))
			}
			out = append(out, leasebook.Renewal{ID: lid, Reason: r.GetReason()})
			continue
		}
		ttl, err := checkTTL(lid, r.GetTtlMs())
		if err != nil {
			return nil, err
		}
		held, ok := a.book.Get(lid)
		if !ok {
			// Released while the renewal was in flight: nothing to check
			// it against, and nothing to apply it to.
			continue
		}
		// A fresh token is optional: without one the lease keeps the
		// token it has. One that is sent must be right.
		if r.GetToken() != "" {
			g := leasebook.Grant{ID: lid, Fence: held.Fence, Pool: held.Pool, Holder: held.Holder}
			if err := a.checkToken(addr, r.GetToken(), id, g); err != nil {
				return nil, err
			}
		}
		out = append(out, leasebook.Renewal{ID: lid, OK: true, TTL: ttl, Token: lease.Token(r.GetToken())})
	}
	return out, nil
}
