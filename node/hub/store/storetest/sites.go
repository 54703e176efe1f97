package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/node/hub/store"
)

// The store side of sites: registration, the chain of usage batches and
// the rows they leave (months, days, credits, seats, the sales monitor's
// installations).

var (
	oct = usage.MonthKey{Year: 2026, Month: time.October}
	nov = usage.MonthKey{Year: 2026, Month: time.November}
)

// hashOf is a stand-in for a batch's hash: the store keeps what it is
// given and compares it, it does not compute it.
func hashOf(cluster license.ClusterID, seq uint64, variant string) string {
	return fmt.Sprintf("%s-%d-%s", cluster, seq, variant)
}

// siteOf is a freshly registered site of company co, its chain empty.
func siteOf(id license.ClusterID, co store.CompanyID) store.Site {
	return store.Site{ClusterID: id, Company: co, PublicKey: []byte("key-of-" + id), Products: []string{"timesheet-admin"},
		MasterVersions: []string{"1.0.0"}, RegisteredAt: T0, LastContactAt: T0, Zone: "UTC"}
}

// usageBatch is batch seq of cluster, following prev, carrying months.
func usageBatch(cluster license.ClusterID, seq uint64, prev string, months ...upstream.Month) *upstream.Batch {
	return &upstream.Batch{Format: upstream.BatchFormat, ClusterID: cluster, Seq: seq, Prev: prev, CreatedAt: T0, Zone: "Europe/Berlin", Months: months}
}

func openMonth(inst usage.InstallationID, k usage.MonthKey, users, cases int64) upstream.Month {
	return upstream.Month{Installation: inst, Month: k, Metrics: usage.Metrics{UserCountLatest: users, UserCountMax: users + 1, CaseCountLatest: cases, CaseCountMax: cases + 1}}
}

func closedMonth(inst usage.InstallationID, k usage.MonthKey, users, cases int64, at time.Time, late *usage.LateArrivals) upstream.Month {
	m := openMonth(inst, k, users, cases)
	m.Closed, m.ClosedAt, m.Late = true, at, late
	return m
}

// appendChain appends batches to their site's chain, each in its own
// transaction, hashing them with hashOf; it returns the last hash.
func appendChain(t *testing.T, s *store.Store, at time.Time, bs ...*upstream.Batch) string {
	t.Helper()
	var h string
	for _, b := range bs {
		h = hashOf(b.ClusterID, b.Seq, "")
		tx(t, s, func(tx *store.Tx) error { return tx.AppendBatch(context.Background(), b, h, "online", at) })
	}
	return h
}

func months(t *testing.T, s *store.Store, f store.MonthFilter) []store.UsageMonth {
	t.Helper()
	var out []store.UsageMonth
	require.NoError(t, s.Read(context.Background(), func(tx *store.Tx) (err error) { out, err = tx.ListMonths(context.Background(), f); return err }))
	return out
}

func siteNow(t *testing.T, s *store.Store, id license.ClusterID) store.Site {
	t.Helper()
	var out store.Site
	require.NoError(t, s.Read(context.Background(), func(tx *store.Tx) (err error) { out, err = tx.Site(context.Background(), id); return err }))
	return out
}

func createCompanies(t *testing.T, s *store.Store, rs []store.Reseller, cs ...store.Company) {
	t.Helper()
	tx(t, s, func(tx *store.Tx) error {
		for _, r := range rs {
			if err := tx.CreateReseller(context.Background(), r); err != nil {
				return err
			}
		}
		for _, c := range cs {
			if _, err := tx.CreateCompany(context.Background(), c); err != nil {
				return err
			}
		}
		return nil
	})
}

// testSites: a site registers once with its key; registering again
// changes what a re-registration may change and never the key, the
// registration time or the chain; contacts are recorded by how they came.
func testSites(t *testing.T, s *store.Store) {
	ctx := context.Background()
	r1 := store.Reseller{ID: store.NewResellerID(), Name: "Partner One", CreatedAt: T0}
	acme, globex := company("acme", r1.ID), company("globex", "")
	createCompanies(t, s, []store.Reseller{r1}, acme, globex)

	for name, bad := range map[string]store.Site{
		"no cluster":  siteOf("", acme.ID),
		"bad cluster": siteOf("lm/x", acme.ID),
		"bad company": siteOf("lm-a", "co_x"),
		"no key":      {ClusterID: "lm-a", Company: acme.ID, RegisteredAt: T0},
	} {
		err := s.Tx(ctx, func(tx *store.Tx) error { return tx.PutSite(ctx, bad) })
		require.ErrorIs(t, err, store.ErrInvalid, name)
	}
	err := s.Tx(ctx, func(tx *store.Tx) error { return tx.PutSite(ctx, siteOf("lm-a", store.NewCompanyID())) })
	require.Error(t, err, "a site of an unknown company")

	a := siteOf("lm-a", acme.ID)
	a.CollectorVersions = nil
	a.ChainSeq, a.ChainHash, a.Zone = 4, hashOf("lm-a", 4, ""), "Europe/Berlin"
	tx(t, s, func(tx *store.Tx) error { return tx.PutSite(ctx, a) })
	got := siteNow(t, s, "lm-a")
	want := a
	want.CollectorVersions = []string{}
	assert.Equal(t, want, got, "a site reads back as stored")
	assert.Equal(t, "none", got.Arrival())
	err = s.Read(ctx, func(tx *store.Tx) error { _, err := tx.Site(ctx, "lm-nope"); return err })
	require.ErrorIs(t, err, store.ErrNotFound)

	// Registering again (the same cluster activating again) changes the
	// company, products, versions and contact time, and nothing else.
	again := store.Site{ClusterID: "lm-a", Company: globex.ID, PublicKey: []byte("another key"), Products: []string{"reports", "timesheet-admin"},
		MasterVersions: []string{"1.1.0"}, CollectorVersions: []string{"0.9.0"}, RegisteredAt: T0.Add(time.Hour), LastContactAt: T0.Add(time.Hour),
		ChainSeq: 0, ChainHash: "", Zone: "UTC"}
	tx(t, s, func(tx *store.Tx) error { return tx.PutSite(ctx, again) })
	got = siteNow(t, s, "lm-a")
	assert.Equal(t, globex.ID, got.Company)
	assert.Equal(t, again.Products, got.Products)
	assert.Equal(t, again.MasterVersions, got.MasterVersions)
	assert.Equal(t, again.CollectorVersions, got.CollectorVersions)
	assert.Equal(t, T0.Add(time.Hour), got.LastContactAt)
	assert.Equal(t, a.PublicKey, got.PublicKey, "the key is the one the site registered with")
	assert.Equal(t, T0, got.RegisteredAt)
	assert.Equal(t, uint64(4), got.ChainSeq, "the chain is set once, at registration")
	assert.Equal(t, a.ChainHash, got.ChainHash)
	assert.Equal(t, "Europe/Berlin", got.Zone)
	tx(t, s, func(tx *store.Tx) error { return tx.PutSite(ctx, a) })

	// Contacts: a license check, an online push, a file.
	tx(t, s, func(tx *store.Tx) error { return tx.TouchSite(ctx, "lm-a", "", T0.Add(2*time.Hour)) })
	got = siteNow(t, s, "lm-a")
	assert.Equal(t, T0.Add(2*time.Hour), got.LastContactAt)
	assert.Equal(t, "none", got.Arrival(), "a license check carries no usage")
	tx(t, s, func(tx *store.Tx) error { return tx.TouchSite(ctx, "lm-a", "online", T0.Add(3*time.Hour)) })
	got = siteNow(t, s, "lm-a")
	assert.Equal(t, T0.Add(3*time.Hour), got.LastOnlineAt)
	assert.Equal(t, "online", got.Arrival())
	tx(t, s, func(tx *store.Tx) error { return tx.TouchSite(ctx, "lm-a", "file", T0.Add(4*time.Hour)) })
	got = siteNow(t, s, "lm-a")
	assert.Equal(t, T0.Add(4*time.Hour), got.LastFileAt)
	assert.Equal(t, T0.Add(3*time.Hour), got.LastOnlineAt)
	assert.Equal(t, T0.Add(4*time.Hour), got.LastContactAt)
	assert.Equal(t, "both", got.Arrival())
	b := siteOf("lm-b", globex.ID)
	tx(t, s, func(tx *store.Tx) error { return tx.PutSite(ctx, b) })
	tx(t, s, func(tx *store.Tx) error { return tx.TouchSite(ctx, "lm-b", "file", T0.Add(time.Hour)) })
	assert.Equal(t, "file", siteNow(t, s, "lm-b").Arrival())
	err = s.Tx(ctx, func(tx *store.Tx) error { return tx.TouchSite(ctx, "lm-nope", "online", T0) })
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		all, err := tx.ListSites(ctx, "", "")
		require.NoError(t, err)
		require.Len(t, all, 2)
		assert.Equal(t, license.ClusterID("lm-a"), all[0].ClusterID, "by cluster ID")
		assert.Equal(t, license.ClusterID("lm-b"), all[1].ClusterID)
		mine, err := tx.ListSites(ctx, globex.ID, "")
		require.NoError(t, err)
		require.Len(t, mine, 1)
		assert.Equal(t, license.ClusterID("lm-b"), mine[0].ClusterID)
		sold, err := tx.ListSites(ctx, "", r1.ID)
		require.NoError(t, err)
		require.Len(t, sold, 1, "a reseller's customers' sites")
		assert.Equal(t, license.ClusterID("lm-a"), sold[0].ClusterID)
		none, err := tx.ListSites(ctx, store.NewCompanyID(), "")
		require.NoError(t, err)
		assert.Empty(t, none)
		return nil
	}))
}

// testSitesChain: a batch is appended only where it follows the chain the
// store holds; one that does not is refused with ErrConflict and leaves
// nothing behind; of writers racing for one place, one wins.
func testSitesChain(t *testing.T, s *store.Store) {
	ctx := context.Background()
	acme := company("acme", "")
	createCompanies(t, s, nil, acme)
	tx(t, s, func(tx *store.Tx) error { return tx.PutSite(ctx, siteOf("lm-a", acme.ID)) })

	day := func(d int, samples uint64, last int64) upstream.Day {
		return upstream.Day{Installation: "inst-1", DayStats: usage.DayStats{Day: usage.DayKey{Year: 2026, Month: time.November, Day: d}, Samples: samples,
			Scalars: []usage.ScalarStats{{Name: "cases", Min: 1, Max: last, Sum: last * 2, Last: last, LastAt: T0}}}}
	}
	b1 := usageBatch("lm-a", 1, "", openMonth("inst-1", nov, 3, 30))
	b1.Days = []upstream.Day{day(1, 3, 5), day(2, 1, 7)}
	b1.Credits = []upstream.Credit{{License: "lic-1", Unit: "case", Bought: 100, Consumed: 10}}
	b1.Seats = []upstream.Seats{{Pool: "users", Seats: 10, Held: 4, Peak: 6}}
	h1 := appendChain(t, s, T0.Add(time.Minute), b1)

	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		h, ok, err := tx.BatchHash(ctx, "lm-a", 1)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, h1, h)
		_, ok, err = tx.BatchHash(ctx, "lm-a", 2)
		require.NoError(t, err)
		assert.False(t, ok)
		_, ok, err = tx.BatchHash(ctx, "lm-b", 1)
		require.NoError(t, err)
		assert.False(t, ok, "another cluster's chain")
		return nil
	}))
	got := siteNow(t, s, "lm-a")
	assert.Equal(t, uint64(1), got.ChainSeq)
	assert.Equal(t, h1, got.ChainHash)
	assert.Equal(t, "Europe/Berlin", got.Zone, "the zone the batches are cut in")

	before := months(t, s, store.MonthFilter{Cluster: "lm-a"})
	for name, b := range map[string]*upstream.Batch{
		"wrong previous hash": usageBatch("lm-a", 2, hashOf("lm-a", 1, "forged"), openMonth("inst-1", nov, 99, 99)),
		"a gap":               usageBatch("lm-a", 3, hashOf("lm-a", 2, ""), openMonth("inst-1", nov, 99, 99)),
		"a held place":        usageBatch("lm-a", 1, "", openMonth("inst-1", nov, 99, 99)),
		"no previous hash":    usageBatch("lm-a", 2, "", openMonth("inst-1", nov, 99, 99)),
	} {
		err := s.Tx(ctx, func(tx *store.Tx) error {
			return tx.AppendBatch(ctx, b, hashOf("lm-a", b.Seq, "x"), "online", T0.Add(time.Hour))
		})
		require.ErrorIs(t, err, store.ErrConflict, name)
	}
	err := s.Tx(ctx, func(tx *store.Tx) error {
		return tx.AppendBatch(ctx, usageBatch("lm-nope", 1, ""), hashOf("lm-nope", 1, ""), "online", T0)
	})
	require.ErrorIs(t, err, store.ErrNotFound, "a batch of an unregistered cluster")
	assert.Equal(t, before, months(t, s, store.MonthFilter{Cluster: "lm-a"}), "refused batches changed nothing")
	assert.Equal(t, uint64(1), siteNow(t, s, "lm-a").ChainSeq)

	// Batch 2 carries the newer state of the same periods: it replaces
	// them, it does not add to them.
	b2 := usageBatch("lm-a", 2, h1, openMonth("inst-1", nov, 4, 40))
	b2.Days = []upstream.Day{day(2, 5, 9)}
	b2.Credits = []upstream.Credit{{License: "lic-1", Unit: "case", Bought: 100, Consumed: 25}, {License: "lic-2", Unit: "call", Bought: 5}}
	b2.Seats = []upstream.Seats{{Pool: "users", Seats: 10, Held: 2, Peak: 8}, {Pool: "admins", Seats: 1, Held: 1, Peak: 2, OverageGrants: 1, LastOverageAt: T0}}
	h2 := appendChain(t, s, T0.Add(2*time.Minute), b2)
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		ms, err := tx.ListMonths(ctx, store.MonthFilter{Cluster: "lm-a", Installation: "inst-1"})
		require.NoError(t, err)
		require.Len(t, ms, 1)
		assert.EqualValues(t, 4, ms[0].Metrics.UserCountLatest)
		assert.EqualValues(t, 40, ms[0].Metrics.CaseCountLatest)
		assert.Equal(t, uint64(2), ms[0].Seq)
		assert.Equal(t, T0.Add(2*time.Minute), ms[0].ReceivedAt)
		assert.Equal(t, acme.ID, ms[0].Company)
		assert.Equal(t, "acme", ms[0].CompanyName)
		days, err := tx.ListDays(ctx, "lm-a", "inst-1")
		require.NoError(t, err)
		require.Len(t, days, 2)
		assert.Equal(t, 2, days[0].Day.Day, "newest first")
		assert.Equal(t, uint64(5), days[0].Samples, "the newer state of the day")
		assert.Equal(t, b2.Days[0].DayStats, days[0])
		assert.Equal(t, b1.Days[0].DayStats, days[1])
		credits, err := tx.ListCredits(ctx, "lm-a")
		require.NoError(t, err)
		assert.Equal(t, b2.Credits, credits)
		seats, err := tx.ListSeats(ctx, "lm-a")
		require.NoError(t, err)
		require.Len(t, seats, 2)
		assert.Equal(t, "admins", seats[0].Pool, "by pool")
		assert.Equal(t, b2.Seats[1], seats[0].Seats)
		assert.Equal(t, b2.Seats[0], seats[1].Seats)
		return nil
	}))

	// Writers racing for place 3 with different batches: exactly one
	// appends, the others are told the place is taken.
	const n = 4
	errs := make(chan error, n)
	for i := range n {
		go func() {
			b := usageBatch("lm-a", 3, h2, openMonth("inst-1", nov, int64(10+i), 0))
			errs <- s.Tx(ctx, func(tx *store.Tx) error {
				return tx.AppendBatch(ctx, b, hashOf("lm-a", 3, fmt.Sprint(i)), "online", T0.Add(3*time.Minute))
			})
		}()
	}
	won := 0
	for range n {
		if err := <-errs; err == nil {
			won++
		} else {
			require.ErrorIs(t, err, store.ErrConflict)
		}
	}
	assert.Equal(t, 1, won)
	got = siteNow(t, s, "lm-a")
	assert.Equal(t, uint64(3), got.ChainSeq)
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		h, ok, err := tx.BatchHash(ctx, "lm-a", 3)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, got.ChainHash, h, "the head is the batch that won")
		return nil
	}))
	ms := months(t, s, store.MonthFilter{Cluster: "lm-a"})
	require.Len(t, ms, 1)
	assert.Equal(t, fmt.Sprintf("lm-a-3-%d", ms[0].Metrics.UserCountLatest-10), got.ChainHash, "the month is the winner's")

	// A site registered part-way along its chain (its activation request
	// said it had delivered up to batch 7) takes batch 8 next.
	late := siteOf("lm-c", acme.ID)
	late.ChainSeq, late.ChainHash = 7, hashOf("lm-c", 7, "")
	tx(t, s, func(tx *store.Tx) error { return tx.PutSite(ctx, late) })
	err = s.Tx(ctx, func(tx *store.Tx) error {
		return tx.AppendBatch(ctx, usageBatch("lm-c", 1, ""), hashOf("lm-c", 1, ""), "file", T0)
	})
	require.ErrorIs(t, err, store.ErrConflict)
	appendChain(t, s, T0, usageBatch("lm-c", 8, hashOf("lm-c", 7, ""), openMonth("inst-9", nov, 1, 1)))
	assert.Equal(t, uint64(8), siteNow(t, s, "lm-c").ChainSeq)
}

// testSitesClosedMonths: promise P3 at the hub. A month the hub holds
// closed keeps its metrics and close time whatever later batches say of
// it; only its late arrivals, kept beside it, follow the site.
func testSitesClosedMonths(t *testing.T, s *store.Store) {
	ctx := context.Background()
	acme := company("acme", "")
	createCompanies(t, s, nil, acme)
	tx(t, s, func(tx *store.Tx) error { return tx.PutSite(ctx, siteOf("lm-a", acme.ID)) })
	closedAt := T0.Add(-time.Hour)

	h := appendChain(t, s, T0, usageBatch("lm-a", 1, "", openMonth("inst-1", oct, 5, 50), openMonth("inst-1", nov, 1, 10)))
	oct1 := months(t, s, store.MonthFilter{Cluster: "lm-a", Month: "2026-10"})
	require.Len(t, oct1, 1)
	assert.False(t, oct1[0].Closed)
	assert.True(t, oct1[0].ClosedAt.IsZero())
	assert.Nil(t, oct1[0].Late)

	// The month closes: its final state is taken.
	b2 := usageBatch("lm-a", 2, h, closedMonth("inst-1", oct, 7, 70, closedAt, nil))
	h = appendChain(t, s, T0.Add(time.Minute), b2)
	final := months(t, s, store.MonthFilter{Cluster: "lm-a", Month: "2026-10"})
	require.Len(t, final, 1)
	assert.True(t, final[0].Closed)
	assert.Equal(t, closedAt, final[0].ClosedAt)
	assert.EqualValues(t, 7, final[0].Metrics.UserCountLatest)
	assert.EqualValues(t, 70, final[0].Metrics.CaseCountLatest)

	// Later batches with other metrics for it, closed or not: the metrics
	// and close time stay; late arrivals follow.
	late := &usage.LateArrivals{Users: 2, Facts: true, Metrics: usage.Metrics{UserCountLatest: 2}, Combined: usage.Metrics{UserCountLatest: 8}}
	h = appendChain(t, s, T0.Add(2*time.Minute), usageBatch("lm-a", 3, h, closedMonth("inst-1", oct, 99, 990, closedAt.Add(time.Hour), late)))
	h = appendChain(t, s, T0.Add(3*time.Minute), usageBatch("lm-a", 4, h, openMonth("inst-1", oct, 1, 1)))
	got := months(t, s, store.MonthFilter{Cluster: "lm-a", Month: "2026-10"})
	require.Len(t, got, 1)
	assert.True(t, got[0].Closed, "a closed month never opens again")
	assert.Equal(t, closedAt, got[0].ClosedAt)
	assert.Equal(t, final[0].Metrics, got[0].Metrics, "a closed month's metrics are final")
	assert.Equal(t, late, got[0].Late, "late arrivals are kept beside the month")

	later := &usage.LateArrivals{Users: 3, Facts: true, Metrics: usage.Metrics{UserCountLatest: 3}, Combined: usage.Metrics{UserCountLatest: 9}}
	appendChain(t, s, T0.Add(4*time.Minute), usageBatch("lm-a", 5, h, closedMonth("inst-1", oct, 100, 1000, closedAt, later), closedMonth("inst-2", oct, 4, 40, closedAt, late)))
	got = months(t, s, store.MonthFilter{Cluster: "lm-a", Month: "2026-10"})
	require.Len(t, got, 2)
	assert.Equal(t, final[0].Metrics, got[0].Metrics)
	assert.Equal(t, later, got[0].Late, "newer late arrivals replace older ones")
	assert.Equal(t, usage.InstallationID("inst-2"), got[1].Installation)
	assert.True(t, got[1].Closed)
	assert.EqualValues(t, 4, got[1].Metrics.UserCountLatest, "a month that first arrives closed is stored as it came")
	assert.Equal(t, late, got[1].Late)

	// The open month next to it kept following the site.
	open := months(t, s, store.MonthFilter{Cluster: "lm-a", Installation: "inst-1", Month: "2026-11"})
	require.Len(t, open, 1)
	assert.False(t, open[0].Closed)
}

// testSitesLicenses: a cluster's licenses are those bound to it: in force
// (not superseded, not revoked), or revoked, which includes every license
// a revoked one replaced (a site may hold one without its replacement).
func testSitesLicenses(t *testing.T, s *store.Store) {
	ctx := context.Background()
	acme := company("acme", "")
	var p store.Product
	tx(t, s, func(tx *store.Tx) error {
		if err := tx.AddVendorKey(ctx, store.VendorKey{KeyID: "k1", PublicKey: "k1:pub", PrivateKeySealed: "sealed", CreatedAt: T0}); err != nil {
			return err
		}
		if _, err := tx.CreateCompany(ctx, acme); err != nil {
			return err
		}
		var err error
		p, err = tx.SaveProduct(ctx, product("timesheet-admin"))
		return err
	})
	n := 0
	lic := func(cluster license.ClusterID, supersedes ...store.LicenseID) store.License {
		n++
		l := store.License{ID: store.NewLicenseID(), Company: acme.ID, SubscriptionID: fmt.Sprintf("sub-%d", n), SKU: p.SKU, ProductVersion: p.Version,
			Type: p.Type, Quantity: 1, IssuedAt: T0.Add(time.Duration(n) * time.Minute), NotBefore: T0, ExpiresAt: T0.AddDate(1, 0, 0),
			KeyID: "k1", IssuedBy: "lm@example.com", Text: "license " + fmt.Sprint(n), ClusterID: cluster}
		tx(t, s, func(tx *store.Tx) error { return tx.CreateLicense(ctx, l, supersedes...) })
		return l
	}
	inForce := lic("lm-x")
	old := lic("lm-x")
	renewed := lic("lm-x", old.ID)
	revoked := lic("lm-x")
	// A chain whose head was revoked: the licenses it replaced go with it.
	first := lic("lm-x")
	second := lic("lm-x", first.ID)
	third := lic("lm-x", second.ID)
	// A bound license replaced by an unbound one that was revoked.
	strayed := lic("lm-x")
	unboundHead := lic("", strayed.ID)
	other := lic("lm-y")
	unbound := lic("")
	for _, id := range []store.LicenseID{revoked.ID, third.ID, unboundHead.ID} {
		tx(t, s, func(tx *store.Tx) error { return tx.RevokeLicense(ctx, id, T0.Add(time.Hour)) })
	}

	ids := func(ls []store.License) []store.LicenseID {
		var out []store.LicenseID
		for _, l := range ls {
			out = append(out, l.ID)
		}
		return out
	}
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		current, gone, err := tx.ClusterLicenses(ctx, "lm-x")
		require.NoError(t, err)
		assert.Equal(t, []store.LicenseID{inForce.ID, renewed.ID}, ids(current), "in issue order, the superseded one left out")
		assert.Equal(t, []store.LicenseID{revoked.ID, first.ID, second.ID, third.ID, strayed.ID}, ids(gone),
			"in issue order: the revoked, and those a revoked license replaced")
		assert.Equal(t, license.ClusterID("lm-x"), current[0].ClusterID)
		assert.Equal(t, inForce.Text, current[0].Text)
		assert.Equal(t, T0.Add(time.Hour), gone[0].RevokedAt)
		assert.Equal(t, third.ID, gone[2].SupersededBy, "a replaced license reads back as it is stored")
		current, gone, err = tx.ClusterLicenses(ctx, "lm-y")
		require.NoError(t, err)
		assert.Equal(t, []store.LicenseID{other.ID}, ids(current))
		assert.Empty(t, gone)
		current, gone, err = tx.ClusterLicenses(ctx, "lm-z")
		require.NoError(t, err)
		assert.Empty(t, current)
		assert.Empty(t, gone)
		got, err := tx.License(ctx, unbound.ID)
		require.NoError(t, err)
		assert.Empty(t, got.ClusterID, "an unbound license reads back unbound")
		got, err = tx.License(ctx, renewed.ID)
		require.NoError(t, err)
		assert.Equal(t, license.ClusterID("lm-x"), got.ClusterID)
		return nil
	}))
}

// testSitesInstallations: the sales monitor's rows are each
// installation's latest month, by company name, cluster and
// installation, filtered by company, reseller or cluster; a site whose
// pool peaked over its seats, or granted overage, is over its limit.
func testSitesInstallations(t *testing.T, s *store.Store) {
	ctx := context.Background()
	r1 := store.Reseller{ID: store.NewResellerID(), Name: "Partner One", CreatedAt: T0}
	zeta, alpha, mid := company("zeta", r1.ID), company("alpha", ""), company("mid", r1.ID)
	createCompanies(t, s, []store.Reseller{r1}, zeta, alpha, mid)
	tx(t, s, func(tx *store.Tx) error {
		for _, site := range []store.Site{siteOf("lm-z1", zeta.ID), siteOf("lm-a2", alpha.ID), siteOf("lm-a1", alpha.ID), siteOf("lm-m", mid.ID)} {
			if err := tx.PutSite(ctx, site); err != nil {
				return err
			}
		}
		return nil
	})

	// lm-a2 sends November first, then a correction of October: the row
	// stays on November.
	a2 := usageBatch("lm-a2", 1, "", openMonth("b", nov, 20, 200), openMonth("a", nov, 10, 100))
	a2.Seats = []upstream.Seats{{Pool: "users", Seats: 30, Held: 25, Peak: 30}}
	h := appendChain(t, s, T0, a2)
	appendChain(t, s, T0.Add(time.Hour), usageBatch("lm-a2", 2, h, openMonth("a", oct, 11, 111)))
	a1 := usageBatch("lm-a1", 1, "", closedMonth("c", oct, 3, 30, T0, nil))
	a1.Seats = []upstream.Seats{{Pool: "users", Seats: 5, Held: 5, Peak: 5, OverageGrants: 2, LastOverageAt: T0}}
	appendChain(t, s, T0, a1)
	z1 := usageBatch("lm-z1", 1, "", openMonth("x", nov, 9, 90))
	z1.Seats = []upstream.Seats{{Pool: "users", Seats: 5, Held: 5, Peak: 6}}
	appendChain(t, s, T0.Add(2*time.Hour), z1)
	tx(t, s, func(tx *store.Tx) error {
		if err := tx.TouchSite(ctx, "lm-a2", "online", T0.Add(time.Hour)); err != nil {
			return err
		}
		if err := tx.TouchSite(ctx, "lm-a1", "file", T0); err != nil {
			return err
		}
		if err := tx.TouchSite(ctx, "lm-z1", "online", T0); err != nil {
			return err
		}
		return tx.TouchSite(ctx, "lm-z1", "file", T0.Add(2*time.Hour))
	})

	list := func(f store.InstallationFilter) []store.InstallationRow {
		var out []store.InstallationRow
		require.NoError(t, s.Read(ctx, func(tx *store.Tx) (err error) { out, err = tx.ListInstallations(ctx, f); return err }))
		return out
	}
	keys := func(rows []store.InstallationRow) []string {
		var out []string
		for _, r := range rows {
			out = append(out, string(r.ClusterID)+"/"+string(r.Installation))
		}
		return out
	}
	all := list(store.InstallationFilter{})
	assert.Equal(t, []string{"lm-a1/c", "lm-a2/a", "lm-a2/b", "lm-z1/x"}, keys(all), "by company name, cluster, installation; a site with no usage has no row")
	require.Len(t, all, 4)
	a1c, a2a, a2b, z1x := all[0], all[1], all[2], all[3]
	assert.Equal(t, "alpha", a1c.CompanyName)
	assert.Equal(t, alpha.ID, a1c.Company)
	assert.Equal(t, []string{"timesheet-admin"}, a1c.Products)
	assert.Equal(t, "2026-10", a1c.Month)
	assert.EqualValues(t, 3, a1c.Users)
	assert.EqualValues(t, 4, a1c.UsersMax)
	assert.EqualValues(t, 30, a1c.Cases)
	assert.EqualValues(t, 31, a1c.CasesMax)
	assert.True(t, a1c.OverLimit, "overage grants")
	assert.Equal(t, "file", a1c.Arrival())

	assert.Equal(t, "2026-11", a2a.Month, "the latest month, not the latest to arrive")
	assert.EqualValues(t, 10, a2a.Users)
	assert.EqualValues(t, 100, a2a.Cases)
	assert.Equal(t, T0.Add(time.Hour), a2a.LastReportAt, "the last batch that touched the installation")
	assert.Equal(t, T0, a2b.LastReportAt)
	assert.False(t, a2a.OverLimit, "peak at, not over, the seats")
	assert.Equal(t, "online", a2a.Arrival())
	assert.Equal(t, T0.Add(time.Hour), a2a.LastOnlineAt)

	assert.Equal(t, "zeta", z1x.CompanyName)
	assert.True(t, z1x.OverLimit, "peak over the seats")
	assert.Equal(t, "both", z1x.Arrival())
	assert.Equal(t, T0.Add(2*time.Hour), z1x.LastFileAt)

	assert.Equal(t, []string{"lm-a1/c", "lm-a2/a", "lm-a2/b"}, keys(list(store.InstallationFilter{Company: alpha.ID})))
	assert.Equal(t, []string{"lm-z1/x"}, keys(list(store.InstallationFilter{Reseller: r1.ID})))
	assert.Equal(t, []string{"lm-a2/a", "lm-a2/b"}, keys(list(store.InstallationFilter{Cluster: "lm-a2"})))
	assert.Empty(t, list(store.InstallationFilter{Company: mid.ID}))
	assert.Empty(t, list(store.InstallationFilter{Company: alpha.ID, Cluster: "lm-z1"}))

	// Months: newest first, then by company name.
	mkeys := func(ms []store.UsageMonth) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Month.String()+" "+m.CompanyName+" "+string(m.ClusterID)+"/"+string(m.Installation))
		}
		return out
	}
	assert.Equal(t, []string{
		"2026-11 alpha lm-a2/a", "2026-11 alpha lm-a2/b", "2026-11 zeta lm-z1/x",
		"2026-10 alpha lm-a1/c", "2026-10 alpha lm-a2/a",
	}, mkeys(months(t, s, store.MonthFilter{})))
	assert.Equal(t, []string{"2026-10 alpha lm-a1/c", "2026-10 alpha lm-a2/a"}, mkeys(months(t, s, store.MonthFilter{Month: "2026-10"})))
	assert.Equal(t, []string{"2026-11 zeta lm-z1/x"}, mkeys(months(t, s, store.MonthFilter{Reseller: r1.ID})))
	assert.Equal(t, []string{"2026-11 alpha lm-a2/a", "2026-10 alpha lm-a2/a"}, mkeys(months(t, s, store.MonthFilter{Cluster: "lm-a2", Installation: "a"})))
	assert.Len(t, months(t, s, store.MonthFilter{Company: alpha.ID}), 4)
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		ks, err := tx.UsageMonths(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"2026-11", "2026-10"}, ks)
		return nil
	}))
}
