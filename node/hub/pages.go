package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/node/dashboard"
)

// The hub's web pages (pages*.go) are a client of the API in the same
// process: every page reads through, and every form posts to, the api
// method that serves the same call over ConnectRPC, with the browser's
// session as its caller. So a page is authorized, validated and audited
// exactly as the call is, by the one copy of that code; the pages only
// decide what to show (a button a role may not use is not drawn) and turn
// the call's answer into HTML.

// uiPrefix is where the pages live; / redirects there.
const uiPrefix = "/ui"

// pagesCSP allows only this origin's script and style files: htmx is
// configured by a meta tag, charts are inline SVG with presentation
// attributes, so nothing inline needs allowing.
const pagesCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"

// maxPageForm bounds a posted form; a product with many template rows is
// the largest.
const maxPageForm = 256 << 10

// flashCookie carries a one-line notice across the redirect after a form
// post; it never holds a secret (passwords and keys are shown in the
// answer to the post itself).
const flashCookie = "lmhub_flash"

//go:embed templates/*.html
var pageTemplates embed.FS

// hubStatic holds the hub's own stylesheet and the releases page's upload
// script; htmx, the base stylesheet and the icon are the dashboard's
// (dashboard.Static), vendored once.
//
//go:embed static/hub.css static/releases.js
var hubStatic embed.FS

// pages serves the hub's web pages under uiPrefix.
type pages struct {
	s      *Server
	api    *api
	tmpl   map[string]*template.Template
	files  map[string][]byte // static file name -> content
	assets map[string]string // static file name -> URL with a content hash
	mux    *http.ServeMux
	// payloads caches the signed terms of licenses shown.
	payloads payloads
}

// mountPages adds the pages to mux, and / as a redirect to them.
func (s *Server) mountPages(mux *http.ServeMux) {
	pg, err := newPages(s)
	if err != nil {
		// The templates and files are embedded: a failure is a broken
		// build, which every test of the pages catches.
		panic(err)
	}
	mux.Handle(uiPrefix+"/", pg)
	mux.Handle("GET "+uiPrefix, http.RedirectHandler(uiPrefix+"/", http.StatusSeeOther))
	mux.Handle("GET /{$}", http.RedirectHandler(uiPrefix+"/", http.StatusSeeOther))
}

func newPages(s *Server) (*pages, error) {
	pg := &pages{s: s, api: &api{s: s}, files: map[string][]byte{}, assets: map[string]string{}, mux: http.NewServeMux()}
	if err := pg.loadStatic(); err != nil {
		return nil, err
	}
	if err := pg.parseTemplates(); err != nil {
		return nil, err
	}
	pg.routes()
	return pg, nil
}

func (pg *pages) routes() {
	m := pg.mux
	p := uiPrefix
	m.HandleFunc("GET "+p+"/login", pg.loginForm)
	m.HandleFunc("POST "+p+"/login", pg.login)
	for pattern, h := range map[string]func(http.ResponseWriter, *http.Request, *principal){
		"POST /logout":                pg.logout,
		"GET /{$}":                    pg.home,
		"GET /help":                   pg.help,
		"GET /password":               pg.passwordPage,
		"POST /password":              pg.changePassword,
		"GET /keys":                   pg.keysPage,
		"POST /keys":                  pg.createKey,
		"POST /keys/{id}/revoke":      pg.revokeKey,
		"GET /products":               pg.productsPage,
		"GET /products/new":           pg.productForm, // the form refuses the SKU "new"
		"POST /products":              pg.saveProduct,
		"GET /products/{sku}":         pg.productPage,
		"GET /products/{sku}/edit":    pg.productForm,
		"GET /companies":              pg.companiesPage,
		"POST /companies":             pg.createCompany,
		"GET /companies/{id}":         pg.companyPage,
		"POST /companies/{id}/trials": pg.startTrial,
		"POST /companies/{id}/users":  pg.addUser,
		"POST /companies/{id}/export": pg.exportCompany,
		"POST /companies/{id}/erase":  pg.eraseCompany,
		"GET /licenses":               pg.licensesPage,
		"GET /licenses/new":           pg.issueForm,
		"POST /licenses":              pg.issueLicense,
		"GET /licenses/{id}":          pg.licensePage,
		"GET /licenses/{id}/file":     pg.licenseFile,
		"POST /licenses/{id}/extend":  pg.extendLicense,
		"POST /licenses/{id}/convert": pg.convertTrial,
		"POST /licenses/{id}/add":     pg.addToLicense,
		"POST /licenses/{id}/revoke":  pg.revokeLicense,
		"GET /resellers":              pg.resellersPage,
		"POST /resellers":             pg.createReseller,
		"GET /accounts":               pg.accountsPage,
		"POST /accounts":              pg.createAccount,
		"POST /accounts/{id}/disable": pg.disableAccount,
		"GET /audit":                  pg.auditPage,
		"GET /quotes":                 pg.quotesPage,
		"POST /quotes/{id}/answer":    pg.answerQuote,
		// Releases (pages_releases.go); publishing posts to the upload
		// route, POST /v1/releases.
		"GET /releases":                     pg.releasesPage,
		"POST /releases/{version}/edit":     pg.editRelease,
		"POST /releases/{version}/withdraw": pg.withdrawRelease,
		// The sales monitor (pages_monitor.go). An installation ID may
		// hold '/', so it takes the rest of the path.
		"GET /monitor":                             pg.monitorPage,
		"GET /monitor/grid":                        pg.subscribersPage,
		"GET /monitor/company/{id}":                pg.companyMonitorPage,
		"GET /monitor/{cluster}/{installation...}": pg.installationPage,
	} {
		method, rest, _ := strings.Cut(pattern, " ")
		m.Handle(method+" "+p+rest, pg.signed(h))
	}
	m.Handle(p+"/", pg.signed(pg.notFound))
}

// ServeHTTP serves the pages: static files as they are, everything else
// with the request's caller (session or API key) authenticated first, as
// the API does.
func (pg *pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", pagesCSP)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if name, ok := strings.CutPrefix(r.URL.Path, uiPrefix+"/static/"); ok {
		pg.static(w, r, name)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPageForm)
	pg.s.withCaller(pg.mux).ServeHTTP(w, r)
}

// loadStatic gathers the dashboard's files and the hub's stylesheet, each
// with a content-hashed URL so browsers may cache them for long.
func (pg *pages) loadStatic() error {
	add := func(fsys fs.FS, dir string) error {
		return fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			name := path.Base(p)
			sum := sha256.Sum256(b)
			pg.files[name] = b
			pg.assets[name] = uiPrefix + "/static/" + name + "?v=" + hex.EncodeToString(sum[:6])
			return nil
		})
	}
	if err := add(dashboard.Static(), "."); err != nil {
		return fmt.Errorf("hub: pages: static files: %w", err)
	}
	if err := add(hubStatic, "static"); err != nil {
		return fmt.Errorf("hub: pages: static files: %w", err)
	}
	for _, need := range []string{"htmx.min.js", "dashboard.css", "favicon.svg", "hub.css", "releases.js"} {
		if pg.files[need] == nil {
			return fmt.Errorf("hub: pages: static file %s is missing", need)
		}
	}
	return nil
}

func (pg *pages) static(w http.ResponseWriter, r *http.Request, name string) {
	b, ok := pg.files[name]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// signed serves h to an authenticated caller. Anyone else is sent to the
// sign-in form (an htmx request by HX-Redirect, so that the form is not
// swapped into a table); a post without its session's CSRF token is
// refused.
func (pg *pages) signed(h func(http.ResponseWriter, *http.Request, *principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(callerKey{}).(*caller)
		switch {
		case c == nil || errors.Is(c.err, ErrUnauthenticated):
			if c != nil && c.p == nil {
				if _, err := r.Cookie(sessionCookie); err == nil {
					http.SetCookie(w, sessionCookieFor("")) // an ended session's cookie
				}
			}
			to := uiPrefix + "/login"
			if r.Method == http.MethodGet && r.URL.Path != uiPrefix+"/" {
				to += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			if r.Header.Get("HX-Request") != "" {
				w.Header().Set("HX-Redirect", to)
				http.Error(w, "sign in again", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
		case errors.Is(c.err, ErrPermission):
			// The only refusal authenticate makes: a post without the
			// session's CSRF token.
			pg.refuse(w, r, nil, http.StatusForbidden, "This form is missing its CSRF token, or it is from an older session: reload the page and try again.")
		case c.err != nil:
			pg.s.log.Error("hub: pages: authenticate", "err", c.err)
			http.Error(w, "hub: internal error (logged)", http.StatusInternalServerError)
		default:
			if !safeMethod(r.Method) {
				if err := r.ParseForm(); err != nil {
					pg.refuse(w, r, c.p, http.StatusBadRequest, "The form could not be read (too large, or malformed).")
					return
				}
			}
			h(w, r, c.p)
		}
	})
}

// callCtx bounds one page's calls to the API.
func callCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 15*time.Second)
}

// req wraps a message as an API request.
func req[T any](m *T) *connect.Request[T] { return connect.NewRequest(m) }
