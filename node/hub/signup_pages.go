package hub

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"time"

	"github.com/licmesh/licmesh/node/hub/store"
)

// The public sign-up pages, outside /ui/ and open to anyone: the trial
// sign-up form (signup_form.go) and the set-password page a sign-up mail
// links to (here). They are drawn with the /ui/ layout and stylesheet,
// whose files /ui/static/ serves to anyone, but not by the pages' router:
// nobody is signed in yet, and the forms are guarded by a nonce of their
// own instead of a session's CSRF token.
//
// The set-password page: GET shows the form, POST sets the password, uses
// up the link and signs in. GET changes nothing, so a mail scanner that
// follows the link does not use it up.

// signupConfirmPath is the sign-up link's page.
const signupConfirmPath = "/signup/confirm"

// signupFormCookie carries the set-password form's nonce: no one can sign
// a visitor in to an account of theirs by posting their own link's token
// from another site.
const signupFormCookie = "lmhub_signup_form"

// signupCSP allows this origin's script, style and icon files and
// nothing else: the layout has nothing inline.
const signupCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"

// publicPageNames are the public pages' templates, drawn inside
// layout.html like the pages'.
var publicPageNames = []string{"signup", "signupconfirm"}

// nonceMaxAge is how long a public form may stay open before its post is
// refused.
const nonceMaxAge = time.Hour

// formNonce guards a public form, which has no session and so no session
// CSRF token, by double submit: the GET puts a random nonce in a cookie
// and in the form's "nonce" field, and the POST must bring both, equal. A
// form posted from another site comes without the cookie (SameSite=Strict),
// and that site can neither read the cookie nor set it.
type formNonce struct {
	cookie string // the cookie's name
	path   string // the form's path, the cookie's scope
}

// issue sets a new nonce's cookie and returns the nonce for the form.
func (f formNonce) issue(w http.ResponseWriter) string {
	nonce := randomSecret()
	http.SetCookie(w, f.cookieOf(nonce, int(nonceMaxAge/time.Second)))
	return nonce
}

// check reports whether r's parsed form carries its cookie's nonce.
func (f formNonce) check(r *http.Request) bool {
	nonce := r.PostForm.Get("nonce")
	c, err := r.Cookie(f.cookie)
	return err == nil && nonce != "" && constantTimeEqualHex(hashSecret(c.Value), hashSecret(nonce))
}

// clear ends the nonce once its form has done its work.
func (f formNonce) clear(w http.ResponseWriter) { http.SetCookie(w, f.cookieOf("", -1)) }

func (f formNonce) cookieOf(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: f.cookie, Value: value, Path: f.path, MaxAge: maxAge, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode}
}

// publicPages serves the public sign-up pages.
type publicPages struct {
	s   *Server
	api *api
	// look draws the pages: the layout with their templates, and the
	// static files' URLs. It routes nothing.
	look *pages
	// startNonce guards the sign-up form, confirmNonce the set-password
	// form.
	startNonce, confirmNonce formNonce
}

func newPublicPages(s *Server) (*publicPages, error) {
	look := &pages{s: s, files: map[string][]byte{}, assets: map[string]string{}, tmpl: map[string]*template.Template{}}
	if err := look.loadStatic(); err != nil {
		return nil, err
	}
	base, err := template.New("layout.html").ParseFS(pageTemplates, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("hub: public pages: parse layout: %w", err)
	}
	for _, name := range publicPageNames {
		t, err := base.Clone()
		if err == nil {
			_, err = t.ParseFS(pageTemplates, "templates/"+name+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("hub: public pages: parse %s: %w", name, err)
		}
		look.tmpl[name] = t
	}
	return &publicPages{s: s, api: &api{s: s}, look: look,
		startNonce:   formNonce{cookie: signupStartCookie, path: signupPath},
		confirmNonce: formNonce{cookie: signupFormCookie, path: signupConfirmPath},
	}, nil
}

// mountSignupPages adds the sign-up form and the set-password page to mux.
func (s *Server) mountSignupPages(mux *http.ServeMux) {
	p, err := newPublicPages(s)
	if err != nil {
		// Everything it reads is embedded: a failure is a broken build,
		// which every test of these pages catches.
		panic(err)
	}
	mux.HandleFunc("GET "+signupPath, p.signupPage)
	mux.HandleFunc("POST "+signupPath, p.signUp)
	mux.HandleFunc("GET "+signupConfirmPath, p.confirmForm)
	mux.HandleFunc("POST "+signupConfirmPath, p.confirm)
}

// render draws page name for me (nil: nobody signed in) with data.
func (p *publicPages) render(w http.ResponseWriter, r *http.Request, name string, status int, title string, me *principal, data any) {
	h := w.Header()
	h.Set("Content-Security-Policy", signupCSP)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	// The set-password page's URL holds its token: no Referer carries it
	// anywhere, not even to this hub's static files.
	h.Set("Referrer-Policy", "no-referrer")
	d := p.look.data(w, r, me, "", title)
	d.Data = data
	p.look.render(w, name, status, d)
}

// remoteHost is r's remote address without its port, as the API records
// it.
func remoteHost(r *http.Request) string {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	return host
}

// confirmView is what the set-password page shows: the form, its
// outcome, or why there is no form.
type confirmView struct {
	Form, Done          bool
	Email, Token, Nonce string
	Action              string
	MinLen              int
	// Error is what was wrong with the posted form, and Field the input
	// it is about.
	Error, Field string
	Message      string
	// SignupURL is the sign-up form's, when the hub takes sign-ups.
	SignupURL string
}

const signupLinkGone = "This link has expired or was already used. Sign up again to get a new one, or sign in if you have set your password."

func (p *publicPages) confirmGone(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, "signupconfirm", http.StatusGone, "Link no longer valid", nil, confirmView{Message: signupLinkGone, SignupURL: p.s.signupURL()})
}

func (p *publicPages) internalError(w http.ResponseWriter, what string, err error) {
	p.s.log.Error("hub: "+what+" failed", "err", err)
	http.Error(w, "internal error (logged)", http.StatusInternalServerError)
}

// pendingSignup returns the account a usable token is for, if it still
// waits for its password.
func (s *Server) pendingSignup(ctx context.Context, tx *store.Tx, token string, now time.Time) (store.SignupToken, store.Account, error) {
	if token == "" {
		return store.SignupToken{}, store.Account{}, store.ErrNotFound
	}
	tok, err := tx.SignupToken(ctx, hashSecret(token), now)
	if err != nil {
		return store.SignupToken{}, store.Account{}, err
	}
	acc, err := tx.Account(ctx, tok.Account)
	if err != nil {
		return store.SignupToken{}, store.Account{}, err
	}
	if acc.PasswordHash != pendingPassword || !acc.DisabledAt.IsZero() {
		return store.SignupToken{}, store.Account{}, store.ErrNotFound
	}
	return tok, acc, nil
}

func (p *publicPages) confirmForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	var acc store.Account
	err := p.s.store.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		_, acc, err = p.s.pendingSignup(r.Context(), tx, token, p.s.clk.Now())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		p.confirmGone(w, r)
		return
	}
	if err != nil {
		p.internalError(w, "sign-up page", err)
		return
	}
	p.render(w, r, "signupconfirm", http.StatusOK, "Set your password", nil, confirmView{Form: true, Email: acc.Email, Token: token,
		Nonce: p.confirmNonce.issue(w), Action: signupConfirmPath, MinLen: MinPasswordLen})
}

func (p *publicPages) confirm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if !p.confirmNonce.check(r) {
		// No new form: it would carry the posted token, which may be
		// another site's own link.
		p.render(w, r, "signupconfirm", http.StatusForbidden, "Please try again", nil, confirmView{
			Message: "This form was not opened from your link in this browser. Open the link from your mail again."})
		return
	}
	token, nonce := r.PostForm.Get("token"), r.PostForm.Get("nonce")
	remote := remoteHost(r)
	now := p.s.clk.Now()
	var acc store.Account
	err := p.s.store.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		_, acc, err = p.s.pendingSignup(r.Context(), tx, token, now)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		p.confirmGone(w, r)
		return
	}
	if err != nil {
		p.internalError(w, "sign-up confirmation", err)
		return
	}
	refuse := func(field, msg string) {
		p.render(w, r, "signupconfirm", http.StatusBadRequest, "Set your password", nil, confirmView{Form: true, Email: acc.Email, Token: token,
			Nonce: nonce, Action: signupConfirmPath, MinLen: MinPasswordLen, Error: msg, Field: field})
	}
	pw := r.PostForm.Get("password")
	if pw != r.PostForm.Get("password2") {
		refuse("password2", "The two passwords differ.")
		return
	}
	hash, err := hashPassword(pw)
	if err != nil {
		refuse("password", fmt.Sprintf("A password has at least %d characters (and at most 1024).", MinPasswordLen))
		return
	}
	secret, csrf := randomSecret(), randomSecret()
	sess := store.Session{IDHash: hashSecret(secret), Account: acc.ID, CSRF: csrf, Remote: remote, CreatedAt: now, ExpiresAt: now.Add(p.s.cfg.SessionTTL)}
	err = p.s.store.Tx(r.Context(), func(tx *store.Tx) error {
		// Checked again here, where it counts: of two posts of one link,
		// one sets the password.
		if _, _, err := p.s.pendingSignup(r.Context(), tx, token, now); err != nil {
			return err
		}
		if _, err := tx.UseSignupToken(r.Context(), hashSecret(token), now); err != nil {
			return err
		}
		if err := tx.EndSignupTokens(r.Context(), acc.ID, now); err != nil {
			return err
		}
		if err := tx.SetPassword(r.Context(), acc.ID, hash); err != nil {
			return err
		}
		if err := tx.RecordSignin(r.Context(), store.Signin{At: now, Email: acc.Email, Account: acc.ID, OK: true, Remote: remote}); err != nil {
			return err
		}
		if err := tx.CreateSession(r.Context(), sess); err != nil {
			return err
		}
		return tx.Audit(r.Context(), store.AuditEntry{At: now, Actor: acc.Email, Action: "account.signup_confirmed", Target: string(acc.ID),
			Detail: "first password set from the sign-up link", Remote: remote})
	})
	if errors.Is(err, store.ErrNotFound) {
		p.confirmGone(w, r)
		return
	}
	if err != nil {
		p.internalError(w, "sign-up confirmation", err)
		return
	}
	p.s.m.signins.WithLabelValues("ok").Inc()
	http.SetCookie(w, sessionCookieFor(secret))
	p.confirmNonce.clear(w)
	// Drawn for the new session: the top bar shows who is signed in, and
	// the page carries the session's CSRF token.
	p.render(w, r, "signupconfirm", http.StatusOK, "Welcome", &principal{Account: acc, session: &sess}, confirmView{Done: true, Email: acc.Email})
}
