package master

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
	"github.com/licmesh/licmesh/node/version"
)

func planToWire(p fsm.RolloutPlan) *licmeshv1.RolloutPlan {
	return &licmeshv1.RolloutPlan{Canary: int32(p.Canary), BatchSize: int32(p.BatchSize), MaxFailures: int32(p.MaxFailures),
		WaveTimeoutMs: p.WaveTimeoutMs, OfflineAfterMs: p.OfflineAfterMs, OfflinePolicy: p.OfflinePolicy, MasterTimeoutMs: p.MasterTimeoutMs}
}

func planFromWire(w *licmeshv1.RolloutPlan) fsm.RolloutPlan {
	if w == nil {
		return fsm.RolloutPlan{}
	}
	return fsm.RolloutPlan{Canary: int(w.GetCanary()), BatchSize: int(w.GetBatchSize()), MaxFailures: int(w.GetMaxFailures()),
		WaveTimeoutMs: w.GetWaveTimeoutMs(), OfflineAfterMs: w.GetOfflineAfterMs(), OfflinePolicy: w.GetOfflinePolicy(), MasterTimeoutMs: w.GetMasterTimeoutMs()}
}

func unitsToWire(us []fsm.RolloutUnit) []*licmeshv1.RolloutUnit {
	out := make([]*licmeshv1.RolloutUnit, len(us))
	for i, u := range us {
		out[i] = &licmeshv1.RolloutUnit{Id: u.ID, Wave: int32(u.Wave), From: u.From, State: u.State, AtMs: u.At, Detail: u.Detail, OrderedAtMs: u.OrderedAt}
	}
	return out
}

func rolloutToWire(r *fsm.Rollout) *licmeshv1.Rollout {
	if r == nil {
		return nil
	}
	return &licmeshv1.Rollout{Id: r.ID, Version: r.Version, StartedAtMs: r.StartedAt, StartedBy: r.StartedBy, Phase: r.Phase, Wave: int32(r.Wave),
		HaltReason: r.HaltReason, EndedAtMs: r.EndedAt, Collectors: unitsToWire(r.Collectors), Masters: unitsToWire(r.Masters),
		Plan: planToWire(r.Plan), Downgrade: r.Downgrade}
}

// updateStatus is where updates stand, as this master sees them.
func (s *Server) updateStatus() *licmeshv1.UpdateStatusResponse {
	u := s.fsm.Updates()
	st := u.Settings
	out := &licmeshv1.UpdateStatusResponse{
		Settings: &licmeshv1.UpdateSettings{AutoDownload: !st.ManualDownload, AutoInstall: !st.ManualInstall, CheckEveryMs: st.CheckEvery(),
			Channel: st.ChannelOrDefault(), Plan: planToWire(st.Plan.WithDefaults())},
		CheckedAtMs: u.CheckedAt, CheckError: u.CheckError, Source: u.Source, Rollout: rolloutToWire(u.Rollout),
		Trusted: len(u.Trust.Root) > 0 || s.cfg.ReleaseRootFile != "", Running: version.Version,
	}
	if l, ok := s.latestRelease(u); ok {
		out.Latest = l.Version
	}
	for _, r := range u.Releases {
		w := &licmeshv1.SiteRelease{Version: r.Version, Channel: r.Channel, ReleasedMs: r.Released, Withdrawn: r.Withdrawn, Notes: r.Notes,
			Changelog: r.Changelog, DocUrl: r.DocURL, VideoUrl: r.VideoURL, Downloaded: s.releaseStored(u, r), Covered: s.coveredByLicenses(r) == nil}
		for _, a := range r.Artifacts {
			w.Artifacts = append(w.Artifacts, a.Component+"-"+a.OS+"-"+a.Arch)
		}
		out.Releases = append(out.Releases, w)
	}
	for i := range u.Past {
		out.Past = append(out.Past, rolloutToWire(&u.Past[i]))
	}
	for _, m := range s.node.Members() {
		out.Masters = append(out.Masters, &licmeshv1.NodeVersion{Id: string(m.ID), Version: m.Meta[metaVersion], Leader: m.Leader, State: string(m.State)})
	}
	slices.SortFunc(out.Masters, func(a, b *licmeshv1.NodeVersion) int { return strings.Compare(a.Id, b.Id) })
	for _, c := range s.fsm.Collectors() {
		out.Collectors = append(out.Collectors, &licmeshv1.NodeVersion{Id: c.ID, Version: c.Version, Hostname: c.Hostname})
	}
	slices.SortFunc(out.Collectors, func(a, b *licmeshv1.NodeVersion) int { return strings.Compare(a.Id, b.Id) })
	return out
}

func (h adminHandler) UpdateStatus(ctx context.Context, _ *connect.Request[licmeshv1.UpdateStatusRequest]) (*connect.Response[licmeshv1.UpdateStatusResponse], error) {
	return connect.NewResponse(h.s.updateStatus()), nil
}

func (h adminHandler) CheckUpdates(ctx context.Context, _ *connect.Request[licmeshv1.CheckUpdatesRequest]) (*connect.Response[licmeshv1.CheckUpdatesResponse], error) {
	if err := h.s.checkUpdates(ctx); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&licmeshv1.CheckUpdatesResponse{Status: h.s.updateStatus()}), nil
}

func (h adminHandler) DownloadUpdate(ctx context.Context, req *connect.Request[licmeshv1.DownloadUpdateRequest]) (*connect.Response[licmeshv1.DownloadUpdateResponse], error) {
	s := h.s
	v := req.Msg.GetVersion()
	if v == "" {
		l, ok := s.latestRelease(s.fsm.Updates())
		if !ok {
			return nil, toConnect(fmt.Errorf("%w: no release is known: check first, or upload a bundle", ErrUpdate))
		}
		v = l.Version
	}
	if err := s.downloadRelease(ctx, v); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&licmeshv1.DownloadUpdateResponse{Status: s.updateStatus()}), nil
}

func (h adminHandler) InstallUpdate(ctx context.Context, req *connect.Request[licmeshv1.InstallUpdateRequest]) (*connect.Response[licmeshv1.InstallUpdateResponse], error) {
	s := h.s
	v := req.Msg.GetVersion()
	u := s.fsm.Updates()
	if v == "" {
		l, ok := s.latestRelease(u)
		if !ok {
			return nil, toConnect(fmt.Errorf("%w: no release is known: check first, or upload a bundle", ErrUpdate))
		}
		v = l.Version
	}
	plan := planFromWire(req.Msg.GetPlan())
	if rel, ok := u.Release(v); ok && !s.releaseStored(u, rel) {
		if err := s.downloadRelease(ctx, v); err != nil {
			return nil, toConnect(err)
		}
	}
	p, _ := principalFrom(ctx)
	if _, err := s.startRollout(ctx, v, cmp.Or(p.User, p.ID), plan); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&licmeshv1.InstallUpdateResponse{Status: s.updateStatus()}), nil
}

// RollbackUpdate stops the rollout under way and sends its current wave
// back; with none under way, it rolls the site back to the release the
// last rollout started from (masters first).
func (h adminHandler) RollbackUpdate(ctx context.Context, req *connect.Request[licmeshv1.RollbackUpdateRequest]) (*connect.Response[licmeshv1.RollbackUpdateResponse], error) {
	s := h.s
	u := s.fsm.Updates()
	p, _ := principalFrom(ctx)
	by := cmp.Or(p.User, p.ID)
	reason := cmp.Or(strings.TrimSpace(req.Msg.GetReason()), "rolled back by "+by)
	if r := u.Rollout; r.Active() {
		var wave []fsm.RolloutUnit
		for _, c := range r.Collectors {
			if c.Wave <= r.Wave {
				wave = append(wave, c)
			}
		}
		if err := s.halt(ctx, *r, reason, wave); err != nil {
			return nil, toConnect(err)
		}
		return connect.NewResponse(&licmeshv1.RollbackUpdateResponse{Status: s.updateStatus()}), nil
	}
	prev := previousVersion(u)
	if prev == "" {
		return nil, toConnect(fmt.Errorf("%w: there is no earlier release to go back to", ErrUpdate))
	}
	if rel, ok := u.Release(prev); ok && !s.releaseStored(u, rel) {
		if err := s.downloadRelease(ctx, prev); err != nil {
			return nil, toConnect(err)
		}
	}
	if _, err := s.startRollout(ctx, prev, by, fsm.RolloutPlan{}); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&licmeshv1.RollbackUpdateResponse{Status: s.updateStatus()}), nil
}

// previousVersion is the release the last finished rollout started from.
func previousVersion(u fsm.UpdateState) string {
	rs := []*fsm.Rollout{u.Rollout}
	for i := range u.Past {
		rs = append(rs, &u.Past[i])
	}
	for _, r := range rs {
		if r == nil || r.Phase != fsm.PhaseDone {
			continue
		}
		for _, m := range r.Masters {
			if m.From != "" && m.From != r.Version {
				return m.From
			}
		}
	}
	return ""
}

func (h adminHandler) SetUpdateSettings(ctx context.Context, req *connect.Request[licmeshv1.SetUpdateSettingsRequest]) (*connect.Response[licmeshv1.SetUpdateSettingsResponse], error) {
	w := req.Msg.GetSettings()
	if w == nil {
		return nil, toConnect(fmt.Errorf("%w: settings are missing", ErrBadRequest))
	}
	st := fsm.UpdateSettings{ManualDownload: !w.GetAutoDownload(), ManualInstall: !w.GetAutoInstall(), CheckEveryMs: w.GetCheckEveryMs(),
		Channel: w.GetChannel(), Plan: planFromWire(w.GetPlan())}
	if st.Channel == "stable" {
		st.Channel = ""
	}
	if _, err := h.s.apply(ctx, fsm.SetUpdateSettingsType, fsm.SetUpdateSettings{Settings: st, Now: h.s.now().UnixMilli()}); err != nil {
		return nil, toConnect(err)
	}
	select {
	case h.s.updateNudge <- struct{}{}:
	default:
	}
	return connect.NewResponse(&licmeshv1.SetUpdateSettingsResponse{Status: h.s.updateStatus()}), nil
}

// uploadBundle takes an offline bundle (the request body): verified by
// the same TUF rules as the hub's metadata, against trusted time.
func (s *Server) uploadBundle(w http.ResponseWriter, r *http.Request) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(30 * time.Minute))
	p, _ := principalFrom(r.Context())
	a := s.newAuditReq(p, uploadBundleAction, remoteAddrFrom(r.Context()), "api")
	var cmd fsm.UpdateChecked
	var n int
	err := s.audit(r.Context(), a, func(ctx context.Context) error {
		var err error
		cmd, n, err = s.importBundle(ctx, r.Body)
		return err
	})
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, ErrBadRequest) || errors.Is(err, ErrUpdate) {
			status = http.StatusBadRequest
		}
		msg := err.Error()
		if status == http.StatusInternalServerError {
			s.log.Error("updates: bundle upload failed", "err", err)
			msg = "internal error"
		}
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "verified %d releases, stored %d artifacts\n", len(cmd.Releases), n)
	_, _ = io.Copy(io.Discard, r.Body)
}
