package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/node/hub/store"
)

// testQuoteRequests: a site's request is kept once however often it is
// sent, another site cannot claim its ID, and answers are listed.
func testQuoteRequests(t *testing.T, s *store.Store) {
	ctx := context.Background()
	q := store.QuoteRequest{ID: "pr-1", ClusterID: "lm-aaaaaaaaaaaa", SKU: "designer-suite", Pool: "designer", Quantity: 5,
		Reason: "new team", RequestedBy: "user:lem", ApprovedBy: "user:ada", RequestedAt: T0, ReceivedAt: T0.Add(time.Minute)}
	receive := func(x store.QuoteRequest) (fresh bool, err error) {
		err = s.Tx(ctx, func(tx *store.Tx) error {
			var err error
			fresh, err = tx.ReceiveQuoteRequest(ctx, x)
			return err
		})
		return fresh, err
	}
	fresh, err := receive(q)
	require.NoError(t, err)
	assert.True(t, fresh)
	fresh, err = receive(q)
	require.NoError(t, err)
	assert.False(t, fresh, "sent again")
	other := q
	other.ClusterID = "lm-bbbbbbbbbbbb"
	_, err = receive(other)
	require.ErrorIs(t, err, store.ErrConflict, "another site's ID")
	_, err = receive(store.QuoteRequest{ID: "pr-2"})
	require.ErrorIs(t, err, store.ErrInvalid)

	m := q
	m.ID, m.Pool, m.Quantity, m.Module, m.ReceivedAt = "pr-2", "", 0, "reports", T0.Add(2*time.Minute)
	_, err = receive(m)
	require.NoError(t, err)
	tx(t, s, func(tx *store.Tx) error {
		return tx.AnswerQuoteRequest(ctx, "pr-1", "quoted: 5 seats, 600 EUR a year", "acc_sales", T0.Add(time.Hour))
	})
	tx(t, s, func(tx *store.Tx) error {
		all, err := tx.ListQuoteRequests(ctx, store.QuoteFilter{})
		require.NoError(t, err)
		require.Len(t, all, 2)
		assert.Equal(t, "pr-2", all[0].ID, "latest received first")
		assert.Equal(t, "quoted: 5 seats, 600 EUR a year", all[1].Answer)
		assert.True(t, all[1].AnsweredAt.Equal(T0.Add(time.Hour)))
		assert.Equal(t, 5, all[1].Quantity)
		open, err := tx.ListQuoteRequests(ctx, store.QuoteFilter{Open: true, Cluster: "lm-aaaaaaaaaaaa"})
		require.NoError(t, err)
		require.Len(t, open, 1)
		assert.Equal(t, "reports", open[0].Module)
		return nil
	})
	err = s.Tx(ctx, func(tx *store.Tx) error { return tx.AnswerQuoteRequest(ctx, "pr-9", "x", "a", T0) })
	require.ErrorIs(t, err, store.ErrNotFound)
}
