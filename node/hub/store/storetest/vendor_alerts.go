package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/alert"
	"github.com/licmesh/licmesh/node/hub/store"
)

// testVendorAlerts: a key fires once, not again while it fires, again as a
// new episode once resolved; the list is the latest fired first.
func testVendorAlerts(t *testing.T, s *store.Store) {
	ctx := context.Background()
	a := alert.Alert{Key: "license_expiry/lic_1/15d", Kind: alert.LicenseExpiry, Subject: "lic_1", Threshold: "15d", Severity: alert.Warning, Summary: "license lic_1 expires in 15 days"}
	b := alert.Alert{Key: "trial_end/lic_2/7d", Kind: alert.TrialEnd, Subject: "lic_2", Threshold: "7d", Severity: alert.Warning, Summary: "the trial ends"}
	fire := func(x alert.Alert, at time.Time) (fired bool) {
		tx(t, s, func(tx *store.Tx) error {
			var err error
			fired, err = tx.FireVendorAlert(ctx, x, at)
			return err
		})
		return fired
	}
	assert.True(t, fire(a, T0))
	assert.False(t, fire(a, T0.Add(time.Minute)), "firing already")
	assert.True(t, fire(b, T0.Add(2*time.Minute)))
	tx(t, s, func(tx *store.Tx) error { return tx.ResolveVendorAlert(ctx, a.Key, T0.Add(3*time.Minute)) })
	tx(t, s, func(tx *store.Tx) error {
		active, err := tx.ListVendorAlerts(ctx, true, 0)
		require.NoError(t, err)
		require.Len(t, active, 1)
		assert.Equal(t, b.Key, active[0].Key)
		return nil
	})
	assert.True(t, fire(a, T0.Add(4*time.Minute)), "a new episode")
	tx(t, s, func(tx *store.Tx) error {
		all, err := tx.ListVendorAlerts(ctx, false, 0)
		require.NoError(t, err)
		require.Len(t, all, 2)
		assert.Equal(t, a.Key, all[0].Key, "latest fired first")
		assert.Equal(t, 2, all[0].Episodes)
		assert.True(t, all[0].ResolvedAt.IsZero())
		assert.Equal(t, T0.Add(4*time.Minute), all[0].FiredAt)
		assert.Equal(t, alert.TrialEnd, all[1].Kind)
		return nil
	})
}
