package dashboard

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// maxFormBytes bounds a posted form; an admin token is far shorter.
const maxFormBytes = 16 << 10

// loginView is the sign-in form's data.
type loginView struct {
	FormCSRF string
	// User is the name posted, kept when a sign-in is refused.
	User string
}

// loginForm shows the sign-in form, or the cluster page to a browser that is
// already signed in.
func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, err := h.readSession(r); err == nil {
		http.Redirect(w, r, h.cfg.Prefix+"/", http.StatusSeeOther)
		return
	}
	h.renderLogin(w, http.StatusOK, "")
}

func (h *Handler) renderLogin(w http.ResponseWriter, status int, problem string, user ...string) {
	tok, err := h.newLoginTicket(w)
	if err != nil {
		h.cfg.Logger.Error("dashboard: sign-in form", "err", err)
		http.Error(w, "dashboard: the sign-in form could not be made", http.StatusInternalServerError)
		return
	}
	d := h.data("", "Sign in", session{})
	d.Error = problem
	v := loginView{FormCSRF: tok}
	if len(user) > 0 {
		v.User = user[0]
	}
	d.Data = v
	h.render(w, "login", "layout", status, d)
}

// login checks the pasted admin token through Config.Auth and, if it is
// accepted, starts a session. The token itself goes no further.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.renderLogin(w, http.StatusBadRequest, "The sign-in form could not be read; try again.")
		return
	}
	if !h.checkLoginTicket(r, r.PostForm.Get("csrf")) {
		h.renderLogin(w, http.StatusForbidden, "The sign-in form expired or did not come from this dashboard; try again.")
		return
	}
	c := Credentials{
		User:     strings.ToLower(strings.TrimSpace(r.PostForm.Get("user"))),
		Password: r.PostForm.Get("password"),
		Token:    strings.TrimSpace(r.PostForm.Get("token")),
	}
	if c.Token == "" && (c.User == "" || c.Password == "") {
		h.renderLogin(w, http.StatusBadRequest, "Give your user name and password, or paste an API token.", c.User)
		return
	}
	if c.Token != "" {
		c.User, c.Password = "", ""
	}
	ctx, cancel := context.WithTimeout(r.Context(), sourceTimeout)
	defer cancel()
	p, err := h.cfg.Auth(ctx, c)
	if err != nil {
		// err comes from the caller's check; it must not carry the secret,
		// and neither does this log line.
		h.cfg.Logger.Info("dashboard: sign-in refused", "user", c.User, "remote_addr", r.RemoteAddr, "err", err)
		problem, status := "That user name and password were refused.", http.StatusUnauthorized
		switch {
		case errors.Is(err, ErrSignInUnavailable):
			problem, status = "This master cannot check sign-ins now: it cannot reach the cluster's leader. Try again in a moment, or sign in on another master.", http.StatusServiceUnavailable
		case errors.Is(err, ErrSignInThrottled):
			problem = err.Error()
		case c.Token != "":
			problem = "That API token was refused."
		}
		h.renderLogin(w, status, problem, c.User)
		return
	}
	if err := h.startSession(w, p); err != nil {
		h.cfg.Logger.Error("dashboard: start session", "err", err)
		http.Error(w, "dashboard: the session could not be started", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, h.cookie(loginCookie, "", 0))
	h.cfg.Logger.Info("dashboard: signed in", "principal", p.ID, "role", p.Role, "remote_addr", r.RemoteAddr)
	http.Redirect(w, r, h.cfg.Prefix+"/", http.StatusSeeOther)
}

// logout ends the session. It is a POST carrying the session's CSRF token,
// so another site cannot sign an operator out.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	s, err := h.readSession(r)
	if err != nil {
		h.endSession(w)
		http.Redirect(w, r, h.cfg.Prefix+"/login", http.StatusSeeOther)
		return
	}
	if r.ParseForm() != nil || !h.keys.checkCSRF("session", s.Nonce, r.PostForm.Get("csrf")) {
		http.Error(w, "dashboard: sign-out refused: the form's CSRF token is missing or wrong; reload the page and try again", http.StatusForbidden)
		return
	}
	h.endSession(w)
	http.Redirect(w, r, h.cfg.Prefix+"/login", http.StatusSeeOther)
}
