package fsm

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPurchaseRequestLifecycle(t *testing.T) {
	h := bootstrapped(t)
	req := Purchase{ID: "pr-1", SKU: "designer-suite", Pool: "designer", Quantity: 5, Reason: "new team", RequestedBy: "user:lem"}
	h.ok(RequestPurchaseType, RequestPurchase{Purchase: req, Now: t0 + 1})
	r := h.apply(RequestPurchaseType, RequestPurchase{Purchase: req, Now: t0 + 1})
	require.ErrorIs(t, r.Err, ErrPurchaseState, "the same ID twice")
	r = h.apply(PurchaseProgressType, PurchaseProgress{ID: "pr-1", Sent: true, Via: "online", Now: t0 + 2})
	require.NoError(t, r.Err, "a request not approved is not sent: nothing changes")
	assert.Equal(t, PurchaseRequested, h.f.Purchases()[0].State)
	h.ok(DecidePurchaseType, DecidePurchase{ID: "pr-1", Approve: true, Note: "ok for Q1", By: "user:ada", Now: t0 + 3})
	r = h.apply(DecidePurchaseType, DecidePurchase{ID: "pr-1", Approve: false, By: "user:ada", Now: t0 + 4})
	require.ErrorIs(t, r.Err, ErrPurchaseState, "decided twice")
	h.ok(PurchaseProgressType, PurchaseProgress{ID: "pr-1", Sent: true, Via: "online", Now: t0 + 5})
	h.ok(PurchaseProgressType, PurchaseProgress{ID: "pr-1", Answer: "quoted: 5 seats, 600 EUR a year", Now: t0 + 6})
	p := h.f.Purchases()[0]
	assert.Equal(t, PurchaseAnswered, p.State)
	assert.Equal(t, "user:ada", p.DecidedBy)
	assert.Equal(t, "online", p.Via)
	assert.Equal(t, t0+6, p.AnsweredAt)

	h.ok(RequestPurchaseType, RequestPurchase{Purchase: Purchase{ID: "pr-2", SKU: "designer-suite", Module: "reports", RequestedBy: "user:lem"}, Now: t0 + 7})
	h.ok(DecidePurchaseType, DecidePurchase{ID: "pr-2", By: "user:ada", Now: t0 + 8})
	assert.Equal(t, PurchaseDeclined, h.f.Purchases()[0].State, "newest first")
	r = h.apply(PurchaseProgressType, PurchaseProgress{ID: "pr-2", Answer: "x", Now: t0 + 9})
	require.ErrorIs(t, r.Err, ErrPurchaseState)

	for name, c := range map[string]RequestPurchase{
		"both":       {Purchase: Purchase{ID: "x1", SKU: "s", Pool: "p", Quantity: 1, Module: "m", RequestedBy: "u"}, Now: t0},
		"neither":    {Purchase: Purchase{ID: "x1", SKU: "s", RequestedBy: "u"}, Now: t0},
		"no seats":   {Purchase: Purchase{ID: "x1", SKU: "s", Pool: "p", RequestedBy: "u"}, Now: t0},
		"bad id":     {Purchase: Purchase{ID: "x 1", SKU: "s", Module: "m", RequestedBy: "u"}, Now: t0},
		"module qty": {Purchase: Purchase{ID: "x1", SKU: "s", Module: "m", Quantity: 2, RequestedBy: "u"}, Now: t0},
	} {
		_, err := Encode(RequestPurchaseType, c)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}

	snap := snapshotBytes(t, h.f)
	f := New()
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(snap))))
	assert.Equal(t, h.f.Purchases(), f.Purchases())
	assert.Equal(t, snap, snapshotBytes(t, f))
}
