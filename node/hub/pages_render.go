package hub

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/node/hub/store"
)

// What every page shares: its data, the top bar, notices, rendering, and
// turning the API's refusals into pages.

// problem is what was wrong with a form: which form, which field, and the
// message (which names the field too).
type problem struct {
	Form    string
	Field   string
	Message string
}

// navLink is one entry of the top bar.
type navLink struct {
	Key, Label, Href string
}

// caps are what the signed-in role may do, from the allowed table, for
// templates to decide which buttons to draw. The server refuses anyway.
type caps struct {
	Read, Manage, Sell, Admin, Portal bool
}

// pageData is what every template gets.
type pageData struct {
	Prefix string
	Title  string
	Nav    string
	Assets map[string]string
	// Signed-in only.
	Me    *principal
	Can   caps
	Links []navLink
	CSRF  string
	// Notices: Flash (done), Alert (needs attention), Problem (refused).
	Flash   string
	Alert   string
	Problem *problem
	Data    any
}

// Bad reports whether the page's problem is about field of form, for the
// templates to mark that input.
func (d pageData) Bad(form, field string) bool {
	return d.Problem != nil && d.Problem.Form == form &&
		(d.Problem.Field == field || strings.HasPrefix(d.Problem.Field, field+"."))
}

// ProblemFor returns the page's problem if it belongs to form.
func (d pageData) ProblemFor(form string) string {
	if d.Problem != nil && d.Problem.Form == form {
		return d.Problem.Message
	}
	return ""
}

// data makes the common part of a page for p (nil: signed out), and takes
// the flash notice left by the previous post.
func (pg *pages) data(w http.ResponseWriter, r *http.Request, p *principal, nav, title string) pageData {
	d := pageData{Prefix: uiPrefix, Title: title, Nav: nav, Assets: pg.assets}
	if c, err := r.Cookie(flashCookie); err == nil {
		http.SetCookie(w, pg.flashCookie(""))
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil {
			if msg, ok := strings.CutPrefix(string(b), "!"); ok {
				d.Alert = msg
			} else {
				d.Flash = string(b)
			}
		}
	}
	if p == nil {
		return d
	}
	d.Me = p
	if p.session != nil {
		d.CSRF = p.session.CSRF
	}
	d.Can = caps{Read: p.may(actRead), Manage: p.may(actManageLicense), Sell: p.may(actReseller), Admin: p.may(actAdmin), Portal: p.may(actPortal)}
	d.Links = navFor(p)
	return d
}

// navFor is the top bar of p's role: each page the role's calls allow.
func navFor(p *principal) []navLink {
	var out []navLink
	add := func(ok bool, key, label, href string) {
		if ok {
			out = append(out, navLink{Key: key, Label: label, Href: uiPrefix + href})
		}
	}
	staff := p.may(actRead) || p.may(actReseller)
	if p.may(actPortal) {
		add(true, "home", "Licenses", "/")
	} else {
		add(true, "home", "Overview", "/")
	}
	add(staff, "companies", map[bool]string{true: "Customers", false: "Companies"}[p.Role == store.RoleReseller], "/companies")
	add(staff, "licenses", "Licenses", "/licenses")
	add(staff, "products", "Products", "/products")
	add(p.may(actRead) || p.may(actReseller) || p.may(actPortal), "monitor", "Usage", "/monitor")
	add(p.may(actRead) || p.may(actPortal), "releases", releasesTitle(p), "/releases")
	add(p.may(actAdmin) || p.may(actRead), "resellers", "Resellers", "/resellers")
	add(p.may(actAdmin) || p.may(actManageLicense), "accounts", "Accounts", "/accounts")
	add(p.may(actRead), "quotes", "Requests", "/quotes")
	add(p.may(actAdmin), "audit", "Audit", "/audit")
	add(true, "help", "Help", "/help")
	return out
}

func (pg *pages) flashCookie(msg string) *http.Cookie {
	c := &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(msg)), Path: uiPrefix + "/",
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode, MaxAge: 60}
	if msg == "" {
		c.Value, c.MaxAge = "", -1
	}
	return c
}

// done ends a successful post: a notice for the next page, and a redirect
// to it (so a reload does not post again).
func (pg *pages) done(w http.ResponseWriter, r *http.Request, to, notice string) {
	if notice != "" {
		http.SetCookie(w, pg.flashCookie(notice))
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// render executes one page into a buffer first, so a template error
// becomes a clean 500 rather than half a page.
func (pg *pages) render(w http.ResponseWriter, name string, status int, d pageData) {
	t, ok := pg.tmpl[name]
	var buf bytes.Buffer
	err := fmt.Errorf("no template %q", name)
	if ok {
		err = t.ExecuteTemplate(&buf, "layout", d)
	}
	if err != nil {
		pg.s.log.Error("hub: pages: render failed", "template", name, "err", err)
		http.Error(w, "hub: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// refuse shows a page that says why the request was refused.
func (pg *pages) refuse(w http.ResponseWriter, r *http.Request, p *principal, status int, msg string) {
	title := map[int]string{http.StatusForbidden: "Not allowed", http.StatusNotFound: "Not found"}[status]
	if title == "" {
		title = "Refused"
	}
	d := pg.data(w, r, p, "", title)
	d.Problem = &problem{Message: msg}
	pg.render(w, "refused", status, d)
}

func (pg *pages) notFound(w http.ResponseWriter, r *http.Request, p *principal) {
	pg.refuse(w, r, p, http.StatusNotFound, fmt.Sprintf("There is no page at %s.", r.URL.Path))
}

// failed answers a call that failed for a reason other than the form's
// input: sign in again, not allowed, not found, or the hub's own fault.
func (pg *pages) failed(w http.ResponseWriter, r *http.Request, p *principal, err error) {
	switch connect.CodeOf(err) {
	case connect.CodeUnauthenticated:
		http.SetCookie(w, sessionCookieFor(""))
		http.Redirect(w, r, uiPrefix+"/login", http.StatusSeeOther)
	case connect.CodePermissionDenied:
		pg.refuse(w, r, p, http.StatusForbidden, fmt.Sprintf("Your role (%s) may not see or do this: %s", p.Role, message(err)))
	case connect.CodeNotFound:
		pg.refuse(w, r, p, http.StatusNotFound, "Not found: "+message(err))
	case connect.CodeInvalidArgument:
		pg.refuse(w, r, p, http.StatusBadRequest, message(err))
	case connect.CodeCanceled:
		http.Error(w, "hub: request canceled", http.StatusServiceUnavailable)
	default:
		pg.refuse(w, r, p, http.StatusInternalServerError, "The hub could not do this (the error is logged); try again later.")
	}
}

// inputProblem reports whether err is the form's fault (bad input, a
// conflict, something it names that is gone), with the status to show
// the form again with; anything else is for failed.
func inputProblem(err error) (int, bool) {
	switch connect.CodeOf(err) {
	case connect.CodeInvalidArgument:
		return http.StatusBadRequest, true
	case connect.CodeAlreadyExists:
		return http.StatusConflict, true
	case connect.CodeResourceExhausted:
		return http.StatusTooManyRequests, true
	case connect.CodeFailedPrecondition:
		return http.StatusConflict, true
	}
	return 0, false
}

// message is an error's text for a person: a Connect error's message
// without its code, and without the package prefixes, which say where in
// the hub it came from, not what is wrong.
func message(err error) string {
	var ce *connect.Error
	msg := err.Error()
	if errors.As(err, &ce) {
		msg = ce.Message()
	}
	for _, prefix := range []string{"hub: invalid argument: ", "hub: permission denied: ", "hub: unauthenticated: ",
		"store: not found: ", "store: invalid: ", "store: conflict: ", "hub: ", "store: "} {
		msg = strings.ReplaceAll(msg, prefix, "")
	}
	return msg
}

// pageNames are the page templates: templates/<name>.html defines
// "content", drawn inside layout.html's "layout".
var pageNames = []string{"login", "refused", "overview", "portal", "help", "password", "keys", "products", "product", "productform",
	"companies", "company", "licenses", "license", "issue", "resellers", "accounts", "audit", "quotes",
	"monitor", "monitorinst", "monitorgrid", "monitorcompany", "releases"}

// parseTemplates parses one template set per page. They are read-only
// afterwards, so pages render concurrently.
func (pg *pages) parseTemplates() error {
	funcs := template.FuncMap{
		"msText": msText,
		"has":    slices.Contains[[]string],
		// entryRows bundles a template section of the product form for
		// its "entryrows" template.
		"entryRows": func(section string, rows []entryForm, f productForm, bad bool) any {
			return struct {
				Section string
				Rows    []entryForm
				Form    productForm
				Bad     bool
			}{section, rows, f, bad}
		},
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(pageTemplates, "templates/layout.html")
	if err != nil {
		return fmt.Errorf("hub: pages: parse layout: %w", err)
	}
	pg.tmpl = map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := base.Clone()
		if err == nil {
			_, err = t.ParseFS(pageTemplates, "templates/"+name+".html")
		}
		if err != nil {
			return fmt.Errorf("hub: pages: parse %s: %w", name, err)
		}
		pg.tmpl[name] = t
	}
	return nil
}
