package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// sourceTimeout bounds each page's calls to the Source, so a stuck master
// shows a banner instead of a hung tab.
const sourceTimeout = 5 * time.Second

// contentSecurityPolicy allows only this origin's script and style files:
// htmx is configured through a meta tag and the bars are inline SVG with
// presentation attributes, so nothing inline needs allowing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; " +
	"object-src 'none'; frame-ancestors 'none'"

// Handler serves the dashboard. It is safe for concurrent use.
type Handler struct {
	cfg    Config
	keys   keys
	mux    *http.ServeMux
	pages  pageSet
	assets map[string]string
}

// New returns a Handler for cfg. Zero optional fields take their
// DefaultConfig values; an invalid cfg is an error naming the field.
func New(cfg Config) (*Handler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	static, assets, err := staticHandler(cfg.Prefix)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		cfg:    cfg,
		keys:   deriveKeys(cfg.SessionKey),
		mux:    http.NewServeMux(),
		pages:  pages,
		assets: assets,
	}
	p := cfg.Prefix
	h.mux.Handle("GET "+p+"/static/", static)
	h.mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p+"/", http.StatusSeeOther)
	})
	h.mux.HandleFunc("GET "+p+"/login", h.loginForm)
	h.mux.HandleFunc("POST "+p+"/login", h.login)
	h.mux.HandleFunc("POST "+p+"/logout", h.logout)
	for _, v := range h.views() {
		h.mux.Handle("GET "+p+v.path, h.authed(v, false))
		h.mux.Handle("GET "+p+"/fragments"+v.fragment, h.authed(v, true))
	}
	h.mux.Handle("GET "+p+"/metrics.xlsx", h.download(monthGrid))
	if cfg.Allocation.Request != nil {
		h.mux.Handle("POST "+p+"/purchases", h.permitted(PermLicenses, h.formTo("purchase requested", "/allocation", h.requestPurchase)))
	}
	if cfg.Allocation.SetDepartment != nil {
		h.mux.Handle("POST "+p+"/departments", h.permitted(PermLicenses, h.formTo("department set", "/allocation", h.setDepartment)))
	}
	if cfg.Allocation.Reserve != nil {
		h.mux.Handle("POST "+p+"/departments/reserve", h.permitted(PermLicenses, h.formTo("reservation set", "/allocation", h.reserve)))
	}
	if cfg.Allocation.Decide != nil {
		h.mux.Handle("POST "+p+"/purchases/decide", h.permitted(PermUsers, h.formTo("purchase decided", "/allocation", h.decidePurchase)))
	}
	if cfg.Utilization != nil {
		h.mux.Handle("GET "+p+"/reports.xlsx", h.download(reportsGrid))
		h.mux.Handle("GET "+p+"/reports.csv", h.download(reportsGrid, true))
	}
	if cfg.Audit.List != nil {
		h.mux.Handle("GET "+p+"/audit.csv", h.auditExport(false))
		h.mux.Handle("GET "+p+"/audit.json", h.auditExport(true))
	}
	h.mux.Handle("GET "+p+"/metrics/history.xlsx", h.download(historyGrid))
	if cfg.AddLicense != nil {
		h.mux.Handle("POST "+p+"/licenses", h.permitted(PermLicenses, h.addLicense))
	}
	if cfg.Hub.canActivate() {
		h.mux.Handle("POST "+p+"/hub/companies", h.permitted(PermLicenses, h.hubCompanies))
		h.mux.Handle("POST "+p+"/hub/activate", h.permitted(PermLicenses, h.hubActivate))
	}
	if cfg.Hub.Trial != nil {
		h.mux.Handle("POST "+p+"/hub/trial", h.permitted(PermLicenses, h.hubTrial))
	}
	if cfg.Hub.CheckNow != nil {
		h.mux.Handle("POST "+p+"/hub/check", h.permitted(PermLicenses, h.hubCheck))
	}
	h.updateRoutes()
	if cfg.Alerts.Ack != nil {
		h.mux.Handle("POST "+p+"/alerts/ack", h.permitted(PermAck, h.ackAlert))
	}
	if cfg.Alerts.Read != nil {
		h.mux.Handle("POST "+p+"/alerts/read", h.permitted(PermSelf, h.alertForm("alerts marked read", h.markRead)))
	}
	if cfg.Alerts.SetPrefs != nil {
		h.mux.Handle("POST "+p+"/alerts/prefs", h.permitted(PermSelf, h.alertForm("alert preferences set", h.setPrefs)))
	}
	if cfg.Alerts.SetChannel != nil {
		h.mux.Handle("POST "+p+"/alerts/channels", h.permitted(PermLicenses, h.alertForm("alert channel set", h.setChannel)))
	}
	if cfg.Alerts.RemoveChannel != nil {
		h.mux.Handle("POST "+p+"/alerts/channels/remove", h.permitted(PermLicenses, h.alertForm("alert channel removed", h.removeChannel)))
	}
	if cfg.Alerts.TestChannel != nil {
		h.mux.Handle("POST "+p+"/alerts/channels/test", h.permitted(PermLicenses, h.alertForm("alert channel tested", h.testChannel)))
	}
	h.mux.HandleFunc(p+"/", h.notFound)
	return h, nil
}

// ServeHTTP serves the dashboard's paths under Config.Prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

// The permissions the dashboard's forms need (Principal.Perms).
const (
	PermLicenses = "licenses"
	PermAck      = "ack"
)

// permitted lets a form's POST through to next only from a session whose
// principal holds perm, with the principal in the request's context. A
// browser with no session goes to the sign-in form, as next would send it.
func (h *Handler) permitted(perm string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.readSession(r)
		if h.unavailable(w, err) {
			return
		}
		if err != nil {
			h.endSession(w)
			http.Redirect(w, r, h.cfg.Prefix+"/login", http.StatusSeeOther)
			return
		}
		if !s.Principal.Can(perm) {
			h.cfg.Logger.Info("dashboard: refused by role", "principal", s.Principal.ID, "role", s.Principal.Role, "path", r.URL.Path)
			http.Error(w, fmt.Sprintf("dashboard: refused: %s (role %s) may not do this; it needs permission %s",
				s.Principal.ID, s.Principal.Role, perm), http.StatusForbidden)
			return
		}
		next(w, r.WithContext(WithPrincipal(r.Context(), s.Principal)))
	})
}

// unavailable answers 503, keeping the session cookie, when err says the
// session cannot be judged here yet, and reports whether it did.
func (h *Handler) unavailable(w http.ResponseWriter, err error) bool {
	if !errors.Is(err, ErrSessionUnavailable) {
		return false
	}
	w.Header().Set("Retry-After", "2")
	http.Error(w, "dashboard: this master is catching up with the cluster; try again in a moment", http.StatusServiceUnavailable)
	return true
}

// view is one page and its self-refreshing fragment: both render the same
// template set, the page as "layout" and the fragment as "live".
type view struct {
	name     string // template set, see parsePages
	nav      string // which nav link is current
	path     string // page path under the prefix
	fragment string // fragment path under prefix+"/fragments"
	load     func(ctx context.Context, h *Handler, r *http.Request) (title string, data any, status int, err error)
}

func (h *Handler) views() []view {
	vs := []view{
		{name: "cluster", nav: "cluster", path: "/{$}", fragment: "/cluster", load: loadCluster},
		{name: "collectors", nav: "collectors", path: "/collectors", fragment: "/collectors", load: loadCollectors},
		{name: "pools", nav: "pools", path: "/pools", fragment: "/pools", load: loadPools},
		{name: "pool", nav: "pools", path: "/pools/{name}", fragment: "/pools/{name}", load: loadPool},
		{name: "licenses", nav: "licenses", path: "/licenses", fragment: "/licenses", load: loadLicenses},
		{name: "metrics", nav: "metrics", path: "/metrics", fragment: "/metrics", load: loadMonthMetrics},
		{name: "history", nav: "metrics", path: "/metrics/history", fragment: "/metrics/history", load: loadHistoryMetrics},
	}
	if h.cfg.Hub.enabled() {
		vs = append(vs, view{name: "hub", nav: "hub", path: "/hub", fragment: "/hub", load: loadHub})
	}
	if h.cfg.Alerts.List != nil {
		vs = append(vs, view{name: "alerts", nav: "alerts", path: "/alerts", fragment: "/alerts", load: loadAlerts})
	}
	if h.cfg.Allocation.Departments != nil {
		vs = append(vs, view{name: "allocation", nav: "allocation", path: "/allocation", fragment: "/allocation", load: loadAllocation})
	}
	if h.cfg.Utilization != nil {
		vs = append(vs, view{name: "reports", nav: "reports", path: "/reports", fragment: "/reports", load: loadReports})
	}
	if h.cfg.Compliance != nil {
		vs = append(vs, view{name: "compliance", nav: "compliance", path: "/compliance", fragment: "/compliance", load: loadCompliance})
	}
	if h.cfg.Updates.Status != nil {
		vs = append(vs, view{name: "updates", nav: "updates", path: "/updates", fragment: "/updates", load: loadUpdates})
	}
	if h.cfg.Audit.List != nil {
		vs = append(vs, view{name: "audit", nav: "audit", path: "/audit", fragment: "/audit", load: loadAudit})
	}
	return vs
}

// pageData is what every template gets.
type pageData struct {
	Prefix   string
	Title    string
	Nav      string
	Assets   map[string]string
	SignedIn bool
	HubNav   bool // show the Vendor hub page's nav link
	// AlertsNav shows the Alerts nav link; AlertCount is the alerts that
	// hold and no one acknowledged, its badge.
	AlertsNav  bool
	AlertCount int
	// AlertUnread says AlertCount counts the person's unread alerts, not
	// the unacknowledged ones.
	AlertUnread bool
	// AuditNav shows the Audit log nav link; ComplianceNav the
	// Compliance one.
	AuditNav      bool
	ComplianceNav bool
	ReportsNav    bool
	AllocationNav bool
	UpdatesNav    bool
	Principal     Principal
	CSRF          string
	Error         string
	// Alerts are the license warnings shown above every signed-in page.
	Alerts []string
	Data   any
}

// authed serves v to signed-in browsers and sends everyone else to the
// sign-in form: a page by redirect, an htmx fragment by HX-Redirect (a plain
// redirect would swap the sign-in form into the table).
func (h *Handler) authed(v view, fragment bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.signedIn(w, r, fragment)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(WithPrincipal(r.Context(), s.Principal), sourceTimeout)
		defer cancel()
		title, data, status, err := v.load(ctx, h, r)
		d := h.data(v.nav, title, s)
		d.Data = data
		if err != nil {
			h.cfg.Logger.Warn("dashboard: source failed", "page", v.name, "path", r.URL.Path, "err", err)
			d.Error = err.Error()
		}
		name := "live"
		if !fragment {
			name = "layout"
			d.Alerts = h.licenseAlerts(ctx)
			d.AlertCount, d.AlertUnread = h.alertCount(ctx)
		}
		h.render(w, v.name, name, status, d)
	})
}

// signedIn returns the browser's session, or sends it to the sign-in form
// and reports false.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request, fragment bool) (session, bool) {
	s, err := h.readSession(r)
	if err == nil {
		return s, true
	}
	if h.unavailable(w, err) {
		return session{}, false
	}
	if _, cerr := r.Cookie(sessionCookie); cerr == nil {
		h.endSession(w) // drop a stale or forged cookie
	}
	if fragment {
		w.Header().Set("HX-Redirect", h.cfg.Prefix+"/login")
		http.Error(w, "sign in again", http.StatusUnauthorized)
		return session{}, false
	}
	http.Redirect(w, r, h.cfg.Prefix+"/login", http.StatusSeeOther)
	return session{}, false
}

func (h *Handler) data(nav, title string, s session) pageData {
	d := pageData{
		Prefix: h.cfg.Prefix,
		Title:  title,
		Nav:    nav,
		Assets: h.assets,
	}
	if s.Nonce != "" {
		d.SignedIn = true
		d.HubNav = h.cfg.Hub.enabled()
		d.AlertsNav = h.cfg.Alerts.List != nil
		d.AuditNav = h.cfg.Audit.List != nil && s.Principal.Can(PermAudit)
		d.ComplianceNav = h.cfg.Compliance != nil
		d.ReportsNav = h.cfg.Utilization != nil
		d.AllocationNav = h.cfg.Allocation.Departments != nil
		d.UpdatesNav = h.cfg.Updates.Status != nil
		d.Principal = s.Principal
		d.CSRF = h.keys.csrfToken("session", s.Nonce)
	}
	return d
}

// render executes one template into a buffer first, so a template error
// becomes a clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, set, name string, status int, d pageData) {
	var buf bytes.Buffer
	if err := h.pages.execute(&buf, set, name, d); err != nil {
		h.cfg.Logger.Error("dashboard: render failed", "template", set+"/"+name, "err", err)
		http.Error(w, "dashboard: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	d := h.data("", "Not found", session{})
	if s, err := h.readSession(r); err == nil {
		d = h.data("", "Not found", s)
		ctx, cancel := context.WithTimeout(WithPrincipal(r.Context(), s.Principal), sourceTimeout)
		defer cancel()
		d.Alerts = h.licenseAlerts(ctx)
	}
	d.Error = fmt.Sprintf("There is no page at %s.", r.URL.Path)
	h.render(w, "notfound", "layout", http.StatusNotFound, d)
}
