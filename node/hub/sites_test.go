package hub

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/mesh/dbtest"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// monitorSites is an upWorld whose sites have reported: acme's online
// (two installations, a pool over its seats), globex's by file, resco's
// both ways.
type monitorSites struct {
	*upWorld
	a, g, r  *fakeSite
	pushedAt time.Time
}

func newMonitorSites(t *testing.T) *monitorSites {
	t.Helper()
	w := &monitorSites{upWorld: newUpWorld(t)}
	ctx := t.Context()
	w.a, w.g, w.r = newFakeSite(t, "lm-acme-1"), newFakeSite(t, "lm-globex-1"), newFakeSite(t, "lm-resco-1")
	w.activate(t, "acme", w.a, w.acme)
	w.activate(t, "globex", w.g, w.globex)
	w.activate(t, "resco", w.r, w.resco)
	up := w.upstreamClient(t, "")
	now := w.clk.Now()
	_, err := up.PushUsage(ctx, connect.NewRequest(&licmeshv1.PushUsageRequest{Batches: rawBatches(
		w.a.next(t, now, usageMonth("crm", october, 4, 40)),
		w.a.next(t, now, usageMonth("crm", november, 12, 300), usageMonth("web", november, 1, 2), seatUse("users", 5, 6)),
	)}))
	require.NoError(t, err)
	w.clk.Advance(time.Hour)
	_, err = w.as(t, "globex").UploadUsage(ctx, connect.NewRequest(&licmeshv1.UploadUsageRequest{
		File: w.g.export(now, w.g.next(t, now, usageMonth("erp", november, 3, 30), seatUse("users", 10, 3)))}))
	require.NoError(t, err)
	_, err = up.PushUsage(ctx, connect.NewRequest(&licmeshv1.PushUsageRequest{Batches: rawBatches(w.r.next(t, now, usageMonth("hr", november, 2, 20)))}))
	require.NoError(t, err)
	_, err = w.as(t, "reseller").UploadUsage(ctx, connect.NewRequest(&licmeshv1.UploadUsageRequest{
		File: w.r.export(now, w.r.next(t, now, usageMonth("hr", november, 3, 25)))}))
	require.NoError(t, err)
	w.pushedAt = now
	return w
}

func (w *upWorld) installations(t *testing.T, account, company string) ([]*licmeshv1.InstallationRow, error) {
	t.Helper()
	r, err := w.as(t, account).ListInstallations(t.Context(), connect.NewRequest(&licmeshv1.ListInstallationsRequest{CompanyId: company}))
	if err != nil {
		return nil, err
	}
	return r.Msg.GetInstallations(), nil
}

func rowKeys(rows []*licmeshv1.InstallationRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.GetClusterId()+"/"+r.GetInstallation())
	}
	return out
}

// TestListInstallations: the sales monitor's rows, and who sees which.
func TestListInstallations(t *testing.T) {
	w := newMonitorSites(t)
	all := []string{"lm-acme-1/crm", "lm-acme-1/web", "lm-globex-1/erp", "lm-resco-1/hr"}
	rows, err := w.installations(t, "lm", "")
	require.NoError(t, err)
	assert.Equal(t, all, rowKeys(rows), "by company name, cluster, installation")
	require.Len(t, rows, 4)
	crm, web, erp, hr := rows[0], rows[1], rows[2], rows[3]
	assert.Equal(t, w.acme, crm.GetCompanyId())
	assert.Equal(t, "acme", crm.GetCompanyName())
	assert.Equal(t, "timesheet-admin", crm.GetProducts())
	assert.Equal(t, "2026-11", crm.GetMonth(), "the latest month")
	assert.EqualValues(t, 12, crm.GetUsers())
	assert.EqualValues(t, 300, crm.GetCases())
	assert.EqualValues(t, 12, crm.GetUsersMax())
	assert.EqualValues(t, 300, crm.GetCasesMax())
	assert.Equal(t, w.pushedAt.UnixMilli(), crm.GetLastReportMs())
	assert.Equal(t, "online", crm.GetArrival())
	assert.True(t, crm.GetOverLimit(), "a pool peaked over its seats")
	assert.True(t, web.GetOverLimit(), "over the limit is the site's")
	assert.False(t, crm.GetSilent())
	assert.EqualValues(t, 1, web.GetUsers())

	assert.Equal(t, "globex", erp.GetCompanyName())
	assert.Equal(t, "file", erp.GetArrival())
	assert.False(t, erp.GetOverLimit(), "a peak within the seats")
	assert.EqualValues(t, 3, erp.GetUsers())
	assert.Equal(t, w.clk.Now().UnixMilli(), erp.GetLastReportMs())

	assert.Equal(t, "both", hr.GetArrival())
	assert.EqualValues(t, 3, hr.GetUsers(), "the file's batch came after the push's")
	assert.EqualValues(t, 25, hr.GetCases())

	// Who sees what.
	for _, tc := range []struct {
		account, company string
		want             []string
	}{
		{"sales", "", all},
		{"release", "", all},
		{"admin", w.globex, []string{"lm-globex-1/erp"}},
		{"acme", "", all[:2]},
		{"acme", w.acme, all[:2]},
		{"globex", "", all[2:3]},
		{"reseller", "", all[3:]},
		{"reseller", w.resco, all[3:]},
	} {
		var rows []*licmeshv1.InstallationRow
		if tc.account == "admin" {
			r, err := w.admin.ListInstallations(t.Context(), connect.NewRequest(&licmeshv1.ListInstallationsRequest{CompanyId: tc.company}))
			require.NoError(t, err)
			rows = r.Msg.GetInstallations()
		} else {
			rows, err = w.installations(t, tc.account, tc.company)
			require.NoError(t, err, tc.account)
		}
		assert.Equal(t, tc.want, rowKeys(rows), "%s asking for %q", tc.account, tc.company)
	}
	for _, tc := range []struct{ account, company string }{{"acme", w.globex}, {"reseller", w.acme}, {"globex", w.resco}} {
		_, err := w.installations(t, tc.account, tc.company)
		assert.Contains(t, []connect.Code{connect.CodeNotFound, connect.CodePermissionDenied}, code(t, err), "%s asking for another company", tc.account)
	}
	_, err = w.client(t, "").ListInstallations(t.Context(), connect.NewRequest(&licmeshv1.ListInstallationsRequest{}))
	assert.Equal(t, connect.CodeUnauthenticated, code(t, err))

	// A week without reports is silence; a report ends it.
	w.clk.Advance(silentAfter + time.Minute)
	rows, err = w.installations(t, "lm", "")
	require.NoError(t, err)
	for _, r := range rows {
		assert.True(t, r.GetSilent(), r.GetInstallation())
	}
	_, err = w.upstreamClient(t, "").PushUsage(t.Context(), connect.NewRequest(&licmeshv1.PushUsageRequest{
		Batches: rawBatches(w.a.next(t, w.clk.Now(), usageMonth("crm", usage.MonthKey{Year: 2026, Month: time.December}, 2, 3)))}))
	require.NoError(t, err)
	rows, err = w.installations(t, "acme", "")
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.False(t, rows[0].GetSilent())
	assert.Equal(t, "2026-12", rows[0].GetMonth())
	assert.True(t, rows[1].GetSilent(), "web did not report")
}

// TestInstallationHistory: one installation's months and days, for whoever
// may see its site, and NotFound for anyone else.
func TestInstallationHistory(t *testing.T) {
	w := newMonitorSites(t)
	ctx := t.Context()
	history := func(account string, cluster license.ClusterID, inst string) (*licmeshv1.InstallationHistoryResponse, error) {
		r, err := w.as(t, account).InstallationHistory(ctx, connect.NewRequest(&licmeshv1.InstallationHistoryRequest{ClusterId: string(cluster), Installation: inst}))
		if err != nil {
			return nil, err
		}
		return r.Msg, nil
	}
	h, err := history("acme", w.a.id, "crm")
	require.NoError(t, err)
	require.Len(t, h.GetMonths(), 2)
	assert.Equal(t, "2026-11", h.GetMonths()[0].GetMonth(), "newest first")
	assert.Equal(t, "2026-10", h.GetMonths()[1].GetMonth())
	var m usage.Metrics
	require.NoError(t, json.Unmarshal([]byte(h.GetMonths()[0].GetMetricsJson()), &m))
	assert.EqualValues(t, 12, m.UserCountLatest)
	assert.EqualValues(t, 300, m.CaseCountLatest)
	assert.False(t, h.GetMonths()[0].GetClosed())
	assert.Empty(t, h.GetMonths()[0].GetLateJson())
	assert.Equal(t, w.pushedAt.UnixMilli(), h.GetMonths()[0].GetReceivedAtMs())
	require.Len(t, h.GetDaysJson(), 2)
	var d usage.DayStats
	require.NoError(t, json.Unmarshal([]byte(h.GetDaysJson()[0]), &d))
	assert.Equal(t, usage.DayKey{Year: 2026, Month: time.November, Day: 2}, d.Day, "newest first")
	assert.Equal(t, uint64(12), d.Samples)

	for _, account := range []string{"lm", "sales", "release"} {
		_, err := history(account, w.a.id, "crm")
		require.NoError(t, err, account)
	}
	h, err = history("reseller", w.r.id, "hr")
	require.NoError(t, err)
	require.Len(t, h.GetMonths(), 1)
	for _, tc := range []struct {
		account string
		cluster license.ClusterID
	}{{"acme", w.g.id}, {"globex", w.a.id}, {"reseller", w.a.id}, {"acme", "lm-unknown"}} {
		_, err := history(tc.account, tc.cluster, "crm")
		assert.Equal(t, connect.CodeNotFound, code(t, err), "%s asking for %s", tc.account, tc.cluster)
	}
	h, err = history("lm", w.a.id, "nothing-here")
	require.NoError(t, err)
	assert.Empty(t, h.GetMonths())
	assert.Empty(t, h.GetDaysJson())
}

// TestListSites: the registered clusters, scoped like the monitor.
func TestListSites(t *testing.T) {
	w := newMonitorSites(t)
	ctx := t.Context()
	sites := func(account, company string) ([]string, error) {
		r, err := w.as(t, account).ListSites(ctx, connect.NewRequest(&licmeshv1.ListSitesRequest{CompanyId: company}))
		if err != nil {
			return nil, err
		}
		var out []string
		for _, s := range r.Msg.GetSites() {
			out = append(out, s.GetClusterId())
		}
		return out, nil
	}
	all := []string{"lm-acme-1", "lm-globex-1", "lm-resco-1"}
	for _, tc := range []struct {
		account, company string
		want             []string
	}{
		{"lm", "", all},
		{"sales", "", all},
		{"lm", w.globex, all[1:2]},
		{"acme", "", all[:1]},
		{"globex", w.globex, all[1:2]},
		{"reseller", "", all[2:]},
	} {
		got, err := sites(tc.account, tc.company)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%s asking for %q", tc.account, tc.company)
	}
	for _, tc := range []struct{ account, company string }{{"acme", w.globex}, {"reseller", w.acme}} {
		_, err := sites(tc.account, tc.company)
		assert.Equal(t, connect.CodeNotFound, code(t, err), "%s asking for another company", tc.account)
	}
	got := w.sites(t)
	r := got[string(w.r.id)]
	require.NotNil(t, r)
	assert.Equal(t, "resco", r.GetCompanyName())
	assert.Equal(t, w.resco, r.GetCompanyId())
	assert.Equal(t, "both", r.GetArrival())
	assert.Equal(t, uint64(2), r.GetLastSeq())
	assert.NotZero(t, r.GetLastOnlineMs())
	assert.NotZero(t, r.GetLastFileMs())
	assert.Equal(t, b64(w.r.key.Public().(ed25519.PublicKey)), r.GetPublicKey())
}

// TestIngestConcurrently: a master pushing, retrying, and someone
// uploading the same batches by file, all at once, count each batch once
// and all succeed, on either engine.
func TestIngestConcurrently(t *testing.T) {
	for _, e := range []struct {
		name string
		opt  func(t *testing.T) func(*Config)
	}{
		{"sqlite", func(*testing.T) func(*Config) { return func(*Config) {} }},
		{"postgres", func(t *testing.T) func(*Config) {
			dsn := dbtest.PostgresDatabase(t)
			return func(c *Config) { c.Database, c.PostgresDSN = string(store.Postgres), dsn }
		}},
	} {
		t.Run(e.name, func(t *testing.T) {
			w := newUpWorld(t, e.opt(t))
			ctx := t.Context()
			a := newFakeSite(t, "lm-acme-1")
			w.activate(t, "acme", a, w.acme)
			now := w.clk.Now()
			var batches []upstream.Signed
			for i := range 6 {
				batches = append(batches, a.next(t, now, usageMonth("crm", november, int64(i+1), int64(10*i)), seatUse("users", 10, int64(i))))
			}
			file := a.export(now, batches...)
			up := w.upstreamClient(t, "")
			hub := w.as(t, "acme")
			const n = 6
			type result struct {
				accepted, duplicates uint32
				err                  error
			}
			results := make(chan result, n)
			for i := range n {
				go func() {
					if i%2 == 0 {
						r, err := up.PushUsage(ctx, connect.NewRequest(&licmeshv1.PushUsageRequest{Batches: rawBatches(batches...)}))
						if err != nil {
							results <- result{err: err}
							return
						}
						results <- result{r.Msg.GetAccepted(), r.Msg.GetDuplicates(), nil}
						return
					}
					r, err := hub.UploadUsage(ctx, connect.NewRequest(&licmeshv1.UploadUsageRequest{File: file}))
					if err != nil {
						results <- result{err: err}
						return
					}
					results <- result{r.Msg.GetAccepted(), r.Msg.GetDuplicates(), nil}
				}()
			}
			accepted := 0
			for range n {
				r := <-results
				require.NoError(t, r.err)
				assert.EqualValues(t, len(batches), r.accepted+r.duplicates)
				accepted += int(r.accepted)
			}
			assert.Equal(t, len(batches), accepted, "each batch counted once")
			st := w.usage(t, a.id)
			assert.Equal(t, uint64(6), st.Seq)
			assert.Equal(t, batches[5].Hash(), st.Hash)
			require.Len(t, st.Months, 1)
			assert.EqualValues(t, 6, st.Months[0].Metrics.UserCountLatest, "the last batch's state")
			require.Len(t, st.Seats, 1)
			assert.EqualValues(t, 5, st.Seats[0].Peak)
			rows, err := w.installations(t, "lm", "")
			require.NoError(t, err)
			require.Len(t, rows, 1)
			assert.EqualValues(t, 6, rows[0].GetUsers())
			assert.Equal(t, "both", w.sites(t)[string(a.id)].GetArrival())
		})
	}
}
