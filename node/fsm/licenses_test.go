package fsm

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
	"github.com/stretchr/testify/require"
)

func TestLicenseTrialThenLicenseTemplate(t *testing.T) {
	h := bootstrapped(t)
	text := sealed(t, timesheetPayload("lic-1"))
	if r := h.ok(AddLicenseType, AddLicense{Text: text, Now: t0 + 1}); len(r.Replaced) != 0 {
		t.Fatalf("Replaced = %v", r.Replaced)
	}
	// During the trial: the trial template's 5 admin seats, nothing else.
	ps := h.poolOf(adminPool)
	if ps.Pool != (lease.Pool{Name: adminPool, Seats: 5, Enforce: lease.Hard}) || ps.Source != SourceLicense ||
		!slices.Equal(ps.Licenses, []license.LicenseID{"lic-1"}) || ps.CreatedAt != t0+1 || ps.Manual != nil {
		t.Fatalf("trial pool = %+v", ps)
	}
	if _, ok := h.f.Pool(projectsPool); ok {
		t.Fatal("license template pool in force during the trial")
	}
	if got := h.f.Features(); !maps.Equal(got, map[string]bool{"orektic__timesheet": true}) {
		t.Fatalf("Features = %v", got)
	}
	// Capital letters in a pool name are fine for leases too.
	var held []Lease
	for i := range 5 {
		held = append(held, h.grant(t0+2, adminPool, fmt.Sprintf("admin%d", i)))
	}
	if r := h.batch(t0+3, acq(adminPool, "admin5", "c1"))[0]; !errors.Is(r.Err, ErrPoolFull) {
		t.Fatalf("sixth trial seat: %v", r.Err)
	}

	infos := h.f.Licenses()
	if len(infos) != 1 {
		t.Fatalf("Licenses = %+v", infos)
	}
	li := infos[0]
	if li.ID != "lic-1" || li.KeyID != vendorKeyID || li.Customer.ID != "cust-42" || li.Type != license.Subscription ||
		li.SubscriptionID != "sub-7" || li.Status.Phase != license.Active || !li.Status.InTrial || !li.InForce ||
		li.AddedAt != t0+1 || li.Status.DaysLeft != 365 || li.Status.TrialDaysLeft != 30 || li.Text != nil {
		t.Fatalf("LicenseInfo = %+v", li)
	}
	if len(li.Grants) != 1 || li.Grants[0].Name != adminPool || li.Grants[0].Seats != 5 || li.Grants[0].Held != 5 {
		t.Fatalf("Grants = %+v", li.Grants)
	}
	one, ok := h.f.License("lic-1")
	if !ok || string(one.Text) != string(text) || one.Status.Phase != license.Active {
		t.Fatalf("License = %+v, %v", one, ok)
	}
	// Reads are copies.
	one.Text[0] = 'X'
	one.Features[0].Enabled = false
	if again, _ := h.f.License("lic-1"); again.Text[0] != '-' || !again.Features[0].Enabled {
		t.Fatal("License returned shared state")
	}
	if _, ok := h.f.License("nope"); ok {
		t.Fatal("unknown license found")
	}

	// Trial over: 1 admin seat and 10 project seats. The 5 admins keep their
	// leases; the pool grants nothing new until 4 of them leave.
	trialEnd := t0 + 30*dayMs
	h.tick(trialEnd)
	ps = h.poolOf(adminPool)
	if ps.Pool.Seats != 1 || ps.Held != 5 || ps.UpdatedAt != trialEnd {
		t.Fatalf("admin pool after the trial = %+v", ps)
	}
	pp := h.poolOf(projectsPool)
	if pp.Pool.Seats != 10 || pp.Amount != 5 || pp.Source != SourceLicense || pp.CreatedAt != trialEnd {
		t.Fatalf("projects pool = %+v", pp)
	}
	if r := h.batch(trialEnd+1, acq(adminPool, "late", "c1"))[0]; !errors.Is(r.Err, ErrPoolFull) {
		t.Fatalf("acquire over the shrunk pool: %v", r.Err)
	}
	var ops []LeaseOp
	for _, l := range held[:4] {
		ops = append(ops, rel(l.ID, "c1"))
	}
	h.batch(trialEnd+2, ops...)
	if r := h.batch(trialEnd+3, acq(adminPool, "late", "c1"))[0]; !errors.Is(r.Err, ErrPoolFull) {
		t.Fatalf("acquire at seats: %v", r.Err)
	}
	h.batch(trialEnd+4, rel(held[4].ID, "c1"))
	h.grant(trialEnd+5, adminPool, "late")
	if li := h.f.Licenses()[0]; li.Status.InTrial || len(li.Grants) != 2 {
		t.Fatalf("after the trial: %+v", li)
	}
}

func TestLicenseClockSetBackExtendsNothing(t *testing.T) {
	h := bootstrapped(t)
	h.addLicense(timesheetPayload("lic-1"), t0)
	h.tick(t0 + 31*dayMs)
	// A leader whose clock says the trial is still on changes nothing.
	h.tick(t0 + 5*dayMs)
	h.batch(t0+5*dayMs, acq(adminPool, "a", "c1"))
	if r := h.batch(t0+5*dayMs, acq(adminPool, "b", "c1"))[0]; !errors.Is(r.Err, ErrPoolFull) {
		t.Fatalf("second admin after the trial, clock set back: %v", r.Err)
	}
	if ps := h.poolOf(adminPool); ps.Pool.Seats != 1 {
		t.Fatalf("pool = %+v", ps)
	}
	if got := h.f.TrustedTime(); !got.Equal(msTime(t0 + 31*dayMs)) {
		t.Fatalf("TrustedTime = %v", got)
	}
	// Nor does it revive an expired license.
	end := t0 + 365*dayMs + 14*dayMs
	h.tick(end)
	h.tick(t0 + 100*dayMs)
	if !h.f.PoolExpired(adminPool) || h.f.Licenses()[0].Status.Phase != license.Expired {
		t.Fatalf("expired license revived: %+v", h.f.Licenses()[0].Status)
	}
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
	if !slices.Equal(r.Replaced, []license.LicenseID{"lic-1"}) {
		t.Fatalf("Replaced = %v", r.Replaced)
	}
	if l := h.f.Licenses(); len(l) != 1 || l[0].ID != "lic-2" || !slices.Equal(l[0].Replaced, []license.LicenseID{"lic-1"}) {
		t.Fatalf("Licenses = %+v", l)
	}
	ps := h.poolOf("pm")
	if ps.Pool.Seats != 5 || ps.Held != 8 || ps.CreatedAt != created || ps.UpdatedAt != t0+2 ||
		!slices.Equal(ps.Licenses, []license.LicenseID{"lic-2"}) {
		t.Fatalf("pool after renewal = %+v", ps)
	}
	for _, l := range held {
		if _, ok := h.f.Lease(l.ID); !ok {
			t.Fatalf("lease %d dropped by the renewal", l.ID)
		}
	}
	// Over the new seats: nothing new until releases bring it under 5.
	if r := h.batch(t0+3, acq("pm", "new", "c1"))[0]; !errors.Is(r.Err, ErrPoolFull) {
		t.Fatalf("acquire over seats: %v", r.Err)
	}
	h.batch(t0+4, rel(held[0].ID, "c1"), rel(held[1].ID, "c1"), rel(held[2].ID, "c1"))
	if r := h.batch(t0+5, acq("pm", "new", "c1"))[0]; !errors.Is(r.Err, ErrPoolFull) {
		t.Fatalf("acquire at seats: %v", r.Err)
	}
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
	if r := h.addLicense(up, t0+1); !slices.Equal(r.Replaced, []license.LicenseID{"lic-1", "lic-2"}) {
		t.Fatalf("Replaced = %v", r.Replaced)
	}
	if c := h.f.Counts(); c.Licenses != 1 || c.Pools != 1 {
		t.Fatalf("Counts = %+v", c)
	}
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
	if ps.Pool != (lease.Pool{Name: "pm", Seats: 7, Enforce: lease.Hard, Overage: 1}) || ps.Amount != 5 ||
		!slices.Equal(ps.Licenses, []license.LicenseID{"lic-1", "lic-2"}) {
		t.Fatalf("pool = %+v", ps)
	}
	var ops []LeaseOp
	for i := range 9 {
		ops = append(ops, acq("pm", fmt.Sprintf("u%d", i), "c1"))
	}
	res := h.batch(t0+1, ops...)
	for i, r := range res {
		switch {
		case i < 7 && (r.Err != nil || r.Lease.Overage):
			t.Fatalf("op %d: %+v", i, r)
		case i == 7 && (r.Err != nil || !r.Lease.Overage):
			t.Fatalf("overage grant: %+v", r)
		case i == 8 && !errors.Is(r.Err, ErrPoolFull):
			t.Fatalf("past seats and overage: %v", r.Err)
		}
	}
	if ps := h.poolOf("pm"); ps.OverageGrants != 1 || ps.LastOverageAt != t0+1 {
		t.Fatalf("overage counters = %+v", ps)
	}
	// Without the hard license the pool is soft again, 3 seats, 8 held.
	h.ok(RemoveLicenseType, RemoveLicense{ID: "lic-2", Now: t0 + 2})
	if ps := h.poolOf("pm"); ps.Pool != (lease.Pool{Name: "pm", Seats: 3, Enforce: lease.Soft}) || ps.Held != 8 {
		t.Fatalf("pool after removal = %+v", ps)
	}
	if r := h.batch(t0+3, acq("pm", "u9", "c1"))[0]; r.Err != nil || !r.Lease.Overage {
		t.Fatalf("soft acquire: %+v", r)
	}
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
	if ps.Source != SourceNone || ps.Pool.Seats != 0 || ps.Held != 2 || len(ps.Licenses) != 0 || !h.f.PoolExpired("pool-a") {
		t.Fatalf("pool after removal = %+v", ps)
	}
	if len(h.f.Features()) != 0 || len(h.f.Licenses()) != 0 {
		t.Fatal("features or licenses left after removal")
	}
	res := h.batch(t0+4, acq("pool-a", "carol", "c1"), acq("pool-a", "alice", "c1"))
	if !errors.Is(res[0].Err, ErrUnknownPool) {
		t.Fatalf("new acquire from a removed license's pool: %v", res[0].Err)
	}
	if res[1].Err != nil || !res[1].Existing || res[1].Lease.ID != a.ID {
		t.Fatalf("existing holder: %+v", res[1])
	}
	h.batch(t0+5, rel(a.ID, "c1"))
	if _, ok := h.f.Pool("pool-a"); !ok {
		t.Fatal("pool gone while it holds a lease")
	}
	h.batch(t0+6, exp(b.ID))
	if _, ok := h.f.Pool("pool-a"); ok || h.f.Counts().Pools != 0 {
		t.Fatal("pool left after its last lease")
	}
	// The name is free again: a new license brings the pool back.
	h.addLicense(testPayload("lic-2"), t0+7)
	if ps := h.poolOf("pool-a"); ps.Pool.Seats != 3 || ps.Held != 0 || ps.CreatedAt != t0+7 {
		t.Fatalf("pool brought back = %+v", ps)
	}
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
	if li.Status.Phase != license.InGrace || !li.InForce || li.Status.GraceDaysLeft != 13 || h.f.PoolExpired("pool-a") {
		t.Fatalf("in grace: %+v", li.Status)
	}
	h.grant(expires+dayMs, "pool-a", "bob")

	// The batch whose time is the end of grace is judged at that time.
	graceEnd := expires + 14*dayMs
	res := h.batch(graceEnd, acq("pool-a", "carol", "c1"), acq("pool-a", "alice", "c1"))
	if !errors.Is(res[0].Err, ErrPoolExpired) || res[1].Err != nil || !res[1].Existing {
		t.Fatalf("acquires at the end of grace: %+v", res)
	}
	ps := h.poolOf("pool-a")
	if ps.Source != SourceExpired || ps.Pool.Seats != 0 || ps.Held != 2 || !slices.Equal(ps.Licenses, []license.LicenseID{"lic-1"}) ||
		!h.f.PoolExpired("pool-a") || ps.UpdatedAt != graceEnd {
		t.Fatalf("expired pool = %+v", ps)
	}
	if len(h.f.Features()) != 0 || h.f.Licenses()[0].Status.Phase != license.Expired || h.f.Licenses()[0].InForce {
		t.Fatalf("expired license still in force: %v %+v", h.f.Features(), h.f.Licenses()[0].Status)
	}
	if _, ok := h.f.Lease(a.ID); !ok {
		t.Fatal("expiry dropped a lease")
	}
	runSteps(t, h, []step{
		{"update expired pool", UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "pool-a", Seats: 9, Enforce: lease.Hard}, Now: graceEnd}, ErrLicensedPool},
		{"create over expired pool", CreatePoolType, CreatePool{Pool: lease.Pool{Name: "pool-a", Seats: 9, Enforce: lease.Hard}, Now: graceEnd}, ErrPoolExists},
		{"add an expired license", AddLicenseType, AddLicense{Text: sealed(t, testPayload("lic-old", func(p *license.Payload) {
			p.ExpiresAt = msTime(expires)
		})), Now: graceEnd}, ErrLicenseNotInForce},
	})
	r := h.apply(AddLicenseType, AddLicense{Text: sealed(t, testPayload("lic-old", func(p *license.Payload) { p.ExpiresAt = msTime(expires) })), Now: graceEnd})
	if !errors.Is(r.Err, license.ErrExpired) {
		t.Fatalf("expired license error %v does not wrap license.ErrExpired", r.Err)
	}

	// A renewal brings the pool back with its leases.
	h.addLicense(testPayload("lic-2", func(p *license.Payload) {
		p.SubscriptionID = "sub-1"
		p.IssuedAt = msTime(graceEnd)
		p.ExpiresAt = msTime(graceEnd + 365*dayMs)
	}), graceEnd+1)
	if ps := h.poolOf("pool-a"); ps.Source != SourceLicense || ps.Pool.Seats != 3 || ps.Held != 2 || h.f.PoolExpired("pool-a") {
		t.Fatalf("renewed pool = %+v", ps)
	}
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
	if ps := h.poolOf(adminPool); ps.Pool.Seats != 5 || ps.Source != SourceLicense {
		t.Fatalf("trial pool in grace = %+v", ps)
	}
	h.tick(t0 + 17*dayMs)
	if ps := h.poolOf(adminPool); ps.Source != SourceExpired {
		t.Fatalf("trial pool after grace = %+v", ps)
	}
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
	if li := h.f.Licenses()[0]; li.Status.Phase != license.NotYetValid || li.InForce || len(li.Grants) != 1 {
		t.Fatalf("future license = %+v", li)
	}
	if _, ok := h.f.Pool("pool-a"); ok || len(h.f.Features()) != 0 {
		t.Fatal("a license not yet valid grants")
	}
	h.tick(start - 1)
	if _, ok := h.f.Pool("pool-a"); ok {
		t.Fatal("granted a millisecond early")
	}
	h.batch(start, acq("pool-a", "alice", "c1"))
	if ps := h.poolOf("pool-a"); ps.Held != 1 || ps.CreatedAt != start {
		t.Fatalf("pool at not_before = %+v", ps)
	}
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
	if ps.Source != SourceLicense || ps.Pool.Seats != 3 || ps.Pool.Enforce != lease.Hard || ps.Manual == nil || *ps.Manual != manual {
		t.Fatalf("shadowed manual pool = %+v", ps)
	}
	runSteps(t, h, []step{
		{"update licensed", UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "pool-a", Seats: 9, Enforce: lease.Hard}, Now: t0 + 2}, ErrLicensedPool},
		{"create licensed", CreatePoolType, CreatePool{Pool: lease.Pool{Name: "pool-a", Seats: 9, Enforce: lease.Hard}, Now: t0 + 2}, ErrPoolExists},
		{"update manual", UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "solo", Seats: 4, Enforce: lease.Hard}, Now: t0 + 3}, nil},
	})
	if ps := h.poolOf("solo"); ps.Source != SourceManual || ps.Pool.Seats != 4 || len(ps.Licenses) != 0 {
		t.Fatalf("manual pool = %+v", ps)
	}
	h.ok(RemoveLicenseType, RemoveLicense{ID: "lic-1", Now: t0 + 4})
	if ps := h.poolOf("pool-a"); ps.Source != SourceManual || ps.Pool != manual {
		t.Fatalf("manual pool after the license left = %+v", ps)
	}
	// A lingering pool is taken over by CreatePool, leases and all.
	h.addLicense(testPayload("lic-2", withPools(license.Pool{Name: "gone", Seats: 2, Enforce: lease.Hard})), t0+5)
	g := h.grant(t0+5, "gone", "alice")
	h.ok(RemoveLicenseType, RemoveLicense{ID: "lic-2", Now: t0 + 6})
	h.ok(CreatePoolType, CreatePool{Pool: lease.Pool{Name: "gone", Seats: 1, Enforce: lease.Hard}, Now: t0 + 7})
	if ps := h.poolOf("gone"); ps.Source != SourceManual || ps.Held != 1 || ps.CreatedAt != t0+5 {
		t.Fatalf("taken-over pool = %+v", ps)
	}
	h.batch(t0+8, rel(g.ID, "c1"))
	if _, ok := h.f.Pool("gone"); !ok {
		t.Fatal("manual pool deleted with its last lease")
	}
}
