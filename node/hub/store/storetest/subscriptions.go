package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/node/hub/store"
)

// chainLicense is one license of a subscription chain, as the hub stores
// it: issued at T0+at, superseding the previous license of the chain.
type chainLicense struct {
	sub     string
	typ     license.Type
	version int
	qty     int
	at      time.Duration
	expires time.Duration // from T0; 0 for a perpetual license
}

// issueChain stores ls for company co, each one superseding supersedes
// (when not empty), and returns their IDs.
func issueChain(t *testing.T, s *store.Store, co store.CompanyID, sku license.SKU, supersedes store.LicenseID, ls ...chainLicense) []store.LicenseID {
	t.Helper()
	ctx := context.Background()
	var ids []store.LicenseID
	prev := supersedes
	for _, c := range ls {
		l := store.License{ID: store.NewLicenseID(), Company: co, SubscriptionID: c.sub, SKU: sku, ProductVersion: c.version,
			Type: c.typ, Quantity: c.qty, IssuedAt: T0.Add(c.at), NotBefore: T0, KeyID: "k1", IssuedBy: "lm@example.com", Text: "-----BEGIN LICMESH LICENSE-----"}
		if c.expires != 0 {
			l.ExpiresAt = T0.Add(c.expires)
		}
		var over []store.LicenseID
		if prev != "" {
			over = append(over, prev)
		}
		tx(t, s, func(tx *store.Tx) error { return tx.CreateLicense(ctx, l, over...) })
		ids = append(ids, l.ID)
		prev = l.ID
	}
	return ids
}

// testSubscriptions: a company's subscriptions are read from its license
// chains. A trial extended, converted (under a newer product version) and
// given a pack is one subscription of four licenses; an independent
// license of the same product is another; a trial never converted, a
// revoked license, a chain superseded from outside, and a license without
// a subscription ID each stand on their own; another company's licenses
// never mix in, even with the same subscription ID.
func testSubscriptions(t *testing.T, s *store.Store) {
	ctx := context.Background()
	const day = 24 * time.Hour
	acme, globex := company("acme", ""), company("globex", "")
	var v1, reports store.Product
	tx(t, s, func(tx *store.Tx) error {
		if err := tx.AddVendorKey(ctx, store.VendorKey{KeyID: "k1", PublicKey: "k1:pub", PrivateKeySealed: "sealed", CreatedAt: T0}); err != nil {
			return err
		}
		for _, c := range []store.Company{acme, globex} {
			if _, err := tx.CreateCompany(ctx, c); err != nil {
				return err
			}
		}
		var err error
		if v1, err = tx.SaveProduct(ctx, product("timesheet-admin")); err != nil {
			return err
		}
		reports, err = tx.SaveProduct(ctx, product("reports"))
		return err
	})
	trial := issueChain(t, s, acme.ID, v1.SKU, "",
		chainLicense{sub: "sub_a", typ: license.Trial, version: 1, qty: 1, at: 0, expires: 14 * day},
		chainLicense{sub: "sub_a", typ: license.Trial, version: 1, qty: 1, at: time.Hour, expires: 28 * day})
	// The product changes before the conversion, which buys what is sold
	// now: version 2.
	p2 := product("timesheet-admin")
	p2.Name, p2.AppVersion = "Timesheet Admin User (2024)", "2.2.0"
	var v2 store.Product
	tx(t, s, func(tx *store.Tx) (err error) { v2, err = tx.SaveProduct(ctx, p2); return err })
	require.Equal(t, 2, v2.Version)
	paid := issueChain(t, s, acme.ID, v1.SKU, trial[1],
		chainLicense{sub: "sub_a", typ: license.Subscription, version: 2, qty: 3, at: 2 * time.Hour, expires: 365 * day},
		chainLicense{sub: "sub_a", typ: license.Subscription, version: 2, qty: 5, at: 3 * time.Hour, expires: 365 * day})
	separate := issueChain(t, s, acme.ID, v1.SKU, "", chainLicense{sub: "sub_b", typ: license.Perpetual, version: 2, qty: 2, at: 4 * time.Hour})
	lapsed := issueChain(t, s, acme.ID, reports.SKU, "", chainLicense{sub: "sub_c", typ: license.Trial, version: 1, qty: 1, at: 5 * time.Hour, expires: day})
	// sub_d's only license is replaced by sub_e's: sub_d has ended.
	replaced := issueChain(t, s, acme.ID, reports.SKU, "", chainLicense{sub: "sub_d", typ: license.Subscription, version: 1, qty: 1, at: 6 * time.Hour, expires: 365 * day})
	replacement := issueChain(t, s, acme.ID, reports.SKU, replaced[0], chainLicense{sub: "sub_e", typ: license.Subscription, version: 1, qty: 4, at: 7 * time.Hour, expires: 365 * day})
	bare := issueChain(t, s, acme.ID, reports.SKU, "", chainLicense{typ: license.Volume, version: 1, qty: 1, at: 8 * time.Hour, expires: 365 * day})
	issueChain(t, s, globex.ID, v1.SKU, "", chainLicense{sub: "sub_a", typ: license.Subscription, version: 2, qty: 9, at: 30 * time.Minute, expires: 365 * day})
	tx(t, s, func(tx *store.Tx) error { return tx.RevokeLicense(ctx, separate[0], T0.Add(9*time.Hour)) })

	now := T0.Add(2 * day)
	var subs []store.Subscription
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) (err error) {
		subs, err = tx.ListSubscriptions(ctx, store.SubscriptionFilter{Company: acme.ID}, now)
		return err
	}))
	require.Len(t, subs, 6, "one subscription per chain: %+v", subs)
	byID := map[license.SubscriptionID]store.Subscription{}
	for _, sub := range subs {
		assert.Equal(t, acme.ID, sub.Company)
		byID[sub.ID] = sub
	}
	assert.Equal(t, []license.SubscriptionID{"sub_a", "sub_b", "sub_c", "sub_d", "sub_e", license.SubscriptionID(bare[0])},
		[]license.SubscriptionID{subs[0].ID, subs[1].ID, subs[2].ID, subs[3].ID, subs[4].ID, subs[5].ID}, "in the order they started")

	assert.Equal(t, store.Subscription{
		ID: "sub_a", Company: acme.ID, SKU: v1.SKU, ProductVersion: 2, ProductName: "Timesheet Admin User (2024)", AppVersion: "2.2.0",
		StartedAt: T0, Current: paid[1], Type: license.Subscription, Quantity: 5, ExpiresAt: T0.Add(365 * day),
		Status: store.SubscriptionCurrent, Licenses: 4, BeganAsTrial: true, ConvertedAt: T0.Add(2 * time.Hour),
	}, byID["sub_a"], "trial, extension, conversion and pack are one subscription, of the version converted to")
	assert.Equal(t, store.Subscription{
		ID: "sub_b", Company: acme.ID, SKU: v1.SKU, ProductVersion: 2, ProductName: "Timesheet Admin User (2024)", AppVersion: "2.2.0",
		StartedAt: T0.Add(4 * time.Hour), Current: separate[0], Type: license.Perpetual, Quantity: 2,
		RevokedAt: T0.Add(9 * time.Hour), Status: store.SubscriptionRevoked, Licenses: 1,
	}, byID["sub_b"], "a separate license of the same product is a second subscription; revoked")
	c := byID["sub_c"]
	assert.Equal(t, lapsed[0], c.Current)
	assert.Equal(t, store.SubscriptionExpired, c.Status)
	assert.True(t, c.BeganAsTrial)
	assert.True(t, c.ConvertedAt.IsZero(), "a trial never converted")
	assert.Equal(t, "2.1.0", c.AppVersion)
	d := byID["sub_d"]
	assert.Equal(t, store.SubscriptionEnded, d.Status, "superseded by a license of another subscription")
	assert.Equal(t, replaced[0], d.Current, "an ended subscription shows its last license")
	assert.Equal(t, replacement[0], byID["sub_e"].Current)
	assert.Equal(t, store.SubscriptionCurrent, byID["sub_e"].Status)
	assert.Equal(t, 1, byID["sub_e"].Licenses, "a chain is counted within its subscription")
	assert.Equal(t, bare[0], byID[license.SubscriptionID(bare[0])].Current, "a license without a subscription ID is its own")

	// Status follows the clock: past its end, the converted subscription
	// has expired.
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		later, err := tx.ListSubscriptions(ctx, store.SubscriptionFilter{Company: acme.ID}, T0.Add(400*day))
		require.NoError(t, err)
		assert.Equal(t, store.SubscriptionExpired, later[0].Status)
		assert.Equal(t, store.SubscriptionRevoked, later[1].Status, "revoked stays revoked")

		other, err := tx.ListSubscriptions(ctx, store.SubscriptionFilter{Company: globex.ID}, now)
		require.NoError(t, err)
		require.Len(t, other, 1, "another company's licenses do not mix in, even with the same subscription ID")
		assert.Equal(t, 1, other[0].Licenses)
		assert.Equal(t, 9, other[0].Quantity)
		assert.False(t, other[0].BeganAsTrial)

		// Pages, in the order they started.
		page1, err := tx.ListSubscriptions(ctx, store.SubscriptionFilter{Company: acme.ID, Limit: 4}, now)
		require.NoError(t, err)
		require.Len(t, page1, 4)
		page2, err := tx.ListSubscriptions(ctx, store.SubscriptionFilter{Company: acme.ID, Limit: 4, After: page1[3].ID}, now)
		require.NoError(t, err)
		require.Len(t, page2, 2)
		assert.Equal(t, subs[4:], page2)
		last, err := tx.ListSubscriptions(ctx, store.SubscriptionFilter{Company: acme.ID, After: page2[1].ID}, now)
		require.NoError(t, err)
		assert.Empty(t, last)

		_, err = tx.ListSubscriptions(ctx, store.SubscriptionFilter{Company: acme.ID, After: "sub_nope"}, now)
		assert.ErrorIs(t, err, store.ErrNotFound, "an unknown cursor")
		_, err = tx.ListSubscriptions(ctx, store.SubscriptionFilter{Company: globex.ID, After: "sub_b"}, now)
		assert.ErrorIs(t, err, store.ErrNotFound, "another company's subscription is no cursor")
		_, err = tx.ListSubscriptions(ctx, store.SubscriptionFilter{}, now)
		assert.ErrorIs(t, err, store.ErrInvalid, "a company is required")
		none, err := tx.ListSubscriptions(ctx, store.SubscriptionFilter{Company: store.NewCompanyID()}, now)
		require.NoError(t, err)
		assert.Empty(t, none)
		return nil
	}))
}
