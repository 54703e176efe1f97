package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// APIKey is a secret an account uses instead of a password, for scripts
// and the reseller API. Only a hash of the secret is stored: the secret is
// shown once, when the key is made.
type APIKey struct {
	ID         APIKeyID
	Account    AccountID
	Name       string
	SecretHash string
	CreatedAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
}

const apiKeyCols = `id, account_id, name, secret_hash, created_at, last_used_at, revoked_at`

func scanAPIKey(row interface{ Scan(...any) error }) (APIKey, error) {
	var k APIKey
	var created int64
	var used, revoked sql.NullInt64
	err := row.Scan(&k.ID, &k.Account, &k.Name, &k.SecretHash, &created, &used, &revoked)
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = fromMS(created), fromNullMS(used), fromNullMS(revoked)
	return k, err
}

// CreateAPIKey stores a new key.
func (t *Tx) CreateAPIKey(ctx context.Context, k APIKey) error {
	if !k.ID.Valid() || !k.Account.Valid() || k.SecretHash == "" || strings.TrimSpace(k.Name) == "" || len(k.Name) > 100 {
		return fmt.Errorf("%w: API key %q: an ID, an account, a hash and a name of 1 to 100 characters", ErrInvalid, k.ID)
	}
	_, err := t.exec(ctx, "API key "+string(k.ID), `INSERT INTO api_keys (id, account_id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, k.Account, k.Name, k.SecretHash, ms(k.CreatedAt))
	return err
}

// APIKey returns the key id.
func (t *Tx) APIKey(ctx context.Context, id APIKeyID) (APIKey, error) {
	k, err := scanAPIKey(t.tx.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE id = $1`, id))
	if err != nil {
		return APIKey{}, t.wrap("API key "+string(id), err)
	}
	return k, nil
}

// ListAPIKeys returns an account's keys, newest first.
func (t *Tx) ListAPIKeys(ctx context.Context, account AccountID) ([]APIKey, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE account_id = $1 ORDER BY created_at DESC, id`, account)
	if err != nil {
		return nil, t.wrap("API keys", err)
	}
	return collect(rows, scanAPIKey)
}

// TouchAPIKey records that the key was used at at.
func (t *Tx) TouchAPIKey(ctx context.Context, id APIKeyID, at time.Time) error {
	_, err := t.exec(ctx, "API key "+string(id), `UPDATE api_keys SET last_used_at = $1 WHERE id = $2`, ms(at), id)
	return err
}

// RevokeAPIKey revokes a key of account; a key already revoked, or
// another account's, is ErrNotFound.
func (t *Tx) RevokeAPIKey(ctx context.Context, account AccountID, id APIKeyID, at time.Time) error {
	r, err := t.exec(ctx, "revoke "+string(id), `UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL`, ms(at), id, account)
	if err != nil {
		return err
	}
	return affectedOne(r, "active API key "+string(id))
}

// Session is a signed-in browser. The cookie holds a secret; the store
// keeps its hash.
type Session struct {
	IDHash    string
	Account   AccountID
	CSRF      string
	Remote    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateSession stores a new session.
func (t *Tx) CreateSession(ctx context.Context, s Session) error {
	if s.IDHash == "" || s.CSRF == "" || !s.Account.Valid() || !s.ExpiresAt.After(s.CreatedAt) {
		return fmt.Errorf("%w: session", ErrInvalid)
	}
	_, err := t.exec(ctx, "session", `INSERT INTO sessions (id_hash, account_id, csrf, remote, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		s.IDHash, s.Account, s.CSRF, s.Remote, ms(s.CreatedAt), ms(s.ExpiresAt))
	return err
}

// Session returns the session whose ID hashes to idHash, if it has not
// expired at now.
func (t *Tx) Session(ctx context.Context, idHash string, now time.Time) (Session, error) {
	var s Session
	var created, expires int64
	err := t.tx.QueryRowContext(ctx, `SELECT id_hash, account_id, csrf, remote, created_at, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2`,
		idHash, ms(now)).Scan(&s.IDHash, &s.Account, &s.CSRF, &s.Remote, &created, &expires)
	if err != nil {
		return Session{}, t.wrap("session", err)
	}
	s.CreatedAt, s.ExpiresAt = fromMS(created), fromMS(expires)
	return s, nil
}

// DeleteSession ends a session (sign-out).
func (t *Tx) DeleteSession(ctx context.Context, idHash string) error {
	_, err := t.exec(ctx, "session", `DELETE FROM sessions WHERE id_hash = $1`, idHash)
	return err
}

// Signin is one sign-in attempt, kept for the configured retention.
type Signin struct {
	At      time.Time
	Email   string
	Account AccountID // empty when no account has that email
	OK      bool
	Remote  string
}

// RecordSignin logs a sign-in attempt.
func (t *Tx) RecordSignin(ctx context.Context, s Signin) error {
	_, err := t.exec(ctx, "sign-in", `INSERT INTO signins (id, at, email, account_id, ok, remote) VALUES ($1, $2, $3, $4, $5, $6)`,
		newID("si"), ms(s.At), s.Email, nullString(s.Account), btoi(s.OK), s.Remote)
	return err
}

// Signins returns the attempts since since, newest first, at most limit.
func (t *Tx) Signins(ctx context.Context, since time.Time, limit int) ([]Signin, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT at, email, COALESCE(account_id, ''), ok, remote FROM signins WHERE at >= $1 ORDER BY at DESC, id LIMIT $2`,
		ms(since), limit)
	if err != nil {
		return nil, t.wrap("sign-ins", err)
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (Signin, error) {
		var s Signin
		var at int64
		var ok int
		err := r.Scan(&at, &s.Email, &s.Account, &ok, &s.Remote)
		s.At, s.OK = fromMS(at), ok != 0
		return s, err
	})
}

// FailedSignins counts failed attempts for email since since: the hub
// slows down a password guesser with it.
func (t *Tx) FailedSignins(ctx context.Context, email string, since time.Time) (int, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM signins WHERE email = $1 AND ok = 0 AND at >= $2`, email, ms(since)).Scan(&n)
	if err != nil {
		return 0, t.wrap("failed sign-ins", err)
	}
	return n, nil
}

// Prune deletes sign-in records older than signinsBefore and expired
// sessions at now; it returns how many rows went.
func (t *Tx) Prune(ctx context.Context, signinsBefore, now time.Time) (int64, error) {
	r1, err := t.exec(ctx, "prune sign-ins", `DELETE FROM signins WHERE at < $1`, ms(signinsBefore))
	if err != nil {
		return 0, err
	}
	r2, err := t.exec(ctx, "prune sessions", `DELETE FROM sessions WHERE expires_at <= $1`, ms(now))
	if err != nil {
		return 0, err
	}
	a, _ := r1.RowsAffected()
	b, _ := r2.RowsAffected()
	return a + b, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// AuditEntry is one change made at the hub: who, what, to what, when and
// from where. Written in the transaction of the change it records.
type AuditEntry struct {
	At     time.Time
	Actor  string // account email, or "system"
	Action string // e.g. "license.issue"
	Target string // the ID changed
	Detail string
	Remote string
}

// Audit records e.
func (t *Tx) Audit(ctx context.Context, e AuditEntry) error {
	if e.Actor == "" || e.Action == "" {
		return fmt.Errorf("%w: audit entry without actor or action", ErrInvalid)
	}
	_, err := t.exec(ctx, "audit", `INSERT INTO audit (id, at, actor, action, target, detail, remote) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		newID("au"), ms(e.At), e.Actor, e.Action, e.Target, e.Detail, e.Remote)
	return err
}

// AuditLog returns entries before before (zero: now), newest first, at
// most limit: pages go back in time from the last entry seen.
func (t *Tx) AuditLog(ctx context.Context, before time.Time, limit int) ([]AuditEntry, error) {
	b := ms(before)
	if b == 0 {
		b = 1 << 62
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT at, actor, action, target, detail, remote FROM audit WHERE at < $1 ORDER BY at DESC, id DESC LIMIT $2`, b, limit)
	if err != nil {
		return nil, t.wrap("audit", err)
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (AuditEntry, error) {
		var e AuditEntry
		var at int64
		err := r.Scan(&at, &e.Actor, &e.Action, &e.Target, &e.Detail, &e.Remote)
		e.At = fromMS(at)
		return e, err
	})
}
