package master

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/mesh/diskfile"
	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/licmesh/licmesh/node/fsm"
)

// watchLeadership starts the leader's duties when this master becomes leader
// and stops them when it steps down. It listens to raft's observations and
// also re-checks on a ticker, so a missed observation costs at most a tick.
func (s *Server) watchLeadership(ctx context.Context) error {
	obsCh := make(chan raft.Observation, 16)
	obs := raft.NewObserver(obsCh, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r := s.node.Raft()
	r.RegisterObserver(obs)
	defer r.DeregisterObserver(obs)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.node.IsLeader() {
			s.startLeading(ctx)
		} else {
			s.stopLeading()
		}
		select {
		case <-ctx.Done():
			s.stopLeading()
			return nil
		case <-obsCh:
		case <-tick.C:
		}
	}
}

func (s *Server) startLeading(ctx context.Context) {
	s.leaderMu.Lock()
	defer s.leaderMu.Unlock()
	if s.leaderCancel != nil {
		return
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	s.leaderCancel, s.leaderDone = cancel, done
	go func() {
		defer close(done)
		s.lead(lctx)
	}()
}

func (s *Server) stopLeading() {
	s.leaderMu.Lock()
	cancel, done := s.leaderCancel, s.leaderDone
	s.leaderCancel, s.leaderDone = nil, nil
	s.leaderMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// lead runs the leader's duties until ctx ends.
func (s *Server) lead(ctx context.Context) {
	// The barrier makes the FSM hold everything committed by earlier terms,
	// so the reset below covers every lease that exists.
	for ctx.Err() == nil {
		if err := s.node.Raft().Barrier(5 * time.Second).Error(); err == nil {
			break
		} else if !s.node.IsLeader() {
			return
		}
	}
	if ctx.Err() != nil {
		return
	}
	if _, ok := s.fsm.Cluster(); !ok {
		if err := s.bootstrapIdentity(ctx); err != nil {
			s.log.Error("bootstrap of the cluster identity failed", "err", err)
			return
		}
	}
	s.syncSiteZone(ctx)
	// The upstream loop ends with leadership, before lead returns, so a
	// master that leads again never runs two.
	var upstream sync.WaitGroup
	upstream.Go(func() { s.upstreamLoop(ctx) })
	upstream.Go(func() { s.alertLoop(ctx) })
	upstream.Go(func() { s.deliverLoop(ctx) })
	upstream.Go(func() { s.updateLoop(ctx) })
	defer upstream.Wait()
	// A new leader can't know when collectors last renewed with the old one:
	// every lease gets a full TTL from now (extended, never shortened).
	// A renewal the old leader answered was confirmed by a quorum before
	// this term began (renewConfirmed), so a TTL from now covers it; the
	// election timeout on top is slack.
	ids := s.fsm.LeaseIDs()
	if err := s.table.ResetAll(ids, s.cfg.LeaseTTL+s.cfg.ElectionTimeout); err != nil {
		s.log.Error("resetting lease deadlines failed", "err", err)
	}
	for _, l := range s.fsm.Leases(fsm.LeaseFilter{Borrowed: true}) {
		s.holdBorrowed(l.ID, l.Borrowed)
	}
	s.leading.Store(true)
	defer s.leading.Store(false)
	s.log.Info("leading", "leases", len(ids))
	s.expireLoop(ctx)
}

// bootstrapIdentity commits the cluster's identity once: the CA certificate
// (derived from the cluster secret), a fresh lease-signing key and the first
// admin token, which is shown once on stdout and written to the data dir.
func (s *Server) bootstrapIdentity(ctx context.Context) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	tok, err := pki.NewAdminToken()
	if err != nil {
		return err
	}
	keyPEM, err := s.id.ca.KeyPEM()
	if err != nil {
		return err
	}
	cmd := fsm.Bootstrap{
		ClusterID:      s.id.clusterID,
		CACertPEM:      s.id.ca.CertPEM(),
		CAKeyPEM:       keyPEM,
		SigningKey:     priv.Seed(),
		AdminTokenID:   string(tok.ID),
		AdminTokenHash: fsm.Hash(pki.HashSecret(tok.Secret)),
		Now:            s.now().UnixMilli(),
	}
	if _, err := s.apply(ctx, fsm.BootstrapType, cmd); err != nil {
		return err
	}
	path := filepath.Join(s.cfg.DataDir, "admin-token")
	// Whole or not at all: a tool waiting for the file (the test harness,
	// a provisioning script) must never read it empty.
	if err := diskfile.Replace(path, []byte(tok.String()+"\n"), 0o600); err != nil {
		s.log.Warn("could not keep the admin token file", "path", path, "err", err)
	}
	fmt.Fprintf(s.cfg.Stdout, "\nlicmesh: cluster %s bootstrapped.\nAdmin token (shown once, also in %s):\n\n    %s\n\n",
		s.id.clusterID, path, tok.String())
	s.log.Info("cluster identity bootstrapped", "cluster_id", s.id.clusterID, "admin_token_file", path)
	return nil
}

// expireLoop commits the expiry of leases whose deadline has passed. Expiry
// goes through Raft like any other change of seats.
func (s *Server) expireLoop(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	inflight := map[lease.ID]time.Time{}
	var lastTick time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := s.now()
		if now.Sub(lastTick) >= 10*time.Second {
			lastTick = now
			s.advanceTrustedTime(ctx, now)
		}
		for id, at := range inflight {
			if now.Sub(at) > 5*time.Second {
				delete(inflight, id) // retry an expiry whose commit was lost
			}
		}
		var ops []fsm.LeaseOp
		for _, id := range s.table.Expired(4096) {
			if _, busy := inflight[id]; busy {
				continue
			}
			inflight[id] = now
			ops = append(ops, fsm.LeaseOp{Kind: fsm.Expire, LeaseID: id})
		}
		if len(ops) == 0 {
			continue
		}
		res, err := s.applyLeaseOps(ctx, ops)
		if err != nil {
			s.log.Warn("committing lease expiries failed", "leases", len(ops), "err", err)
			continue
		}
		for i, r := range res {
			delete(inflight, ops[i].LeaseID)
			if errors.Is(r.Err, fsm.ErrBorrowed) && r.Lease != nil {
				s.holdBorrowed(ops[i].LeaseID, r.Lease.Borrowed)
				continue
			}
			if r.Err == nil {
				s.m.expiries.Inc()
			}
			s.table.Remove(ops[i].LeaseID)
		}
	}
}

// trustedTick is how far trusted time may lag the leader's clock on an
// idle cluster before the leader commits a tick. Commands carry trusted
// time forward; with none, a month would not close, nor a license's
// standing change, until the next one. One small entry a minute at most.
const trustedTick = time.Minute

// advanceTrustedTime commits an empty presence flush when nothing has
// moved trusted time for trustedTick. A leader whose clock is behind the
// mark (set back) commits nothing: it cannot move time forward anyway.
func (s *Server) advanceTrustedTime(ctx context.Context, now time.Time) {
	if now.Sub(s.fsm.TrustedTime()) < trustedTick {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := s.apply(ctx, fsm.CollectorSeenType, fsm.CollectorSeen{Now: now.UnixMilli()}); err != nil {
		s.log.Debug("trusted time tick failed", "err", err)
	}
}

// tableObserver keeps the deadline table in step with the FSM on every
// master, so a new leader already knows every lease it has to reset.
type tableObserver struct{ s *Server }

func (o tableObserver) LeaseGranted(l fsm.Lease) {
	_, _ = o.s.table.Grant(l.ID, time.Duration(l.TTLms)*time.Millisecond, time.Duration(l.GraceMs)*time.Millisecond)
	if l.Borrowed != 0 {
		o.s.holdBorrowed(l.ID, l.Borrowed)
	}
}

// holdBorrowed keeps a borrowed lease in the deadline table until its end,
// read on this master's clock. The table runs on the monotonic clock and
// the end is trusted time: the gap between them is taken now. Should the
// clock be wrong, the FSM still refuses to expire the lease before its end
// in trusted time (fsm.ErrBorrowed), and the expiry loop holds it again.
func (s *Server) holdBorrowed(id lease.ID, until int64) {
	now := s.now()
	s.table.Hold(id, now.Add(time.UnixMilli(until).Sub(now)))
}

func (o tableObserver) LeaseRemoved(id lease.ID) { o.s.table.Remove(id) }
