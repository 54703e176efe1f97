package dashboard

import (
	"context"
	"net/http"
	"strings"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// maxAlertsShown bounds the alerts the page lists.
const maxAlertsShown = 500

// alertRow is one alert on the Alerts page.
type alertRow struct {
	Key, Kind, Severity, Summary string
	Fired, Resolved              timeView
	Active                       bool
	AckedBy                      string
	Acked                        timeView
	Episodes                     uint32
	Unread                       bool
}

type alertsView struct {
	Active, Past []alertRow
	CanAck       bool
	Truncated    bool
	// CanRead says the signed-in principal is a person, with read marks;
	// Unread counts theirs.
	CanRead bool
	Unread  int
	// Settings are the page's forms, outside its live part.
	Settings alertSettings
}

func loadAlerts(ctx context.Context, h *Handler, _ *http.Request) (string, any, int, error) {
	as, err := h.cfg.Alerts.List(ctx, &licmeshv1.ListAlertsRequest{Limit: maxAlertsShown})
	p, _ := PrincipalFrom(ctx)
	v := alertsView{CanAck: h.cfg.Alerts.Ack != nil && can(ctx, PermAck), Truncated: len(as) >= maxAlertsShown,
		CanRead: h.cfg.Alerts.Read != nil && p.User != ""}
	v.Settings = h.alertSettings(ctx)
	if err != nil {
		return "Alerts", v, http.StatusServiceUnavailable, err
	}
	for _, a := range as {
		row := alertRow{Key: a.GetKey(), Kind: a.GetKind(), Severity: a.GetSeverity(), Summary: a.GetSummary(),
			Fired: h.timeAt(a.GetFiredAtMs()), Active: a.GetResolvedAtMs() == 0, AckedBy: a.GetAckedBy(), Episodes: a.GetEpisodes(),
			Unread: v.CanRead && a.GetUnread()}
		if row.Unread {
			v.Unread++
		}
		if a.GetAckedAtMs() != 0 {
			row.Acked = h.timeAt(a.GetAckedAtMs())
		}
		if !row.Active {
			row.Resolved = h.timeAt(a.GetResolvedAtMs())
			v.Past = append(v.Past, row)
			continue
		}
		v.Active = append(v.Active, row)
	}
	return "Alerts", v, http.StatusOK, nil
}

// alertCount is the nav badge: for a person, the alerts that hold and
// they have not read; for a token, those that hold and no one
// acknowledged. A failure shows no badge rather than failing the page.
func (h *Handler) alertCount(ctx context.Context) (int, bool) {
	if h.cfg.Alerts.List == nil {
		return 0, false
	}
	req := &licmeshv1.ListAlertsRequest{Active: true, Unacked: true, Limit: maxAlertsShown}
	p, _ := PrincipalFrom(ctx)
	personal := p.User != "" && h.cfg.Alerts.Read != nil
	if personal {
		req = &licmeshv1.ListAlertsRequest{Active: true, Unread: true, Limit: maxAlertsShown}
	}
	as, err := h.cfg.Alerts.List(ctx, req)
	if err != nil {
		return 0, personal
	}
	return len(as), personal
}

// ackAlert acknowledges the alert the form names, for the signed-in
// principal, and goes back to the Alerts page.
func (h *Handler) ackAlert(w http.ResponseWriter, r *http.Request) {
	s, ok := h.postForm(w, r, "alert")
	if !ok {
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("key"))
	if key == "" {
		http.Error(w, "dashboard: the form names no alert", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), sourceTimeout)
	defer cancel()
	if err := h.cfg.Alerts.Ack(ctx, key, s.Principal.ID); err != nil {
		h.cfg.Logger.Info("dashboard: alert not acknowledged", "principal", s.Principal.ID, "key", key, "err", err)
		http.Error(w, "dashboard: "+err.Error(), http.StatusUnprocessableEntity)
		return
	}
	h.cfg.Logger.Info("dashboard: alert acknowledged", "principal", s.Principal.ID, "key", key)
	http.Redirect(w, r, h.cfg.Prefix+"/alerts", http.StatusSeeOther)
}
