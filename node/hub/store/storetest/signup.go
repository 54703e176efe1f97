package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/node/hub/store"
)

// customer makes a company with one customer account and returns the
// account.
func customer(t *testing.T, s *store.Store, email string) store.Account {
	t.Helper()
	ctx := context.Background()
	var a store.Account
	tx(t, s, func(tx *store.Tx) error {
		c, err := tx.CreateCompany(ctx, company(strings.ReplaceAll(email, "@", "-"), ""))
		if err != nil {
			return err
		}
		a, err = tx.CreateAccount(ctx, store.Account{ID: store.NewAccountID(), Email: email, Name: "C", Role: store.RoleCustomer,
			Company: c.ID, PasswordHash: "!pending", CreatedAt: T0})
		return err
	})
	return a
}

func testSignupTokens(t *testing.T, s *store.Store) {
	ctx := context.Background()
	a := customer(t, s, "new@acme.example")
	tok := store.SignupToken{Hash: "h1", Account: a.ID, CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)}
	tx(t, s, func(tx *store.Tx) error { return tx.CreateSignupToken(ctx, tok) })
	err := s.Tx(ctx, func(tx *store.Tx) error {
		return tx.CreateSignupToken(ctx, store.SignupToken{Hash: "h0", Account: a.ID, CreatedAt: T0, ExpiresAt: T0})
	})
	require.ErrorIs(t, err, store.ErrInvalid, "a token that is expired when made")

	// Usable until it expires, then not.
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		got, err := tx.SignupToken(ctx, "h1", T0.Add(time.Hour-time.Millisecond))
		assert.Equal(t, tok, got)
		return err
	}))
	require.ErrorIs(t, s.Read(ctx, func(tx *store.Tx) error { _, err := tx.SignupToken(ctx, "h1", T0.Add(time.Hour)); return err }), store.ErrNotFound)
	require.ErrorIs(t, s.Read(ctx, func(tx *store.Tx) error { _, err := tx.SignupToken(ctx, "nope", T0); return err }), store.ErrNotFound)

	// Used once: the second use fails, and so does using an expired one.
	tx(t, s, func(tx *store.Tx) error {
		got, err := tx.UseSignupToken(ctx, "h1", T0.Add(time.Minute))
		assert.Equal(t, a.ID, got.Account)
		assert.Equal(t, T0.Add(time.Minute), got.UsedAt)
		return err
	})
	require.ErrorIs(t, s.Tx(ctx, func(tx *store.Tx) error { _, err := tx.UseSignupToken(ctx, "h1", T0.Add(time.Minute)); return err }), store.ErrNotFound)
	tx(t, s, func(tx *store.Tx) error {
		return tx.CreateSignupToken(ctx, store.SignupToken{Hash: "h2", Account: a.ID, CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)})
	})
	require.ErrorIs(t, s.Tx(ctx, func(tx *store.Tx) error { _, err := tx.UseSignupToken(ctx, "h2", T0.Add(2*time.Hour)); return err }), store.ErrNotFound)

	// A new link ends the older ones.
	tx(t, s, func(tx *store.Tx) error {
		return tx.CreateSignupToken(ctx, store.SignupToken{Hash: "h3", Account: a.ID, CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)})
	})
	tx(t, s, func(tx *store.Tx) error { return tx.EndSignupTokens(ctx, a.ID, T0.Add(time.Second)) })
	require.ErrorIs(t, s.Read(ctx, func(tx *store.Tx) error { _, err := tx.SignupToken(ctx, "h3", T0.Add(time.Second)); return err }), store.ErrNotFound)

	// Two transactions racing for one token: one wins.
	tx(t, s, func(tx *store.Tx) error {
		return tx.CreateSignupToken(ctx, store.SignupToken{Hash: "h4", Account: a.ID, CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)})
	})
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.Tx(ctx, func(tx *store.Tx) error { _, err := tx.UseSignupToken(ctx, "h4", T0.Add(time.Minute)); return err })
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			require.ErrorIs(t, err, store.ErrNotFound)
		}
	}
	assert.Equal(t, 1, won, "a token is used once")
}

func testSignups(t *testing.T, s *store.Store) {
	ctx := context.Background()
	for _, su := range []store.Signup{
		{At: T0, Remote: "192.0.2.1", Email: "a@x.example", Outcome: store.SignupNew},
		{At: T0.Add(time.Minute), Remote: "192.0.2.1", Email: "b@x.example", Outcome: store.SignupExisting},
		{At: T0.Add(2 * time.Minute), Remote: "192.0.2.2", Email: "a@x.example", Outcome: store.SignupQuiet},
	} {
		tx(t, s, func(tx *store.Tx) error { return tx.RecordSignup(ctx, su) })
	}
	require.ErrorIs(t, s.Tx(ctx, func(tx *store.Tx) error { return tx.RecordSignup(ctx, store.Signup{At: T0}) }), store.ErrInvalid)
	count := func(f store.SignupFilter) int {
		var n int
		require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
			var err error
			n, err = tx.CountSignups(ctx, f)
			return err
		}))
		return n
	}
	assert.Equal(t, 3, count(store.SignupFilter{Since: T0}))
	assert.Equal(t, 2, count(store.SignupFilter{Since: T0, Remote: "192.0.2.1"}))
	assert.Equal(t, 1, count(store.SignupFilter{Since: T0.Add(time.Second), Remote: "192.0.2.1"}))
	assert.Equal(t, 2, count(store.SignupFilter{Since: T0, Email: "a@x.example"}))
	assert.Equal(t, 1, count(store.SignupFilter{Since: T0, Email: "a@x.example", Mailed: true}), "a quiet sign-up sent no mail")

	a := customer(t, s, "p@x.example")
	tx(t, s, func(tx *store.Tx) error {
		return tx.CreateSignupToken(ctx, store.SignupToken{Hash: "old", Account: a.ID, CreatedAt: T0, ExpiresAt: T0.Add(time.Minute)})
	})
	tx(t, s, func(tx *store.Tx) error {
		n, err := tx.PruneSignups(ctx, T0.Add(90*time.Second))
		assert.EqualValues(t, 3, n, "two sign-ups and the expired token")
		return err
	})
	assert.Equal(t, 1, count(store.SignupFilter{Since: T0}))
}

func testMailOutbox(t *testing.T, s *store.Store) {
	ctx := context.Background()
	m1 := store.Mail{ID: store.NewMailID(), Kind: "signup", To: "a@x.example", Message: "sealed-1", CreatedAt: T0}
	m2 := store.Mail{ID: store.NewMailID(), Kind: "signup", To: "b@x.example", Message: "sealed-2", CreatedAt: T0.Add(time.Second)}
	tx(t, s, func(tx *store.Tx) error {
		if err := tx.EnqueueMail(ctx, m1); err != nil {
			return err
		}
		return tx.EnqueueMail(ctx, m2)
	})
	require.ErrorIs(t, s.Tx(ctx, func(tx *store.Tx) error {
		return tx.EnqueueMail(ctx, store.Mail{ID: "mail_x", Kind: "k", To: "t", Message: "m"})
	}), store.ErrInvalid)
	next := func() (time.Time, bool) {
		var at time.Time
		var ok bool
		require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
			var err error
			at, ok, err = tx.NextMailAt(ctx)
			return err
		}))
		return at, ok
	}
	claim := func(now time.Time, limit int) []store.Mail {
		var got []store.Mail
		tx(t, s, func(tx *store.Tx) error {
			var err error
			got, err = tx.ClaimMail(ctx, now, 5*time.Minute, limit)
			return err
		})
		return got
	}
	at, ok := next()
	require.True(t, ok)
	assert.Equal(t, T0, at)

	// Claimed in due order, one attempt each; a claimed mail is not due
	// again before its lease ends.
	got := claim(T0.Add(time.Second), 1)
	require.Len(t, got, 1)
	assert.Equal(t, m1.ID, got[0].ID)
	assert.Equal(t, "sealed-1", got[0].Message)
	assert.Equal(t, 1, got[0].Attempts)
	got = claim(T0.Add(2*time.Second), 10)
	require.Len(t, got, 1)
	assert.Equal(t, m2.ID, got[0].ID)
	assert.Empty(t, claim(T0.Add(time.Minute), 10), "both are leased")
	got = claim(T0.Add(5*time.Minute+time.Second), 10)
	require.Len(t, got, 1, "m1's lease has ended: a dead sender's mail is claimed again")
	assert.Equal(t, 2, got[0].Attempts)

	// A failure schedules the next attempt; a delivery drops the message;
	// giving up too.
	tx(t, s, func(tx *store.Tx) error {
		return tx.RetryMail(ctx, m1.ID, T0.Add(time.Hour), "dial tcp: connection refused")
	})
	at, _ = next()
	assert.Equal(t, T0.Add(2*time.Second).Add(5*time.Minute), at, "m2's lease ends first")
	tx(t, s, func(tx *store.Tx) error { return tx.MailSent(ctx, m2.ID, T0.Add(time.Minute)) })
	require.ErrorIs(t, s.Tx(ctx, func(tx *store.Tx) error { return tx.MailSent(ctx, m2.ID, T0.Add(time.Minute)) }), store.ErrNotFound, "sent once")
	at, _ = next()
	assert.Equal(t, T0.Add(time.Hour), at)
	tx(t, s, func(tx *store.Tx) error { return tx.AbandonMail(ctx, m1.ID, T0.Add(2*time.Hour), "550 no such user") })
	_, ok = next()
	assert.False(t, ok, "nothing left to send")

	var all []store.Mail
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		var err error
		all, err = tx.ListMail(ctx, 10)
		return err
	}))
	require.Len(t, all, 2)
	assert.Equal(t, m2.ID, all[0].ID, "newest first")
	assert.Empty(t, all[0].Message, "a delivered mail's message is dropped")
	assert.Equal(t, T0.Add(time.Minute), all[0].SentAt)
	assert.Empty(t, all[1].Message)
	assert.Equal(t, "550 no such user", all[1].LastError)
	assert.Equal(t, T0.Add(2*time.Hour), all[1].AbandonedAt)

	tx(t, s, func(tx *store.Tx) error {
		n, err := tx.PruneSignups(ctx, T0.Add(time.Second))
		assert.EqualValues(t, 1, n, "m1 was made before, m2 at the cut")
		return err
	})
}
