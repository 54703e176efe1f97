package fsm

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/stretchr/testify/require"
)

const dayMs = int64(24 * time.Hour / time.Millisecond)

// The vendor key is derived from a fixed seed so that fuzz corpora stay
// valid between runs. The FSM never sees it: signatures are the master's
// business.
var vendorKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, ed25519.SeedSize))

const vendorKeyID license.KeyID = "vendor-2026"

// Pool names as a license gives them, capitals included (seed 002).
const (
	adminPool    = "orektic__timehseetAdminUser"
	projectsPool = "orektic__timehseetProjects"
)

// testPayload is a one-year subscription for cluster "acme-prod", valid
// from a day before t0, whose license template grants pool-a 3 hard seats.
// mods change it before it is sealed.
func testPayload(id string, mods ...func(*license.Payload)) *license.Payload {
	p := &license.Payload{
		Format:       license.FormatVersion,
		ID:           license.LicenseID(id),
		Customer:     license.Customer{ID: "cust-42", Name: "Acme Corp"},
		Product:      license.Product{SKU: "timesheet-admin-user", Name: "Timesheet Admin User", Application: "orektic__timesheet", Version: "2.3.0"},
		Type:         license.Subscription,
		Subscription: &license.SubscriptionTerms{RenewalPeriodCount: 1, RenewalPeriodUnit: license.Year},
		IssuedAt:     msTime(t0 - dayMs),
		NotBefore:    msTime(t0 - dayMs),
		ExpiresAt:    msTime(t0 + 365*dayMs),
		Grace:        license.Duration(14 * 24 * time.Hour),
		ClusterID:    "acme-prod",
		Quantity:     10,
		Features: []license.Feature{
			{Name: "orektic__timesheet", Type: license.Checkbox, Scope: license.Instance, Enabled: true},
		},
		LicenseTemplate: []license.TemplateEntry{{Name: "pool-a", Users: 3, UsersCalculation: license.Fixed}},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

// timesheetPayload is seed 002's Timesheet Admin User product bought in a
// quantity of 10, starting at t0 with a 30-day trial: 5 admin seats during
// the trial, then 1 admin seat and 10 project seats with an allowance of 5
// projects.
func timesheetPayload(id string, mods ...func(*license.Payload)) *license.Payload {
	base := []func(*license.Payload){func(p *license.Payload) {
		p.NotBefore, p.IssuedAt = msTime(t0), msTime(t0)
		p.Trial = &license.TrialPeriod{PeriodCount: 30, PeriodUnit: license.Day}
		p.TrialTemplate = []license.TemplateEntry{{Name: adminPool, Users: 5}}
		p.LicenseTemplate = []license.TemplateEntry{
			{Name: adminPool, Users: 1, UsersCalculation: license.Fixed},
			{Name: projectsPool, Users: 1, UsersCalculation: license.PerQty, Amount: 5, AmountCalculation: license.Fixed},
		}
		p.SubscriptionID = "sub-7"
	}}
	return testPayload(id, append(base, mods...)...)
}

// withPools replaces the license template by explicit pools.
func withPools(pools ...license.Pool) func(*license.Payload) {
	return func(p *license.Payload) {
		p.LicenseTemplate = nil
		p.Pools = pools
	}
}

func sealed(t testing.TB, p *license.Payload) []byte {
	t.Helper()
	text, err := license.SealPayload(p, vendorKey, vendorKeyID)
	require.NoError(t, err, "SealPayload(%s)", p.ID)
	return text
}

// addLicense seals p and applies AddLicense at now, which must succeed.
func (h *harness) addLicense(p *license.Payload, now int64) Response {
	h.t.Helper()
	return h.ok(AddLicenseType, AddLicense{Text: sealed(h.t, p), Now: now})
}

// tick moves trusted time to now with a command that changes nothing else.
func (h *harness) tick(now int64) {
	h.t.Helper()
	h.ok(CollectorSeenType, CollectorSeen{Now: now})
}

// poolOf returns a pool that must exist.
func (h *harness) poolOf(name string) PoolStatus {
	h.t.Helper()
	ps, ok := h.f.Pool(name)
	require.True(h.t, ok, "pool %q does not exist", name)
	return ps
}

// grant acquires for holder and returns the lease ID, failing on refusal.
func (h *harness) grant(now int64, pool, holder string) Lease {
	h.t.Helper()
	r := h.batch(now, acq(pool, holder, "c1"))[0]
	require.NoError(h.t, r.Err, "acquire %s/%s", pool, holder)
	return *r.Lease
}
