package master

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// TestReconciliation sets an installation against three licenses: one in
// use within its seats, one whose soft pool went over, one nobody uses;
// then a collector no license covers.
func TestReconciliation(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, clk := startMaster(t, func(c *Config) { c.VendorKeys = []string{license.FormatPublicKey("vendor-test", pub)} })
	admin := adminHandler{s}
	ctx := t.Context()
	now := clk.Now().UTC().Truncate(time.Second)
	add := func(id, sku, name, pool string, seats int, soft bool) {
		t.Helper()
		enforce := lease.Hard
		if soft {
			enforce = lease.Soft
		}
		p := &license.Payload{
			Format: license.FormatVersion, ID: license.LicenseID(id), Customer: license.Customer{ID: "c1", Name: "Acme"},
			Product: license.Product{SKU: license.SKU(sku), Name: name, Application: "app", Version: "1.0.0"},
			Type:    license.Subscription, Subscription: &license.SubscriptionTerms{RenewalPeriodCount: 1, RenewalPeriodUnit: license.Year},
			IssuedAt: now.Add(-time.Hour), NotBefore: now.Add(-time.Hour), ExpiresAt: now.Add(100 * 24 * time.Hour),
			Quantity: 1, LicenseTemplate: []license.TemplateEntry{{Name: pool, Users: seats, UsersCalculation: license.Fixed, Enforce: enforce}},
		}
		text, err := license.SealPayload(p, priv, "vendor-test")
		require.NoError(t, err)
		_, err = admin.AddLicense(ctx, connect.NewRequest(&licmeshv1.AddLicenseRequest{Text: string(text)}))
		require.NoError(t, err)
	}
	add("lic-a", "designer-suite", "Designer Suite", "designer", 2, false)
	add("lic-b", "timesheet", "Timesheet", "ts", 1, true)
	add("lic-c", "reports", "Reports", "reports", 3, false)
	col := enrolled(t, s, "manual", 1)
	acquire(t, s, "designer", "alice", col)
	acquire(t, s, "ts", "bob", col)
	acquire(t, s, "ts", "carol", col) // overage

	r, err := admin.GetReconciliation(ctx, connect.NewRequest(&licmeshv1.GetReconciliationRequest{}))
	require.NoError(t, err)
	rec := r.Msg
	require.Len(t, rec.Inventory, 1)
	assert.Equal(t, "covered", rec.Inventory[0].Status)
	assert.ElementsMatch(t, []string{"lic-a", "lic-b", "lic-c"}, rec.Inventory[0].Licenses)
	assert.Equal(t, uint32(3), rec.Inventory[0].Leases)
	kinds := map[string]string{}
	for _, m := range rec.Mismatches {
		kinds[m.Kind+"/"+m.Subject] = m.Detail
	}
	assert.Contains(t, kinds, "pool_over_seats/ts")
	assert.Contains(t, kinds, "soft_overage/ts")
	assert.Contains(t, kinds, "unused_license/lic-c")
	assert.NotContains(t, kinds, "unused_license/lic-a")
	status := map[string]string{}
	for _, p := range rec.Products {
		status[p.Sku] = p.Status
	}
	assert.Equal(t, map[string]string{"designer-suite": "compliant", "timesheet": "over", "reports": "compliant"}, status)
	assert.False(t, rec.Compliant)

	// The use is reported, integrated on trusted time, with its cost.
	_, err = admin.SetDepartment(ctx, connect.NewRequest(&licmeshv1.SetDepartmentRequest{Name: "fin", Holders: []string{"bob"}}))
	require.NoError(t, err)
	_, err = admin.SetLicenseCost(ctx, connect.NewRequest(&licmeshv1.SetLicenseCostRequest{Cost: &licmeshv1.LicenseCost{
		LicenseId: "lic-b", AmountMinor: 120000, Currency: "EUR", Period: "month", Owner: "cc-4711"}}))
	require.NoError(t, err)
	_, err = admin.SetLicenseCost(ctx, connect.NewRequest(&licmeshv1.SetLicenseCostRequest{Cost: &licmeshv1.LicenseCost{
		LicenseId: "lic-a", AmountMinor: 100, Currency: "USD", Period: "month"}}))
	assert.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err), "a second currency")
	before := s.fsm.TrustedTime()
	clk.Advance(time.Hour)
	require.Eventually(t, func() bool { return s.fsm.TrustedTime().Sub(before) >= 30*time.Minute }, 10*time.Second, poll, "trusted time moves")
	u, err := admin.GetUtilization(ctx, connect.NewRequest(&licmeshv1.GetUtilizationRequest{Pool: "ts", Departments: true}))
	require.NoError(t, err)
	require.Len(t, u.Msg.Rows, 2)
	ts, fin := u.Msg.Rows[0], u.Msg.Rows[1]
	assert.Equal(t, int64(120000), ts.CostMinor)
	assert.Equal(t, "EUR", ts.Currency)
	assert.Equal(t, "fin", fin.Department)
	assert.InDelta(t, 60000, fin.CostMinor, 6000, "bob held one of the two seats for nearly all the time")
	assert.Equal(t, uint32(2), ts.Peak)
	assert.Equal(t, uint32(1), ts.Seats)
	assert.InDelta(t, 2, ts.AverageHeld, 0.2, "two seats held nearly all the time observed")
	assert.Greater(t, ts.LimitShare, 0.9)
	_, err = admin.GetUtilization(ctx, connect.NewRequest(&licmeshv1.GetUtilizationRequest{Month: "Nov"}))
	assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))

	// The month's compliance report: ts went over its seat this month,
	// and nothing was used in a month long past.
	monthRec, err := admin.GetReconciliation(ctx, connect.NewRequest(&licmeshv1.GetReconciliationRequest{Month: ts.Month}))
	require.NoError(t, err)
	over := map[string]string{}
	for _, m := range monthRec.Msg.Mismatches {
		over[m.Kind+"/"+m.Subject] = m.Detail
	}
	assert.Contains(t, over["pool_over_seats/ts"], "held up to 2 seats of 1")
	assert.False(t, monthRec.Msg.Compliant)
	old, err := admin.GetReconciliation(ctx, connect.NewRequest(&licmeshv1.GetReconciliationRequest{Month: "2020-01"}))
	require.NoError(t, err)
	for _, p := range old.Msg.Products {
		assert.Equal(t, "compliant", p.Status, "%s in a month with no use", p.Sku)
	}
	_, err = admin.GetReconciliation(ctx, connect.NewRequest(&licmeshv1.GetReconciliationRequest{Month: "last"}))
	assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
}

// TestEntitlementsCarryTheSiteNoticeRules: the kind-wide rule goes to
// every collector; a rule for a license the collector does not hold does
// not.
func TestEntitlementsCarryTheSiteNoticeRules(t *testing.T) {
	s, _ := startMaster(t)
	admin := adminHandler{s}
	col := enrolled(t, s, "p", 1)
	for _, r := range []*licmeshv1.AlertRule{
		{Kind: "license_expiry", Thresholds: []int32{60, 7}},
		{Kind: "license_expiry", Subject: "lic-elsewhere", Thresholds: []int32{90}},
		{Kind: "pool_usage", Thresholds: []int32{95}},
	} {
		_, err := admin.SetAlertRule(t.Context(), connect.NewRequest(&licmeshv1.SetAlertRuleRequest{Rule: r}))
		require.NoError(t, err)
	}
	doc, _, err := s.entitlementDoc(col)
	require.NoError(t, err)
	require.Len(t, doc.NoticeRules, 1, "%+v", doc.NoticeRules)
	assert.Equal(t, []int{60, 7}, doc.NoticeRules[0].Thresholds)
	assert.Empty(t, doc.NoticeRules[0].Subject)
}
