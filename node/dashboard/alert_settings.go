package dashboard

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/licmesh/licmesh/licensing/alert"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// PermSelf is what every signed-in person may do to their own account,
// their alert mail included.
const PermSelf = "self"

// maxDeliveriesShown bounds the delivery log on the Alerts page.
const maxDeliveriesShown = 20

// alertSettings are the Alerts page's forms: the signed-in person's alert
// mail, and, for those who may, the channels with their delivery log.
type alertSettings struct {
	// Prefs is shown to a person (nil for a token bound to nobody).
	Prefs *prefsForm
	// CanChannels shows the channels; CanEdit their forms.
	CanChannels, CanEdit bool
	Channels             []channelRow
	Deliveries           []deliveryRow
	Problem              string
}

type prefsForm struct {
	Email, MinSeverity, QuietFrom, QuietTo, Zone string
	QuietCritical                                bool
	Kinds                                        []kindBox
}

type kindBox struct {
	Name    string
	Checked bool
}

type channelRow struct {
	ID, Kind, Target, Kinds, MinSeverity string
	Disabled, Audit                      bool
	Updated                              timeView
	UpdatedBy                            string
}

type deliveryRow struct {
	ID, Channel, Summary, State, LastError string
	Attempts                               uint32
	Test                                   bool
	Last                                   timeView
}

func (h *Handler) alertSettings(ctx context.Context) alertSettings {
	f := h.cfg.Alerts
	p, _ := PrincipalFrom(ctx)
	var out alertSettings
	if p.User != "" && f.Prefs != nil && f.SetPrefs != nil && p.Can(PermSelf) {
		pr, err := f.Prefs(ctx)
		if err != nil {
			out.Problem = err.Error()
		}
		form := &prefsForm{Email: pr.GetEmail(), MinSeverity: pr.GetMinSeverity(), QuietFrom: pr.GetQuietFrom(),
			QuietTo: pr.GetQuietTo(), Zone: pr.GetZone(), QuietCritical: pr.GetQuietCritical()}
		for _, k := range alert.Kinds {
			form.Kinds = append(form.Kinds, kindBox{Name: string(k), Checked: slices.Contains(pr.GetKinds(), string(k))})
		}
		out.Prefs = form
	}
	if f.Channels == nil {
		return out
	}
	out.CanChannels = true
	out.CanEdit = p.Can(PermLicenses) && f.SetChannel != nil
	chs, err := f.Channels(ctx)
	if err != nil {
		out.Problem = err.Error()
	}
	for _, c := range chs {
		target := c.GetUrl()
		if c.GetKind() == "email" {
			target = strings.Join(c.GetEmails(), ", ")
		}
		out.Channels = append(out.Channels, channelRow{ID: c.GetId(), Kind: c.GetKind(), Target: target,
			Kinds: strings.Join(c.GetKinds(), ", "), MinSeverity: c.GetMinSeverity(), Disabled: c.GetDisabled(),
			Updated: h.timeAt(c.GetUpdatedAtMs()), UpdatedBy: c.GetUpdatedBy()})
	}
	if f.Deliveries != nil {
		ds, err := f.Deliveries(ctx, &licmeshv1.ListAlertDeliveriesRequest{Limit: maxDeliveriesShown})
		if err != nil {
			out.Problem = err.Error()
		}
		for _, d := range ds {
			out.Deliveries = append(out.Deliveries, deliveryRow{ID: d.GetId(), Channel: d.GetChannel(), Summary: d.GetSummary(),
				State: d.GetState(), LastError: d.GetLastError(), Attempts: d.GetAttempts(), Test: d.GetTest(), Last: h.timeAt(d.GetLastAtMs())})
		}
	}
	return out
}

// alertForm runs one of the Alerts page's forms: act does the work with
// the form read; its error is shown with status 422.
func (h *Handler) alertForm(what string, act func(ctx context.Context, r *http.Request) error) http.HandlerFunc {
	return h.formTo(what, "/alerts", act)
}

// formTo runs a form whose work act does, then sends the browser back to
// page; act's error is shown with status 422.
func (h *Handler) formTo(what, page string, act func(ctx context.Context, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.postForm(w, r, what)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), sourceTimeout)
		defer cancel()
		if err := act(ctx, r); err != nil {
			h.cfg.Logger.Info("dashboard: "+what+" refused", "principal", s.Principal.ID, "err", err)
			http.Error(w, "dashboard: "+err.Error(), http.StatusUnprocessableEntity)
			return
		}
		h.cfg.Logger.Info("dashboard: "+what, "principal", s.Principal.ID)
		http.Redirect(w, r, h.cfg.Prefix+page, http.StatusSeeOther)
	}
}

func (h *Handler) markRead(ctx context.Context, r *http.Request) error {
	keys := r.PostForm["key"]
	return h.cfg.Alerts.Read(ctx, keys, len(keys) == 0)
}

func (h *Handler) setPrefs(ctx context.Context, r *http.Request) error {
	f := r.PostForm
	p := &licmeshv1.AlertPrefs{Email: strings.TrimSpace(f.Get("email")), MinSeverity: f.Get("min_severity"),
		QuietFrom: f.Get("quiet_from"), QuietTo: f.Get("quiet_to"), Zone: strings.TrimSpace(f.Get("zone")),
		QuietCritical: f.Get("quiet_critical") != ""}
	p.Kinds = append(p.Kinds, f["kinds"]...)
	return h.cfg.Alerts.SetPrefs(ctx, p)
}

func splitComma(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func (h *Handler) setChannel(ctx context.Context, r *http.Request) error {
	f := r.PostForm
	c := &licmeshv1.AlertChannel{Id: strings.TrimSpace(f.Get("id")), Kind: f.Get("kind"), Kinds: splitComma(f.Get("kinds")),
		MinSeverity: f.Get("min_severity"), Disabled: f.Get("disabled") != "", Audit: f.Get("audit") != ""}
	if c.Kind == "email" {
		c.Emails = splitComma(f.Get("emails"))
	} else {
		c.Url = strings.TrimSpace(f.Get("url"))
	}
	return h.cfg.Alerts.SetChannel(ctx, &licmeshv1.SetAlertChannelRequest{Channel: c, Secret: f.Get("secret")})
}

func (h *Handler) removeChannel(ctx context.Context, r *http.Request) error {
	return h.cfg.Alerts.RemoveChannel(ctx, r.PostForm.Get("id"))
}

func (h *Handler) testChannel(ctx context.Context, r *http.Request) error {
	return h.cfg.Alerts.TestChannel(ctx, r.PostForm.Get("id"))
}
