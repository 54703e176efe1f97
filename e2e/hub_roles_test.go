package e2e

import (
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// hubWorld is a real hubd with two resellers, each with an account and a
// customer company on trial, a direct company of the vendor's on trial, a
// sales account, and a user of reseller one's customer.
type hubWorld struct {
	hub              *harness.Hub
	admin            licmeshv1connect.HubServiceClient
	r1, r2           string // reseller IDs
	co1, co2, coD    string // companies: reseller one's, reseller two's, the vendor's direct one
	lic1, lic2, licD string // their trials
	res1, res2       licmeshv1connect.HubServiceClient
	res2Account      string // reseller two's account ID
	sales, cust1     licmeshv1connect.HubServiceClient
}

// startHubWorld starts a hubd of its own and sets it up through the API,
// as the vendor and its resellers would.
func startHubWorld(t *testing.T) *hubWorld {
	t.Helper()
	hub := harness.StartHub(t)
	ctx := t.Context()
	w := &hubWorld{hub: hub, admin: hub.AdminClient()}
	_, err := w.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: hubProduct()}))
	require.NoError(t, err)
	for name, r := range map[string]*string{"Partner One": &w.r1, "Partner Two": &w.r2} {
		rr, err := w.admin.CreateReseller(ctx, connect.NewRequest(&licmeshv1.CreateResellerRequest{Name: name}))
		require.NoError(t, err)
		*r = rr.Msg.GetReseller().GetId()
	}
	w.res1, _ = w.account(t, "reseller", "sell@one.example", "", w.r1)
	w.res2, w.res2Account = w.account(t, "reseller", "sell@two.example", "", w.r2)
	w.sales, _ = w.account(t, "sales", "sales@vendor.example", "", "")
	customer := func(c licmeshv1connect.HubServiceClient, name string) (company, trial string) {
		t.Helper()
		co, err := c.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: name, Email: "it@" + name + ".example"}))
		require.NoError(t, err)
		tr, err := c.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: co.Msg.GetCompany().GetId(), Sku: "timesheet-admin"}))
		require.NoError(t, err)
		return co.Msg.GetCompany().GetId(), tr.Msg.GetLicense().GetId()
	}
	w.co1, w.lic1 = customer(w.res1, "acme")
	w.co2, w.lic2 = customer(w.res2, "globex")
	w.coD, w.licD = customer(w.admin, "initech")
	w.cust1, _ = w.account(t, "customer", "jane@acme.example", w.co1, "")
	return w
}

// account has the admin create an account, signs in with the password
// the hub shows once, and returns a client with an API key of it.
func (w *hubWorld) account(t *testing.T, role, email, company, reseller string) (licmeshv1connect.HubServiceClient, string) {
	t.Helper()
	r, err := w.admin.CreateAccount(t.Context(), connect.NewRequest(&licmeshv1.CreateAccountRequest{
		Email: email, Name: "User " + email, Role: role, CompanyId: company, ResellerId: reseller}))
	require.NoError(t, err)
	key, err := w.hub.SignIn(email, r.Msg.GetPassword())
	require.NoError(t, err, "sign in as %s", email)
	return w.hub.Client(key), r.Msg.GetAccount().GetId()
}

// auditTrail is the hub's audit log as the admin reads it, newest first,
// one "actor action target" line per change.
func (w *hubWorld) auditTrail(t *testing.T) []string {
	t.Helper()
	r, err := w.admin.ListAudit(t.Context(), connect.NewRequest(&licmeshv1.ListAuditRequest{Limit: 1000}))
	require.NoError(t, err)
	require.Less(t, len(r.Msg.GetEntries()), 1000, "the whole log fits one page")
	var lines []string
	for _, e := range r.Msg.GetEntries() {
		lines = append(lines, e.GetActor()+" "+e.GetAction()+" "+e.GetTarget())
	}
	return lines
}

// outcome is a call made and the error it returned.
type outcome struct {
	call string
	err  error
}

// errOf keeps only a call's error, so that a list of calls reads as one
// line each.
func errOf[T any](_ *connect.Response[T], err error) error { return err }

// assertRefused checks that every call failed with one of codes.
func assertRefused(t *testing.T, outcomes []outcome, codes ...connect.Code) {
	t.Helper()
	for _, o := range outcomes {
		if assert.Error(t, o.err, "%s was allowed", o.call) {
			assert.Contains(t, codes, connect.CodeOf(o.err), "%s: %v", o.call, o.err)
		}
	}
}

// TestHubRolesReseller: a reseller sees and changes only its own
// customers. Every call a reseller may make is tried with the other
// reseller's and the vendor's IDs and refused as if they did not exist;
// every vendor-only call is refused outright, on its own customer too;
// nothing refused reaches the audit log, and its own customer is still
// served.
func TestHubRolesReseller(t *testing.T) {
	t.Parallel()
	w := startHubWorld(t)
	ctx := t.Context()
	list, err := w.res1.ListCompanies(ctx, connect.NewRequest(&licmeshv1.ListCompaniesRequest{}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetCompanies(), 1, "only its own customer")
	assert.Equal(t, w.co1, list.Msg.GetCompanies()[0].GetId())
	mine, err := w.res1.ListIssuedLicenses(ctx, connect.NewRequest(&licmeshv1.ListIssuedLicensesRequest{CompanyId: w.co1}))
	require.NoError(t, err)
	require.Len(t, mine.Msg.GetLicenses(), 1)
	assert.Equal(t, w.lic1, mine.Msg.GetLicenses()[0].GetId())

	before := w.auditTrail(t)
	for _, foreign := range []struct{ owner, company, lic string }{
		{"reseller two", w.co2, w.lic2},
		{"the vendor", w.coD, w.licD},
	} {
		t.Logf("reseller one tries %s's company %s and trial %s", foreign.owner, foreign.company, foreign.lic)
		assertRefused(t, []outcome{
			{"GetCompany", errOf(w.res1.GetCompany(ctx, connect.NewRequest(&licmeshv1.GetCompanyRequest{Id: foreign.company})))},
			{"GetCompany summary", errOf(w.res1.GetCompany(ctx, connect.NewRequest(&licmeshv1.GetCompanyRequest{Id: foreign.company, Summary: true})))},
			{"StartTrial", errOf(w.res1.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: foreign.company, Sku: "timesheet-admin"})))},
			{"AddToLicense", errOf(w.res1.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{LicenseId: foreign.lic, AddQuantity: 5})))},
			{"ListIssuedLicenses", errOf(w.res1.ListIssuedLicenses(ctx, connect.NewRequest(&licmeshv1.ListIssuedLicensesRequest{CompanyId: foreign.company})))},
			{"GetIssuedLicense", errOf(w.res1.GetIssuedLicense(ctx, connect.NewRequest(&licmeshv1.GetIssuedLicenseRequest{Id: foreign.lic})))},
			{"CreateAccount", errOf(w.res1.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{
				Email: "x@evil.example", Name: "X", Role: "customer", CompanyId: foreign.company})))},
		}, connect.CodeNotFound, connect.CodePermissionDenied)
	}
	assertRefused(t, []outcome{
		{"CreateCompany for reseller two", errOf(w.res1.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{
			Name: "Stolen", Email: "s@stolen.example", ResellerId: w.r2})))},
	}, connect.CodeNotFound, connect.CodePermissionDenied)

	// The vendor's calls, tried on its own customer where they take one:
	// the role refuses them, not the scope.
	assertRefused(t, []outcome{
		{"IssueLicense", errOf(w.res1.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: w.co1, Sku: "timesheet-admin", Quantity: 1})))},
		{"ExtendLicense", errOf(w.res1.ExtendLicense(ctx, connect.NewRequest(&licmeshv1.ExtendLicenseRequest{LicenseId: w.lic1})))},
		{"ConvertTrial", errOf(w.res1.ConvertTrial(ctx, connect.NewRequest(&licmeshv1.ConvertTrialRequest{LicenseId: w.lic1, Quantity: 2})))},
		{"RevokeLicense", errOf(w.res1.RevokeLicense(ctx, connect.NewRequest(&licmeshv1.RevokeLicenseRequest{LicenseId: w.lic1})))},
		{"AddToLicense of a module", errOf(w.res1.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{
			LicenseId: w.lic1, EnableFeatures: []string{"orektic__timesheet"}})))},
		{"SaveProduct", errOf(w.res1.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: hubProduct()})))},
		{"CreateReseller", errOf(w.res1.CreateReseller(ctx, connect.NewRequest(&licmeshv1.CreateResellerRequest{Name: "Me too"})))},
		{"ListAudit", errOf(w.res1.ListAudit(ctx, connect.NewRequest(&licmeshv1.ListAuditRequest{})))},
		{"ExportCompanyData", errOf(w.res1.ExportCompanyData(ctx, connect.NewRequest(&licmeshv1.ExportCompanyDataRequest{Id: w.co1})))},
		{"EraseCompany", errOf(w.res1.EraseCompany(ctx, connect.NewRequest(&licmeshv1.EraseCompanyRequest{Id: w.co1})))},
		{"DisableAccount of reseller two", errOf(w.res1.DisableAccount(ctx, connect.NewRequest(&licmeshv1.DisableAccountRequest{Id: w.res2Account})))},
		{"CreateAccount admin", errOf(w.res1.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{
			Email: "boss@evil.example", Name: "B", Role: "admin"})))},
		{"CreateAccount license_manager", errOf(w.res1.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{
			Email: "lm@evil.example", Name: "L", Role: "license_manager"})))},
		{"CreateAccount sales", errOf(w.res1.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{
			Email: "sales@evil.example", Name: "S", Role: "sales"})))},
		{"CreateAccount reseller of its own", errOf(w.res1.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{
			Email: "sub@evil.example", Name: "R", Role: "reseller", ResellerId: w.r1})))},
	}, connect.CodePermissionDenied)
	assert.Equal(t, before, w.auditTrail(t), "no refused call changed anything")

	// Its own customer is still served: a seat pack on the license the
	// vendor converted the trial to, signed and audited as the reseller's.
	paid, err := w.admin.ConvertTrial(ctx, connect.NewRequest(&licmeshv1.ConvertTrialRequest{LicenseId: w.lic1, Quantity: 2}))
	require.NoError(t, err)
	pack, err := w.res1.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{LicenseId: paid.Msg.GetLicense().GetId(), AddQuantity: 5}))
	require.NoError(t, err)
	l := pack.Msg.GetLicense()
	assert.EqualValues(t, 7, l.GetQuantity())
	assert.Equal(t, "current", l.GetStatus())
	assert.Equal(t, "sell@one.example", l.GetIssuedBy())
	assert.NotEmpty(t, l.GetText(), "a signed license to install")
	current, err := w.res1.ListIssuedLicenses(ctx, connect.NewRequest(&licmeshv1.ListIssuedLicensesRequest{CompanyId: w.co1, Current: true}))
	require.NoError(t, err)
	require.Len(t, current.Msg.GetLicenses(), 1)
	assert.Equal(t, l.GetId(), current.Msg.GetLicenses()[0].GetId())
	assert.Equal(t, "sell@one.example license.added "+l.GetId(), w.auditTrail(t)[0])
}

// TestHubRolesSales: the sales role reads every company, license and
// product, and every change is refused and leaves no trace.
func TestHubRolesSales(t *testing.T) {
	t.Parallel()
	w := startHubWorld(t)
	ctx := t.Context()
	companies, err := w.sales.ListCompanies(ctx, connect.NewRequest(&licmeshv1.ListCompaniesRequest{}))
	require.NoError(t, err)
	var ids []string
	for _, c := range companies.Msg.GetCompanies() {
		ids = append(ids, c.GetId())
	}
	assert.ElementsMatch(t, []string{w.co1, w.co2, w.coD}, ids, "every company, whoever sold it")
	for _, co := range []string{w.co1, w.co2, w.coD} {
		got, err := w.sales.GetCompany(ctx, connect.NewRequest(&licmeshv1.GetCompanyRequest{Id: co}))
		require.NoError(t, err, "GetCompany %s", co)
		assert.Len(t, got.Msg.GetLicenses(), 1, "company %s's trial", co)
	}
	lics, err := w.sales.ListIssuedLicenses(ctx, connect.NewRequest(&licmeshv1.ListIssuedLicensesRequest{}))
	require.NoError(t, err)
	assert.Len(t, lics.Msg.GetLicenses(), 3)
	lic, err := w.sales.GetIssuedLicense(ctx, connect.NewRequest(&licmeshv1.GetIssuedLicenseRequest{Id: w.lic2}))
	require.NoError(t, err)
	assert.Equal(t, w.co2, lic.Msg.GetLicense().GetCompanyId())
	products, err := w.sales.ListProducts(ctx, connect.NewRequest(&licmeshv1.ListProductsRequest{}))
	require.NoError(t, err)
	assert.Len(t, products.Msg.GetProducts(), 1)
	_, err = w.sales.GetProduct(ctx, connect.NewRequest(&licmeshv1.GetProductRequest{Sku: "timesheet-admin"}))
	require.NoError(t, err)
	resellers, err := w.sales.ListResellers(ctx, connect.NewRequest(&licmeshv1.ListResellersRequest{}))
	require.NoError(t, err)
	assert.Len(t, resellers.Msg.GetResellers(), 2)

	// Its own API keys and password are every account's to manage, so
	// they are not among the changes refused here.
	before := w.auditTrail(t)
	assertRefused(t, []outcome{
		{"SaveProduct", errOf(w.sales.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: hubProduct()})))},
		{"CreateReseller", errOf(w.sales.CreateReseller(ctx, connect.NewRequest(&licmeshv1.CreateResellerRequest{Name: "R"})))},
		{"CreateCompany", errOf(w.sales.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "C", Email: "c@c.example"})))},
		{"ExportCompanyData", errOf(w.sales.ExportCompanyData(ctx, connect.NewRequest(&licmeshv1.ExportCompanyDataRequest{Id: w.co1})))},
		{"EraseCompany", errOf(w.sales.EraseCompany(ctx, connect.NewRequest(&licmeshv1.EraseCompanyRequest{Id: w.co1})))},
		{"CreateAccount", errOf(w.sales.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{
			Email: "a@a.example", Name: "A", Role: "customer", CompanyId: w.co1})))},
		{"DisableAccount", errOf(w.sales.DisableAccount(ctx, connect.NewRequest(&licmeshv1.DisableAccountRequest{Id: w.res2Account})))},
		{"IssueLicense", errOf(w.sales.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: w.coD, Sku: "timesheet-admin", Quantity: 1})))},
		{"StartTrial", errOf(w.sales.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: w.co1, Sku: "timesheet-admin"})))},
		{"ExtendLicense", errOf(w.sales.ExtendLicense(ctx, connect.NewRequest(&licmeshv1.ExtendLicenseRequest{LicenseId: w.licD})))},
		{"ConvertTrial", errOf(w.sales.ConvertTrial(ctx, connect.NewRequest(&licmeshv1.ConvertTrialRequest{LicenseId: w.licD, Quantity: 1})))},
		{"AddToLicense", errOf(w.sales.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{LicenseId: w.lic1, AddQuantity: 1})))},
		{"RevokeLicense", errOf(w.sales.RevokeLicense(ctx, connect.NewRequest(&licmeshv1.RevokeLicenseRequest{LicenseId: w.lic2})))},
		{"ListAudit", errOf(w.sales.ListAudit(ctx, connect.NewRequest(&licmeshv1.ListAuditRequest{})))},
	}, connect.CodePermissionDenied)
	assert.Equal(t, before, w.auditTrail(t), "no refused call changed anything")
}

// TestHubRolesCustomer: a customer's user sees its own company and
// licenses, nothing of any other company, and changes nothing.
func TestHubRolesCustomer(t *testing.T) {
	t.Parallel()
	w := startHubWorld(t)
	ctx := t.Context()
	mine, err := w.cust1.ListIssuedLicenses(ctx, connect.NewRequest(&licmeshv1.ListIssuedLicensesRequest{CompanyId: w.co2}))
	require.NoError(t, err, "the company asked for is replaced by the customer's own")
	require.Len(t, mine.Msg.GetLicenses(), 1)
	assert.Equal(t, w.lic1, mine.Msg.GetLicenses()[0].GetId())
	own, err := w.cust1.GetCompany(ctx, connect.NewRequest(&licmeshv1.GetCompanyRequest{Id: w.co1}))
	require.NoError(t, err)
	require.Len(t, own.Msg.GetLicenses(), 1)
	assert.Equal(t, w.lic1, own.Msg.GetLicenses()[0].GetId())
	_, err = w.cust1.GetIssuedLicense(ctx, connect.NewRequest(&licmeshv1.GetIssuedLicenseRequest{Id: w.lic1}))
	require.NoError(t, err)

	before := w.auditTrail(t)
	for _, foreign := range []struct{ company, lic string }{{w.co2, w.lic2}, {w.coD, w.licD}} {
		assertRefused(t, []outcome{
			{"GetCompany " + foreign.company, errOf(w.cust1.GetCompany(ctx, connect.NewRequest(&licmeshv1.GetCompanyRequest{Id: foreign.company})))},
			{"GetIssuedLicense " + foreign.lic, errOf(w.cust1.GetIssuedLicense(ctx, connect.NewRequest(&licmeshv1.GetIssuedLicenseRequest{Id: foreign.lic})))},
		}, connect.CodeNotFound)
	}
	assertRefused(t, []outcome{
		{"ListCompanies", errOf(w.cust1.ListCompanies(ctx, connect.NewRequest(&licmeshv1.ListCompaniesRequest{})))},
		{"ListProducts", errOf(w.cust1.ListProducts(ctx, connect.NewRequest(&licmeshv1.ListProductsRequest{})))},
		{"ListResellers", errOf(w.cust1.ListResellers(ctx, connect.NewRequest(&licmeshv1.ListResellersRequest{})))},
		{"CreateCompany", errOf(w.cust1.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "C", Email: "c@c.example"})))},
		{"StartTrial", errOf(w.cust1.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: w.co1, Sku: "timesheet-admin"})))},
		{"IssueLicense", errOf(w.cust1.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: w.co1, Sku: "timesheet-admin", Quantity: 1})))},
		{"ExtendLicense", errOf(w.cust1.ExtendLicense(ctx, connect.NewRequest(&licmeshv1.ExtendLicenseRequest{LicenseId: w.lic1})))},
		{"ConvertTrial", errOf(w.cust1.ConvertTrial(ctx, connect.NewRequest(&licmeshv1.ConvertTrialRequest{LicenseId: w.lic1, Quantity: 1})))},
		{"AddToLicense", errOf(w.cust1.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{LicenseId: w.lic1, AddQuantity: 1})))},
		{"RevokeLicense", errOf(w.cust1.RevokeLicense(ctx, connect.NewRequest(&licmeshv1.RevokeLicenseRequest{LicenseId: w.lic1})))},
		{"CreateAccount", errOf(w.cust1.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{
			Email: "colleague@acme.example", Name: "C", Role: "customer", CompanyId: w.co1})))},
		{"ExportCompanyData", errOf(w.cust1.ExportCompanyData(ctx, connect.NewRequest(&licmeshv1.ExportCompanyDataRequest{Id: w.co1})))},
		{"EraseCompany", errOf(w.cust1.EraseCompany(ctx, connect.NewRequest(&licmeshv1.EraseCompanyRequest{Id: w.co1})))},
		{"ListAudit", errOf(w.cust1.ListAudit(ctx, connect.NewRequest(&licmeshv1.ListAuditRequest{})))},
	}, connect.CodePermissionDenied)
	assert.Equal(t, before, w.auditTrail(t), "no refused call changed anything")
}
