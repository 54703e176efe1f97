package hub

import (
	"context"
	"errors"
	"html/template"
	"net"
	"net/http"
	"time"

	"github.com/licmesh/licmesh/node/hub/store"
)

// The set-password page a sign-up mail links to: GET shows the form, POST
// sets the password, uses up the link and signs in. Deliberately plain,
// with a template of its own: the portal's layout (pages*.go) can take it
// over later. GET changes nothing, so a mail scanner that follows the
// link does not use it up.

// signupConfirmPath is the sign-up link's page.
const signupConfirmPath = "/signup/confirm"

// signupFormCookie carries the form's nonce, which the POST must echo: a
// form posted from another site has no cookie (SameSite=Strict), so no
// one can sign a visitor in to an account of theirs by posting their own
// link's token.
const signupFormCookie = "lmhub_signup_form"

// signupCSP allows the page's own inline style and nothing else.
const signupCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

var signupPage = template.Must(template.New("signup").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
{{if .CSRF}}<meta name="csrf-token" content="{{.CSRF}}">{{end}}
<title>{{.Title}}</title>
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto;padding:0 1em}label{display:block;margin:1em 0 .3em}
input[type=password]{width:100%;padding:.4em}button{margin-top:1.2em;padding:.5em 1.2em}.error{color:#b00020}</style>
</head><body>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{if .Form}}
<p>Choose the password of <b>{{.Email}}</b> (at least {{.MinLen}} characters).</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="token" value="{{.Token}}">
<input type="hidden" name="nonce" value="{{.Nonce}}">
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="new-password" minlength="{{.MinLen}}" required autofocus>
<label for="password2">Password again</label><input type="password" id="password2" name="password2" autocomplete="new-password" minlength="{{.MinLen}}" required>
<button type="submit">Set password and sign in</button>
</form>
{{else if .Done}}
<p>Your password is set and you are signed in as <b>{{.Email}}</b>.</p>
<p><a href="/">Continue to the portal</a></p>
{{else}}
<p>{{.Message}}</p>
{{end}}
</body></html>
`))

// signupView is what the page shows.
type signupView struct {
	Title, Error, Message string
	Form, Done            bool
	Email, Token, Nonce   string
	Action                string
	MinLen                int
	CSRF                  string
}

const signupLinkGone = "This link has expired or was already used. Sign up again to get a new one, or sign in if you have set your password."

// mountSignupPages adds the set-password page to mux.
func (s *Server) mountSignupPages(mux *http.ServeMux) {
	mux.HandleFunc("GET "+signupConfirmPath, s.signupForm)
	mux.HandleFunc("POST "+signupConfirmPath, s.signupConfirm)
}

func (s *Server) renderSignup(w http.ResponseWriter, status int, v signupView) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", signupCSP)
	h.Set("Cache-Control", "no-store")
	// The URL holds the token: no Referer carries it anywhere.
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := signupPage.Execute(w, v); err != nil {
		s.log.Warn("hub: rendering the sign-up page failed", "err", err)
	}
}

func (s *Server) signupGone(w http.ResponseWriter) {
	s.renderSignup(w, http.StatusGone, signupView{Title: "Link no longer valid", Message: signupLinkGone})
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

func (s *Server) signupForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	var acc store.Account
	err := s.store.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		_, acc, err = s.pendingSignup(r.Context(), tx, token, s.clk.Now())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		s.signupGone(w)
		return
	}
	if err != nil {
		s.log.Error("hub: sign-up page failed", "err", err)
		http.Error(w, "internal error (logged)", http.StatusInternalServerError)
		return
	}
	nonce := randomSecret()
	http.SetCookie(w, &http.Cookie{Name: signupFormCookie, Value: nonce, Path: signupConfirmPath, MaxAge: 3600, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	s.renderSignup(w, http.StatusOK, signupView{Title: "Set your password", Form: true, Email: acc.Email, Token: token, Nonce: nonce,
		Action: signupConfirmPath, MinLen: MinPasswordLen})
}

func (s *Server) signupConfirm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	token, nonce := r.PostForm.Get("token"), r.PostForm.Get("nonce")
	c, err := r.Cookie(signupFormCookie)
	if err != nil || nonce == "" || !constantTimeEqualHex(hashSecret(c.Value), hashSecret(nonce)) {
		s.renderSignup(w, http.StatusForbidden, signupView{Title: "Please try again",
			Message: "This form was not opened from your link in this browser. Open the link from your mail again."})
		return
	}
	remote, _, _ := net.SplitHostPort(r.RemoteAddr)
	now := s.clk.Now()
	var acc store.Account
	err = s.store.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		_, acc, err = s.pendingSignup(r.Context(), tx, token, now)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		s.signupGone(w)
		return
	}
	form := signupView{Title: "Set your password", Form: true, Email: acc.Email, Token: token, Nonce: nonce, Action: signupConfirmPath, MinLen: MinPasswordLen}
	if err != nil {
		s.log.Error("hub: sign-up confirmation failed", "err", err)
		http.Error(w, "internal error (logged)", http.StatusInternalServerError)
		return
	}
	pw := r.PostForm.Get("password")
	if pw != r.PostForm.Get("password2") {
		form.Error = "The two passwords differ."
		s.renderSignup(w, http.StatusBadRequest, form)
		return
	}
	hash, err := hashPassword(pw)
	if err != nil {
		form.Error = "A password has at least 12 characters (and at most 1024)."
		s.renderSignup(w, http.StatusBadRequest, form)
		return
	}
	secret, csrf := randomSecret(), randomSecret()
	sess := store.Session{IDHash: hashSecret(secret), Account: acc.ID, CSRF: csrf, Remote: remote, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL)}
	err = s.store.Tx(r.Context(), func(tx *store.Tx) error {
		// Checked again here, where it counts: of two posts of one link,
		// one sets the password.
		if _, _, err := s.pendingSignup(r.Context(), tx, token, now); err != nil {
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
		s.signupGone(w)
		return
	}
	if err != nil {
		s.log.Error("hub: sign-up confirmation failed", "err", err)
		http.Error(w, "internal error (logged)", http.StatusInternalServerError)
		return
	}
	s.m.signins.WithLabelValues("ok").Inc()
	http.SetCookie(w, sessionCookieFor(secret))
	http.SetCookie(w, &http.Cookie{Name: signupFormCookie, Path: signupConfirmPath, MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	s.renderSignup(w, http.StatusOK, signupView{Title: "Welcome", Done: true, Email: acc.Email, CSRF: csrf})
}
