package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// hubProduct is seed 002's Timesheet Admin User: a trial template of five
// admin users, a license of one admin user and one projects seat per unit
// bought (with five projects each), one module.
func hubProduct() *licmeshv1.Product {
	return &licmeshv1.Product{
		Sku: "timesheet-admin", Name: "Timesheet Admin User", Application: "orektic__timesheet", AppVersion: "2.1.0",
		Type: "subscription", Billing: "annually", TrialPeriodCount: 14, TrialPeriodUnit: "day",
		TrialTemplate: []*licmeshv1.TemplateEntry{{Name: "orektic__timehseetAdminUser", Users: 5}},
		LicenseTemplate: []*licmeshv1.TemplateEntry{
			{Name: "orektic__timehseetAdminUser", Users: 1, UsersCalculation: "fixed"},
			{Name: "orektic__timehseetProjects", Users: 1, UsersCalculation: "per qty", Amount: 5, AmountCalculation: "fixed"},
		},
		Features: []*licmeshv1.Feature{{Name: "orektic__timesheet", Type: "checkbox", Scope: "instance"}},
	}
}

// TestHubLicensesAreEnforcedOnSite runs the real hubd and a real master:
// a product with seed 002's templates; a trial in one click, extended,
// converted to a license, a seat pack added; the license file the hub
// gives is accepted by the master (meshctl license add) and its seats are
// enforced on a real collector.
func TestHubLicensesAreEnforcedOnSite(t *testing.T) {
	hub := harness.StartHub(t)
	admin := hub.AdminClient()
	ctx := t.Context()
	_, err := admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: hubProduct()}))
	require.NoError(t, err)
	co, err := admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme Corp", Email: "it@acme.example"}))
	require.NoError(t, err)
	trial, err := admin.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: co.Msg.GetCompany().GetId(), Sku: "timesheet-admin"}))
	require.NoError(t, err)
	ext, err := admin.ExtendLicense(ctx, connect.NewRequest(&licmeshv1.ExtendLicenseRequest{LicenseId: trial.Msg.GetLicense().GetId(), By: "7d"}))
	require.NoError(t, err)
	assert.Equal(t, trial.Msg.GetLicense().GetExpiresAtMs()+7*24*3600*1000, ext.Msg.GetLicense().GetExpiresAtMs())
	paid, err := admin.ConvertTrial(ctx, connect.NewRequest(&licmeshv1.ConvertTrialRequest{LicenseId: ext.Msg.GetLicense().GetId(), Quantity: 2}))
	require.NoError(t, err)
	pack, err := admin.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{LicenseId: paid.Msg.GetLicense().GetId(), AddQuantity: 1}))
	require.NoError(t, err)
	require.EqualValues(t, 3, pack.Msg.GetLicense().GetQuantity())

	c := harness.StartCluster(t, 1, harness.Options{ExtraArgs: []string{"--vendor-keys", hub.Vendor}})
	m := c.WaitReady(60 * time.Second)
	dir := t.TempDir()
	add := func(l *licmeshv1.HubLicense) {
		t.Helper()
		file := filepath.Join(dir, l.GetId()+".lic")
		require.NoError(t, os.WriteFile(file, []byte(l.GetText()), 0o600))
		out, errOut, code := m.Meshctl("license", "add", file)
		require.Equal(t, 0, code, "meshctl license add: %s", errOut)
		require.Contains(t, out, l.GetId())
	}
	// The trial first, then the pack that replaces it (through the
	// extension and the conversion): the master keeps the newest.
	add(trial.Msg.GetLicense())
	add(pack.Msg.GetLicense())
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		out, _, _ := m.Meshctl("pool", "list", "-o", "csv")
		assert.Contains(c, out, "orektic__timehseetProjects,3,hard,")
		assert.Contains(c, out, "orektic__timehseetAdminUser,1,hard,")
	}, 10*time.Second, 50*time.Millisecond, "the license's pools on the master")
	out, _, code := m.Meshctl("license", "list", "-o", "csv")
	require.Equal(t, 0, code)
	assert.Contains(t, out, pack.Msg.GetLicense().GetId())

	col := harness.StartCollector(t, "c1", c.CollectorAddrs(), m.JoinToken(1))
	col.WaitReady(30 * time.Second)
	for _, holder := range []string{"p1", "p2", "p3"} {
		_, err := col.Acquire("orektic__timehseetProjects", holder)
		require.NoError(t, err, "seat for %s", holder)
	}
	var ae *harness.APIError
	_, err = col.Acquire("orektic__timehseetProjects", "p4")
	require.ErrorAs(t, err, &ae, "a fourth seat of three bought")
	assert.Equal(t, 409, ae.Status)
	f, err := col.Feature("orektic__timesheet", "timesheet-admin")
	require.NoError(t, err)
	assert.True(t, f.Enabled, "the product's module is on")
}

// TestHubdBadInvocations: every mistake on hubd's command line or in its
// configuration gets a clear error naming it and a non-zero exit, and
// changes nothing.
func TestHubdBadInvocations(t *testing.T) {
	bin, err := harness.Binaries()
	require.NoError(t, err)
	hubd := filepath.Join(bin, "hubd")
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badYAML, []byte("data_dir: /tmp/x\nlisten_addr: 1\n"), 0o600))
	pgNoDSN := filepath.Join(dir, "pg.yaml")
	require.NoError(t, os.WriteFile(pgNoDSN, []byte("database: postgres\n"), 0o600))
	fresh := filepath.Join(dir, "fresh")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"init", "--data-dir", fresh}, 2, "--admin-email"},
		{[]string{"init", "--data-dir", fresh, "--admin-email", "not an email"}, 1, "email"},
		{[]string{"init", "--data-dir", "relative/dir", "--admin-email", "a@b.example"}, 1, "data_dir"},
		{[]string{"run", "--data-dir", filepath.Join(dir, "none")}, 1, "hubd init"},
		{[]string{"run", "--config", badYAML}, 1, "listen_addr"},
		{[]string{"run", "--config", pgNoDSN, "--data-dir", fresh}, 1, "postgres_dsn"},
		{[]string{"run", "--listen", "nowhere", "--data-dir", fresh}, 1, "listen"},
		{[]string{"run", "--no-such-flag"}, 2, "no-such-flag"},
		{[]string{"frobnicate"}, 2, "unknown command"},
	} {
		_, errOut, code := harness.RunCmd(hubd, tc.args, nil)
		assert.Equal(t, tc.code, code, "hubd %v: %s", tc.args, errOut)
		assert.Contains(t, errOut, tc.want, "hubd %v", tc.args)
	}
	_, err = os.Stat(fresh)
	assert.True(t, os.IsNotExist(err), "refused commands made no data directory")

	// A second init of the same directory is refused and keeps the hub.
	hub := harness.StartHub(t)
	_, errOut, code := harness.RunCmd(hubd, []string{"init", "--data-dir", hub.Dir, "--admin-email", "evil@x.example"}, nil)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "already holds a hub")
	_, err = hub.SignIn(hub.Admin, hub.Pass)
	require.NoError(t, err, "the first admin still signs in")
}
