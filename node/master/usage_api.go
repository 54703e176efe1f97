package master

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/mesh/usagewire"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// ReportUsage commits a collector's spooled usage records and answers how
// far its spool is committed. The records go to Raft as one UsageBatch
// under the caller's certificate identity; the FSM's per-collector
// high-water makes a retry or replay harmless. The answer is read after the
// commit, on this master (which waits, briefly, to have applied it), so an
// acknowledgement never covers a record that is not committed; at worst a
// lagging master acknowledges less, and the collector sends some records
// again.
func (h collectorHandler) ReportUsage(ctx context.Context, req *connect.Request[licmeshv1.ReportUsageRequest]) (*connect.Response[licmeshv1.ReportUsageResponse], error) {
	id, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	s, m := h.s, req.Msg
	batch, err := usageBatchFromWire(id, m, s.now().UnixMilli())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	// A report with nothing new to say about the spool needs no commit:
	// the collector is asking how far it stands.
	if epoch, _ := s.fsm.UsageHighWater(id); len(batch.Records) > 0 || m.SpoolEpoch > epoch {
		if _, err := s.apply(ctx, fsm.UsageBatchType, batch); err != nil {
			return nil, toConnect(err)
		}
	}
	epoch, seq := s.fsm.UsageHighWater(id)
	return connect.NewResponse(&licmeshv1.ReportUsageResponse{AckedSeq: seq, SpoolEpoch: epoch}), nil
}

// usageBatchFromWire turns a report into the FSM's command, refusing what
// the FSM would refuse with an error that names the record.
func usageBatchFromWire(collector string, m *licmeshv1.ReportUsageRequest, now int64) (fsm.UsageBatch, error) {
	b := fsm.UsageBatch{Now: now, Collector: collector, Installation: usage.InstallationID(m.Installation), Epoch: m.SpoolEpoch}
	if n := len(m.Records); n > fsm.MaxUsageRecords {
		return b, fmt.Errorf("%w: %d usage records in one report, at most %d allowed", ErrBadRequest, n, fsm.MaxUsageRecords)
	}
	if err := b.Installation.Validate(); err != nil {
		return b, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	b.Records = make([]fsm.UsageRecord, 0, len(m.Records))
	for i, r := range m.Records {
		sm, err := usageSampleFromWire(r.GetSample())
		if err != nil {
			return b, fmt.Errorf("%w: usage record %d (seq %d): %w", ErrBadRequest, i, r.GetSeq(), err)
		}
		b.Records = append(b.Records, fsm.UsageRecord{Seq: r.GetSeq(), Sample: sm})
	}
	// Everything else (sequence order, times, counts, IDs) is the FSM's
	// validation, which Encode runs before anything reaches Raft.
	return b, nil
}

func usageSampleFromWire(w *licmeshv1.UsageSample) (fsm.UsageSample, error) {
	if w == nil {
		return fsm.UsageSample{}, errors.New("no sample")
	}
	s := fsm.UsageSample{At: w.AtMs, Source: w.Source}
	if len(w.Scalars) > 0 {
		s.Scalars = w.Scalars
	}
	if len(w.Users) > fsm.MaxUsageUsers || len(w.Logons) > fsm.MaxUsageLogons {
		return s, fmt.Errorf("%d users and %d logons, at most %d of each allowed", len(w.Users), len(w.Logons), fsm.MaxUsageUsers)
	}
	for i, u := range w.Users {
		role, err := usage.ParseRole(u.Role)
		if err != nil {
			return s, fmt.Errorf("user %d: %w", i, err)
		}
		s.Users = append(s.Users, fsm.UsageUser{ID: usage.UserID(u.UserId), Role: role, Enabled: u.Enabled, Locked: u.Locked, InTrash: u.InTrash})
	}
	for i, l := range w.Logons {
		role, err := usage.ParseRole(l.Role)
		if err != nil {
			return s, fmt.Errorf("logon %d: %w", i, err)
		}
		s.Logons = append(s.Logons, fsm.UsageLogon{ID: usage.UserID(l.UserId), Role: role, Locked: l.Locked, Start: l.StartMs, End: l.EndMs})
	}
	return s, nil
}

// UsageOverview lists the months with usage and each collector's
// reporting, from this master's state.
func (h adminHandler) UsageOverview(context.Context, *connect.Request[licmeshv1.UsageOverviewRequest]) (*connect.Response[licmeshv1.UsageOverviewResponse], error) {
	ov := h.s.fsm.UsageOverview()
	out := &licmeshv1.UsageOverviewResponse{TimeZone: ov.Zone}
	for _, k := range ov.Months {
		out.Months = append(out.Months, k.String())
	}
	for _, c := range ov.Collectors {
		out.Installations = append(out.Installations, &licmeshv1.UsageInstallation{
			Installation: string(c.Installation), CollectorId: c.Collector, SpoolEpoch: c.Epoch,
			AckedSeq: c.Seq, LastReportMs: c.LastReportAt, Samples: c.Samples,
		})
	}
	return connect.NewResponse(out), nil
}

// UsageHistory returns one installation's months, newest first.
func (h adminHandler) UsageHistory(_ context.Context, req *connect.Request[licmeshv1.UsageHistoryRequest]) (*connect.Response[licmeshv1.UsageHistoryResponse], error) {
	inst, err := installationArg(req.Msg.Installation)
	if err != nil {
		return nil, err
	}
	reports, ok := h.s.fsm.UsageHistory(inst)
	if !ok {
		return nil, noUsage(inst)
	}
	out := &licmeshv1.UsageHistoryResponse{TimeZone: h.s.fsm.SiteZone()}
	for _, r := range reports {
		out.Reports = append(out.Reports, usagewire.ReportToWire(r))
	}
	return connect.NewResponse(out), nil
}

// UsageMonth returns one month of every installation that has it.
func (h adminHandler) UsageMonth(_ context.Context, req *connect.Request[licmeshv1.UsageMonthRequest]) (*connect.Response[licmeshv1.UsageMonthResponse], error) {
	k, err := usagewire.ParseMonth(req.Msg.Month)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: %w", ErrBadRequest, err))
	}
	out := &licmeshv1.UsageMonthResponse{TimeZone: h.s.fsm.SiteZone()}
	for _, r := range h.s.fsm.UsageMonth(k) {
		out.Reports = append(out.Reports, usagewire.ReportToWire(r))
	}
	return connect.NewResponse(out), nil
}

// UsageDays returns one installation's daily aggregates, oldest first: of
// one month, or of every day kept.
func (h adminHandler) UsageDays(_ context.Context, req *connect.Request[licmeshv1.UsageDaysRequest]) (*connect.Response[licmeshv1.UsageDaysResponse], error) {
	inst, err := installationArg(req.Msg.Installation)
	if err != nil {
		return nil, err
	}
	var k usage.MonthKey
	if req.Msg.Month != "" {
		if k, err = usagewire.ParseMonth(req.Msg.Month); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: %w", ErrBadRequest, err))
		}
	}
	days, ok := h.s.fsm.UsageDays(inst, k)
	if !ok {
		return nil, noUsage(inst)
	}
	out := &licmeshv1.UsageDaysResponse{}
	for _, d := range days {
		wd := &licmeshv1.UsageDay{Day: d.Day.String(), Samples: d.Samples}
		for _, sc := range d.Scalars {
			wd.Scalars = append(wd.Scalars, &licmeshv1.UsageScalarStats{Name: sc.Name, Min: sc.Min, Max: sc.Max, Sum: sc.Sum, Last: sc.Last})
		}
		out.Days = append(out.Days, wd)
	}
	return connect.NewResponse(out), nil
}

func installationArg(s string) (usage.InstallationID, error) {
	inst := usage.InstallationID(s)
	if err := inst.Validate(); err != nil {
		return "", connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: %w", ErrBadRequest, err))
	}
	return inst, nil
}

func noUsage(inst usage.InstallationID) error {
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("%w: %q", ErrNoUsage, inst))
}

// syncSiteZone makes the configured time_zone the cluster's site zone, which
// only works while no usage is recorded: months already cut stay in the
// zone they were cut in, and a leader configured otherwise says so once.
func (s *Server) syncSiteZone(ctx context.Context) {
	want, have := s.cfg.TimeZone, s.fsm.SiteZone()
	if want == have {
		return
	}
	var err error
	if s.fsm.UsageRecorded() {
		err = fsm.ErrZoneLocked
	} else {
		_, err = s.apply(ctx, fsm.SetSiteZoneType, fsm.SetSiteZone{Zone: want, Now: s.now().UnixMilli()})
	}
	switch {
	case errors.Is(err, fsm.ErrZoneLocked):
		s.log.Warn("time_zone differs from the zone usage is already recorded in; keeping the recorded zone",
			"time_zone", want, "site_zone", have)
	case err != nil:
		s.log.Warn("setting the site time zone failed", "time_zone", want, "err", err)
	default:
		s.log.Info("site time zone set", "time_zone", want, "was", have)
	}
}
