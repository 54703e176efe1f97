package fsm

import (
	"fmt"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLicenseTrialThenLicenseTemplate(t *testing.T) {
	h := bootstrapped(t)
	text := sealed(t, timesheetPayload("lic-1"))
	r := h.ok(AddLicenseType, AddLicense{Text: text, Now: t0 + 1})
	assert.Empty(t, r.Replaced, "Replaced")
	// During the trial: the trial template's 5 admin seats, nothing else.
	ps := h.poolOf(adminPool)
	assert.Equal(t, lease.Pool{Name: adminPool, Seats: 5, Enforce: lease.Hard}, ps.Pool, "trial pool = %+v", ps)
	assert.Equal(t, SourceLicense, ps.Source, "trial pool = %+v", ps)
	assert.Equal(t, []license.LicenseID{"lic-1"}, ps.Licenses, "trial pool = %+v", ps)
	assert.Equal(t, t0+1, ps.CreatedAt, "trial pool = %+v", ps)
	assert.Nil(t, ps.Manual, "trial pool = %+v", ps)
	_, ok := h.f.Pool(projectsPool)
	assert.False(t, ok, "license template pool in force during the trial")
	assert.Equal(t, map[string]bool{"orektic__timesheet": true}, h.f.Features(), "Features")
	// Capital letters in a pool name are fine for leases too.
	var held []Lease
	for i := range 5 {
		held = append(held, h.grant(t0+2, adminPool, fmt.Sprintf("admin%d", i)))
	}
	require.ErrorIs(t, h.batch(t0+3, acq(adminPool, "admin5", "c1"))[0].Err, ErrPoolFull, "sixth trial seat")

	infos := h.f.Licenses()
	require.Len(t, infos, 1, "Licenses = %+v", infos)
	li := infos[0]
	assert.Equal(t, license.LicenseID("lic-1"), li.ID, "LicenseInfo = %+v", li)
	assert.Equal(t, vendorKeyID, li.KeyID, "LicenseInfo = %+v", li)
	assert.Equal(t, license.CustomerID("cust-42"), li.Customer.ID, "LicenseInfo = %+v", li)
	assert.Equal(t, license.Subscription, li.Type, "LicenseInfo = %+v", li)
	assert.Equal(t, license.SubscriptionID("sub-7"), li.SubscriptionID, "LicenseInfo = %+v", li)
	assert.Equal(t, license.Active, li.Status.Phase, "LicenseInfo = %+v", li)
	assert.True(t, li.Status.InTrial, "LicenseInfo = %+v", li)
	assert.True(t, li.InForce, "LicenseInfo = %+v", li)
	assert.Equal(t, t0+1, li.AddedAt, "LicenseInfo = %+v", li)
	assert.Equal(t, 365, li.Status.DaysLeft, "LicenseInfo = %+v", li)
	assert.Equal(t, 30, li.Status.TrialDaysLeft, "LicenseInfo = %+v", li)
	assert.Nil(t, li.Text, "LicenseInfo = %+v", li)
	require.Len(t, li.Grants, 1, "Grants = %+v", li.Grants)
	assert.Equal(t, adminPool, li.Grants[0].Name, "Grants = %+v", li.Grants)
	assert.Equal(t, 5, li.Grants[0].Seats, "Grants = %+v", li.Grants)
	assert.Equal(t, 5, li.Grants[0].Held, "Grants = %+v", li.Grants)
	one, ok := h.f.License("lic-1")
	require.True(t, ok, "License lic-1 not found")
	require.Equal(t, string(text), string(one.Text), "License = %+v", one)
	assert.Equal(t, license.Active, one.Status.Phase, "License = %+v", one)
	// Reads are copies.
	require.NotEmpty(t, one.Features, "License = %+v", one)
	one.Text[0] = 'X'
	one.Features[0].Enabled = false
	again, _ := h.f.License("lic-1")
	assert.Equal(t, byte('-'), again.Text[0], "License returned shared state")
	assert.True(t, again.Features[0].Enabled, "License returned shared state")
	_, ok = h.f.License("nope")
	assert.False(t, ok, "unknown license found")

	// Trial over: 1 admin seat and 10 project seats. The 5 admins keep their
	// leases; the pool grants nothing new until 4 of them leave.
	trialEnd := t0 + 30*dayMs
	h.tick(trialEnd)
	ps = h.poolOf(adminPool)
	assert.Equal(t, 1, ps.Pool.Seats, "admin pool after the trial = %+v", ps)
	assert.Equal(t, 5, ps.Held, "admin pool after the trial = %+v", ps)
	assert.Equal(t, trialEnd, ps.UpdatedAt, "admin pool after the trial = %+v", ps)
	pp := h.poolOf(projectsPool)
	assert.Equal(t, 10, pp.Pool.Seats, "projects pool = %+v", pp)
	assert.Equal(t, int64(5), pp.Amount, "projects pool = %+v", pp)
	assert.Equal(t, SourceLicense, pp.Source, "projects pool = %+v", pp)
	assert.Equal(t, trialEnd, pp.CreatedAt, "projects pool = %+v", pp)
	require.ErrorIs(t, h.batch(trialEnd+1, acq(adminPool, "late", "c1"))[0].Err, ErrPoolFull, "acquire over the shrunk pool")
	var ops []LeaseOp
	for _, l := range held[:4] {
		ops = append(ops, rel(l.ID, "c1"))
	}
	h.batch(trialEnd+2, ops...)
	require.ErrorIs(t, h.batch(trialEnd+3, acq(adminPool, "late", "c1"))[0].Err, ErrPoolFull, "acquire at seats")
	h.batch(trialEnd+4, rel(held[4].ID, "c1"))
	h.grant(trialEnd+5, adminPool, "late")
	li = h.f.Licenses()[0]
	assert.False(t, li.Status.InTrial, "after the trial: %+v", li)
	assert.Len(t, li.Grants, 2, "after the trial: %+v", li)
}

func TestLicenseClockSetBackExtendsNothing(t *testing.T) {
	h := bootstrapped(t)
	h.addLicense(timesheetPayload("lic-1"), t0)
	h.tick(t0 + 31*dayMs)
	// A leader whose clock says the trial is still on changes nothing.
	h.tick(t0 + 5*dayMs)
	h.batch(t0+5*dayMs, acq(adminPool, "a", "c1"))
	require.ErrorIs(t, h.batch(t0+5*dayMs, acq(adminPool, "b", "c1"))[0].Err, ErrPoolFull,
		"second admin after the trial, clock set back")
	ps := h.poolOf(adminPool)
	assert.Equal(t, 1, ps.Pool.Seats, "pool = %+v", ps)
	got := h.f.TrustedTime()
	assert.True(t, got.Equal(msTime(t0+31*dayMs)), "TrustedTime = %v, want %v", got, msTime(t0+31*dayMs))
	// Nor does it revive an expired license.
	end := t0 + 365*dayMs + 14*dayMs
	h.tick(end)
	h.tick(t0 + 100*dayMs)
	assert.True(t, h.f.PoolExpired(adminPool), "expired license revived: %+v", h.f.Licenses()[0].Status)
	assert.Equal(t, license.Expired, h.f.Licenses()[0].Status.Phase, "expired license revived: %+v", h.f.Licenses()[0].Status)
}

func TestLicenseRenewalReplacesWithoutEviction(t *testing.T) {
	h := bootstrapped(t)
	h.addLicense(testPayload("lic-1", withPools(license.Pool{Name: "pm", Seats: 10, Enforce: lease.Hard}),
		func(p *license.Payload) { p.SubscriptionID = "sub-1" }), t0)
	var held []Lease
	for i := range 8 {
		held = append(held, h.grant(t0+1, "pm", fmt.Sprintf("u%d", i)))
	}
	created := h.poolOf("pm").CreatedAt

	// The renewal of the same subscription sells 5 seats: it replaces the
	// old license at once and keeps all 8 leases.
	renewal := testPayload("lic-2", withPools(license.Pool{Name: "pm", Seats: 5, Enforce: lease.Hard}), func(p *license.Payload) {
		p.SubscriptionID = "sub-1"
		p.IssuedAt = msTime(t0)
		p.ExpiresAt = msTime(t0 + 730*dayMs)
	})
	r := h.addLicense(renewal, t0+2)
	assert.Equal(t, []license.LicenseID{"lic-1"}, r.Replaced, "Replaced")
	l := h.f.Licenses()
	require.Len(t, l, 1, "Licenses = %+v", l)
	assert.Equal(t, license.LicenseID("lic-2"), l[0].ID, "Licenses = %+v", l)
	assert.Equal(t, []license.LicenseID{"lic-1"}, l[0].Replaced, "Licenses = %+v", l)
	ps := h.poolOf("pm")
	assert.Equal(t, 5, ps.Pool.Seats, "pool after renewal = %+v", ps)
	assert.Equal(t, 8, ps.Held, "pool after renewal = %+v", ps)
	assert.Equal(t, created, ps.CreatedAt, "pool after renewal = %+v", ps)
	assert.Equal(t, t0+2, ps.UpdatedAt, "pool after renewal = %+v", ps)
	assert.Equal(t, []license.LicenseID{"lic-2"}, ps.Licenses, "pool after renewal = %+v", ps)
	for _, l := range held {
		_, ok := h.f.Lease(l.ID)
		require.True(t, ok, "lease %d dropped by the renewal", l.ID)
	}
	// Over the new seats: nothing new until releases bring it under 5.
	require.ErrorIs(t, h.batch(t0+3, acq("pm", "new", "c1"))[0].Err, ErrPoolFull, "acquire over seats")
	h.batch(t0+4, rel(held[0].ID, "c1"), rel(held[1].ID, "c1"), rel(held[2].ID, "c1"))
	require.ErrorIs(t, h.batch(t0+5, acq("pm", "new", "c1"))[0].Err, ErrPoolFull, "acquire at seats")
	h.batch(t0+6, rel(held[3].ID, "c1"))
	h.grant(t0+7, "pm", "new")

	// The old license cannot come back, nor can one issued at the same time.
	runSteps(t, h, []step{
		{"old license again", AddLicenseType, AddLicense{Text: sealed(t, testPayload("lic-1", func(p *license.Payload) { p.SubscriptionID = "sub-1" })), Now: t0 + 8}, ErrLicenseOutdated},
		{"same issue time", AddLicenseType, AddLicense{Text: sealed(t, testPayload("lic-3", func(p *license.Payload) {
			p.SubscriptionID = "sub-1"
			p.IssuedAt = msTime(t0)
		})), Now: t0 + 8}, ErrLicenseOutdated},
		{"other customer", AddLicenseType, AddLicense{Text: sealed(t, testPayload("lic-4", func(p *license.Payload) {
			p.SubscriptionID = "sub-1"
			p.IssuedAt = msTime(t0 + 1000)
			p.Customer.ID = "cust-99"
		})), Now: t0 + 8}, ErrLicenseConflict},
	})
}

func TestLicenseSupersedes(t *testing.T) {
	h := bootstrapped(t)
	h.addLicense(testPayload("lic-1"), t0)
	h.addLicense(testPayload("lic-2", withPools(license.Pool{Name: "pool-b", Seats: 1, Enforce: lease.Soft})), t0)
	up := testPayload("lic-3", func(p *license.Payload) { p.Supersedes = []license.LicenseID{"lic-1", "lic-2"} })
	r := h.addLicense(up, t0+1)
	assert.Equal(t, []license.LicenseID{"lic-1", "lic-2"}, r.Replaced, "Replaced")
	c := h.f.Counts()
	assert.Equal(t, 1, c.Licenses, "Counts = %+v", c)
	assert.Equal(t, 1, c.Pools, "Counts = %+v", c)
	runSteps(t, h, []step{
		{"superseded", AddLicenseType, AddLicense{Text: sealed(t, testPayload("lic-2")), Now: t0 + 2}, ErrLicenseOutdated},
	})
}

func TestLicensesAddUp(t *testing.T) {
	h := bootstrapped(t)
	h.addLicense(testPayload("lic-1", withPools(license.Pool{Name: "pm", Seats: 3, Enforce: lease.Soft, Amount: 2})), t0)
	h.addLicense(testPayload("lic-2", withPools(license.Pool{Name: "pm", Seats: 4, Enforce: lease.Hard, Overage: 1, Amount: 3})), t0)
	ps := h.poolOf("pm")
	// Seats, overage and amounts add up; one hard license makes it hard.
	assert.Equal(t, lease.Pool{Name: "pm", Seats: 7, Enforce: lease.Hard, Overage: 1}, ps.Pool, "pool = %+v", ps)
	assert.Equal(t, int64(5), ps.Amount, "pool = %+v", ps)
	assert.Equal(t, []license.LicenseID{"lic-1", "lic-2"}, ps.Licenses, "pool = %+v", ps)
	var ops []LeaseOp
	for i := range 9 {
		ops = append(ops, acq("pm", fmt.Sprintf("u%d", i), "c1"))
	}
	res := h.batch(t0+1, ops...)
	for i, r := range res {
		switch {
		case i < 7:
			require.NoError(t, r.Err, "op %d: %+v", i, r)
			assert.False(t, r.Lease.Overage, "op %d: %+v", i, r)
		case i == 7:
			require.NoError(t, r.Err, "overage grant: %+v", r)
			assert.True(t, r.Lease.Overage, "overage grant: %+v", r)
		default:
			assert.ErrorIs(t, r.Err, ErrPoolFull, "past seats and overage")
		}
	}
	ps = h.poolOf("pm")
	assert.Equal(t, uint64(1), ps.OverageGrants, "overage counters = %+v", ps)
	assert.Equal(t, t0+1, ps.LastOverageAt, "overage counters = %+v", ps)
	// Without the hard license the pool is soft again, 3 seats, 8 held.
	h.ok(RemoveLicenseType, RemoveLicense{ID: "lic-2", Now: t0 + 2})
	ps = h.poolOf("pm")
	assert.Equal(t, lease.Pool{Name: "pm", Seats: 3, Enforce: lease.Soft}, ps.Pool, "pool after removal = %+v", ps)
	assert.Equal(t, 8, ps.Held, "pool after removal = %+v", ps)
	r := h.batch(t0+3, acq("pm", "u9", "c1"))[0]
	require.NoError(t, r.Err, "soft acquire: %+v", r)
	assert.True(t, r.Lease.Overage, "soft acquire: %+v", r)
}

// TestHardOverageMatchesLicenseAdmit checks that a pool taken from one
// license is that license pool's lease pool, and admits exactly what
// lease.Pool.Admit says of it.
func TestHardOverageMatchesLicenseAdmit(t *testing.T) {
	for _, lp := range []license.Pool{
		{Name: "x", Seats: 2, Enforce: lease.Hard, Overage: 3},
		{Name: "x", Seats: 0, Enforce: lease.Hard, Overage: 1, Amount: 4},
		{Name: "x", Seats: 2, Enforce: lease.Soft},
		{Name: "x", Seats: 3, Enforce: lease.Hard},
	} {
		h := bootstrapped(t)
		h.addLicense(testPayload("lic-1", withPools(lp)), t0)
		pool := lp.LeasePool()
		require.Equal(t, pool, h.poolOf("x").Pool, "pool from %+v", lp)
		for held := range 8 {
			d := pool.Admit(held)
			r := h.batch(t0, acq("x", fmt.Sprintf("u%d", held), "c1"))[0]
			require.Equal(t, d.Grant, r.Err == nil, "%+v held %d: Admit says %+v, FSM gave %+v", lp, held, d, r)
			if !d.Grant {
				break
			}
			require.Equal(t, d.Overage, r.Lease.Overage, "%+v held %d: Admit says %+v, FSM gave %+v", lp, held, d, r)
		}
	}
}

func TestRemoveLicenseLeavesLeases(t *testing.T) {
	h := bootstrapped(t)
	h.addLicense(testPayload("lic-1"), t0)
	a := h.grant(t0, "pool-a", "alice")
	b := h.grant(t0, "pool-a", "bob")
	runSteps(t, h, []step{
		{"remove unknown", RemoveLicenseType, RemoveLicense{ID: "nope", Now: t0 + 1}, ErrUnknownLicense},
		{"remove", RemoveLicenseType, RemoveLicense{ID: "lic-1", Now: t0 + 2}, nil},
		{"remove again", RemoveLicenseType, RemoveLicense{ID: "lic-1", Now: t0 + 3}, ErrUnknownLicense},
	})
	ps := h.poolOf("pool-a")
	assert.Equal(t, SourceNone, ps.Source, "pool after removal = %+v", ps)
	assert.Zero(t, ps.Pool.Seats, "pool after removal = %+v", ps)
	assert.Equal(t, 2, ps.Held, "pool after removal = %+v", ps)
	assert.Empty(t, ps.Licenses, "pool after removal = %+v", ps)
	assert.True(t, h.f.PoolExpired("pool-a"), "pool after removal = %+v", ps)
	assert.Empty(t, h.f.Features(), "features left after removal")
	assert.Empty(t, h.f.Licenses(), "licenses left after removal")
	res := h.batch(t0+4, acq("pool-a", "carol", "c1"), acq("pool-a", "alice", "c1"))
	assert.ErrorIs(t, res[0].Err, ErrUnknownPool, "new acquire from a removed license's pool")
	require.NoError(t, res[1].Err, "existing holder: %+v", res[1])
	assert.True(t, res[1].Existing, "existing holder: %+v", res[1])
	assert.Equal(t, a.ID, res[1].Lease.ID, "existing holder: %+v", res[1])
	h.batch(t0+5, rel(a.ID, "c1"))
	_, ok := h.f.Pool("pool-a")
	require.True(t, ok, "pool gone while it holds a lease")
	h.batch(t0+6, exp(b.ID))
	_, ok = h.f.Pool("pool-a")
	assert.False(t, ok, "pool left after its last lease")
	assert.Zero(t, h.f.Counts().Pools, "pool left after its last lease")
	// The name is free again: a new license brings the pool back.
	h.addLicense(testPayload("lic-2"), t0+7)
	ps = h.poolOf("pool-a")
	assert.Equal(t, 3, ps.Pool.Seats, "pool brought back = %+v", ps)
	assert.Zero(t, ps.Held, "pool brought back = %+v", ps)
	assert.Equal(t, t0+7, ps.CreatedAt, "pool brought back = %+v", ps)
}

func TestLicenseExpiryStopsGrants(t *testing.T) {
	h := bootstrapped(t)
	expires := t0 + 10*dayMs
	h.addLicense(testPayload("lic-1", func(p *license.Payload) {
		p.ExpiresAt = msTime(expires)
		p.SubscriptionID = "sub-1"
	}), t0)
	a := h.grant(t0, "pool-a", "alice")

	// In grace: still granting, features still on.
	h.tick(expires + dayMs)
	li := h.f.Licenses()[0]
	assert.Equal(t, license.InGrace, li.Status.Phase, "in grace: %+v", li.Status)
	assert.True(t, li.InForce, "in grace: %+v", li.Status)
	assert.Equal(t, 13, li.Status.GraceDaysLeft, "in grace: %+v", li.Status)
	assert.False(t, h.f.PoolExpired("pool-a"), "in grace: %+v", li.Status)
	h.grant(expires+dayMs, "pool-a", "bob")

	// The batch whose time is the end of grace is judged at that time.
	graceEnd := expires + 14*dayMs
	res := h.batch(graceEnd, acq("pool-a", "carol", "c1"), acq("pool-a", "alice", "c1"))
	assert.ErrorIs(t, res[0].Err, ErrPoolExpired, "acquires at the end of grace: %+v", res)
	require.NoError(t, res[1].Err, "acquires at the end of grace: %+v", res)
	assert.True(t, res[1].Existing, "acquires at the end of grace: %+v", res)
	ps := h.poolOf("pool-a")
	assert.Equal(t, SourceExpired, ps.Source, "expired pool = %+v", ps)
	assert.Zero(t, ps.Pool.Seats, "expired pool = %+v", ps)
	assert.Equal(t, 2, ps.Held, "expired pool = %+v", ps)
	assert.Equal(t, []license.LicenseID{"lic-1"}, ps.Licenses, "expired pool = %+v", ps)
	assert.True(t, h.f.PoolExpired("pool-a"), "expired pool = %+v", ps)
	assert.Equal(t, graceEnd, ps.UpdatedAt, "expired pool = %+v", ps)
	li = h.f.Licenses()[0]
	assert.Empty(t, h.f.Features(), "expired license still in force: %+v", li.Status)
	assert.Equal(t, license.Expired, li.Status.Phase, "expired license still in force: %+v", li.Status)
	assert.False(t, li.InForce, "expired license still in force: %+v", li.Status)
	_, ok := h.f.Lease(a.ID)
	assert.True(t, ok, "expiry dropped a lease")
	runSteps(t, h, []step{
		{"update expired pool", UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "pool-a", Seats: 9, Enforce: lease.Hard}, Now: graceEnd}, ErrLicensedPool},
		{"create over expired pool", CreatePoolType, CreatePool{Pool: lease.Pool{Name: "pool-a", Seats: 9, Enforce: lease.Hard}, Now: graceEnd}, ErrPoolExists},
		{"add an expired license", AddLicenseType, AddLicense{Text: sealed(t, testPayload("lic-old", func(p *license.Payload) {
			p.ExpiresAt = msTime(expires)
		})), Now: graceEnd}, ErrLicenseNotInForce},
	})
	r := h.apply(AddLicenseType, AddLicense{Text: sealed(t, testPayload("lic-old", func(p *license.Payload) { p.ExpiresAt = msTime(expires) })), Now: graceEnd})
	assert.ErrorIs(t, r.Err, license.ErrExpired, "expired license error does not wrap license.ErrExpired")

	// A renewal brings the pool back with its leases.
	h.addLicense(testPayload("lic-2", func(p *license.Payload) {
		p.SubscriptionID = "sub-1"
		p.IssuedAt = msTime(graceEnd)
		p.ExpiresAt = msTime(graceEnd + 365*dayMs)
	}), graceEnd+1)
	ps = h.poolOf("pool-a")
	assert.Equal(t, SourceLicense, ps.Source, "renewed pool = %+v", ps)
	assert.Equal(t, 3, ps.Pool.Seats, "renewed pool = %+v", ps)
	assert.Equal(t, 2, ps.Held, "renewed pool = %+v", ps)
	assert.False(t, h.f.PoolExpired("pool-a"), "renewed pool = %+v", ps)
	h.grant(graceEnd+2, "pool-a", "carol")
}

func TestTrialLicenseGraceKeepsTrialPools(t *testing.T) {
	h := bootstrapped(t)
	h.addLicense(testPayload("trial-1", func(p *license.Payload) {
		p.Type, p.Subscription = license.Trial, nil
		p.NotBefore = msTime(t0)
		p.Trial = &license.TrialPeriod{PeriodCount: 14, PeriodUnit: license.Day}
		p.ExpiresAt = msTime(t0 + 14*dayMs)
		p.Grace = license.Duration(3 * 24 * time.Hour)
		p.TrialTemplate = []license.TemplateEntry{{Name: adminPool, Users: 5}}
		p.LicenseTemplate = nil
	}), t0)
	h.tick(t0 + 15*dayMs)
	ps := h.poolOf(adminPool)
	assert.Equal(t, 5, ps.Pool.Seats, "trial pool in grace = %+v", ps)
	assert.Equal(t, SourceLicense, ps.Source, "trial pool in grace = %+v", ps)
	h.tick(t0 + 17*dayMs)
	ps = h.poolOf(adminPool)
	assert.Equal(t, SourceExpired, ps.Source, "trial pool after grace = %+v", ps)
}

func TestLicenseNotYetValid(t *testing.T) {
	h := bootstrapped(t)
	start := t0 + 5*dayMs
	future := func(id string) *license.Payload {
		return testPayload(id, func(p *license.Payload) {
			p.NotBefore, p.IssuedAt = msTime(start), msTime(t0)
			p.SubscriptionID = "sub-1"
		})
	}
	h.addLicense(future("lic-1"), t0)
	li := h.f.Licenses()[0]
	assert.Equal(t, license.NotYetValid, li.Status.Phase, "future license = %+v", li)
	assert.False(t, li.InForce, "future license = %+v", li)
	assert.Len(t, li.Grants, 1, "future license = %+v", li)
	_, ok := h.f.Pool("pool-a")
	assert.False(t, ok, "a license not yet valid grants a pool")
	assert.Empty(t, h.f.Features(), "a license not yet valid grants features")
	h.tick(start - 1)
	_, ok = h.f.Pool("pool-a")
	require.False(t, ok, "granted a millisecond early")
	h.batch(start, acq("pool-a", "alice", "c1"))
	ps := h.poolOf("pool-a")
	assert.Equal(t, 1, ps.Held, "pool at not_before = %+v", ps)
	assert.Equal(t, start, ps.CreatedAt, "pool at not_before = %+v", ps)
	// A renewal that starts later must not replace the license in force.
	runSteps(t, h, []step{
		{"future renewal", AddLicenseType, AddLicense{Text: sealed(t, testPayload("lic-2", func(p *license.Payload) {
			p.SubscriptionID = "sub-1"
			p.IssuedAt = msTime(start)
			p.NotBefore = msTime(start + 30*dayMs)
		})), Now: start}, ErrLicenseNotInForce},
	})
}

func TestLicenseAndManualPools(t *testing.T) {
	h := bootstrapped(t)
	h.pool("pool-a", 2, lease.Soft)
	h.pool("solo", 1, lease.Hard)
	h.addLicense(testPayload("lic-1"), t0+1)
	// The license wins while it is in force; the manual config waits.
	ps := h.poolOf("pool-a")
	manual := lease.Pool{Name: "pool-a", Seats: 2, Enforce: lease.Soft}
	assert.Equal(t, SourceLicense, ps.Source, "shadowed manual pool = %+v", ps)
	assert.Equal(t, 3, ps.Pool.Seats, "shadowed manual pool = %+v", ps)
	assert.Equal(t, lease.Hard, ps.Pool.Enforce, "shadowed manual pool = %+v", ps)
	if assert.NotNil(t, ps.Manual, "shadowed manual pool = %+v", ps) {
		assert.Equal(t, manual, *ps.Manual, "shadowed manual pool = %+v", ps)
	}
	runSteps(t, h, []step{
		{"update licensed", UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "pool-a", Seats: 9, Enforce: lease.Hard}, Now: t0 + 2}, ErrLicensedPool},
		{"create licensed", CreatePoolType, CreatePool{Pool: lease.Pool{Name: "pool-a", Seats: 9, Enforce: lease.Hard}, Now: t0 + 2}, ErrPoolExists},
		{"update manual", UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "solo", Seats: 4, Enforce: lease.Hard}, Now: t0 + 3}, nil},
	})
	ps = h.poolOf("solo")
	assert.Equal(t, SourceManual, ps.Source, "manual pool = %+v", ps)
	assert.Equal(t, 4, ps.Pool.Seats, "manual pool = %+v", ps)
	assert.Empty(t, ps.Licenses, "manual pool = %+v", ps)
	h.ok(RemoveLicenseType, RemoveLicense{ID: "lic-1", Now: t0 + 4})
	ps = h.poolOf("pool-a")
	assert.Equal(t, SourceManual, ps.Source, "manual pool after the license left = %+v", ps)
	assert.Equal(t, manual, ps.Pool, "manual pool after the license left = %+v", ps)
	// A lingering pool is taken over by CreatePool, leases and all.
	h.addLicense(testPayload("lic-2", withPools(license.Pool{Name: "gone", Seats: 2, Enforce: lease.Hard})), t0+5)
	g := h.grant(t0+5, "gone", "alice")
	h.ok(RemoveLicenseType, RemoveLicense{ID: "lic-2", Now: t0 + 6})
	h.ok(CreatePoolType, CreatePool{Pool: lease.Pool{Name: "gone", Seats: 1, Enforce: lease.Hard}, Now: t0 + 7})
	ps = h.poolOf("gone")
	assert.Equal(t, SourceManual, ps.Source, "taken-over pool = %+v", ps)
	assert.Equal(t, 1, ps.Held, "taken-over pool = %+v", ps)
	assert.Equal(t, t0+5, ps.CreatedAt, "taken-over pool = %+v", ps)
	h.batch(t0+8, rel(g.ID, "c1"))
	_, ok := h.f.Pool("gone")
	assert.True(t, ok, "manual pool deleted with its last lease")
}
