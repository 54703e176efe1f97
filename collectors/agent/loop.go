package agent

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"slices"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/collectors/failover"
	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/mesh/wire"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// maxRenewBatch bounds the leases renewed in one RPC, so that the answer
// (one token each) stays well under maxMessageBytes.
const maxRenewBatch = 1000

// schedule is Run's loop state: when each duty is next due and the backoff
// of each.
type schedule struct {
	init bool

	helloAt    time.Time
	helloBO    *failover.Backoff
	helloSkips int       // hellos in a row left out because renewals counted
	renewAfter time.Time // earliest retry after a failed renewal
	renewBO    *failover.Backoff
	certAt     time.Time // earliest retry after a failed certificate renewal
	certBO     *failover.Backoff
	releaseAt  time.Time
	releaseBO  *failover.Backoff
}

func (a *Agent) newBackoff() *failover.Backoff {
	return failover.NewBackoff(failover.DefaultBackoffBase, failover.DefaultBackoffCap, a.opts.Rand)
}

// step does whatever is due and returns how long to wait before the next
// step. Duties: report expired leases, renew or re-enroll the certificate,
// say hello, renew leases, retry pending releases.
func (a *Agent) step(ctx context.Context, s *schedule) time.Duration {
	if !s.init {
		s.init = true
		s.helloBO, s.renewBO, s.certBO, s.releaseBO = a.newBackoff(), a.newBackoff(), a.newBackoff(), a.newBackoff()
	}
	sw := a.book.Sweep()
	logLeases(a.log, "collectord: lease expired: no master renewed it in time", sw.Expired)
	if slices.ContainsFunc(sw.Expired, func(l leasebook.Lease) bool { return l.Borrowed }) {
		a.saveBorrows() // a borrow ended
	}

	a.stepCertificate(ctx, s)
	if ctx.Err() != nil {
		return 0
	}

	now := a.clock.Now()
	switch {
	case now.Before(s.helloAt):
	case a.renewalsSaidHello(now, s):
		s.helloSkips++
	default:
		s.helloSkips = 0
		if err := a.hello(ctx); err != nil {
			s.helloAt = a.clock.Now().Add(s.helloBO.Next())
			a.setPhase(PhaseDisconnected)
			a.log.Warn("collectord: no master answered hello", "retry_in", s.helloAt.Sub(a.clock.Now()).Round(time.Millisecond), "error", err)
		} else {
			s.helloBO.Reset()
			s.helloAt = a.clock.Now().Add(a.opts.HelloInterval)
		}
	}

	now = a.clock.Now()
	if due, ok := a.book.RenewDue(); ok && !now.Before(due) && !now.Before(s.renewAfter) {
		if err := a.renewAll(ctx); err != nil {
			s.renewAfter = a.clock.Now().Add(s.renewBO.Next())
			a.log.Warn("collectord: lease renewal failed; leases stay valid until their end",
				"retry_in", s.renewAfter.Sub(a.clock.Now()).Round(time.Millisecond), "error", err)
		} else {
			s.renewBO.Reset()
			s.renewAfter = time.Time{}
		}
	}

	if a.phase() == PhaseConnected && len(a.book.Offline()) > 0 {
		if err := a.reconcileOffline(ctx); err != nil {
			a.log.Warn("collectord: the seats let in offline wait for a master", "error", err)
		}
	}

	now = a.clock.Now()
	if len(a.book.Releasing()) > 0 && !now.Before(s.releaseAt) {
		if err := a.retryReleases(ctx); err != nil {
			s.releaseAt = a.clock.Now().Add(s.releaseBO.Next())
		} else {
			s.releaseBO.Reset()
		}
	}
	return a.nextWake(s)
}

// stepCertificate renews the certificate when it is two thirds through its
// life, and enrolls again if it expired and a join token is at hand.
func (a *Agent) stepCertificate(ctx context.Context, s *schedule) {
	id := a.identity()
	if id == nil {
		return
	}
	now := a.clock.Now()
	if a.certExpired(id) {
		if now.Before(s.certAt) {
			return
		}
		if a.token == nil {
			a.noteError(ErrCertificateExpired)
			s.certAt = now.Add(failover.DefaultBackoffCap)
			return
		}
		a.log.Warn("collectord: certificate expired; enrolling again with the join token")
		if err := a.enroll(ctx); err != nil {
			a.noteError(err)
			s.certAt = a.clock.Now().Add(s.certBO.Next())
			return
		}
		s.certBO.Reset()
		s.helloAt = time.Time{}
		return
	}
	if now.Before(certRenewAt(id)) || now.Before(s.certAt) {
		return
	}
	if err := a.renewCertificate(ctx); err != nil {
		s.certAt = a.clock.Now().Add(s.certBO.Next())
		a.log.Warn("collectord: certificate renewal failed", "retry_in", s.certAt.Sub(a.clock.Now()).Round(time.Millisecond),
			"not_after", id.Cert.Leaf.NotAfter.Format(time.RFC3339), "error", err)
		return
	}
	s.certBO.Reset()
	s.certAt = time.Time{}
}

// nextWake returns the time until the earliest due duty, at least 1ms and at
// most the hello interval.
func (a *Agent) nextWake(s *schedule) time.Duration {
	now := a.clock.Now()
	next := s.helloAt
	consider := func(t time.Time) {
		if t.Before(next) {
			next = t
		}
	}
	if due, ok := a.book.RenewDue(); ok {
		if due.Before(s.renewAfter) {
			due = s.renewAfter
		}
		consider(due)
	}
	if at, ok := a.book.NextSweep(); ok {
		consider(at)
	}
	if id := a.identity(); id != nil {
		at := certRenewAt(id)
		if at.Before(s.certAt) {
			at = s.certAt
		}
		consider(at)
	}
	if len(a.book.Releasing()) > 0 {
		consider(s.releaseAt)
	}
	d := next.Sub(now)
	return min(max(d, time.Millisecond), a.opts.HelloInterval)
}

// maxHelloSkips is how many hellos in a row renewals may stand for: a full
// hello still goes out every tenth interval, to learn the lease TTL and
// check the signing key the masters announce.
const maxHelloSkips = 9

// renewalsSaidHello reports whether the hello due now can be left out: a
// renewal that the master counted as this collector's presence got through
// within the last hello interval, and the agent is connected. It then
// schedules the next hello an interval after that renewal. With thousands
// of collectors, hellos were a quarter of the leader's calls.
func (a *Agent) renewalsSaidHello(now time.Time, s *schedule) bool {
	if s.helloSkips >= maxHelloSkips {
		return false
	}
	a.mu.Lock()
	seen, phase := a.st.seenByRenew, a.st.phase
	a.mu.Unlock()
	if phase != PhaseConnected || seen.IsZero() || now.Sub(seen) >= a.opts.HelloInterval {
		return false
	}
	s.helloAt = seen.Add(a.opts.HelloInterval)
	return true
}

// hello tells a master who this collector is and learns the cluster's view:
// protocol version, masters list, lease TTL.
func (a *Agent) hello(ctx context.Context) error {
	id, tr := a.identity(), a.transport()
	if id == nil || tr == nil {
		return ErrNotReady
	}
	held := a.book.Counts().Held
	err := a.call(ctx, tr, a.cfg.RequestTimeout, func(ctx context.Context, c licmeshv1connect.CollectorServiceClient, addr string) error {
		resp, err := c.Hello(ctx, connect.NewRequest(&licmeshv1.HelloRequest{
			ProtocolVersion: wire.ProtocolVersion,
			Version:         a.opts.Version,
			Held:            uint32(held),
		}))
		if err != nil {
			return err
		}
		m := resp.Msg
		if !wire.Supported(m.GetProtocolVersion()) {
			return versionError(m.GetProtocolVersion())
		}
		if m.GetClusterId() != id.ClusterID {
			return badAnswer("master belongs to cluster %q, this collector to %q", clip(m.GetClusterId(), 64), id.ClusterID)
		}
		var ttl time.Duration
		if ms := m.GetLeaseTtlMs(); ms != 0 {
			if ttl, err = checkTTL(0, ms); err != nil {
				return err
			}
		}
		a.learnMasters(addr, m.GetMasters())
		a.leaderHint.Store(m.GetLeader())
		key := m.GetSigningPublicKey()
		mismatch := len(key) != 0 && subtle.ConstantTimeCompare(key, id.SigningKey) != 1
		if mismatch {
			// Its tokens will not verify: check every one it sends.
			a.tokens.failed(addr)
			a.log.Warn("collectord: master announces a different lease signing key than the one from enrollment; keeping the enrolled key", "master", addr)
		}
		a.mu.Lock()
		a.st.nodeID = clip(m.GetNodeId(), 128)
		a.st.leaseTTL = ttl
		a.st.keyMismatch = mismatch
		a.st.phase = PhaseConnected
		a.st.lastError = ""
		a.mu.Unlock()
		return nil
	})
	if err != nil {
		a.noteError(err) // a refusal too: the master will not serve us
		return err
	}
	a.readyOnce.Do(func() { close(a.ready) })
	return nil
}

// learnMasters takes a masters list from a master and remembers it. A bad
// list is ignored (the rest of the answer may still be good).
func (a *Agent) learnMasters(from string, list []string) {
	if len(list) == 0 {
		return
	}
	changed, err := a.masters.Learn(from, list)
	if err != nil {
		a.log.Warn("collectord: ignoring the masters list a master sent", "master", from, "error", err)
		return
	}
	if changed {
		a.log.Info("collectord: masters list changed", "masters", a.masters.Snapshot())
		a.saveMasters()
	}
}

func (a *Agent) saveMasters() {
	if err := a.store.SaveMasters(a.masters.Learned()); err != nil {
		a.log.Warn("collectord: cannot remember the masters list", "error", err)
	}
}

// renewAll renews every held lease, maxRenewBatch per call. Each batch's
// validity counts from just before it was sent.
func (a *Agent) renewAll(ctx context.Context) error {
	id, tr := a.identity(), a.transport()
	if id == nil || tr == nil {
		return ErrNotReady
	}
	ids := a.book.RenewBatch()
	for len(ids) > 0 {
		n := min(len(ids), a.renewBatchSize)
		if err := a.renewBatch(ctx, tr, ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func (a *Agent) renewBatch(ctx context.Context, tr Transport, ids []lease.ID) error {
	id := a.identity()
	raw := make([]uint64, len(ids))
	tokenEnds := make([]int64, len(ids))
	for i, x := range ids {
		raw[i] = uint64(x)
		if l, ok := a.book.Get(x); ok {
			if doc, err := lease.Decode(l.Token); err == nil {
				tokenEnds[i] = doc.ExpiresAt.UnixMilli()
			}
		}
	}
	return a.call(ctx, tr, a.cfg.RequestTimeout, func(ctx context.Context, c licmeshv1connect.CollectorServiceClient, addr string) error {
		sentAt := a.clock.Now()
		resp, err := a.renewals.renew(ctx, tr, c, addr, sentAt, &licmeshv1.RenewRequest{LeaseIds: raw, TokenExpiresAtMs: tokenEnds, Version: a.opts.Version})
		if err != nil {
			return err
		}
		renewals, err := a.checkRenewals(addr, resp.GetResults(), ids, id)
		if err != nil {
			return err
		}
		out, err := a.book.ApplyRenew(sentAt, renewals)
		if err != nil {
			return badAnswer("%v", err)
		}
		logLeases(a.log, "collectord: lease lost: the masters no longer hold it", out.Lost)
		logLeases(a.log, "collectord: expired lease renewed again", out.Revived)
		a.learnMasters(addr, resp.GetMasters())
		a.leaderHint.Store(resp.GetLeader())
		if resp.GetPresence() {
			a.mu.Lock()
			a.st.seenByRenew = a.clock.Now()
			a.mu.Unlock()
		}
		return nil
	})
}

// logLeases logs an event for a few leases one by one, and for many as a
// count, so that a mass expiry cannot flood the log.
func logLeases(log *slog.Logger, msg string, ls []leasebook.Lease) {
	const each = 10
	if len(ls) > each {
		log.Warn(msg, "leases", len(ls))
		return
	}
	for _, l := range ls {
		log.Warn(msg, "lease_id", l.ID, "pool", l.Pool, "reason", l.Reason)
	}
}
