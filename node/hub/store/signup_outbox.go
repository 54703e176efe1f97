package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// MailID names a mail in the outbox.
type MailID string

// NewMailID returns a fresh mail ID.
func NewMailID() MailID { return MailID(newID("mail")) }

// Valid reports whether id is well formed.
func (id MailID) Valid() bool { return validID(string(id), "mail") }

// Mail is one mail in the outbox. It is written in the transaction of the
// change that sends it, so that it exists if and only if the change does,
// and delivered after that commits, retried until the mail server takes
// it: at least once.
type Mail struct {
	ID   MailID
	Kind string // e.g. "signup"
	// To is the recipient's address, for the operator; the message says
	// it again.
	To string
	// Message is the whole mail, opaque to the store (the hub seals it);
	// emptied once delivered.
	Message   string
	CreatedAt time.Time
	// NextAt is when the next attempt is due.
	NextAt      time.Time
	Attempts    int
	LastError   string
	SentAt      time.Time
	AbandonedAt time.Time
}

// maxMailError bounds the last error kept with a mail.
const maxMailError = 1000

const mailCols = `id, kind, rcpt, message, created_at, next_at, attempts, last_error, sent_at, abandoned_at`

func scanMail(r interface{ Scan(...any) error }) (Mail, error) {
	var m Mail
	var created, next int64
	var sent, abandoned sql.NullInt64
	err := r.Scan(&m.ID, &m.Kind, &m.To, &m.Message, &created, &next, &m.Attempts, &m.LastError, &sent, &abandoned)
	m.CreatedAt, m.NextAt, m.SentAt, m.AbandonedAt = fromMS(created), fromMS(next), fromNullMS(sent), fromNullMS(abandoned)
	return m, err
}

// EnqueueMail adds m to the outbox, due at m.NextAt (m.CreatedAt when
// zero).
func (t *Tx) EnqueueMail(ctx context.Context, m Mail) error {
	if !m.ID.Valid() || m.Kind == "" || m.To == "" || m.Message == "" {
		return fmt.Errorf("%w: mail %q: an ID, a kind, a recipient and a message", ErrInvalid, m.ID)
	}
	if m.NextAt.IsZero() {
		m.NextAt = m.CreatedAt
	}
	_, err := t.exec(ctx, "mail "+string(m.ID), `INSERT INTO mail_outbox (id, kind, rcpt, message, created_at, next_at, attempts, last_error)
		VALUES ($1, $2, $3, $4, $5, $6, 0, '')`, m.ID, m.Kind, m.To, m.Message, ms(m.CreatedAt), ms(m.NextAt))
	return err
}

// ClaimMail returns up to limit mails due at now, oldest due first, and
// counts an attempt for each: each is then not due again before now +
// lease, so that a sender that dies while sending leaves its mails to be
// claimed again once the lease ends, and two senders never hold the same
// mail at once.
func (t *Tx) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Mail, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+mailCols+` FROM mail_outbox
		WHERE sent_at IS NULL AND abandoned_at IS NULL AND next_at <= $1 ORDER BY next_at, id LIMIT $2`, ms(now), limit)
	if err != nil {
		return nil, t.wrap("due mail", err)
	}
	due, err := collect(rows, scanMail)
	if err != nil {
		return nil, err
	}
	until := now.Add(lease)
	for i := range due {
		if _, err := t.exec(ctx, "claim mail", `UPDATE mail_outbox SET attempts = attempts + 1, next_at = $1 WHERE id = $2`, ms(until), due[i].ID); err != nil {
			return nil, err
		}
		due[i].Attempts++
		due[i].NextAt = fromMS(ms(until))
	}
	return due, nil
}

// MailSent records that the mail server took the mail at at, and drops
// its message.
func (t *Tx) MailSent(ctx context.Context, id MailID, at time.Time) error {
	r, err := t.exec(ctx, "mail sent", `UPDATE mail_outbox SET sent_at = $1, message = '', last_error = '' WHERE id = $2 AND sent_at IS NULL`, ms(at), id)
	if err != nil {
		return err
	}
	return affectedOne(r, "unsent mail "+string(id))
}

// RetryMail records a failed attempt and when to try again.
func (t *Tx) RetryMail(ctx context.Context, id MailID, next time.Time, reason string) error {
	r, err := t.exec(ctx, "retry mail", `UPDATE mail_outbox SET next_at = $1, last_error = $2 WHERE id = $3 AND sent_at IS NULL`,
		ms(next), clip(reason, maxMailError), id)
	if err != nil {
		return err
	}
	return affectedOne(r, "unsent mail "+string(id))
}

// AbandonMail gives up on a mail at at, for reason; its message is
// dropped.
func (t *Tx) AbandonMail(ctx context.Context, id MailID, at time.Time, reason string) error {
	r, err := t.exec(ctx, "abandon mail", `UPDATE mail_outbox SET abandoned_at = $1, message = '', last_error = $2 WHERE id = $3 AND sent_at IS NULL`,
		ms(at), clip(reason, maxMailError), id)
	if err != nil {
		return err
	}
	return affectedOne(r, "unsent mail "+string(id))
}

// NextMailAt is when the next mail is due; ok is false when none waits.
func (t *Tx) NextMailAt(ctx context.Context) (next time.Time, ok bool, err error) {
	var at sql.NullInt64
	if err := t.tx.QueryRowContext(ctx, `SELECT MIN(next_at) FROM mail_outbox WHERE sent_at IS NULL AND abandoned_at IS NULL`).Scan(&at); err != nil {
		return time.Time{}, false, t.wrap("next mail", err)
	}
	return fromNullMS(at), at.Valid, nil
}

// ListMail returns the outbox, newest first, at most limit mails.
func (t *Tx) ListMail(ctx context.Context, limit int) ([]Mail, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+mailCols+` FROM mail_outbox ORDER BY created_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, t.wrap("mail", err)
	}
	return collect(rows, scanMail)
}

// clip cuts s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
