package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SignupToken is the secret of a sign-up link, by which a new account
// sets its first password. The link holds the secret; the store its hash.
type SignupToken struct {
	Hash      string
	Account   AccountID
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// CreateSignupToken stores a new token.
func (t *Tx) CreateSignupToken(ctx context.Context, k SignupToken) error {
	if k.Hash == "" || !k.Account.Valid() || !k.ExpiresAt.After(k.CreatedAt) {
		return fmt.Errorf("%w: sign-up token: a hash, an account and an expiry after its creation", ErrInvalid)
	}
	_, err := t.exec(ctx, "sign-up token", `INSERT INTO signup_tokens (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		k.Hash, k.Account, ms(k.CreatedAt), ms(k.ExpiresAt))
	return err
}

// SignupToken returns the token whose secret hashes to hash if it can
// still be used at now: not used, not expired. Anything else is
// ErrNotFound, whichever the reason.
func (t *Tx) SignupToken(ctx context.Context, hash string, now time.Time) (SignupToken, error) {
	var k SignupToken
	var created, expires int64
	var used sql.NullInt64
	err := t.tx.QueryRowContext(ctx, `SELECT token_hash, account_id, created_at, expires_at, used_at FROM signup_tokens
		WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2`, hash, ms(now)).Scan(&k.Hash, &k.Account, &created, &expires, &used)
	if err != nil {
		return SignupToken{}, t.wrap("usable sign-up token", err)
	}
	k.CreatedAt, k.ExpiresAt, k.UsedAt = fromMS(created), fromMS(expires), fromNullMS(used)
	return k, nil
}

// UseSignupToken marks the token used at now and returns it; a token that
// is unknown, used or expired is ErrNotFound. Of two transactions using
// the same token, one fails.
func (t *Tx) UseSignupToken(ctx context.Context, hash string, now time.Time) (SignupToken, error) {
	k, err := t.SignupToken(ctx, hash, now)
	if err != nil {
		return SignupToken{}, err
	}
	r, err := t.exec(ctx, "use sign-up token", `UPDATE signup_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL`, ms(now), hash)
	if err != nil {
		return SignupToken{}, err
	}
	if err := affectedOne(r, "usable sign-up token"); err != nil {
		return SignupToken{}, err
	}
	k.UsedAt = now
	return k, nil
}

// EndSignupTokens marks every unused token of account used at now: a new
// link, or a password set, ends the older links.
func (t *Tx) EndSignupTokens(ctx context.Context, account AccountID, now time.Time) error {
	_, err := t.exec(ctx, "end sign-up tokens", `UPDATE signup_tokens SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL`, ms(now), account)
	return err
}

// SignupOutcome is what a sign-up did.
type SignupOutcome string

// Sign-up outcomes.
const (
	// SignupNew made a company, an account and a trial.
	SignupNew SignupOutcome = "new"
	// SignupRepeat was for an account still waiting for its password: a
	// new link was sent.
	SignupRepeat SignupOutcome = "repeat"
	// SignupExisting was for an account in use: it was told so by mail.
	SignupExisting SignupOutcome = "existing"
	// SignupQuiet was answered without a mail: the address had had enough
	// mail from sign-ups for a while.
	SignupQuiet SignupOutcome = "quiet"
)

// Signup is one sign-up the hub answered.
type Signup struct {
	At      time.Time
	Remote  string
	Email   string
	Account AccountID
	Outcome SignupOutcome
}

// RecordSignup records s.
func (t *Tx) RecordSignup(ctx context.Context, s Signup) error {
	if s.Email == "" || s.Outcome == "" {
		return fmt.Errorf("%w: sign-up without email or outcome", ErrInvalid)
	}
	_, err := t.exec(ctx, "sign-up", `INSERT INTO signups (id, at, remote, email, account_id, outcome) VALUES ($1, $2, $3, $4, $5, $6)`,
		newID("su"), ms(s.At), s.Remote, s.Email, nullString(s.Account), s.Outcome)
	return err
}

// SignupFilter selects sign-ups to count: since a time, from one remote
// address or for one email (either, or both, or neither), and with a
// mail sent (any outcome but SignupQuiet) when Mailed.
type SignupFilter struct {
	Since  time.Time
	Remote string
	Email  string
	Mailed bool
}

// CountSignups counts the sign-ups f selects.
func (t *Tx) CountSignups(ctx context.Context, f SignupFilter) (int, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM signups WHERE at >= $1 AND ($2 = '' OR remote = $2) AND ($3 = '' OR email = $3)
		AND ($4 = 0 OR outcome <> $5)`, ms(f.Since), f.Remote, f.Email, btoi(f.Mailed), SignupQuiet).Scan(&n)
	if err != nil {
		return 0, t.wrap("sign-ups", err)
	}
	return n, nil
}

// PruneSignups deletes the sign-up records and the delivered or
// abandoned mails from before before, and the sign-up tokens that
// expired before it; it returns how many rows went.
func (t *Tx) PruneSignups(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	for _, q := range []struct{ what, sql string }{
		{"prune sign-ups", `DELETE FROM signups WHERE at < $1`},
		{"prune sign-up tokens", `DELETE FROM signup_tokens WHERE expires_at < $1`},
		{"prune mail", `DELETE FROM mail_outbox WHERE (sent_at IS NOT NULL OR abandoned_at IS NOT NULL) AND created_at < $1`},
	} {
		r, err := t.exec(ctx, q.what, q.sql, ms(before))
		if err != nil {
			return n, err
		}
		m, _ := r.RowsAffected()
		n += m
	}
	return n, nil
}
