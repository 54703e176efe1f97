package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

const (
	// sessionCookie holds a sealed session: principal, expiry and a nonce.
	sessionCookie = "licmesh_session"
	// loginCookie holds a sealed sign-in form ticket, the double-submit half
	// that ties the form's CSRF token to this browser.
	loginCookie = "licmesh_login"
	// loginFormTTL bounds how long a sign-in form may sit before posting.
	loginFormTTL = 30 * time.Minute
	// maxCookieLen rejects oversized cookies before any decoding.
	maxCookieLen = 2048
)

// session is what a signed-in browser carries. It never holds the admin
// token: only who signed in, until when, and a random nonce that CSRF
// tokens are derived from (so a token is useless for any other sign-in).
type session struct {
	Principal Principal `json:"p"`
	ExpiresMS int64     `json:"exp"`
	Nonce     string    `json:"n"`
}

// loginTicket is the sign-in form's double-submit cookie.
type loginTicket struct {
	ExpiresMS int64  `json:"exp"`
	Nonce     string `json:"n"`
}

// keys holds one HMAC key per purpose, derived from Config.SessionKey, so a
// value sealed for one purpose never verifies for another.
type keys struct {
	session []byte
	login   []byte
	csrf    []byte
}

func deriveKeys(master []byte) keys {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, master)
		m.Write([]byte("licmesh dashboard " + label))
		return m.Sum(nil)
	}
	return keys{session: derive("session"), login: derive("login"), csrf: derive("csrf")}
}

var b64 = base64.RawURLEncoding

func mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		// Length-prefix each part so ("ab","c") and ("a","bc") differ.
		fmt.Fprintf(m, "%d:%s", len(p), p)
	}
	return m.Sum(nil)
}

// seal encodes v as base64(JSON) "." base64(HMAC).
func seal(key []byte, v any) (string, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("dashboard: seal: %w", err)
	}
	payload := b64.EncodeToString(body)
	return payload + "." + b64.EncodeToString(mac(key, payload)), nil
}

// unseal verifies and decodes a value made by seal with the same key.
func unseal(key []byte, s string, v any) error {
	if len(s) > maxCookieLen {
		return errBadSession
	}
	payload, sig, ok := strings.Cut(s, ".")
	if !ok {
		return errBadSession
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, payload)) {
		return errBadSession
	}
	body, err := b64.DecodeString(payload)
	if err != nil {
		return errBadSession
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errBadSession
	}
	return nil
}

func newNonce() string {
	b := make([]byte, 16)
	rand.Read(b) // crypto/rand.Read never returns an error.
	return b64.EncodeToString(b)
}

// csrfToken is the CSRF token for forms posted within the session or sign-in
// form identified by nonce.
func (k keys) csrfToken(purpose, nonce string) string {
	return b64.EncodeToString(mac(k.csrf, purpose, nonce))
}

func (k keys) checkCSRF(purpose, nonce, token string) bool {
	got, err := b64.DecodeString(token)
	return err == nil && nonce != "" && hmac.Equal(got, mac(k.csrf, purpose, nonce))
}

// readSession returns the valid, unexpired session the request carries.
func (h *Handler) readSession(r *http.Request) (session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, errBadSession
	}
	var s session
	if err := unseal(h.keys.session, c.Value, &s); err != nil {
		return session{}, err
	}
	if s.Nonce == "" || h.cfg.Clock.Now().UnixMilli() >= s.ExpiresMS {
		return session{}, errBadSession
	}
	if h.cfg.Check != nil {
		p, err := h.cfg.Check(r.Context(), s.Principal)
		if errors.Is(err, ErrSessionUnavailable) {
			return session{}, err
		}
		if err != nil {
			return session{}, errBadSession
		}
		s.Principal = p
	}
	return s, nil
}

func (h *Handler) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     h.cfg.Prefix,
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteStrictMode,
		MaxAge:   int(maxAge / time.Second),
	}
	if maxAge <= 0 {
		c.MaxAge = -1
	}
	return c
}

func (h *Handler) startSession(w http.ResponseWriter, p Principal) error {
	s := session{
		Principal: p,
		ExpiresMS: h.cfg.Clock.Now().Add(h.cfg.SessionTTL).UnixMilli(),
		Nonce:     newNonce(),
	}
	v, err := seal(h.keys.session, s)
	if err != nil {
		return err
	}
	http.SetCookie(w, h.cookie(sessionCookie, v, h.cfg.SessionTTL))
	return nil
}

func (h *Handler) endSession(w http.ResponseWriter) {
	http.SetCookie(w, h.cookie(sessionCookie, "", 0))
}

// newLoginTicket sets a fresh sign-in ticket cookie and returns the CSRF
// token the form must post back with it.
func (h *Handler) newLoginTicket(w http.ResponseWriter) (string, error) {
	t := loginTicket{ExpiresMS: h.cfg.Clock.Now().Add(loginFormTTL).UnixMilli(), Nonce: newNonce()}
	v, err := seal(h.keys.login, t)
	if err != nil {
		return "", err
	}
	http.SetCookie(w, h.cookie(loginCookie, v, loginFormTTL))
	return h.keys.csrfToken("login", t.Nonce), nil
}

// checkLoginTicket reports whether the posted form's CSRF token matches the
// browser's unexpired sign-in ticket.
func (h *Handler) checkLoginTicket(r *http.Request, token string) bool {
	c, err := r.Cookie(loginCookie)
	if err != nil {
		return false
	}
	var t loginTicket
	if unseal(h.keys.login, c.Value, &t) != nil || h.cfg.Clock.Now().UnixMilli() >= t.ExpiresMS {
		return false
	}
	return h.keys.checkCSRF("login", t.Nonce, token)
}
