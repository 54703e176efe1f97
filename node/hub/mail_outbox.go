package hub

import (
	"context"
	"fmt"
	"time"

	"github.com/licmesh/licmesh/mesh/mailer"
	"github.com/licmesh/licmesh/node/hub/store"
)

// The outbox sender: mails are queued in the store by the transaction
// that sends them and delivered by mailLoop after it commits, at least
// once. A crash after the commit leaves the mail queued; a mail server
// that is down gets it later (backoff from 30 s to an hour, for up to a
// week); a hub that dies while sending leaves it leased, and it is
// claimed again when the lease ends.
const (
	mailBatch       = 10
	mailLease       = 5 * time.Minute
	mailPoll        = time.Minute // the longest sleep: a mail another hub process queued waits at most this
	mailFirstRetry  = 30 * time.Second
	mailMaxRetry    = time.Hour
	mailGiveUpAfter = 7 * 24 * time.Hour
	mailPruneEvery  = time.Hour
)

// mailBackoff is the wait after the attempts-th failed attempt.
func mailBackoff(attempts int) time.Duration {
	d := mailFirstRetry
	for i := 1; i < attempts && d < mailMaxRetry; i++ {
		d *= 2
	}
	return min(d, mailMaxRetry)
}

// mailLoop delivers the outbox until ctx ends: when nudged after a commit,
// when the next retry is due, and every mailPoll at least. It also
// prunes sign-up records, tokens and old mails hourly. It returns at once
// when the hub sends no mail.
func (s *Server) mailLoop(ctx context.Context) {
	if s.mail == nil && s.hook == nil {
		return
	}
	var mailWake, hookWake chan struct{}
	if s.mail != nil {
		mailWake = s.mail.wake
	}
	if s.hook != nil {
		hookWake = s.hook.wake
	}
	var pruned time.Time
	for {
		next := s.deliverDue(ctx)
		now := s.clk.Now()
		if now.Sub(pruned) >= mailPruneEvery {
			s.pruneSignups(ctx, now)
			pruned = now
		}
		wait := min(max(next.Sub(now), 0), mailPoll)
		select {
		case <-ctx.Done():
			return
		case <-mailWake:
		case <-hookWake:
		case <-s.clk.After(wait):
		}
	}
}

// deliverDue sends the mails due now, a batch at a time, and returns when
// the next one is due.
func (s *Server) deliverDue(ctx context.Context) time.Time {
	now := s.clk.Now()
	var due []store.Mail
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		due, err = tx.ClaimMail(ctx, now, mailLease, mailBatch)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("hub: reading the mail outbox failed", "err", err)
		}
		return now.Add(mailPoll)
	}
	for _, m := range due {
		s.deliver(ctx, m)
	}
	if len(due) == mailBatch {
		return now
	}
	var next time.Time
	var ok bool
	err = s.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		next, ok, err = tx.NextMailAt(ctx)
		return err
	})
	if err != nil || !ok {
		return now.Add(mailPoll)
	}
	return next
}

// deliver sends one claimed mail and records the outcome.
func (s *Server) deliver(ctx context.Context, m store.Mail) {
	log := s.log.With("mail_id", m.ID, "kind", m.Kind, "attempt", m.Attempts)
	var err error
	var hopeless bool
	if m.Kind == mailVendorWebhook {
		hopeless, err = s.postWebhook(ctx, m)
		if err != nil && ctx.Err() != nil {
			return
		}
	} else {
		var msg outboxMessage
		msg, err = s.openMail(m)
		// A mail the data key cannot open will not open later either.
		hopeless = err != nil
		switch {
		case err == nil && s.mail == nil:
			hopeless, err = true, fmt.Errorf("the hub has no mail server (smtp_host) any more")
		case err == nil:
			err = s.mail.send(ctx, m.ID, msg, s.clk.Now())
			if err != nil && ctx.Err() != nil {
				return // stopping: the lease ends and the mail is claimed again
			}
			hopeless = mailer.PermanentFailure(err)
		}
	}
	now := s.clk.Now()
	var update func(ctx context.Context, tx *store.Tx) error
	switch {
	case err == nil:
		log.Info("hub: mail sent")
		update = func(ctx context.Context, tx *store.Tx) error { return tx.MailSent(ctx, m.ID, now) }
	case hopeless || now.Sub(m.CreatedAt) >= mailGiveUpAfter:
		log.Error("hub: mail abandoned", "err", err, "queued_at", m.CreatedAt)
		update = func(ctx context.Context, tx *store.Tx) error { return tx.AbandonMail(ctx, m.ID, now, err.Error()) }
	default:
		retry := mailBackoff(m.Attempts)
		log.Warn("hub: sending mail failed; will retry", "err", err, "retry_in", retry)
		update = func(ctx context.Context, tx *store.Tx) error {
			return tx.RetryMail(ctx, m.ID, now.Add(retry), err.Error())
		}
	}
	// The outcome is recorded even when the hub is stopping: a sent mail
	// marked sent is one not sent again.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.store.Tx(rctx, func(tx *store.Tx) error { return update(rctx, tx) }); err != nil {
		log.Warn("hub: recording a mail's delivery failed", "err", err)
	}
}

// pruneSignups deletes sign-up records, tokens and delivered mail past
// the sign-in retention.
func (s *Server) pruneSignups(ctx context.Context, now time.Time) {
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.PruneSignups(ctx, now.Add(-s.cfg.SigninRetention))
		return err
	})
	if err != nil && ctx.Err() == nil {
		s.log.Warn("hub: pruning sign-ups failed", "err", err)
	}
}
