package hub

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// subscriptionStory takes acme's trial (w.lic1) through an extension, a
// conversion and a seat pack, then issues acme a separate license of the
// same product, revoked at once; it returns the chain's last license and
// the separate one.
func subscriptionStory(t *testing.T, w *world) (packed, separate *licmeshv1.HubLicense) {
	t.Helper()
	ctx := t.Context()
	w.clk.Advance(24 * time.Hour)
	ext, err := w.admin.ExtendLicense(ctx, connect.NewRequest(&licmeshv1.ExtendLicenseRequest{LicenseId: w.lic1}))
	require.NoError(t, err)
	w.clk.Advance(24 * time.Hour)
	conv, err := w.admin.ConvertTrial(ctx, connect.NewRequest(&licmeshv1.ConvertTrialRequest{LicenseId: ext.Msg.GetLicense().GetId(), Quantity: 3}))
	require.NoError(t, err)
	w.clk.Advance(time.Hour)
	pack, err := w.res1.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{LicenseId: conv.Msg.GetLicense().GetId(), AddQuantity: 2}))
	require.NoError(t, err)
	w.clk.Advance(time.Hour)
	other, err := w.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: w.co1, Sku: "timesheet-admin", Quantity: 1}))
	require.NoError(t, err)
	_, err = w.admin.RevokeLicense(ctx, connect.NewRequest(&licmeshv1.RevokeLicenseRequest{LicenseId: other.Msg.GetLicense().GetId()}))
	require.NoError(t, err)
	return pack.Msg.GetLicense(), other.Msg.GetLicense()
}

func listSubscriptions(t *testing.T, c licmeshv1connect.HubServiceClient, company string) ([]*licmeshv1.Subscription, error) {
	t.Helper()
	res, err := c.ListSubscriptions(t.Context(), connect.NewRequest(&licmeshv1.ListSubscriptionsRequest{CompanyId: company}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetSubscriptions(), nil
}

// TestSubscriptions: a trial extended, converted and packed is one
// subscription of four licenses that began as a trial; a separate license
// is a second subscription, revoked here; each role sees the
// subscriptions of the companies it may see, and no others.
func TestSubscriptions(t *testing.T) {
	w := newWorld(t)
	packed, separate := subscriptionStory(t, w)
	converted := t0.Add(48 * time.Hour)

	subs, err := listSubscriptions(t, w.admin, w.co1)
	require.NoError(t, err)
	require.Len(t, subs, 2)
	chain, other := subs[0], subs[1]
	assert.Equal(t, packed.GetSubscriptionId(), chain.GetId())
	assert.Equal(t, packed.GetId(), chain.GetCurrentLicenseId())
	assert.Equal(t, "timesheet-admin", chain.GetSku())
	assert.EqualValues(t, 1, chain.GetProductVersion())
	assert.Equal(t, "Timesheet Admin User", chain.GetProductName())
	assert.Equal(t, "2.1.0", chain.GetAppVersion())
	assert.Equal(t, "subscription", chain.GetType())
	assert.EqualValues(t, 5, chain.GetQuantity())
	assert.Equal(t, "current", chain.GetStatus())
	assert.EqualValues(t, 4, chain.GetLicenses())
	assert.Equal(t, t0.UnixMilli(), chain.GetStartedAtMs(), "started with the trial")
	assert.True(t, chain.GetBeganAsTrial())
	assert.Equal(t, converted.UnixMilli(), chain.GetConvertedAtMs())
	assert.Equal(t, packed.GetExpiresAtMs(), chain.GetExpiresAtMs())

	assert.Equal(t, separate.GetSubscriptionId(), other.GetId())
	assert.NotEqual(t, chain.GetId(), other.GetId())
	assert.Equal(t, separate.GetId(), other.GetCurrentLicenseId())
	assert.Equal(t, "revoked", other.GetStatus())
	assert.NotZero(t, other.GetRevokedAtMs())
	assert.EqualValues(t, 1, other.GetLicenses())
	assert.False(t, other.GetBeganAsTrial())
	assert.Zero(t, other.GetConvertedAtMs())

	// Who sees what, as for ListIssuedLicenses.
	for name, c := range map[string]licmeshv1connect.HubServiceClient{"sales": w.sales, "reseller": w.res1} {
		got, err := listSubscriptions(t, c, w.co1)
		require.NoError(t, err, name)
		assert.Len(t, got, 2, name)
	}
	for _, foreign := range []string{w.co2, w.coD} {
		_, err := listSubscriptions(t, w.res1, foreign)
		assert.Equal(t, connect.CodeNotFound, code(t, err), "a reseller asking for another's company")
		_, err = listSubscriptions(t, w.res2, w.co1)
		assert.Equal(t, connect.CodeNotFound, code(t, err), "and the other way round")
	}
	mine, err := listSubscriptions(t, w.cust1, w.co2)
	require.NoError(t, err, "the company asked for is replaced by the customer's own")
	require.Len(t, mine, 2)
	assert.Equal(t, chain.GetId(), mine[0].GetId())
	_, err = listSubscriptions(t, w.admin, "")
	assert.Equal(t, connect.CodeInvalidArgument, code(t, err), "staff name the company")
	_, err = listSubscriptions(t, w.admin, "co_nope")
	assert.Equal(t, connect.CodeInvalidArgument, code(t, err))

	// Pages of one.
	page, err := w.admin.ListSubscriptions(t.Context(), connect.NewRequest(&licmeshv1.ListSubscriptionsRequest{CompanyId: w.co1, Limit: 1}))
	require.NoError(t, err)
	require.Len(t, page.Msg.GetSubscriptions(), 1)
	next, err := w.admin.ListSubscriptions(t.Context(), connect.NewRequest(&licmeshv1.ListSubscriptionsRequest{CompanyId: w.co1, Limit: 1, After: page.Msg.GetSubscriptions()[0].GetId()}))
	require.NoError(t, err)
	require.Len(t, next.Msg.GetSubscriptions(), 1)
	assert.Equal(t, other.GetId(), next.Msg.GetSubscriptions()[0].GetId())

	// Another company's trial is its own subscription, still a trial.
	theirs, err := listSubscriptions(t, w.res2, w.co2)
	require.NoError(t, err)
	require.Len(t, theirs, 1)
	assert.Equal(t, w.lic2, theirs[0].GetCurrentLicenseId())
	assert.Equal(t, "trial", theirs[0].GetType())
	assert.True(t, theirs[0].GetBeganAsTrial())
	assert.Zero(t, theirs[0].GetConvertedAtMs())
}

// TestSubscriptionPages: the company page (staff and reseller) and the
// customer's portal list the subscriptions, each linking to its current
// license; a reseller cannot open another reseller's customer's page.
func TestSubscriptionPages(t *testing.T) {
	w := newPageWorld(t)
	packed, separate := subscriptionStory(t, w.world)
	// The story took days of the hub's clock: the browsers sign in again.
	for role, email := range map[string]string{"admin": w.init.AdminEmail, "sales": "sales-page@vendor.example", "reseller": "page@one.example",
		"reseller2": "page@two.example", "customer": "page@acme.example"} {
		w.as[role] = w.webAs(t, email, w.password[email])
	}
	for _, role := range []string{"admin", "sales", "reseller"} {
		status, body := w.as[role].get("/ui/companies/" + w.co1)
		require.Equal(t, http.StatusOK, status, "%s: %s", role, alert(body))
		section := between(t, body, `id="company-subscriptions"`, "</table>")
		assert.Equal(t, 2, strings.Count(section, "data-subscription="), "%s: two subscriptions", role)
		assert.Contains(t, section, `href="/ui/licenses/`+packed.GetId()+`"`, "%s: the chain links its current license", role)
		assert.Contains(t, section, `href="/ui/licenses/`+separate.GetId()+`"`, role)
		assert.Contains(t, section, "trial, converted 2026-11-04", role)
		assert.Contains(t, section, `<span class="status revoked">revoked</span>`, role)
		assert.Contains(t, section, "Timesheet Admin User", role)
	}
	status, _ := w.as["reseller2"].get("/ui/companies/" + w.co1)
	assert.Equal(t, http.StatusNotFound, status)

	status, body := w.as["customer"].get("/ui/")
	require.Equal(t, http.StatusOK, status, alert(body))
	section := between(t, body, `id="portal-subscriptions"`, "</table>")
	assert.Equal(t, 2, strings.Count(section, "data-subscription="))
	assert.Contains(t, section, `href="/ui/licenses/`+packed.GetId()+`"`)
	assert.Contains(t, section, `<span class="status current">current</span>`)
	assert.Less(t, strings.Index(body, `id="portal-subscriptions"`), strings.Index(body, `id="portal"`), "the subscriptions come above the licenses")
	status, body = w.as["customer"].get("/ui/licenses/" + packed.GetId())
	assert.Equal(t, http.StatusOK, status, "the link opens: %s", alert(body))

	// A company with none says so.
	co, err := w.admin.CreateCompany(t.Context(), connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Newco", Email: "it@newco.example"}))
	require.NoError(t, err)
	_, body = w.as["admin"].get("/ui/companies/" + co.Msg.GetCompany().GetId())
	assert.Contains(t, between(t, body, `id="company-subscriptions"`, "</table>"), "No subscriptions yet")

	// A company with more than the box shows: the first ones, and a link
	// to all of them.
	newco := co.Msg.GetCompany().GetId()
	for range subscriptionsShown + 1 {
		_, err := w.admin.IssueLicense(t.Context(), connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: newco, Sku: "timesheet-admin", Quantity: 1}))
		require.NoError(t, err)
	}
	_, body = w.as["admin"].get("/ui/companies/" + newco)
	assert.Equal(t, subscriptionsShown, strings.Count(between(t, body, `id="company-subscriptions"`, "</table>"), "data-subscription="))
	assert.Contains(t, body, fmt.Sprintf(`<a href="/ui/companies/%s?subscriptions=all">Show all</a>`, newco))
	_, body = w.as["admin"].get("/ui/companies/" + newco + "?subscriptions=all")
	assert.Equal(t, subscriptionsShown+1, strings.Count(between(t, body, `id="company-subscriptions"`, "</table>"), "data-subscription="))
	assert.NotContains(t, body, "Show all")
}

// between is the part of s from the first from to the next to.
func between(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	require.GreaterOrEqual(t, i, 0, "no %q in the page", from)
	j := strings.Index(s[i:], to)
	require.GreaterOrEqual(t, j, 0, "no %q after %q", to, from)
	return s[i : i+j]
}
