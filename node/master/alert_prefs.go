package master

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/alert"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// A person's own alerts: their alert mail, kinds and quiet hours
// (fsm/alert_prefs.go), and which alerts they have read.

// prefsOwner is whose preferences a call is about: the caller's own, or,
// for an admin, anyone's.
func prefsOwner(ctx context.Context, user string) (string, error) {
	p, _ := principalFrom(ctx)
	if user == "" {
		user = p.User
	}
	switch {
	case user == "":
		return "", connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("%w: %s is a token bound to nobody; alert preferences are a person's: name one", ErrBadRequest, p.ID))
	case user != p.User && !p.Can(PermUsers):
		return "", connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: %s may set only its own alert preferences", ErrForbidden, p.ID))
	}
	return user, nil
}

func prefsToWire(p *fsm.AlertPrefs) *licmeshv1.AlertPrefs {
	if p == nil {
		return &licmeshv1.AlertPrefs{}
	}
	out := &licmeshv1.AlertPrefs{Email: p.Email, MinSeverity: string(p.MinSeverity), QuietFrom: p.QuietFrom, QuietTo: p.QuietTo,
		Zone: p.Zone, QuietCritical: p.QuietCritical}
	for _, k := range p.Kinds {
		out.Kinds = append(out.Kinds, string(k))
	}
	return out
}

func prefsFromWire(w *licmeshv1.AlertPrefs) fsm.AlertPrefs {
	p := fsm.AlertPrefs{Email: w.GetEmail(), MinSeverity: alert.Severity(w.GetMinSeverity()), QuietFrom: w.GetQuietFrom(),
		QuietTo: w.GetQuietTo(), Zone: w.GetZone(), QuietCritical: w.GetQuietCritical()}
	for _, k := range w.GetKinds() {
		p.Kinds = append(p.Kinds, alert.Kind(k))
	}
	return p
}

func (h adminHandler) GetAlertPrefs(ctx context.Context, req *connect.Request[licmeshv1.GetAlertPrefsRequest]) (*connect.Response[licmeshv1.GetAlertPrefsResponse], error) {
	user, err := prefsOwner(ctx, req.Msg.User)
	if err != nil {
		return nil, err
	}
	u, ok := h.s.fsm.User(user)
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("%w: %s", fsm.ErrUnknownUser, user))
	}
	return connect.NewResponse(&licmeshv1.GetAlertPrefsResponse{Prefs: prefsToWire(u.Alerts)}), nil
}

func (h adminHandler) SetAlertPrefs(ctx context.Context, req *connect.Request[licmeshv1.SetAlertPrefsRequest]) (*connect.Response[licmeshv1.SetAlertPrefsResponse], error) {
	user, err := prefsOwner(ctx, req.Msg.User)
	if err != nil {
		return nil, err
	}
	cmd := fsm.SetAlertPrefs{User: user, Prefs: prefsFromWire(req.Msg.Prefs), By: adminCaller(ctx), Now: h.s.now().UnixMilli()}
	if _, err := h.s.apply(ctx, fsm.SetAlertPrefsType, cmd); err != nil {
		return nil, toConnect(err)
	}
	u, _ := h.s.fsm.User(user)
	return connect.NewResponse(&licmeshv1.SetAlertPrefsResponse{Prefs: prefsToWire(u.Alerts)}), nil
}

func (h adminHandler) MarkAlertsRead(ctx context.Context, req *connect.Request[licmeshv1.MarkAlertsReadRequest]) (*connect.Response[licmeshv1.MarkAlertsReadResponse], error) {
	p, _ := principalFrom(ctx)
	if p.User == "" {
		return nil, connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("%w: %s is a token bound to nobody, which reads no alerts", ErrBadRequest, p.ID))
	}
	if len(req.Msg.Keys) == 0 && !req.Msg.All {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: name the alerts read, or all", ErrBadRequest))
	}
	if len(req.Msg.Keys) > 0 && req.Msg.All {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: alerts named and all at once", ErrBadRequest))
	}
	if _, err := h.s.apply(ctx, fsm.MarkAlertsReadType, fsm.MarkAlertsRead{User: p.User, Keys: req.Msg.Keys, Now: h.s.now().UnixMilli()}); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&licmeshv1.MarkAlertsReadResponse{Unread: uint32(len(h.s.fsm.Unread(p.User)))}), nil
}
