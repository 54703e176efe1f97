package master

import (
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// TestPurchaseRequestToTheVendorAndBack: a license manager asks for five
// more seats; an admin approves; the leader's check carries the request to
// a real hub, which lists it for the vendor; the vendor answers and issues
// a pack, and both reach the site with the next check.
func TestPurchaseRequestToTheVendorAndBack(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
	vh := startVendorHub(t, clk)
	ctx := t.Context()
	_, err := vh.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: &licmeshv1.Product{
		Sku: "bpm", Name: "BPM", Application: "bpm", AppVersion: "1.0.0", Type: "subscription", Billing: "annually",
		LicenseTemplate: []*licmeshv1.TemplateEntry{{Name: "designer", Users: 5, UsersCalculation: "fixed"}}}}))
	require.NoError(t, err)
	co, err := vh.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	require.NoError(t, err)
	coID := co.Msg.GetCompany().GetId()
	_, err = vh.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: coID, Sku: "bpm", Quantity: 1}))
	require.NoError(t, err)

	cfg := testConfig(t, clk)
	cfg.VendorKeys = []string{vh.init.PublicKey}
	s := runMaster(t, cfg)
	require.Eventually(t, func() bool { return s.leading.Load() && s.Ready() }, 20*time.Second, poll, "leadership")
	admin := adminHandler{s}
	_, err = admin.ActivateCluster(ctx, connect.NewRequest(&licmeshv1.ActivateClusterRequest{
		Hub: &licmeshv1.HubTarget{Url: vh.url, CaPem: vh.certPEM()}, ApiKey: vh.apiKey, CompanyId: coID}))
	require.NoError(t, err)
	for _, name := range []string{"lem", "ada"} {
		role := "license_manager"
		if name == "ada" {
			role = "admin"
		}
		_, err = admin.CreateUser(ctx, connect.NewRequest(&licmeshv1.CreateUserRequest{Name: name, Role: role, Password: name + " long password"}))
		require.NoError(t, err)
	}
	lem, _ := s.fsm.User("lem")
	ada, _ := s.fsm.User("ada")
	lctx, actx := withPrincipal(ctx, userPrincipal(lem)), withPrincipal(ctx, userPrincipal(ada))

	pr, err := admin.RequestPurchase(lctx, connect.NewRequest(&licmeshv1.RequestPurchaseRequest{Sku: "bpm", Pool: "designer", Quantity: 5, Reason: "the new team"}))
	require.NoError(t, err)
	id := pr.Msg.GetPurchase().GetId()
	assert.Equal(t, "requested", pr.Msg.GetPurchase().GetState())
	assert.Equal(t, "user:lem", pr.Msg.GetPurchase().GetRequestedBy())
	_, err = admin.RequestPurchase(lctx, connect.NewRequest(&licmeshv1.RequestPurchaseRequest{Sku: "bpm", Pool: "designer"}))
	assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "no quantity")

	d, err := admin.DecidePurchase(actx, connect.NewRequest(&licmeshv1.DecidePurchaseRequest{Id: id, Approve: true, Note: "ok"}))
	require.NoError(t, err)
	assert.Equal(t, "approved", d.Msg.GetPurchase().GetState())
	_, err = admin.DecidePurchase(actx, connect.NewRequest(&licmeshv1.DecidePurchaseRequest{Id: id, Approve: false}))
	assert.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err), "decided twice")

	// The leader's loop carries it up within a minute of the last check.
	require.Eventually(t, func() bool {
		clk.Advance(time.Minute)
		select {
		case s.syncNudge <- struct{}{}:
		default:
		}
		p := s.purchase(id)
		return p != nil && p.GetState() == fsm.PurchaseSent
	}, 20*time.Second, 50*time.Millisecond, "the request at the hub")
	qs, err := vh.admin.ListQuoteRequests(ctx, connect.NewRequest(&licmeshv1.ListQuoteRequestsRequest{Open: true}))
	require.NoError(t, err)
	require.Len(t, qs.Msg.GetRequests(), 1)
	q := qs.Msg.GetRequests()[0]
	assert.Equal(t, id, q.GetRequest().GetId())
	assert.Equal(t, uint32(5), q.GetRequest().GetQuantity())
	assert.Equal(t, "user:ada", q.GetRequest().GetApprovedBy())
	assert.Equal(t, coID, q.GetCompanyId())

	// The vendor answers and sells a pack: both arrive with the next check.
	_, err = vh.admin.AnswerQuoteRequest(ctx, connect.NewRequest(&licmeshv1.AnswerQuoteRequestRequest{Id: id, Answer: "sold: 5 seats, pack issued"}))
	require.NoError(t, err)
	_, err = vh.admin.AnswerQuoteRequest(ctx, connect.NewRequest(&licmeshv1.AnswerQuoteRequestRequest{Id: "pr-nope", Answer: "x"}))
	assert.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = admin.CheckLicensesNow(ctx, connect.NewRequest(&licmeshv1.CheckLicensesNowRequest{}))
	require.NoError(t, err)
	p := s.purchase(id)
	assert.Equal(t, "answered", p.GetState())
	assert.Equal(t, "sold: 5 seats, pack issued", p.GetAnswer())

	// By file, as a site with no internet carries it.
	_, err = admin.ExportPurchaseRequests(lctx, connect.NewRequest(&licmeshv1.ExportPurchaseRequestsRequest{}))
	assert.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err), "nothing approved waits")
	pr2, err := admin.RequestPurchase(lctx, connect.NewRequest(&licmeshv1.RequestPurchaseRequest{Sku: "bpm", Module: "reports"}))
	require.NoError(t, err)
	id2 := pr2.Msg.GetPurchase().GetId()
	_, err = admin.DecidePurchase(actx, connect.NewRequest(&licmeshv1.DecidePurchaseRequest{Id: id2, Approve: true}))
	require.NoError(t, err)
	ex, err := admin.ExportPurchaseRequests(lctx, connect.NewRequest(&licmeshv1.ExportPurchaseRequestsRequest{}))
	require.NoError(t, err)
	assert.Equal(t, []string{id2}, ex.Msg.GetIds())
	assert.Equal(t, "sent", s.purchase(id2).GetState())
	assert.Equal(t, "file", s.purchase(id2).GetVia())
	for _, fresh := range []uint32{1, 0} {
		im, err := vh.admin.ImportQuoteRequests(ctx, connect.NewRequest(&licmeshv1.ImportQuoteRequestsRequest{File: ex.Msg.GetFile()}))
		require.NoError(t, err)
		assert.Equal(t, fresh, im.Msg.GetFresh(), "imported twice, kept once")
	}
	tampered := append([]byte(nil), ex.Msg.GetFile()...)
	tampered[len(tampered)/2] ^= 1
	_, err = vh.admin.ImportQuoteRequests(ctx, connect.NewRequest(&licmeshv1.ImportQuoteRequestsRequest{File: tampered}))
	require.Error(t, err, "a tampered file")
	qs, err = vh.admin.ListQuoteRequests(ctx, connect.NewRequest(&licmeshv1.ListQuoteRequestsRequest{Open: true}))
	require.NoError(t, err)
	require.Len(t, qs.Msg.GetRequests(), 1)
	assert.Equal(t, "reports", qs.Msg.GetRequests()[0].GetRequest().GetModule())
}
