package dashboard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// maxLicenseFormBytes bounds the posted license form; an armoured license
// is a few KiB.
const maxLicenseFormBytes = 256 << 10

// soonDays is how close to its expiry a license is flagged, the first of
// seed 001's expiry alerts.
const soonDays = 30

// The license statuses of licmeshv1.License.Status.
const (
	statusActive      = "active"
	statusInGrace     = "in_grace"
	statusExpired     = "expired"
	statusNotYetValid = "not_yet_valid"
)

// licensesView is the licenses page: the live table and the paste form,
// which sits outside the live block so polling never wipes a half-pasted
// license.
type licensesView struct {
	Rows     []licenseRow
	Tampered bool
	Form     licenseForm
}

// licenseForm is the paste box's state.
type licenseForm struct {
	Enabled bool
	Text    string // kept after a refusal, so the operator can fix it
	Notice  string // the confirmation after an add
	Problem string // the master's refusal, verbatim
}

type licenseRow struct {
	ID       string
	Customer string
	Product  string
	Type     string
	Status   string // for people: "in grace"
	Class    string // "expired", "soon", "pending" or ""
	Expires  bool
	DaysLeft int32
	ExpireAt timeView
	Added    timeView
	Pools    []licensePool
	Clients  int
	// ClientsCapped says a pool had more leases than LeaseLimit, so Clients
	// is a lower bound.
	ClientsCapped bool
}

type licensePool struct {
	Name  string
	Link  string
	Held  uint32
	Seats uint32
	Bar   seatBar
}

func loadLicenses(ctx context.Context, h *Handler, _ *http.Request) (string, any, int, error) {
	v := licensesView{Form: licenseForm{Enabled: h.cfg.AddLicense != nil && can(ctx, PermLicenses)}}
	resp, err := h.cfg.Source.Licenses(ctx)
	if err != nil {
		return "Licenses", v, http.StatusServiceUnavailable, fmt.Errorf("could not load the licenses: %w", err)
	}
	v.Tampered = resp.GetTampered()
	counter := clientCounter{h: h, seen: map[string]poolClients{}}
	for _, l := range resp.GetLicenses() {
		row := licenseRow{
			ID:       l.GetId(),
			Customer: l.GetCustomer(),
			Product:  l.GetProduct(),
			Type:     l.GetType(),
			Status:   strings.ReplaceAll(l.GetStatus(), "_", " "),
			Class:    licenseClass(l),
			Expires:  l.GetExpiresAtMs() > 0,
			DaysLeft: l.GetDaysLeft(),
			ExpireAt: h.timeAt(l.GetExpiresAtMs()),
			Added:    h.timeAt(l.GetAddedAtMs()),
		}
		collectors := map[string]bool{}
		for _, p := range l.GetPools() {
			row.Pools = append(row.Pools, licensePool{
				Name:  p.GetName(),
				Link:  h.poolRow(p).Link,
				Held:  p.GetHeld(),
				Seats: p.GetSeats(),
				Bar:   newSeatBar(p.GetHeld(), p.GetSeats()),
			})
			pc, err := counter.pool(ctx, p.GetName())
			if err != nil {
				return "Licenses", v, http.StatusServiceUnavailable, fmt.Errorf("could not count the clients of license %q: %w", l.GetId(), err)
			}
			for id := range pc.collectors {
				collectors[id] = true
			}
			row.ClientsCapped = row.ClientsCapped || pc.capped
		}
		row.Clients = len(collectors)
		v.Rows = append(v.Rows, row)
	}
	slices.SortFunc(v.Rows, func(a, b licenseRow) int { return cmp.Compare(a.ID, b.ID) })
	return "Licenses", v, http.StatusOK, nil
}

// clientCounter reads each pool's leases once per page, since licenses may
// share a pool.
type clientCounter struct {
	h    *Handler
	seen map[string]poolClients
}

type poolClients struct {
	collectors map[string]bool
	capped     bool
}

func (c clientCounter) pool(ctx context.Context, name string) (poolClients, error) {
	if pc, ok := c.seen[name]; ok {
		return pc, nil
	}
	ls, err := c.h.cfg.Source.Leases(ctx, name, c.h.cfg.LeaseLimit)
	if err != nil {
		return poolClients{}, err
	}
	pc := poolClients{collectors: map[string]bool{}, capped: len(ls) >= c.h.cfg.LeaseLimit}
	for _, l := range ls {
		if id := l.GetCollectorId(); id != "" {
			pc.collectors[id] = true
		}
	}
	c.seen[name] = pc
	return pc, nil
}

// licenseClass marks a license that needs attention: red once expired, amber
// in its grace period or within soonDays of expiry.
func licenseClass(l *licmeshv1.License) string {
	switch l.GetStatus() {
	case statusExpired:
		return "expired"
	case statusInGrace:
		return "soon"
	case statusNotYetValid:
		return "pending"
	case statusActive:
		if l.GetExpiresAtMs() > 0 && l.GetDaysLeft() <= soonDays {
			return "soon"
		}
	}
	return ""
}

// licenseAlerts are the warnings shown above every signed-in page (seed 001:
// notify users of expired licenses at each login). A failing Source only
// loses the alerts; the page itself still renders.
func (h *Handler) licenseAlerts(ctx context.Context) []string {
	resp, err := h.cfg.Source.Licenses(ctx)
	if err != nil {
		h.cfg.Logger.Warn("dashboard: license alerts", "err", err)
		return nil
	}
	var out []string
	if resp.GetTampered() {
		out = append(out, "This master's clock is more than 24 h behind the cluster's trusted time.")
	}
	ls := slices.Clone(resp.GetLicenses())
	slices.SortFunc(ls, func(a, b *licmeshv1.License) int { return cmp.Compare(a.GetId(), b.GetId()) })
	for _, l := range ls {
		name := fmt.Sprintf("License %s (%s)", l.GetId(), l.GetProduct())
		switch {
		case l.GetStatus() == statusExpired:
			out = append(out, name+" expired.")
		case l.GetStatus() == statusInGrace:
			out = append(out, name+" expired and is in its grace period.")
		case l.GetStatus() == statusActive && l.GetExpiresAtMs() > 0 && l.GetDaysLeft() <= soonDays:
			out = append(out, fmt.Sprintf("%s expires in %s.", name, plural(int(l.GetDaysLeft()), "day")))
		}
		// Seed 001: an "on usage" license alerts when its credits run
		// low, and stops when they are gone.
		if u := l.GetCreditsUnit(); u != "" && l.GetStatus() != statusExpired {
			switch {
			case l.GetCreditsRemaining() == 0:
				out = append(out, fmt.Sprintf("%s has used all its %s credits: further %s usage is refused.", name, u, u))
			case l.GetCreditsLow():
				out = append(out, fmt.Sprintf("%s is low on %s credits: %d of %d left.", name, u, l.GetCreditsRemaining(), l.GetCreditsBought()))
			}
		}
	}
	return out
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// addLicense takes a license pasted into the licenses page's form and hands
// it to Config.AddLicense. A refusal is shown with the master's own words
// and the pasted text kept, with status 422.
func (h *Handler) addLicense(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLicenseFormBytes)
	s, err := h.readSession(r)
	if err != nil {
		h.endSession(w)
		http.Redirect(w, r, h.cfg.Prefix+"/login", http.StatusSeeOther)
		return
	}
	if err := r.ParseForm(); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			http.Error(w, fmt.Sprintf("dashboard: the license form is larger than %d KiB", maxLicenseFormBytes>>10), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "dashboard: the license form could not be read", http.StatusBadRequest)
		return
	}
	if !h.keys.checkCSRF("session", s.Nonce, r.PostForm.Get("csrf")) {
		http.Error(w, "dashboard: license refused: the form's CSRF token is missing or wrong; reload the page and try again", http.StatusForbidden)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), sourceTimeout)
	defer cancel()
	text := r.PostForm.Get("license")
	form := licenseForm{Enabled: true}
	status := http.StatusOK
	if strings.TrimSpace(text) == "" {
		form.Problem, status = "Paste a license to add it.", http.StatusUnprocessableEntity
	} else if l, err := h.cfg.AddLicense(ctx, text); err != nil {
		h.cfg.Logger.Info("dashboard: license refused", "principal", s.Principal.ID, "err", err)
		form.Problem, form.Text, status = err.Error(), text, http.StatusUnprocessableEntity
	} else {
		h.cfg.Logger.Info("dashboard: license added", "principal", s.Principal.ID, "license_id", l.GetId())
		form.Notice = fmt.Sprintf("Added license %s (%s).", l.GetId(), l.GetProduct())
	}
	title, data, lstatus, lerr := loadLicenses(ctx, h, r)
	v := data.(licensesView)
	v.Form = form
	d := h.data("licenses", title, s)
	d.Data = v
	d.Alerts = h.licenseAlerts(ctx)
	if lerr != nil {
		h.cfg.Logger.Warn("dashboard: source failed", "page", "licenses", "path", r.URL.Path, "err", lerr)
		d.Error = lerr.Error()
		if status == http.StatusOK {
			status = lstatus
		}
	}
	h.render(w, "licenses", "layout", status, d)
}
