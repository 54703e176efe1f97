package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// Password guessing is slowed per address: after signinMaxFailures failed
// attempts for one email within signinWindow, sign-ins for it are refused
// until the window has passed.
const (
	signinMaxFailures = 10
	signinWindow      = 15 * time.Minute
)

// dummyHash is checked when no account has the email, so that the answer
// takes as long as for a wrong password and does not tell which emails
// have accounts.
var dummyHash, _ = hashPassword("not-a-password-of-anyone")

var errBadCredentials = fmt.Errorf("%w: wrong email or password", ErrUnauthenticated)

// signIn checks email and password and starts a session; it returns the
// session's secret (for the cookie) and record.
func (s *Server) signIn(ctx context.Context, email, password, remote string) (string, store.Session, store.Account, error) {
	now := s.clk.Now()
	norm, err := store.NormalizeEmail(email)
	if err != nil {
		return "", store.Session{}, store.Account{}, errBadCredentials
	}
	var acc store.Account
	var failures int
	err = s.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		if failures, err = tx.FailedSignins(ctx, norm, now.Add(-signinWindow)); err != nil {
			return err
		}
		acc, err = tx.AccountByEmail(ctx, norm)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", store.Session{}, store.Account{}, err
	}
	if failures >= signinMaxFailures {
		s.m.signins.WithLabelValues("throttled").Inc()
		return "", store.Session{}, store.Account{}, connect.NewError(connect.CodeResourceExhausted,
			fmt.Errorf("hub: %d failed sign-ins for this email in the last %v: wait and try again", failures, signinWindow))
	}
	hash := acc.PasswordHash
	// An account with no usable hash (one waiting for its sign-up link,
	// an erased one) is checked against the dummy too, so that it answers
	// as slowly as any other.
	usable := acc.ID != "" && acc.DisabledAt.IsZero() && strings.HasPrefix(hash, "$argon2id$")
	if !usable {
		hash = dummyHash
	}
	ok, err := checkPassword(hash, password)
	ok = ok && err == nil && usable
	secret, csrf := randomSecret(), randomSecret()
	sess := store.Session{IDHash: hashSecret(secret), Account: acc.ID, CSRF: csrf, Remote: remote, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL)}
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.RecordSignin(ctx, store.Signin{At: now, Email: norm, Account: acc.ID, OK: ok, Remote: remote}); err != nil {
			return err
		}
		if !ok {
			return nil
		}
		return tx.CreateSession(ctx, sess)
	})
	if err != nil {
		return "", store.Session{}, store.Account{}, err
	}
	if !ok {
		s.m.signins.WithLabelValues("failed").Inc()
		return "", store.Session{}, store.Account{}, errBadCredentials
	}
	s.m.signins.WithLabelValues("ok").Inc()
	return secret, sess, acc, nil
}

// sessionCookieFor is the cookie that carries a session: not readable by
// scripts, sent over HTTPS only, and never on a request another site
// starts. It lasts while the browser runs; the hub ends the session itself
// at its TTL, by its own clock, whatever the browser's says. An empty
// secret deletes the cookie.
func sessionCookieFor(secret string) *http.Cookie {
	c := &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode}
	if secret == "" {
		c.MaxAge = -1
	}
	return c
}

// expiredLicenses counts a customer company's current licenses that have
// expired, for the notice at each sign-in.
func (s *Server) expiredLicenses(ctx context.Context, acc store.Account) int64 {
	if acc.Role != store.RoleCustomer {
		return 0
	}
	now := s.clk.Now()
	var n int64
	_ = s.store.Read(ctx, func(tx *store.Tx) error {
		ls, err := tx.ListLicenses(ctx, store.LicenseFilter{Company: acc.Company, Current: true})
		for _, l := range ls {
			if licenseStatus(l, now) == "expired" {
				n++
			}
		}
		return err
	})
	return n
}

func (a *api) SignIn(ctx context.Context, req *connect.Request[licmeshv1.SignInRequest]) (*connect.Response[licmeshv1.SignInResponse], error) {
	c, _ := ctx.Value(callerKey{}).(*caller)
	remote := ""
	if c != nil {
		remote = c.remote
	}
	secret, sess, acc, err := a.s.signIn(ctx, req.Msg.GetEmail(), req.Msg.GetPassword(), remote)
	if err != nil {
		return nil, a.fail("SignIn", err)
	}
	out := res(&licmeshv1.SignInResponse{CsrfToken: sess.CSRF, ExpiresAtMs: msOf(sess.ExpiresAt), ExpiredLicenses: a.s.expiredLicenses(ctx, acc)})
	out.Header().Add("Set-Cookie", sessionCookieFor(secret).String())
	return out, nil
}

func (a *api) SignOut(ctx context.Context, _ *connect.Request[licmeshv1.SignOutRequest]) (*connect.Response[licmeshv1.SignOutResponse], error) {
	p, _, err := who(ctx)
	if err != nil {
		return nil, err
	}
	if p.session != nil {
		if err := a.s.store.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteSession(ctx, p.session.IDHash) }); err != nil {
			return nil, a.fail("SignOut", err)
		}
	}
	out := res(&licmeshv1.SignOutResponse{})
	out.Header().Add("Set-Cookie", sessionCookieFor("").String())
	return out, nil
}

func (a *api) ChangePassword(ctx context.Context, req *connect.Request[licmeshv1.ChangePasswordRequest]) (*connect.Response[licmeshv1.ChangePasswordResponse], error) {
	p, remote, err := who(ctx)
	if err != nil {
		return nil, err
	}
	ok, err := checkPassword(p.PasswordHash, req.Msg.GetOldPassword())
	if err != nil || !ok {
		return nil, a.fail("ChangePassword", fmt.Errorf("%w: old_password is wrong", ErrPermission))
	}
	hash, err := hashPassword(req.Msg.GetNewPassword())
	if err != nil {
		return nil, a.fail("ChangePassword", fmt.Errorf("new_password: %w", err))
	}
	now := a.s.clk.Now()
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.SetPassword(ctx, p.ID, hash); err != nil {
			return err
		}
		return audit(ctx, tx, p, remote, now, "account.password", string(p.ID), "")
	})
	if err != nil {
		return nil, a.fail("ChangePassword", err)
	}
	return res(&licmeshv1.ChangePasswordResponse{}), nil
}
