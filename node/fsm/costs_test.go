package fsm

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
)

func TestLicenseCostsSpreadOverPools(t *testing.T) {
	h := bootstrapped(t)
	h.addLicense(testPayload("lic-1", withPools(license.Pool{Name: "a", Seats: 4, Enforce: lease.Hard}, license.Pool{Name: "b", Seats: 2, Enforce: lease.Hard})), t0+1)
	h.ok(SetLicenseCostType, SetLicenseCost{Cost: LicenseCost{License: "lic-1", Amount: 12_001 * 12, Currency: "EUR", Period: "year", Owner: "cc-4711"}, By: "admin", Now: t0 + 2})
	costs, cur := h.f.PoolCosts()
	assert.Equal(t, "EUR", cur)
	assert.Equal(t, map[string]int64{"a": 6001, "b": 6000}, costs, "12001 a month over two pools, exactly")

	r := h.apply(SetLicenseCostType, SetLicenseCost{Cost: LicenseCost{License: "lic-1", Amount: 5, Currency: "USD", Period: "month"}, By: "admin", Now: t0 + 3})
	require.NoError(t, r.Err, "the only cost may change its currency")
	h.addLicense(testPayload("lic-2", withPools(license.Pool{Name: "c", Seats: 1, Enforce: lease.Hard})), t0+4)
	r = h.apply(SetLicenseCostType, SetLicenseCost{Cost: LicenseCost{License: "lic-2", Amount: 5, Currency: "EUR", Period: "month"}, By: "admin", Now: t0 + 5})
	require.ErrorIs(t, r.Err, ErrCurrency)
	r = h.apply(SetLicenseCostType, SetLicenseCost{Cost: LicenseCost{License: "lic-9", Amount: 5, Currency: "USD", Period: "month"}, By: "admin", Now: t0 + 5})
	require.ErrorIs(t, r.Err, ErrUnknownLicense)
	for name, c := range map[string]LicenseCost{
		"currency": {License: "lic-2", Amount: 5, Currency: "euro", Period: "month"},
		"period":   {License: "lic-2", Amount: 5, Currency: "EUR", Period: "week"},
		"negative": {License: "lic-2", Amount: -5, Currency: "EUR", Period: "month"},
	} {
		_, err := Encode(SetLicenseCostType, SetLicenseCost{Cost: c, By: "a", Now: t0})
		assert.ErrorIs(t, err, ErrMalformed, name)
	}

	snap := snapshotBytes(t, h.f)
	f := New()
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(snap))))
	assert.Equal(t, h.f.Costs(), f.Costs())
	assert.Equal(t, snap, snapshotBytes(t, f))
}
