package hub

import (
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/hub/store"
)

// world is a hub with two resellers, a customer each, one direct
// customer, and a trial for each customer.
type world struct {
	*testHub
	r1, r2           string // reseller IDs
	co1, co2, coD    string // company IDs: r1's, r2's, direct
	lic1, lic2, licD string // their trials
	res1, res2       licmeshv1connect.HubServiceClient
	sales, cust1     licmeshv1connect.HubServiceClient
}

func newWorld(t *testing.T) *world {
	t.Helper()
	h := startHub(t)
	ctx := t.Context()
	w := &world{testHub: h}
	_, err := h.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	require.NoError(t, err)
	for name, r := range map[string]*string{"Partner One": &w.r1, "Partner Two": &w.r2} {
		rr, err := h.admin.CreateReseller(ctx, connect.NewRequest(&licmeshv1.CreateResellerRequest{Name: name}))
		require.NoError(t, err)
		*r = rr.Msg.GetReseller().GetId()
	}
	w.res1 = h.account(t, store.RoleReseller, "sell@one.example", "", w.r1)
	w.res2 = h.account(t, store.RoleReseller, "sell@two.example", "", w.r2)
	w.sales = h.account(t, store.RoleSales, "sales@vendor.example", "", "")
	mk := func(c licmeshv1connect.HubServiceClient, name string) (string, string) {
		co, err := c.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: name, Email: "it@" + name + ".example"}))
		require.NoError(t, err)
		tr, err := c.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: co.Msg.GetCompany().GetId(), Sku: "timesheet-admin"}))
		require.NoError(t, err)
		return co.Msg.GetCompany().GetId(), tr.Msg.GetLicense().GetId()
	}
	w.co1, w.lic1 = mk(w.res1, "acme")
	w.co2, w.lic2 = mk(w.res2, "globex")
	w.coD, w.licD = mk(h.admin, "initech")
	w.cust1 = h.account(t, store.RoleCustomer, "jane@acme.example", w.co1, "")
	return w
}

// auditCount is how many changes the hub has recorded.
func (w *world) auditCount(t *testing.T) int {
	t.Helper()
	r, err := w.admin.ListAudit(t.Context(), connect.NewRequest(&licmeshv1.ListAuditRequest{Limit: 1000}))
	require.NoError(t, err)
	return len(r.Msg.GetEntries())
}

// TestResellersSeeOnlyTheirOwn tries every reseller call with the other
// reseller's IDs: each is refused, and nothing changes.
func TestResellersSeeOnlyTheirOwn(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	list, err := w.res1.ListCompanies(ctx, connect.NewRequest(&licmeshv1.ListCompaniesRequest{}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetCompanies(), 1)
	assert.Equal(t, w.co1, list.Msg.GetCompanies()[0].GetId())

	before := w.auditCount(t)
	for _, foreign := range []struct{ company, lic string }{{w.co2, w.lic2}, {w.coD, w.licD}} {
		calls := map[string]error{}
		_, calls["GetCompany"] = w.res1.GetCompany(ctx, connect.NewRequest(&licmeshv1.GetCompanyRequest{Id: foreign.company}))
		_, calls["StartTrial"] = w.res1.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: foreign.company, Sku: "timesheet-admin"}))
		_, calls["AddToLicense"] = w.res1.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{LicenseId: foreign.lic, AddQuantity: 5}))
		_, calls["ListIssuedLicenses"] = w.res1.ListIssuedLicenses(ctx, connect.NewRequest(&licmeshv1.ListIssuedLicensesRequest{CompanyId: foreign.company}))
		_, calls["GetIssuedLicense"] = w.res1.GetIssuedLicense(ctx, connect.NewRequest(&licmeshv1.GetIssuedLicenseRequest{Id: foreign.lic}))
		_, calls["CreateAccount"] = w.res1.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{Email: "x@evil.example", Name: "X", Role: "customer", CompanyId: foreign.company}))
		_, calls["CreateCompany"] = w.res1.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Stolen", Email: "s@x.example", ResellerId: w.r2}))
		for name, err := range calls {
			c := code(t, err)
			assert.Contains(t, []connect.Code{connect.CodeNotFound, connect.CodePermissionDenied}, c, "%s with %s's IDs: %v", name, foreign.company, err)
		}
	}
	// And the calls a reseller may not make at all.
	denied := map[string]error{}
	_, denied["IssueLicense"] = w.res1.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: w.co1, Sku: "timesheet-admin", Quantity: 1}))
	_, denied["ExtendLicense"] = w.res1.ExtendLicense(ctx, connect.NewRequest(&licmeshv1.ExtendLicenseRequest{LicenseId: w.lic1}))
	_, denied["RevokeLicense"] = w.res1.RevokeLicense(ctx, connect.NewRequest(&licmeshv1.RevokeLicenseRequest{LicenseId: w.lic1}))
	_, denied["SaveProduct"] = w.res1.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	_, denied["CreateReseller"] = w.res1.CreateReseller(ctx, connect.NewRequest(&licmeshv1.CreateResellerRequest{Name: "Me too"}))
	_, denied["ListAudit"] = w.res1.ListAudit(ctx, connect.NewRequest(&licmeshv1.ListAuditRequest{}))
	_, denied["AddModule"] = w.res1.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{LicenseId: w.lic1, EnableFeatures: []string{"orektic__reports"}}))
	_, denied["CreateStaff"] = w.res1.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{Email: "boss@x.example", Name: "B", Role: "admin"}))
	for name, err := range denied {
		assert.Equal(t, connect.CodePermissionDenied, code(t, err), name)
	}
	assert.Equal(t, before, w.auditCount(t), "no refused call changed anything")

	// Its own customer: a company and a trial were created above; a seat
	// pack needs a paid license, which the vendor issues.
	paid, err := w.admin.ConvertTrial(ctx, connect.NewRequest(&licmeshv1.ConvertTrialRequest{LicenseId: w.lic1, Quantity: 2}))
	require.NoError(t, err)
	pack, err := w.res1.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{LicenseId: paid.Msg.GetLicense().GetId(), AddQuantity: 5}))
	require.NoError(t, err)
	assert.EqualValues(t, 7, pack.Msg.GetLicense().GetQuantity())
	w.verify(t, pack.Msg.GetLicense())
}

// TestSalesCannotChangeAnything: the sales role reads everything and every
// change is refused.
func TestSalesCannotChangeAnything(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	companies, err := w.sales.ListCompanies(ctx, connect.NewRequest(&licmeshv1.ListCompaniesRequest{}))
	require.NoError(t, err)
	assert.Len(t, companies.Msg.GetCompanies(), 3)
	_, err = w.sales.GetCompany(ctx, connect.NewRequest(&licmeshv1.GetCompanyRequest{Id: w.co2}))
	require.NoError(t, err)
	_, err = w.sales.ListIssuedLicenses(ctx, connect.NewRequest(&licmeshv1.ListIssuedLicensesRequest{}))
	require.NoError(t, err)

	before := w.auditCount(t)
	calls := map[string]error{}
	_, calls["SaveProduct"] = w.sales.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	_, calls["CreateReseller"] = w.sales.CreateReseller(ctx, connect.NewRequest(&licmeshv1.CreateResellerRequest{Name: "R"}))
	_, calls["CreateCompany"] = w.sales.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "C", Email: "c@c.example"}))
	_, calls["EraseCompany"] = w.sales.EraseCompany(ctx, connect.NewRequest(&licmeshv1.EraseCompanyRequest{Id: w.co1}))
	_, calls["ExportCompanyData"] = w.sales.ExportCompanyData(ctx, connect.NewRequest(&licmeshv1.ExportCompanyDataRequest{Id: w.co1}))
	_, calls["CreateAccount"] = w.sales.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{Email: "a@a.example", Name: "A", Role: "customer", CompanyId: w.co1}))
	_, calls["DisableAccount"] = w.sales.DisableAccount(ctx, connect.NewRequest(&licmeshv1.DisableAccountRequest{Id: "acc_aaaaaaaaaaaaaaaaaaaa"}))
	_, calls["IssueLicense"] = w.sales.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: w.co1, Sku: "timesheet-admin", Quantity: 1}))
	_, calls["StartTrial"] = w.sales.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: w.co1, Sku: "timesheet-admin"}))
	_, calls["ExtendLicense"] = w.sales.ExtendLicense(ctx, connect.NewRequest(&licmeshv1.ExtendLicenseRequest{LicenseId: w.lic1}))
	_, calls["ConvertTrial"] = w.sales.ConvertTrial(ctx, connect.NewRequest(&licmeshv1.ConvertTrialRequest{LicenseId: w.lic1, Quantity: 1}))
	_, calls["AddToLicense"] = w.sales.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{LicenseId: w.lic1, AddQuantity: 1}))
	_, calls["RevokeLicense"] = w.sales.RevokeLicense(ctx, connect.NewRequest(&licmeshv1.RevokeLicenseRequest{LicenseId: w.lic1}))
	_, calls["ListAudit"] = w.sales.ListAudit(ctx, connect.NewRequest(&licmeshv1.ListAuditRequest{}))
	for name, err := range calls {
		assert.Equal(t, connect.CodePermissionDenied, code(t, err), name)
	}
	assert.Equal(t, before, w.auditCount(t))
}

// TestCustomersSeeOnlyTheirCompany: a customer's user sees its company's
// licenses, and nothing of any other company.
func TestCustomersSeeOnlyTheirCompany(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	mine, err := w.cust1.ListIssuedLicenses(ctx, connect.NewRequest(&licmeshv1.ListIssuedLicensesRequest{CompanyId: w.co2}))
	require.NoError(t, err, "the company asked for is replaced by the customer's own")
	require.Len(t, mine.Msg.GetLicenses(), 1)
	assert.Equal(t, w.lic1, mine.Msg.GetLicenses()[0].GetId())
	_, err = w.cust1.GetCompany(ctx, connect.NewRequest(&licmeshv1.GetCompanyRequest{Id: w.co1}))
	require.NoError(t, err)
	_, err = w.cust1.GetCompany(ctx, connect.NewRequest(&licmeshv1.GetCompanyRequest{Id: w.co2}))
	assert.Equal(t, connect.CodeNotFound, code(t, err))
	_, err = w.cust1.GetIssuedLicense(ctx, connect.NewRequest(&licmeshv1.GetIssuedLicenseRequest{Id: w.lic2}))
	assert.Equal(t, connect.CodeNotFound, code(t, err))
	for name, call := range map[string]func() error{
		"ListCompanies": func() error {
			_, err := w.cust1.ListCompanies(ctx, connect.NewRequest(&licmeshv1.ListCompaniesRequest{}))
			return err
		},
		"StartTrial": func() error {
			_, err := w.cust1.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: w.co1, Sku: "timesheet-admin"}))
			return err
		},
		"ListProducts": func() error {
			_, err := w.cust1.ListProducts(ctx, connect.NewRequest(&licmeshv1.ListProductsRequest{}))
			return err
		},
	} {
		assert.Equal(t, connect.CodePermissionDenied, code(t, call()), name)
	}
}

// TestEraseCompany: a company's personal data is exported, then erased;
// its licenses stay, and its users can no longer sign in.
func TestEraseCompany(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	exp, err := w.admin.ExportCompanyData(ctx, connect.NewRequest(&licmeshv1.ExportCompanyDataRequest{Id: w.co1}))
	require.NoError(t, err)
	assert.Contains(t, exp.Msg.GetJson(), "jane@acme.example")
	assert.Contains(t, exp.Msg.GetJson(), "it@acme.example")
	_, err = w.admin.EraseCompany(ctx, connect.NewRequest(&licmeshv1.EraseCompanyRequest{Id: w.co1}))
	require.NoError(t, err)
	_, err = w.cust1.WhoAmI(ctx, connect.NewRequest(&licmeshv1.WhoAmIRequest{}))
	assert.Equal(t, connect.CodeUnauthenticated, code(t, err), "the erased company's users' keys are revoked")
	got, err := w.admin.GetCompany(ctx, connect.NewRequest(&licmeshv1.GetCompanyRequest{Id: w.co1}))
	require.NoError(t, err)
	assert.NotContains(t, got.Msg.GetCompany().GetName()+got.Msg.GetCompany().GetEmail(), "acme")
	require.Len(t, got.Msg.GetLicenses(), 1, "licenses stay")
	for _, u := range got.Msg.GetUsers() {
		assert.NotContains(t, u.GetEmail(), "jane")
	}
	exp, err = w.admin.ExportCompanyData(ctx, connect.NewRequest(&licmeshv1.ExportCompanyDataRequest{Id: w.co1}))
	require.NoError(t, err)
	assert.NotContains(t, exp.Msg.GetJson(), "jane")
	assert.NotContains(t, exp.Msg.GetJson(), "acme")
}
