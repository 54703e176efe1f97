package master

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/release"
	"github.com/licmesh/licmesh/mesh/cluster"
	"github.com/licmesh/licmesh/mesh/selfupdate"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/fsm"
	"github.com/licmesh/licmesh/node/version"
)

// The rollout (promise P5). The leader moves it one recorded step at a
// time; every decision reads the FSM, so a new leader continues where the
// old one stopped. Collectors first, in waves (a canary, then batches),
// each collector installing, restarting and reporting its health; a wave
// with more failures than the plan allows halts the rollout and sends that
// wave's collectors back to their previous release. Only when every
// managed collector runs the target do the masters go, one at a time:
// followers first, the leader last after handing leadership over; each
// reports itself once it runs the target and has caught up with the log,
// and the next waits for it. A downgrade runs the other way round: the
// masters first, then the collectors.

// ErrRestart is returned by Run when the master stopped to restart on a
// new release: the caller re-executes the binary (or exits for its
// supervisor).
var ErrRestart = errors.New("master: restarting on a new release")

// The platform this master runs on, whose meshd build it installs.
const (
	goos   = runtime.GOOS
	goarch = runtime.GOARCH
)

// pendingFile is the marker a master leaves for itself across a restart
// onto a new release.
func (s *Server) pendingFile() string { return filepath.Join(s.cfg.DataDir, "update.pending") }

// requestRestart makes Run stop and return ErrRestart.
func (s *Server) requestRestart() { s.restartOnce.Do(func() { close(s.restartCh) }) }

func newRolloutID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "ro-" + hex.EncodeToString(b)
}

// voters are the Raft voters with their versions, from gossip.
func (s *Server) voters() []cluster.Member {
	var out []cluster.Member
	for _, m := range s.node.Members() {
		if m.Voter {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b cluster.Member) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out
}

// startRollout begins a rollout to version with plan (the site's default
// plan where zero).
func (s *Server) startRollout(ctx context.Context, target, by string, plan fsm.RolloutPlan) (fsm.Rollout, error) {
	u := s.fsm.Updates()
	if u.Rollout.Active() {
		return fsm.Rollout{}, fmt.Errorf("%w: rollout %s to %s is under way", ErrUpdate, u.Rollout.ID, u.Rollout.Version)
	}
	rel, ok := u.Release(target)
	if !ok {
		return fsm.Rollout{}, fmt.Errorf("%w: release %s is not in the verified metadata", ErrUpdate, target)
	}
	if rel.Withdrawn {
		return fsm.Rollout{}, fmt.Errorf("%w: release %s was withdrawn by the vendor", ErrUpdate, target)
	}
	if err := s.coveredByLicenses(rel); err != nil {
		return fsm.Rollout{}, err
	}
	if !s.releaseStored(u, rel) {
		return fsm.Rollout{}, fmt.Errorf("%w: release %s is not downloaded on this master yet", ErrUpdate, target)
	}
	p := u.Settings.Plan
	if plan != (fsm.RolloutPlan{}) {
		p = plan
	}
	p = p.WithDefaults()
	r := fsm.Rollout{ID: newRolloutID(), Version: target, StartedBy: by, Plan: p, Phase: fsm.PhaseCollectors}
	// A rollout to a release older than what the masters run goes down:
	// masters first.
	if release.CompareVersions(target, version.Version) < 0 {
		r.Downgrade, r.Phase = true, fsm.PhaseMasters
	}
	cs := s.fsm.Collectors()
	slices.SortFunc(cs, func(a, b fsm.Collector) int { return strings.Compare(a.ID, b.ID) })
	wave, inWave := 0, 0
	for _, c := range cs {
		unit := fsm.RolloutUnit{ID: c.ID, From: c.Version, State: fsm.UnitPending}
		if c.Version == target {
			unit.State = fsm.UnitSkipped
		} else {
			size := p.BatchSize
			if wave == 0 {
				size = p.Canary
			}
			if inWave == size {
				wave, inWave = wave+1, 0
			}
			unit.Wave = wave
			inWave++
		}
		r.Collectors = append(r.Collectors, unit)
	}
	r.Masters = s.masterOrder(target)
	if len(r.Masters) == 0 {
		return fsm.Rollout{}, fmt.Errorf("%w: no voter is known yet", ErrUpdate)
	}
	if _, err := s.apply(ctx, fsm.RolloutChangeType, fsm.RolloutChange{RolloutID: r.ID, Start: &r, Now: s.now().UnixMilli()}); err != nil {
		return fsm.Rollout{}, err
	}
	s.log.Info("updates: rollout started", "rollout", r.ID, "version", target, "collectors", len(r.Collectors), "downgrade", r.Downgrade)
	return r, nil
}

// masterOrder lists the voters for the masters phase: followers first,
// the leader last.
func (s *Server) masterOrder(target string) []fsm.RolloutUnit {
	var followers, leader []fsm.RolloutUnit
	for _, m := range s.voters() {
		u := fsm.RolloutUnit{ID: string(m.ID), From: m.Meta[metaVersion], State: fsm.UnitPending}
		if u.From == target {
			u.State = fsm.UnitSkipped
		}
		if string(m.ID) == s.cfg.NodeID {
			leader = append(leader, u)
		} else {
			followers = append(followers, u)
		}
	}
	return append(followers, leader...)
}

// updateLoop is the leader's: the scheduled check, auto-download and
// auto-install, and the rollout's steps.
func (s *Server) updateLoop(ctx context.Context) {
	tick := time.NewTicker(s.cfg.RolloutTick)
	defer tick.Stop()
	var nextCheck time.Time
	var lastVerified int64
	for {
		now := s.now()
		u := s.fsm.Updates()
		if now.After(nextCheck) {
			nextCheck = now.Add(time.Duration(u.Settings.CheckEvery()) * time.Millisecond)
			if s.fsm.Upstream().Activated {
				if err := s.checkUpdates(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("updates: check failed", "err", err)
				}
			}
			s.autoUpdate(ctx)
			lastVerified = s.fsm.Updates().VerifiedAt
		} else if v := u.VerifiedAt; v != lastVerified {
			// New metadata came another way (a check by hand on any
			// master, a bundle): act on it as on a scheduled check.
			lastVerified = v
			s.autoUpdate(ctx)
		}
		if r := s.fsm.Updates().Rollout; r.Active() {
			if err := s.rolloutStep(ctx, *r); err != nil && ctx.Err() == nil {
				s.log.Warn("updates: rollout step failed", "rollout", r.ID, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.updateNudge:
			nextCheck = time.Time{}
		}
	}
}

// autoUpdate downloads and installs the newest release as the settings
// allow.
func (s *Server) autoUpdate(ctx context.Context) {
	u := s.fsm.Updates()
	if cur, ok := u.Release(version.Version); ok && cur.Withdrawn && !u.Rollout.Active() {
		s.leaveWithdrawn(ctx, u)
		return
	}
	latest, ok := s.latestRelease(u)
	if !ok || latest.Version == version.Version || release.CompareVersions(latest.Version, version.Version) < 0 || u.Rollout.Active() {
		return
	}
	if r := u.Rollout; r != nil && r.Version == latest.Version && r.Phase == fsm.PhaseHalted {
		return // it failed here once: a person decides
	}
	if s.coveredByLicenses(latest) != nil {
		return
	}
	if !s.releaseStored(u, latest) {
		if u.Settings.ManualDownload {
			return
		}
		if err := s.downloadRelease(ctx, latest.Version); err != nil {
			s.log.Warn("updates: download failed", "version", latest.Version, "err", err)
			return
		}
	}
	if u.Settings.ManualInstall {
		return
	}
	if _, err := s.startRollout(ctx, latest.Version, "auto-install", fsm.RolloutPlan{}); err != nil {
		s.log.Warn("updates: auto-install did not start", "version", latest.Version, "err", err)
	}
}

// leaveWithdrawn takes the site off a release the vendor withdrew, to the
// newest one before it that stands: the vendor's rollback.
func (s *Server) leaveWithdrawn(ctx context.Context, u fsm.UpdateState) {
	var back fsm.KnownRelease
	for _, r := range u.Releases {
		if !r.Withdrawn && release.CompareVersions(r.Version, version.Version) < 0 &&
			(back.Version == "" || release.CompareVersions(r.Version, back.Version) > 0) {
			back = r
		}
	}
	if back.Version == "" {
		s.log.Warn("updates: the running release was withdrawn and no earlier one is known", "version", version.Version)
		return
	}
	if r := u.Rollout; r != nil && r.Version == back.Version && r.Phase == fsm.PhaseHalted {
		return
	}
	if !s.releaseStored(u, back) {
		if err := s.downloadRelease(ctx, back.Version); err != nil {
			s.log.Warn("updates: downloading the release to go back to failed", "version", back.Version, "err", err)
			return
		}
	}
	if _, err := s.startRollout(ctx, back.Version, "vendor withdrawal of "+version.Version, fsm.RolloutPlan{}); err != nil {
		s.log.Warn("updates: going back from a withdrawn release did not start", "version", back.Version, "err", err)
	}
}

// rolloutStep takes the next step of r, if one is due.
func (s *Server) rolloutStep(ctx context.Context, r fsm.Rollout) error {
	now := s.now()
	switch r.Phase {
	case fsm.PhaseCollectors:
		return s.collectorStep(ctx, r, now)
	case fsm.PhaseMasters:
		return s.masterStep(ctx, r, now)
	}
	return nil
}

func (s *Server) change(ctx context.Context, c fsm.RolloutChange) error {
	c.Now = s.now().UnixMilli()
	_, err := s.apply(ctx, fsm.RolloutChangeType, c)
	return err
}

func terminal(state string) bool {
	switch state {
	case fsm.UnitUpdated, fsm.UnitFailed, fsm.UnitExcluded, fsm.UnitSkipped, fsm.UnitRolledBack:
		return true
	}
	return false
}

func (s *Server) collectorStep(ctx context.Context, r fsm.Rollout, now time.Time) error {
	seen := map[string]int64{}
	for _, c := range s.fsm.Collectors() {
		seen[c.ID] = c.LastSeenAt
	}
	offline := func(id string) bool {
		return now.Sub(time.UnixMilli(seen[id])) > time.Duration(r.Plan.OfflineAfterMs)*time.Millisecond
	}
	var changes []fsm.UnitChange
	var wave []fsm.RolloutUnit
	for _, u := range r.Collectors {
		if u.Wave == r.Wave && u.State != fsm.UnitSkipped {
			wave = append(wave, u)
		}
	}
	exclude := r.Plan.OfflinePolicy == "exclude"
	for _, u := range wave {
		// The timeout runs from the order: a collector waited for while
		// offline is ordered when it is back, and has the whole timeout.
		late := now.Sub(time.UnixMilli(u.OrderedAt)) > time.Duration(r.Plan.WaveTimeoutMs)*time.Millisecond
		switch {
		case u.State == fsm.UnitPending && offline(u.ID) && exclude:
			changes = append(changes, fsm.UnitChange{ID: u.ID, State: fsm.UnitExcluded, Detail: "offline when its wave began"})
		case u.State == fsm.UnitPending && offline(u.ID):
			// Waited for: the wave goes on when it is back.
		case u.State == fsm.UnitPending:
			changes = append(changes, fsm.UnitChange{ID: u.ID, State: fsm.UnitOrdered})
		case u.State == fsm.UnitOrdered && offline(u.ID) && exclude:
			changes = append(changes, fsm.UnitChange{ID: u.ID, State: fsm.UnitExcluded, Detail: "went offline during its wave"})
		case u.State == fsm.UnitOrdered && !offline(u.ID) && late:
			changes = append(changes, fsm.UnitChange{ID: u.ID, State: fsm.UnitFailed, Detail: "no report within the wave's timeout"})
		}
	}
	if len(changes) > 0 {
		return s.change(ctx, fsm.RolloutChange{RolloutID: r.ID, Units: changes})
	}
	failed := 0
	for _, u := range wave {
		if !terminal(u.State) {
			return nil // the wave is still going
		}
		if u.State == fsm.UnitFailed {
			failed++
		}
	}
	if failed > r.Plan.MaxFailures {
		return s.halt(ctx, r, fmt.Sprintf("%d collectors of wave %d failed (at most %d allowed)", failed, r.Wave, r.Plan.MaxFailures), wave)
	}
	for _, u := range r.Collectors {
		if u.Wave > r.Wave && u.State == fsm.UnitPending {
			return s.change(ctx, fsm.RolloutChange{RolloutID: r.ID, NextWave: true})
		}
	}
	if r.Downgrade {
		return s.change(ctx, fsm.RolloutChange{RolloutID: r.ID, Phase: fsm.PhaseDone})
	}
	// P5: the masters go only once every managed collector runs the
	// target (excluded ones are no longer managed by this rollout).
	for _, u := range r.Collectors {
		if u.State != fsm.UnitUpdated && u.State != fsm.UnitSkipped && u.State != fsm.UnitExcluded {
			return s.halt(ctx, r, fmt.Sprintf("collector %s is %s: the masters stay on their release", u.ID, u.State), nil)
		}
	}
	return s.change(ctx, fsm.RolloutChange{RolloutID: r.ID, Phase: fsm.PhaseMasters, Masters: s.refreshMasters(r)})
}

// refreshMasters keeps the recorded masters' order, with the leader
// (this master) moved last.
func (s *Server) refreshMasters(r fsm.Rollout) []fsm.RolloutUnit {
	out := slices.Clone(r.Masters)
	i := slices.IndexFunc(out, func(u fsm.RolloutUnit) bool { return u.ID == s.cfg.NodeID })
	if i >= 0 {
		me := out[i]
		out = append(slices.Delete(out, i, i+1), me)
	}
	return out
}

// halt stops r and sends the given units that moved back to where they
// were.
func (s *Server) halt(ctx context.Context, r fsm.Rollout, why string, back []fsm.RolloutUnit) error {
	var changes []fsm.UnitChange
	for _, u := range back {
		if (u.State == fsm.UnitUpdated || u.State == fsm.UnitOrdered || u.State == fsm.UnitFailed) && u.From != "" && u.From != r.Version {
			changes = append(changes, fsm.UnitChange{ID: u.ID, State: fsm.UnitRollback, Detail: u.Detail})
		}
	}
	s.log.Warn("updates: rollout halted", "rollout", r.ID, "reason", why, "rolling_back", len(changes))
	return s.change(ctx, fsm.RolloutChange{RolloutID: r.ID, Units: changes, Phase: fsm.PhaseHalted, Halt: why})
}

func (s *Server) masterStep(ctx context.Context, r fsm.Rollout, now time.Time) error {
	i := slices.IndexFunc(r.Masters, func(u fsm.RolloutUnit) bool { return !terminal(u.State) })
	if i < 0 {
		for _, u := range r.Masters {
			if u.State == fsm.UnitFailed {
				return s.halt(ctx, r, "master "+u.ID+" failed: "+u.Detail, nil)
			}
		}
		if r.Downgrade {
			return s.change(ctx, fsm.RolloutChange{RolloutID: r.ID, Phase: fsm.PhaseCollectors})
		}
		return s.change(ctx, fsm.RolloutChange{RolloutID: r.ID, Phase: fsm.PhaseDone})
	}
	u := r.Masters[i]
	if j := slices.IndexFunc(r.Masters, func(x fsm.RolloutUnit) bool { return x.State == fsm.UnitFailed }); j >= 0 {
		return s.halt(ctx, r, "master "+r.Masters[j].ID+" failed: "+r.Masters[j].Detail, nil)
	}
	switch u.State {
	case fsm.UnitPending:
		if u.ID == s.cfg.NodeID {
			// The leader goes last, and not as leader: hand over first;
			// the next leader orders this master like any other.
			s.log.Info("updates: handing leadership over before updating this master", "rollout", r.ID)
			return s.node.Raft().LeadershipTransfer().Error()
		}
		// Recorded first, then sent without holding up the loop: the
		// master restarts as it answers, and an answer lost with its old
		// process says nothing. What counts is its own report once back
		// (or the plan's master timeout); only a refusal it sends fails it.
		if err := s.change(ctx, fsm.RolloutChange{RolloutID: r.ID, Units: []fsm.UnitChange{{Master: true, ID: u.ID, State: fsm.UnitOrdered}}}); err != nil {
			return err
		}
		go func() {
			err := s.orderMaster(ctx, r, u)
			if err == nil || ctx.Err() != nil {
				return
			}
			if !connect.IsWireError(err) {
				s.log.Warn("updates: no answer from a master told to update; waiting for its report", "master", u.ID, "err", err)
				return
			}
			s.log.Warn("updates: a master refused to update", "master", u.ID, "err", err)
			_ = s.change(ctx, fsm.RolloutChange{RolloutID: r.ID, Units: []fsm.UnitChange{{Master: true, ID: u.ID, State: fsm.UnitFailed, Detail: clipErr(err)}}})
		}()
		return nil
	case fsm.UnitOrdered:
		if now.Sub(time.UnixMilli(u.At)) > time.Duration(r.Plan.MasterTimeoutMs)*time.Millisecond {
			return s.change(ctx, fsm.RolloutChange{RolloutID: r.ID, Units: []fsm.UnitChange{{Master: true, ID: u.ID, State: fsm.UnitFailed,
				Detail: "did not come back on " + r.Version + " in time"}}})
		}
	}
	return nil
}

// orderMaster tells a follower to install the rollout's release.
func (s *Server) orderMaster(ctx context.Context, r fsm.Rollout, u fsm.RolloutUnit) error {
	a, ok := s.masterArtifact(r.Version)
	if !ok {
		return fmt.Errorf("%w: release %s has no meshd build for %s/%s", ErrUpdate, r.Version, goos, goarch)
	}
	addr := s.memberAPI(u.ID)
	if addr == "" {
		return fmt.Errorf("%w: master %s is not reachable", ErrUpdate, u.ID)
	}
	pc := licmeshv1connect.NewPeerServiceClient(s.peers.hc, "https://"+addr)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, err := pc.UpdateSelf(cctx, connect.NewRequest(&licmeshv1.UpdateSelfRequest{RolloutId: r.ID, Version: r.Version, Sha256: a.SHA256, Size: a.Size}))
	return err
}

// masterArtifact is the meshd build of version for this platform.
func (s *Server) masterArtifact(v string) (fsm.ReleaseArtifact, bool) {
	u := s.fsm.Updates()
	rel, ok := u.Release(v)
	if !ok {
		return fsm.ReleaseArtifact{}, false
	}
	for _, a := range rel.Artifacts {
		if a.Component == release.ComponentMeshd && a.OS == goos && a.Arch == goarch {
			return a, true
		}
	}
	return fsm.ReleaseArtifact{}, false
}

// selfArtifact is this master's build of target with digest sha, named as
// the hub serves it: the hub is where it comes from when no master holds
// it.
func (s *Server) selfArtifact(target, sha string, size int64) fsm.ReleaseArtifact {
	if known, ok := s.masterArtifact(target); ok && known.SHA256 == sha {
		return known
	}
	return fsm.ReleaseArtifact{Name: release.TargetName(target, release.ComponentMeshd, goos, goarch),
		Component: release.ComponentMeshd, OS: goos, Arch: goarch, SHA256: sha, Size: size}
}

// UpdateSelf installs a release on this master and restarts it; it
// answers first.
func (h peerHandler) UpdateSelf(ctx context.Context, req *connect.Request[licmeshv1.UpdateSelfRequest]) (*connect.Response[licmeshv1.UpdateSelfResponse], error) {
	s := h.s
	m := req.Msg
	if m.GetVersion() == version.Version {
		// Already there (a restart raced the order): say so.
		go s.reportMaster(context.WithoutCancel(ctx), m.GetRolloutId(), fsm.UnitUpdated, "")
		return connect.NewResponse(&licmeshv1.UpdateSelfResponse{}), nil
	}
	if err := s.installSelf(ctx, m.GetRolloutId(), "install", m.GetVersion(), m.GetSha256(), m.GetSize()); err != nil {
		return nil, toConnect(err)
	}
	// Restart once the answer is out: the request's context ends then.
	go func() {
		<-ctx.Done()
		s.requestRestart()
	}()
	return connect.NewResponse(&licmeshv1.UpdateSelfResponse{}), nil
}

// installSelf stages the artifact as this master's binary and leaves the
// marker the restarted master reads.
func (s *Server) installSelf(ctx context.Context, rollout, action, target, sha string, size int64) error {
	if !s.hasArtifact(sha) {
		if err := s.fetchArtifact(ctx, s.fsm.Updates(), s.selfArtifact(target, sha, size)); err != nil {
			return err
		}
	}
	exe := s.exe
	if exe == "" {
		return fmt.Errorf("%w: this master does not know its own binary's path", ErrUpdate)
	}
	f, err := os.Open(s.artifactPath(sha))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := selfupdate.Stage(ctx, exe, f, size, sha, target); err != nil {
		return fmt.Errorf("%w: %w", ErrUpdate, err)
	}
	now := s.now()
	if err := selfupdate.WritePending(s.pendingFile(), selfupdate.Pending{RolloutID: rollout, Action: action, From: version.Version, To: target,
		StartedAt: now, Deadline: now.Add(s.cfg.UpdateTrialTimeout)}); err != nil {
		return err
	}
	if err := selfupdate.Swap(exe); err != nil {
		_ = selfupdate.ClearPending(s.pendingFile())
		return fmt.Errorf("%w: %w", ErrUpdate, err)
	}
	s.log.Info("updates: installed, restarting", "from", version.Version, "to", target, "rollout", rollout)
	return nil
}

// reportMaster records this master's state in the rollout, retrying
// until the cluster takes it or the rollout is gone.
func (s *Server) reportMaster(ctx context.Context, rollout, state, detail string) {
	for ctx.Err() == nil {
		// The leader's state decides whether the rollout still stands,
		// not this master's: caught up or not, its own may lag.
		err := s.change(ctx, fsm.RolloutChange{RolloutID: rollout, Units: []fsm.UnitChange{{Master: true, ID: s.cfg.NodeID, State: state, Detail: detail}}})
		if err == nil {
			return
		}
		if errors.Is(err, fsm.ErrRolloutState) {
			s.log.Info("updates: the rollout no longer takes this master's report", "rollout", rollout, "state", state, "err", err)
			return
		}
		// Once caught up, this master's own state tells a rollout that is
		// gone too: a leader of a release before the rollout_state reason
		// sends that refusal as an unknown error.
		if s.caughtUp() {
			if r := s.fsm.Updates().Rollout; r == nil || r.ID != rollout {
				s.log.Info("updates: the rollout this master was reporting on is over", "rollout", rollout, "state", state)
				return
			}
		}
		s.log.Debug("updates: report to the leader failed; retrying", "rollout", rollout, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// updateTrial runs at start: a master restarted on a new release reports
// itself updated once it has caught up with the log, or goes back to the
// release before if it cannot within update_trial_timeout.
func (s *Server) updateTrial(ctx context.Context) {
	p, ok, err := selfupdate.ReadPending(s.pendingFile())
	if err != nil {
		s.log.Warn("updates: unreadable update marker; ignoring it", "err", err)
		_ = selfupdate.ClearPending(s.pendingFile())
		return
	}
	if !ok {
		return
	}
	if version.Version != p.To {
		// Back on the old release: the new one did not hold.
		s.log.Warn("updates: back on the previous release", "from", p.To, "running", version.Version, "why", p.Detail)
		s.waitCaughtUp(ctx, time.Time{})
		s.reportMaster(ctx, p.RolloutID, fsm.UnitFailed, "reverted: "+cmp.Or(p.Detail, "the new release did not start"))
		_ = selfupdate.ClearPending(s.pendingFile())
		return
	}
	if s.waitCaughtUp(ctx, p.Deadline) {
		s.log.Info("updates: running the new release and caught up", "version", version.Version, "rollout", p.RolloutID)
		s.reportMaster(ctx, p.RolloutID, fsm.UnitUpdated, "")
		_ = selfupdate.ClearPending(s.pendingFile())
		return
	}
	if ctx.Err() != nil {
		return
	}
	p.Detail = "did not catch up with the cluster within " + s.cfg.UpdateTrialTimeout.String()
	_ = selfupdate.WritePending(s.pendingFile(), p)
	if err := selfupdate.Revert(s.exe); err != nil {
		s.log.Error("updates: going back to the previous release failed", "err", err)
		return
	}
	s.requestRestart()
}

// caughtUp reports whether this master has caught up with the cluster
// since it started: it has applied everything the cluster had committed
// when it first asked the leader (catchupLoop). A master that restarts (an
// update, a crash) replays its log and receives what it missed first; until
// then its state is old. Once true it stays true: the target is fixed when
// first learnt, so a steady stream of writes cannot keep it ahead, and
// Raft's applied index counts the entries the FSM never sees (a new term's
// no-op), which the FSM's own would wait on forever.
//
// The target is the leader's commit index, not this master's: a follower's
// own commit index is capped by the end of its own log, so a master whose
// log ended short of the cluster's would call itself caught up at once,
// serve collectors from old state and, in a rollout, miss the very rollout
// it was ordered in.
func (s *Server) caughtUp() bool {
	if s.caughtUpOnce.Load() {
		return true
	}
	if !s.Ready() {
		return false
	}
	r := s.node.Raft()
	if s.node.IsLeader() {
		// A leader's commit index is the cluster's once it leads.
		if !s.leading.Load() {
			return false
		}
		s.catchupTarget.CompareAndSwap(0, max(r.CommitIndex(), 1))
	}
	if t := s.catchupTarget.Load(); t == 0 || r.AppliedIndex() < t {
		return false
	}
	s.caughtUpOnce.Store(true)
	return true
}

// catchupLoop learns the catch-up target from the leader at start, retrying
// until it has one (or this master leads, and caughtUp sets it).
func (s *Server) catchupLoop(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for s.catchupTarget.Load() == 0 && !s.caughtUpOnce.Load() {
		if idx, err := s.readIndex(ctx); err == nil {
			s.catchupTarget.CompareAndSwap(0, max(idx, 1))
			return
		} else if ctx.Err() == nil {
			s.log.Debug("updates: no read index from the leader yet", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readIndex asks the leader for its commit index. A leader of a release
// before ReadIndex is judged as before: by this master's commit index once
// it has heard from the leader, which is right whenever its log was whole.
func (s *Server) readIndex(ctx context.Context) (uint64, error) {
	idx, _, err := s.readIndexes(ctx)
	return idx, err
}

// readIndexes is readIndex with the leader's state-machine index too: 0
// from a leader of a release before it.
func (s *Server) readIndexes(ctx context.Context) (commit, applied uint64, err error) {
	if s.node.IsLeader() {
		return 0, 0, ErrNotLeader // caughtUp sets a leader's target
	}
	pc, err := s.peers.leader()
	if err != nil {
		return 0, 0, err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := pc.ReadIndex(cctx, connect.NewRequest(&licmeshv1.ReadIndexRequest{}))
	if connect.CodeOf(err) == connect.CodeUnimplemented {
		r := s.node.Raft()
		if c := r.CommitIndex(); c != 0 && r.LastContact().After(s.started) {
			return c, 0, nil
		}
		return 0, 0, ErrNoLeader
	}
	if err != nil {
		return 0, 0, err
	}
	return resp.Msg.GetIndex(), resp.Msg.GetAppliedIndex(), nil
}

// waitCaughtUp waits until caughtUp; false if deadline (when set) passes
// first.
func (s *Server) waitCaughtUp(ctx context.Context, deadline time.Time) bool {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if s.caughtUp() {
			return true
		}
		if !deadline.IsZero() && s.now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// ReportUpdate records how a collector's update order went.
func (h collectorHandler) ReportUpdate(ctx context.Context, req *connect.Request[licmeshv1.ReportUpdateRequest]) (*connect.Response[licmeshv1.ReportUpdateResponse], error) {
	id, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	s := h.s
	m := req.Msg
	if err := lease.ValidateField("version", m.GetVersion(), 64); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	if len(m.GetDetail()) > 2000 {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: detail longer than 2000 bytes", ErrBadRequest))
	}
	r := s.fsm.Updates().Rollout
	if r == nil || r.ID != m.GetRolloutId() {
		return connect.NewResponse(&licmeshv1.ReportUpdateResponse{}), nil // an old rollout's news
	}
	u, ok := r.Collector(id)
	if !ok {
		return connect.NewResponse(&licmeshv1.ReportUpdateResponse{}), nil
	}
	var next string
	switch {
	case u.State == fsm.UnitOrdered && m.GetOk() && m.GetVersion() == r.Version:
		next = fsm.UnitUpdated
	case u.State == fsm.UnitOrdered && !m.GetOk():
		next = fsm.UnitFailed
	case u.State == fsm.UnitRollback && m.GetOk() && m.GetVersion() == u.From:
		next = fsm.UnitRolledBack
	case u.State == fsm.UnitRollback && !m.GetOk():
		next = fsm.UnitFailed
	default:
		return connect.NewResponse(&licmeshv1.ReportUpdateResponse{}), nil // stale or repeated
	}
	s.log.Info("updates: collector reported", "collector", id, "rollout", r.ID, "state", next, "version", m.GetVersion(), "detail", m.GetDetail())
	if err := s.change(ctx, fsm.RolloutChange{RolloutID: r.ID, Units: []fsm.UnitChange{{ID: id, State: next, Detail: m.GetDetail(), Version: m.GetVersion()}}}); err != nil &&
		!errors.Is(err, fsm.ErrRolloutState) {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&licmeshv1.ReportUpdateResponse{}), nil
}

// collectorOrder is a collector's order in wire form, nil for none.
func collectorOrder(o fsm.CollectorOrder) *licmeshv1.UpdateOrder {
	if o.Action == "" {
		return nil
	}
	w := &licmeshv1.UpdateOrder{RolloutId: o.RolloutID, Action: o.Action, Version: o.Version}
	for _, a := range o.Artifacts {
		w.Artifacts = append(w.Artifacts, &licmeshv1.UpdateArtifact{Os: a.OS, Arch: a.Arch, Sha256: a.SHA256, Size: a.Size})
	}
	return w
}
