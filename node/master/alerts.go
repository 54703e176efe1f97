package master

import (
	"context"
	"fmt"
	"slices"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/alert"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// alertLoop is the leader's: every alertInterval it evaluates the alert
// rules against the state at trusted time and commits what changed, the
// alerts that hold and are not firing, and those firing whose condition
// cleared. The FSM fires a key once, so a new leader that evaluates the
// same state adds nothing, and one that took over between two rounds
// misses nothing.
func (s *Server) alertLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.AlertInterval)
	defer t.Stop()
	for {
		if err := s.evaluateAlerts(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("alert evaluation failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// evaluateAlerts runs one round of the alert rules.
func (s *Server) evaluateAlerts(ctx context.Context) error {
	now := s.now()
	if tr := s.fsm.TrustedTime(); tr.After(now) {
		now = tr // a clock set back judges nothing earlier than the cluster has seen
	}
	holds := alert.Evaluate(alert.NewRules(s.fsm.AlertRules()), s.alertFacts(now))
	firing := map[string]bool{}
	for _, r := range s.fsm.Alerts(fsm.AlertFilter{Active: true}) {
		firing[r.Key] = true
	}
	var cmd fsm.FireAlerts
	held := map[string]bool{}
	for _, a := range holds {
		held[a.Key] = true
		if !firing[a.Key] {
			cmd.Fire = append(cmd.Fire, a)
		}
	}
	for k := range firing {
		if !held[k] {
			cmd.Resolve = append(cmd.Resolve, k)
		}
	}
	if len(cmd.Fire) == 0 && len(cmd.Resolve) == 0 {
		return nil
	}
	slices.Sort(cmd.Resolve)
	cmd.Now = now.UnixMilli()
	res, err := s.apply(ctx, fsm.FireAlertsType, cmd)
	if err != nil {
		return err
	}
	if r, ok := res.(fsm.Response); ok {
		for _, k := range r.Alerts {
			s.log.Warn("alert", "key", k)
		}
	}
	return nil
}

// alertFacts gathers what the rules look at.
func (s *Server) alertFacts(now time.Time) alert.Facts {
	f := alert.Facts{Now: now, ClockTampered: s.clockTampered()}
	for _, l := range s.fsm.Licenses() {
		al := alert.License{ID: string(l.ID), Product: l.Product.Name}
		if l.Status.Expires {
			al.ExpiresAt, al.GraceEnd = l.Status.ExpiresAt, l.Status.GraceEnd
		}
		if l.Status.InTrial {
			al.TrialEnd = l.Status.TrialEnd
		}
		f.Licenses = append(f.Licenses, al)
	}
	for _, p := range s.fsm.Pools() {
		if p.Source == fsm.SourceNone {
			continue
		}
		f.Pools = append(f.Pools, alert.Pool{Name: p.Pool.Name, Seats: p.Pool.Seats, Held: p.Held})
	}
	for _, c := range s.fsm.Credits() {
		f.Credits = append(f.Credits, alert.Credit{License: string(c.License), Unit: c.Unit, Remaining: c.Remaining, Low: c.Low, Exhausted: c.Exhausted})
	}
	for _, c := range s.fsm.Collectors() {
		if c.LastSeenAt == 0 {
			continue
		}
		f.Collectors = append(f.Collectors, alert.Collector{ID: c.ID, Hostname: c.Hostname, LastSeen: time.UnixMilli(c.LastSeenAt)})
	}
	if up := s.fsm.Upstream(); up.Activated {
		since := max(up.AckedAt, up.Hub.ActivatedAt)
		check := max(up.Check.At, up.Hub.ActivatedAt)
		f.Upstream = alert.Upstream{Activated: true, Waiting: up.Outbox > 0 || up.Dirty > 0,
			Since: time.UnixMilli(since), LastCheckOK: time.UnixMilli(check)}
	}
	f.Updates = s.updateFacts(now)
	return f
}

func alertToWire(r fsm.AlertRecord) *licmeshv1.Alert {
	return &licmeshv1.Alert{Key: r.Key, Kind: string(r.Kind), Subject: r.Subject, Threshold: r.Threshold, Severity: string(r.Severity),
		Summary: r.Summary, FiredAtMs: r.FiredAt, Episodes: uint32(r.Episodes), AckedBy: r.AckedBy, AckedAtMs: r.AckedAt, ResolvedAtMs: r.ResolvedAt}
}

func ruleToWire(r alert.Rule, isDefault bool) *licmeshv1.AlertRule {
	w := &licmeshv1.AlertRule{Kind: string(r.Kind), Subject: r.Subject, Disabled: r.Disabled, Default: isDefault}
	for _, t := range r.Thresholds {
		w.Thresholds = append(w.Thresholds, int32(t))
	}
	if r.After != 0 {
		w.After = r.After.String()
	}
	return w
}

func ruleFromWire(w *licmeshv1.AlertRule) (alert.Rule, error) {
	if w == nil {
		return alert.Rule{}, fmt.Errorf("%w: the rule is missing", alert.ErrInvalidRule)
	}
	r := alert.Rule{Kind: alert.Kind(w.GetKind()), Subject: w.GetSubject(), Disabled: w.GetDisabled()}
	for _, t := range w.GetThresholds() {
		r.Thresholds = append(r.Thresholds, int(t))
	}
	if w.GetAfter() != "" {
		d, err := alert.ParseDuration(w.GetAfter())
		if err != nil {
			return alert.Rule{}, fmt.Errorf("%w: after: %w", alert.ErrInvalidRule, err)
		}
		r.After = d
	}
	return r, nil
}

// alertRules lists the rules in force: licmesh's defaults where the site
// set none, then the site's own.
func (s *Server) alertRules() []*licmeshv1.AlertRule {
	set := s.fsm.AlertRules()
	own := map[string]bool{}
	for _, r := range set {
		own[string(r.Kind)+"/"+r.Subject] = true
	}
	var out []*licmeshv1.AlertRule
	for _, r := range alert.NewRules(set).All() {
		out = append(out, ruleToWire(r, !own[string(r.Kind)+"/"+r.Subject]))
	}
	return out
}

func (h adminHandler) ListAlerts(ctx context.Context, req *connect.Request[licmeshv1.ListAlertsRequest]) (*connect.Response[licmeshv1.ListAlertsResponse], error) {
	m := req.Msg
	if m.Kind != "" && !alert.Kind(m.Kind).Known() {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: kind %q: want one of %s", ErrBadRequest, clipText(m.Kind), alert.KindNames()))
	}
	p, _ := principalFrom(ctx)
	if m.Unread && p.User == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: %s is a token bound to nobody, which reads no alerts; unread is a person's", ErrBadRequest, p.ID))
	}
	limit := int(m.Limit)
	if m.Unread {
		limit = 0 // the FSM's limit would apply before the unread filter
	}
	rs := h.s.fsm.Alerts(fsm.AlertFilter{Active: m.Active, Unacked: m.Unacked, Kind: alert.Kind(m.Kind), Limit: limit})
	var unread map[string]bool
	if p.User != "" {
		unread = h.s.fsm.Unread(p.User)
	}
	out := &licmeshv1.ListAlertsResponse{}
	for _, r := range rs {
		if m.Unread && !unread[r.Key] {
			continue
		}
		if m.Unread && m.Limit > 0 && len(out.Alerts) == int(m.Limit) {
			break
		}
		w := alertToWire(r)
		w.Unread = unread[r.Key]
		out.Alerts = append(out.Alerts, w)
	}
	return connect.NewResponse(out), nil
}

func (h adminHandler) AckAlert(ctx context.Context, req *connect.Request[licmeshv1.AckAlertRequest]) (*connect.Response[licmeshv1.AckAlertResponse], error) {
	return h.s.ackAlert(ctx, req.Msg.Key, adminCaller(ctx))
}

// ackAlert acknowledges an alert for by and answers it as it is now.
func (s *Server) ackAlert(ctx context.Context, key, by string) (*connect.Response[licmeshv1.AckAlertResponse], error) {
	if key == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: the alert key is missing", ErrBadRequest))
	}
	if _, err := s.apply(ctx, fsm.AckAlertType, fsm.AckAlert{Key: key, By: by, Now: s.now().UnixMilli()}); err != nil {
		return nil, toConnect(err)
	}
	for _, r := range s.fsm.Alerts(fsm.AlertFilter{}) {
		if r.Key == key {
			return connect.NewResponse(&licmeshv1.AckAlertResponse{Alert: alertToWire(r)}), nil
		}
	}
	return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("%w: %q", fsm.ErrUnknownAlert, clipText(key)))
}

func (h adminHandler) ListAlertRules(ctx context.Context, _ *connect.Request[licmeshv1.ListAlertRulesRequest]) (*connect.Response[licmeshv1.ListAlertRulesResponse], error) {
	return connect.NewResponse(&licmeshv1.ListAlertRulesResponse{Rules: h.s.alertRules()}), nil
}

func (h adminHandler) SetAlertRule(ctx context.Context, req *connect.Request[licmeshv1.SetAlertRuleRequest]) (*connect.Response[licmeshv1.SetAlertRuleResponse], error) {
	reset := req.Msg.GetReset_()
	r, err := ruleFromWire(req.Msg.Rule)
	switch {
	case err != nil:
	case reset:
		// A reset names the rule only.
		_, err = alert.Rule{Kind: r.Kind, Subject: r.Subject, Disabled: true}.Normalize()
	default:
		r, err = r.Normalize()
	}
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	cmd := fsm.SetAlertRule{Rule: r, Reset: reset, By: adminCaller(ctx), Now: h.s.now().UnixMilli()}
	if _, err := h.s.apply(ctx, fsm.SetAlertRuleType, cmd); err != nil {
		return nil, toConnect(err)
	}
	h.s.log.Info("alert rule set", "kind", r.Kind, "subject", r.Subject, "reset", reset, "by", cmd.By)
	return connect.NewResponse(&licmeshv1.SetAlertRuleResponse{Rules: h.s.alertRules()}), nil
}

func clipText(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// adminCaller names who made an admin request, as the principal's ID
// ("user:NAME" or "token:ID"), or "admin" for the master's own calls.
func adminCaller(ctx context.Context) string {
	if p, ok := principalFrom(ctx); ok {
		return p.ID
	}
	return "admin"
}
