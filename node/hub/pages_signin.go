package hub

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// loginCookie is the sign-in form's double-submit half: the form carries
// the same random value as its csrf field, which another site can neither
// read nor set, so it cannot post the form for a browser (and sign it in
// to an account of its choosing).
const loginCookie = "lmhub_login"

type loginView struct {
	Ticket string
	Email  string
	Next   string
	// SignupURL is the trial sign-up form's, when the hub takes sign-ups.
	SignupURL string
}

// safeNext keeps a post-sign-in destination only if it is one of the
// pages: never another site.
func safeNext(next string) string {
	if strings.HasPrefix(next, uiPrefix+"/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return uiPrefix + "/"
}

func (pg *pages) loginForm(w http.ResponseWriter, r *http.Request) {
	if c, _ := r.Context().Value(callerKey{}).(*caller); c != nil && c.p != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	pg.renderLogin(w, r, http.StatusOK, "", loginView{Next: r.URL.Query().Get("next")})
}

func (pg *pages) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string, v loginView) {
	v.Ticket, v.SignupURL = randomSecret(), pg.s.signupURL()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: v.Ticket, Path: uiPrefix + "/login", MaxAge: 1800,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	d := pg.data(w, r, nil, "", "Sign in")
	if msg != "" {
		d.Problem = &problem{Form: "login", Message: msg}
	}
	d.Data = v
	pg.render(w, "login", status, d)
}

// login checks the email and password with the API's sign-in and starts
// the same session, with the same cookie. A customer is told at once how
// many of the company's licenses have expired.
func (pg *pages) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		pg.renderLogin(w, r, http.StatusBadRequest, "The sign-in form could not be read; try again.", loginView{})
		return
	}
	v := loginView{Email: strings.TrimSpace(r.PostForm.Get("email")), Next: r.PostForm.Get("next")}
	c, err := r.Cookie(loginCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("csrf"))) != 1 || c.Value == "" {
		pg.renderLogin(w, r, http.StatusForbidden, "The sign-in form expired or did not come from this hub; try again.", v)
		return
	}
	switch {
	case v.Email == "":
		pg.renderLogin(w, r, http.StatusBadRequest, "email: enter the email address of your account.", v)
		return
	case r.PostForm.Get("password") == "":
		pg.renderLogin(w, r, http.StatusBadRequest, "password: enter your password.", v)
		return
	}
	remote := ""
	if c, _ := r.Context().Value(callerKey{}).(*caller); c != nil {
		remote = c.remote
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	secret, _, acc, err := pg.s.signIn(ctx, v.Email, r.PostForm.Get("password"), remote)
	if err != nil {
		switch connect.CodeOf(toConnect(err)) {
		case connect.CodeUnauthenticated:
			pg.renderLogin(w, r, http.StatusUnauthorized, "Wrong email or password.", v)
		case connect.CodeResourceExhausted:
			pg.renderLogin(w, r, http.StatusTooManyRequests, message(err), v)
		default:
			pg.s.log.Error("hub: pages: sign-in", "err", err)
			pg.renderLogin(w, r, http.StatusInternalServerError, "The hub could not sign you in (the error is logged); try again later.", v)
		}
		return
	}
	http.SetCookie(w, sessionCookieFor(secret))
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: uiPrefix + "/login", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	if n := pg.s.expiredLicenses(ctx, acc); n > 0 {
		http.SetCookie(w, pg.flashCookie("!"+expiredNotice(n)))
	}
	http.Redirect(w, r, safeNext(v.Next), http.StatusSeeOther)
}

// expiredNotice is what a customer reads at sign-in when licenses have
// expired.
func expiredNotice(n int64) string {
	if n == 1 {
		return "1 of your licenses has expired: its product stops working once its grace period ends. Contact your vendor to renew it."
	}
	return fmt.Sprintf("%d of your licenses have expired: their products stop working once their grace periods end. Contact your vendor to renew them.", n)
}

// logout ends the session through the API's SignOut.
func (pg *pages) logout(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx, cancel := callCtx(r)
	defer cancel()
	if _, err := pg.api.SignOut(ctx, req(&licmeshv1.SignOutRequest{})); err != nil {
		pg.failed(w, r, p, err)
		return
	}
	http.SetCookie(w, sessionCookieFor(""))
	http.Redirect(w, r, uiPrefix+"/login", http.StatusSeeOther)
}

func (pg *pages) passwordPage(w http.ResponseWriter, r *http.Request, p *principal) {
	pg.render(w, "password", http.StatusOK, pg.data(w, r, p, "password", "Change password"))
}

// changePassword changes the password through the API: the old one must
// be right, the new one long enough.
func (pg *pages) changePassword(w http.ResponseWriter, r *http.Request, p *principal) {
	show := func(status int, field, msg string) {
		d := pg.data(w, r, p, "password", "Change password")
		d.Problem = &problem{Form: "password", Field: field, Message: msg}
		pg.render(w, "password", status, d)
	}
	oldPW, newPW := r.PostForm.Get("old_password"), r.PostForm.Get("new_password")
	switch {
	case oldPW == "":
		show(http.StatusBadRequest, "old_password", "old_password: enter your current password.")
		return
	case len(newPW) < MinPasswordLen:
		show(http.StatusBadRequest, "new_password", fmt.Sprintf("new_password: at least %d characters.", MinPasswordLen))
		return
	case newPW != r.PostForm.Get("new_password_again"):
		show(http.StatusBadRequest, "new_password_again", "new_password_again: the two new passwords differ.")
		return
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	_, err := pg.api.ChangePassword(ctx, req(&licmeshv1.ChangePasswordRequest{OldPassword: oldPW, NewPassword: newPW}))
	switch {
	case err == nil:
		pg.done(w, r, uiPrefix+"/password", "Your password was changed.")
	case connect.CodeOf(err) == connect.CodePermissionDenied:
		show(http.StatusBadRequest, "old_password", "old_password: that is not your current password.")
	default:
		if status, ok := inputProblem(err); ok {
			show(status, "new_password", message(err))
			return
		}
		pg.failed(w, r, p, err)
	}
}

// home is each role's first page: the portal for a customer's user, the
// overview for everyone else.
func (pg *pages) home(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.Role == store.RoleCustomer {
		pg.portal(w, r, p)
		return
	}
	pg.overview(w, r, p)
}
