package hub

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	"github.com/licmesh/licmesh/licensing/usage"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/hub/store"
)

// The UpstreamService and the offline calls beside it, driven as a
// master and a vendor's staff would: a fake site holds a cluster key and
// seals its own chain of batches.

// upstreamClient calls the UpstreamService with an API key, or with none
// (as a master pushing usage or checking its licenses does).
func (h *testHub) upstreamClient(t testing.TB, apiKey string) licmeshv1connect.UpstreamServiceClient {
	t.Helper()
	var opts []connect.ClientOption
	if apiKey != "" {
		opts = append(opts, connect.WithInterceptors(header("Authorization", "Bearer "+apiKey)))
	}
	return licmeshv1connect.NewUpstreamServiceClient(h.httpClient(t), h.url, opts...)
}

// apiKey creates an account of role and returns an API key of it.
func (h *testHub) apiKey(t *testing.T, role store.Role, email, company, reseller string) string {
	t.Helper()
	acc, err := h.admin.CreateAccount(t.Context(), connect.NewRequest(&licmeshv1.CreateAccountRequest{
		Email: email, Name: "User " + email, Role: string(role), CompanyId: company, ResellerId: reseller}))
	require.NoError(t, err)
	hc := h.httpClient(t)
	in, err := licmeshv1connect.NewHubServiceClient(hc, h.url).SignIn(t.Context(),
		connect.NewRequest(&licmeshv1.SignInRequest{Email: email, Password: acc.Msg.GetPassword()}))
	require.NoError(t, err)
	withCSRF := licmeshv1connect.NewHubServiceClient(hc, h.url, connect.WithInterceptors(header(csrfHeader, in.Msg.GetCsrfToken())))
	k, err := withCSRF.CreateAPIKey(t.Context(), connect.NewRequest(&licmeshv1.CreateAPIKeyRequest{Name: "master"}))
	require.NoError(t, err)
	return k.Msg.GetSecret()
}

// fakeSite is a cluster as the hub sees it: an ID, a key, and the chain
// of batches it has sealed.
type fakeSite struct {
	id   license.ClusterID
	key  ed25519.PrivateKey
	seq  uint64
	hash string
}

func newFakeSite(t *testing.T, id license.ClusterID) *fakeSite {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return &fakeSite{id: id, key: k}
}

// impostor is a cluster claiming s's ID with a key of its own.
func (s *fakeSite) impostor(t *testing.T) *fakeSite {
	t.Helper()
	o := newFakeSite(t, s.id)
	o.seq, o.hash = s.seq, s.hash
	return o
}

// request is s's signed activation request, at its chain position.
func (s *fakeSite) request(t *testing.T, at time.Time) []byte {
	t.Helper()
	r, err := upstream.SealRequest(upstream.ActivationRequest{ClusterID: s.id, Products: []license.SKU{"timesheet-admin"},
		Versions: upstream.Versions{Masters: []string{"1.4.0"}, Collectors: []string{"0.9.1", "0.9.2"}},
		ChainSeq: s.seq, ChainHash: s.hash, CreatedAt: at}, s.key)
	require.NoError(t, err)
	return r.Marshal()
}

// proof is s's proof for a license check made at at.
func (s *fakeSite) proof(t *testing.T, purpose string, at time.Time) []byte {
	t.Helper()
	p, err := upstream.SealProof(s.id, purpose, at, s.key)
	require.NoError(t, err)
	return p.Marshal()
}

// next seals the next batch of s's chain, filled by fills.
func (s *fakeSite) next(t *testing.T, at time.Time, fills ...func(b *upstream.Batch)) upstream.Signed {
	t.Helper()
	b := &upstream.Batch{Format: upstream.BatchFormat, ClusterID: s.id, Seq: s.seq + 1, Prev: s.hash, CreatedAt: at, Zone: "Europe/Berlin"}
	for _, f := range fills {
		f(b)
	}
	signed, err := upstream.SealBatch(b, s.key)
	require.NoError(t, err)
	s.seq, s.hash = b.Seq, signed.Hash()
	return signed
}

// export is the usage export file of batches, as the site writes it.
func (s *fakeSite) export(at time.Time, batches ...upstream.Signed) []byte {
	e := upstream.Export{Format: upstream.ExportFormat, ClusterID: s.id, CreatedAt: at, Batches: batches}
	return e.Marshal()
}

var (
	october  = usage.MonthKey{Year: 2026, Month: time.October}
	november = usage.MonthKey{Year: 2026, Month: time.November}
)

// month fills a batch with one installation's month, the day its users
// and cases were counted on, and its seats.
func usageMonth(inst usage.InstallationID, k usage.MonthKey, users, cases int64) func(*upstream.Batch) {
	return func(b *upstream.Batch) {
		b.Months = append(b.Months, upstream.Month{Installation: inst, Month: k,
			Metrics: usage.Metrics{UserCountLatest: users, UserCountMax: users, CaseCountLatest: cases, CaseCountMax: cases}})
		b.Days = append(b.Days, upstream.Day{Installation: inst, DayStats: usage.DayStats{Day: usage.DayKey{Year: k.Year, Month: k.Month, Day: 2},
			Samples: uint64(users), Scalars: []usage.ScalarStats{{Name: "cases", Min: 0, Max: cases, Sum: cases, Last: cases, LastAt: t0}}}})
	}
}

// closed fills a batch with one installation's closed month.
func closedMonth(inst usage.InstallationID, k usage.MonthKey, users int64, late *usage.LateArrivals) func(*upstream.Batch) {
	return func(b *upstream.Batch) {
		b.Months = append(b.Months, upstream.Month{Installation: inst, Month: k, Closed: true, ClosedAt: t0.Add(-time.Hour),
			Metrics: usage.Metrics{UserCountLatest: users, UserCountMax: users}, Late: late})
	}
}

func seatUse(pool string, size, peak int64) func(*upstream.Batch) {
	return func(b *upstream.Batch) {
		b.Seats = append(b.Seats, upstream.Seats{Pool: pool, Seats: size, Held: min(size, peak), Peak: peak})
	}
}

func rawBatches(batches ...upstream.Signed) [][]byte {
	out := make([][]byte, len(batches))
	for i, b := range batches {
		out[i] = b.Marshal()
	}
	return out
}

// upWorld is a hub with a product and companies as activation meets
// them: acme holds a paid, unbound license; globex a trial; empty
// nothing; resco is a reseller's customer with a trial. Each has an
// API key of a customer's account, and staff have theirs.
type upWorld struct {
	*testHub
	acme, globex, empty, resco string // company IDs
	acmeLic                    string // acme's license before activation
	reseller                   string
	keys                       map[string]string // API keys by account: acme, globex, resco (customers), reseller, lm, sales, release
}

func newUpWorld(t *testing.T, opts ...func(*Config)) *upWorld {
	t.Helper()
	h := startHub(t, opts...)
	ctx := t.Context()
	w := &upWorld{testHub: h, keys: map[string]string{}}
	_, err := h.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	require.NoError(t, err)
	rr, err := h.admin.CreateReseller(ctx, connect.NewRequest(&licmeshv1.CreateResellerRequest{Name: "Partner One"}))
	require.NoError(t, err)
	w.reseller = rr.Msg.GetReseller().GetId()
	mk := func(name, reseller string) string {
		co, err := h.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: name, Email: "it@" + name + ".example", ResellerId: reseller}))
		require.NoError(t, err)
		return co.Msg.GetCompany().GetId()
	}
	w.acme, w.globex, w.empty, w.resco = mk("acme", ""), mk("globex", ""), mk("empty", ""), mk("resco", w.reseller)
	paid, err := h.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: w.acme, Sku: "timesheet-admin", Quantity: 2}))
	require.NoError(t, err)
	w.acmeLic = paid.Msg.GetLicense().GetId()
	for _, co := range []string{w.globex, w.resco} {
		_, err := h.admin.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: co, Sku: "timesheet-admin"}))
		require.NoError(t, err)
	}
	w.keys["acme"] = h.apiKey(t, store.RoleCustomer, "jane@acme.example", w.acme, "")
	w.keys["globex"] = h.apiKey(t, store.RoleCustomer, "joe@globex.example", w.globex, "")
	w.keys["resco"] = h.apiKey(t, store.RoleCustomer, "ann@resco.example", w.resco, "")
	w.keys["reseller"] = h.apiKey(t, store.RoleReseller, "sell@one.example", "", w.reseller)
	w.keys["lm"] = h.apiKey(t, store.RoleLicenseManager, "lm@vendor.example", "", "")
	w.keys["sales"] = h.apiKey(t, store.RoleSales, "sales@vendor.example", "", "")
	w.keys["release"] = h.apiKey(t, store.RoleReleaseManager, "release@vendor.example", "", "")
	return w
}

// as is a HubService client of one of w's accounts.
func (w *upWorld) as(t *testing.T, account string) licmeshv1connect.HubServiceClient {
	t.Helper()
	return w.client(t, w.keys[account])
}

// activate activates s online for company, with account's key, and
// returns the licenses bound to it.
func (w *upWorld) activate(t *testing.T, account string, s *fakeSite, company string) *licmeshv1.ActivateSiteResponse {
	t.Helper()
	r, err := w.upstreamClient(t, w.keys[account]).ActivateSite(t.Context(), connect.NewRequest(&licmeshv1.ActivateSiteRequest{
		Request: s.request(t, w.clk.Now()), CompanyId: company}))
	require.NoError(t, err)
	return r.Msg
}

// bound verifies a license text as the cluster would, and checks it is
// bound to that cluster and no other.
func (w *upWorld) bound(t *testing.T, text string, cluster license.ClusterID) *license.License {
	t.Helper()
	kr := w.keyring(t)
	l, err := license.Verify([]byte(text), kr, license.VerifyOptions{ClusterID: cluster, Now: w.clk.Now()})
	require.NoError(t, err, "a bound license verifies on its cluster")
	assert.Equal(t, cluster, l.ClusterID)
	_, err = license.Verify([]byte(text), kr, license.VerifyOptions{ClusterID: "lm-someone-else", Now: w.clk.Now()})
	require.ErrorIs(t, err, license.ErrWrongCluster, "and on no other")
	return l
}

// licenseIDs are every license the hub holds for company, oldest first.
func (w *upWorld) licenseIDs(t *testing.T, company string) []string {
	t.Helper()
	r, err := w.admin.ListIssuedLicenses(t.Context(), connect.NewRequest(&licmeshv1.ListIssuedLicensesRequest{CompanyId: company}))
	require.NoError(t, err)
	var out []string
	for _, l := range r.Msg.GetLicenses() {
		out = append(out, l.GetId())
	}
	return out
}

func (w *upWorld) sites(t *testing.T) map[string]*licmeshv1.Site {
	t.Helper()
	r, err := w.admin.ListSites(t.Context(), connect.NewRequest(&licmeshv1.ListSitesRequest{}))
	require.NoError(t, err)
	out := map[string]*licmeshv1.Site{}
	for _, s := range r.Msg.GetSites() {
		out[s.GetClusterId()] = s
	}
	return out
}

// usageState is what the hub holds of a cluster's usage and chain.
type usageState struct {
	Seq     uint64
	Hash    string
	Months  []store.UsageMonth
	Days    map[usage.InstallationID][]usage.DayStats
	Seats   []store.SeatRow
	Credits []upstream.Credit
}

func (w *upWorld) usage(t *testing.T, cluster license.ClusterID) usageState {
	t.Helper()
	ctx := t.Context()
	st := usageState{Days: map[usage.InstallationID][]usage.DayStats{}}
	require.NoError(t, w.s.store.Read(ctx, func(tx *store.Tx) error {
		site, err := tx.Site(ctx, cluster)
		if err != nil {
			return err
		}
		st.Seq, st.Hash = site.ChainSeq, site.ChainHash
		if st.Months, err = tx.ListMonths(ctx, store.MonthFilter{Cluster: cluster}); err != nil {
			return err
		}
		for _, m := range st.Months {
			if st.Days[m.Installation], err = tx.ListDays(ctx, cluster, m.Installation); err != nil {
				return err
			}
		}
		if st.Seats, err = tx.ListSeats(ctx, cluster); err != nil {
			return err
		}
		st.Credits, err = tx.ListCredits(ctx, cluster)
		return err
	}))
	return st
}

// receipt opens a receipt as the site would, with the vendor keys it
// trusts.
func (w *upWorld) receipt(t *testing.T, b []byte, cluster license.ClusterID) *upstream.Receipt {
	t.Helper()
	s, err := upstream.ParseSigned(b, upstream.MaxReceiptBytes)
	require.NoError(t, err)
	r, err := upstream.OpenReceipt(s, w.keyring(t), cluster)
	require.NoError(t, err)
	_, err = upstream.OpenReceipt(s, w.keyring(t), "lm-someone-else")
	require.ErrorIs(t, err, upstream.ErrWrongCluster)
	return r
}

// TestActivateSite: which companies a key may activate for, the binding
// of the company's license to the cluster, idempotent re-activation, and
// every refusal (another key, another company, no license, wrong role),
// none of which changes anything.
func TestActivateSite(t *testing.T) {
	w := newUpWorld(t)
	ctx := t.Context()
	up := w.upstreamClient(t, w.keys["acme"])

	names := func(key string) []string {
		t.Helper()
		r, err := w.upstreamClient(t, key).ListActivationCompanies(ctx, connect.NewRequest(&licmeshv1.ListActivationCompaniesRequest{}))
		require.NoError(t, err)
		var out []string
		for _, c := range r.Msg.GetCompanies() {
			out = append(out, c.GetName())
		}
		return out
	}
	list, err := up.ListActivationCompanies(ctx, connect.NewRequest(&licmeshv1.ListActivationCompaniesRequest{}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetCompanies(), 1, "a customer's key lists its own company")
	assert.Equal(t, w.acme, list.Msg.GetCompanies()[0].GetId())
	assert.Equal(t, "acme", list.Msg.GetCompanies()[0].GetName())
	assert.Equal(t, []string{"timesheet-admin"}, list.Msg.GetCompanies()[0].GetProducts())
	assert.Equal(t, []string{"resco"}, names(w.keys["reseller"]), "a reseller's own customers")
	assert.ElementsMatch(t, []string{"acme", "globex", "empty", "resco"}, names(w.keys["lm"]))
	for _, key := range []string{w.keys["sales"], w.keys["release"]} {
		_, err := w.upstreamClient(t, key).ListActivationCompanies(ctx, connect.NewRequest(&licmeshv1.ListActivationCompaniesRequest{}))
		assert.Equal(t, connect.CodePermissionDenied, code(t, err))
	}
	_, err = w.upstreamClient(t, "").ListActivationCompanies(ctx, connect.NewRequest(&licmeshv1.ListActivationCompaniesRequest{}))
	assert.Equal(t, connect.CodeUnauthenticated, code(t, err))

	// Activation binds the company's license to the cluster: a new
	// license of the same subscription, with the cluster's ID.
	a := newFakeSite(t, "lm-acme-1")
	before := w.licenseIDs(t, w.acme)
	r := w.activate(t, "acme", a, w.acme)
	assert.Equal(t, w.acme, r.GetCompanyId())
	assert.Equal(t, "acme", r.GetCompanyName())
	assert.Equal(t, uint64(1), r.GetNextSeq())
	require.Len(t, r.GetLicenses(), 1)
	l := w.bound(t, r.GetLicenses()[0], a.id)
	assert.Equal(t, []license.LicenseID{license.LicenseID(w.acmeLic)}, l.Supersedes)
	assert.Equal(t, 2, l.Quantity, "the same terms")
	after := w.licenseIDs(t, w.acme)
	assert.Len(t, after, len(before)+1)
	got, err := w.admin.GetIssuedLicense(ctx, connect.NewRequest(&licmeshv1.GetIssuedLicenseRequest{Id: w.acmeLic}))
	require.NoError(t, err)
	assert.Equal(t, "superseded", got.Msg.GetLicense().GetStatus())

	// Activating again with the same key (a retry, a new leader) ends in
	// the same place, issuing nothing.
	again := w.activate(t, "acme", a, w.acme)
	assert.Equal(t, r.GetLicenses(), again.GetLicenses())
	assert.Equal(t, after, w.licenseIDs(t, w.acme))

	// The same cluster ID with another key is a copy or an impostor,
	// whoever asks.
	impostor := a.impostor(t)
	for _, key := range []string{w.keys["acme"], w.keys["lm"]} {
		_, err = w.upstreamClient(t, key).ActivateSite(ctx, connect.NewRequest(&licmeshv1.ActivateSiteRequest{Request: impostor.request(t, w.clk.Now()), CompanyId: w.acme}))
		assert.Equal(t, connect.CodePermissionDenied, code(t, err))
		assert.Contains(t, err.Error(), "another cluster key")
	}
	// The registered cluster, for another company.
	_, err = w.upstreamClient(t, w.keys["globex"]).ActivateSite(ctx, connect.NewRequest(&licmeshv1.ActivateSiteRequest{Request: a.request(t, w.clk.Now()), CompanyId: w.globex}))
	assert.Equal(t, connect.CodePermissionDenied, code(t, err), "a cluster activated for another company")
	// A company the key may not act for.
	_, err = up.ActivateSite(ctx, connect.NewRequest(&licmeshv1.ActivateSiteRequest{Request: newFakeSite(t, "lm-x").request(t, w.clk.Now()), CompanyId: w.globex}))
	assert.Equal(t, connect.CodeNotFound, code(t, err))
	_, err = w.upstreamClient(t, w.keys["reseller"]).ActivateSite(ctx, connect.NewRequest(&licmeshv1.ActivateSiteRequest{Request: newFakeSite(t, "lm-x").request(t, w.clk.Now()), CompanyId: w.acme}))
	assert.Equal(t, connect.CodeNotFound, code(t, err), "a reseller, for a company it did not sell to")
	// No license left to bind: acme's is bound to lm-acme-1; empty has none.
	_, err = up.ActivateSite(ctx, connect.NewRequest(&licmeshv1.ActivateSiteRequest{Request: newFakeSite(t, "lm-acme-2").request(t, w.clk.Now()), CompanyId: w.acme}))
	assert.Equal(t, connect.CodeFailedPrecondition, code(t, err))
	_, err = w.upstreamClient(t, w.keys["lm"]).ActivateSite(ctx, connect.NewRequest(&licmeshv1.ActivateSiteRequest{Request: newFakeSite(t, "lm-empty").request(t, w.clk.Now()), CompanyId: w.empty}))
	assert.Equal(t, connect.CodeFailedPrecondition, code(t, err))
	// Roles that do not activate.
	for _, key := range []string{w.keys["sales"], w.keys["release"]} {
		_, err = w.upstreamClient(t, key).ActivateSite(ctx, connect.NewRequest(&licmeshv1.ActivateSiteRequest{Request: newFakeSite(t, "lm-s").request(t, w.clk.Now()), CompanyId: w.globex}))
		assert.Equal(t, connect.CodePermissionDenied, code(t, err))
	}
	_, err = w.upstreamClient(t, "").ActivateSite(ctx, connect.NewRequest(&licmeshv1.ActivateSiteRequest{Request: newFakeSite(t, "lm-s").request(t, w.clk.Now()), CompanyId: w.globex}))
	assert.Equal(t, connect.CodeUnauthenticated, code(t, err))
	// Requests that are not one.
	tampered, err := upstream.ParseSigned(newFakeSite(t, "lm-t").request(t, w.clk.Now()), upstream.MaxRequestBytes)
	require.NoError(t, err)
	tampered.Payload[len(tampered.Payload)-3] ^= 1
	for name, req := range map[string][]byte{"garbage": []byte("not a request"), "empty": nil, "tampered": tampered.Marshal()} {
		_, err = up.ActivateSite(ctx, connect.NewRequest(&licmeshv1.ActivateSiteRequest{Request: req, CompanyId: w.acme}))
		assert.Equal(t, connect.CodeInvalidArgument, code(t, err), name)
	}
	// None of the refused calls registered anything or issued anything.
	assert.Equal(t, after, w.licenseIDs(t, w.acme))
	assert.Len(t, w.licenseIDs(t, w.globex), 1)
	sites := w.sites(t)
	require.Len(t, sites, 1)
	s := sites[string(a.id)]
	require.NotNil(t, s)
	assert.Equal(t, "acme", s.GetCompanyName())
	assert.Equal(t, []string{"timesheet-admin"}, s.GetProducts())
	assert.Equal(t, []string{"1.4.0"}, s.GetMasterVersions())
	assert.Equal(t, []string{"0.9.1", "0.9.2"}, s.GetCollectorVersions())
	assert.Equal(t, "none", s.GetArrival())
	assert.Equal(t, w.clk.Now().UnixMilli(), s.GetRegisteredAtMs())

	// A reseller activates for its customer; a cluster that already
	// delivered batches elsewhere is expected to go on from there.
	rs := newFakeSite(t, "lm-resco")
	rs.next(t, w.clk.Now())
	rs.next(t, w.clk.Now())
	rr := w.activate(t, "reseller", rs, w.resco)
	assert.Equal(t, uint64(3), rr.GetNextSeq())
	require.Len(t, rr.GetLicenses(), 1)
	tl := w.bound(t, rr.GetLicenses()[0], rs.id)
	assert.Equal(t, license.Trial, tl.Type, "a trial is bound as it is")
}

// TestActivateOffline: an activation request file does what an online
// activation does, and is the same activation as an online one.
func TestActivateOffline(t *testing.T) {
	w := newUpWorld(t)
	ctx := t.Context()
	g := newFakeSite(t, "lm-globex-1")
	offline := func(account string, s *fakeSite, company string) (*licmeshv1.ActivateOfflineResponse, error) {
		r, err := w.as(t, account).ActivateOffline(ctx, connect.NewRequest(&licmeshv1.ActivateOfflineRequest{Request: s.request(t, w.clk.Now()), CompanyId: company}))
		if err != nil {
			return nil, err
		}
		return r.Msg, nil
	}
	r, err := offline("globex", g, w.globex)
	require.NoError(t, err)
	assert.Equal(t, string(g.id), r.GetClusterId())
	require.Len(t, r.GetLicenses(), 1)
	l := w.bound(t, r.GetLicenses()[0], g.id)
	assert.Equal(t, license.Trial, l.Type)
	ids := w.licenseIDs(t, w.globex)
	require.Len(t, ids, 2, "the trial and its bound replacement")

	// The same request again, offline or online, is the same activation.
	again, err := offline("lm", g, w.globex)
	require.NoError(t, err)
	assert.Equal(t, r.GetLicenses(), again.GetLicenses())
	online := w.activate(t, "globex", g, w.globex)
	assert.Equal(t, r.GetLicenses(), online.GetLicenses())
	assert.Equal(t, ids, w.licenseIDs(t, w.globex), "nothing new issued")

	_, err = offline("globex", g.impostor(t), w.globex)
	assert.Equal(t, connect.CodePermissionDenied, code(t, err))
	assert.Contains(t, err.Error(), "another cluster key")
	_, err = offline("lm", newFakeSite(t, "lm-empty"), w.empty)
	assert.Equal(t, connect.CodeFailedPrecondition, code(t, err))
	_, err = offline("acme", newFakeSite(t, "lm-x"), w.globex)
	assert.Equal(t, connect.CodeNotFound, code(t, err), "a customer, for another company")
	_, err = offline("reseller", newFakeSite(t, "lm-x"), w.acme)
	assert.Equal(t, connect.CodeNotFound, code(t, err), "a reseller, for a company it did not sell to")
	for _, account := range []string{"sales", "release"} {
		_, err = offline(account, newFakeSite(t, "lm-x"), w.acme)
		assert.Equal(t, connect.CodePermissionDenied, code(t, err), account)
	}
	_, err = w.as(t, "lm").ActivateOffline(ctx, connect.NewRequest(&licmeshv1.ActivateOfflineRequest{Request: []byte(`{"payload":"eyJ9","sig":""}`), CompanyId: w.acme}))
	assert.Equal(t, connect.CodeInvalidArgument, code(t, err))

	// The reseller, for its customer.
	rr, err := offline("reseller", newFakeSite(t, "lm-resco"), w.resco)
	require.NoError(t, err)
	w.bound(t, rr.GetLicenses()[0], "lm-resco")
	assert.Len(t, w.sites(t), 2)
}

// TestPushUsage: a chain pushed online is taken once; a gap, a forgery,
// another key, an unregistered or mixed cluster are refused and change
// nothing; the receipt verifies as the site checks it.
func TestPushUsage(t *testing.T) {
	w := newUpWorld(t)
	ctx := t.Context()
	a := newFakeSite(t, "lm-acme-1")
	w.activate(t, "acme", a, w.acme)
	up := w.upstreamClient(t, "") // a batch is its own credential
	push := func(batches ...upstream.Signed) (*licmeshv1.PushUsageResponse, error) {
		r, err := up.PushUsage(ctx, connect.NewRequest(&licmeshv1.PushUsageRequest{Batches: rawBatches(batches...)}))
		if err != nil {
			return nil, err
		}
		return r.Msg, nil
	}
	now := w.clk.Now()
	b1 := a.next(t, now, usageMonth("crm", october, 5, 50), seatUse("users", 10, 4))
	b2 := a.next(t, now, usageMonth("crm", november, 6, 60), usageMonth("erp", november, 2, 20), seatUse("users", 10, 7),
		func(b *upstream.Batch) {
			b.Credits = []upstream.Credit{{License: "lic-1", Unit: "case", Bought: 100, Consumed: 7}}
		})
	r, err := push(b1, b2)
	require.NoError(t, err)
	assert.EqualValues(t, 2, r.GetAccepted())
	assert.Zero(t, r.GetDuplicates())
	assert.Equal(t, uint64(2), r.GetSeq())
	assert.Equal(t, b2.Hash(), r.GetHash())
	rc := w.receipt(t, r.GetReceipt(), a.id)
	assert.Equal(t, uint64(2), rc.Seq, "the receipt names the last batch held")
	assert.Equal(t, b2.Hash(), rc.Hash)
	assert.Equal(t, w.clk.Now(), rc.IssuedAt)

	held := w.usage(t, a.id)
	assert.Equal(t, uint64(2), held.Seq)
	require.Len(t, held.Months, 3)
	assert.Len(t, held.Days["crm"], 2)
	require.Len(t, held.Seats, 1)
	assert.EqualValues(t, 7, held.Seats[0].Peak, "the latest state")
	assert.Len(t, held.Credits, 1)

	// The same batches again (an acknowledgement lost on the way back)
	// are duplicates and change nothing.
	w.clk.Advance(time.Minute)
	r, err = push(b1, b2)
	require.NoError(t, err)
	assert.Zero(t, r.GetAccepted())
	assert.EqualValues(t, 2, r.GetDuplicates())
	assert.Equal(t, uint64(2), r.GetSeq())
	assert.Equal(t, uint64(2), w.receipt(t, r.GetReceipt(), a.id).Seq)
	assert.Equal(t, held, w.usage(t, a.id))
	r, err = push(b2)
	require.NoError(t, err)
	assert.EqualValues(t, 1, r.GetDuplicates())

	refused := func(name string, want connect.Code, contains string, batches ...upstream.Signed) {
		t.Helper()
		_, err := push(batches...)
		assert.Equal(t, want, code(t, err), name)
		if contains != "" {
			assert.Contains(t, err.Error(), contains, name)
		}
		assert.Equal(t, held, w.usage(t, a.id), "%s changed nothing", name)
	}

	// A gap: batch 3 was lost, 4 arrives.
	b3 := a.next(t, now, usageMonth("crm", november, 8, 80))
	b4 := a.next(t, now, usageMonth("crm", november, 9, 90))
	refused("a gap", connect.CodeInvalidArgument, "batches 3 to 3 are missing", b4)
	refused("a gap after duplicates", connect.CodeInvalidArgument, "missing", b1, b2, b4)
	refused("out of order", connect.CodeInvalidArgument, "", b4, b3)

	// Another batch at a place the hub holds: a replay of an edited
	// batch, or a forgery, even signed with the right key.
	forged := &fakeSite{id: a.id, key: a.key, seq: 1, hash: b1.Hash()}
	refused("other bytes at a held place", connect.CodeInvalidArgument, "replay or a forgery", forged.next(t, now, usageMonth("crm", november, 1000, 1)))
	flipped := b3
	flipped.Payload = append([]byte(nil), b3.Payload...)
	flipped.Payload[len(flipped.Payload)/2] ^= 0x20
	refused("one byte changed", connect.CodeInvalidArgument, "", flipped)
	// Signed by another key than the cluster's.
	imp := a.impostor(t)
	imp.seq, imp.hash = 2, b2.Hash()
	refused("another key", connect.CodeInvalidArgument, "bad signature", imp.next(t, now, usageMonth("crm", november, 1, 1)))
	// Of a cluster the hub does not know.
	stranger := newFakeSite(t, "lm-stranger")
	refused("an unregistered cluster", connect.CodePermissionDenied, "not activated", stranger.next(t, now, usageMonth("crm", november, 1, 1)))
	// Of two clusters in one call.
	g := newFakeSite(t, "lm-globex-1")
	w.activate(t, "globex", g, w.globex)
	refused("two clusters", connect.CodeInvalidArgument, "", b3, g.next(t, now, usageMonth("erp", november, 1, 1)))
	assert.Zero(t, w.usage(t, g.id).Seq)
	refused("no batches", connect.CodeInvalidArgument, "")
	_, err = up.PushUsage(ctx, connect.NewRequest(&licmeshv1.PushUsageRequest{Batches: [][]byte{[]byte("{}")}}))
	assert.Equal(t, connect.CodeInvalidArgument, code(t, err))

	// The chain goes on where it stopped.
	r, err = push(b2, b3, b4)
	require.NoError(t, err)
	assert.EqualValues(t, 2, r.GetAccepted())
	assert.EqualValues(t, 1, r.GetDuplicates())
	assert.Equal(t, uint64(4), w.receipt(t, r.GetReceipt(), a.id).Seq)
	site := w.sites(t)[string(a.id)]
	assert.Equal(t, uint64(4), site.GetLastSeq())
	assert.Equal(t, "online", site.GetArrival())
	assert.Equal(t, w.clk.Now().UnixMilli(), site.GetLastOnlineMs())

	// After a key rotation, receipts are signed with the new key, which
	// the site trusts as it trusts every key of the hub.
	vk, err := w.s.RotateVendorKey(ctx, "test")
	require.NoError(t, err)
	r, err = push(b4)
	require.NoError(t, err)
	sr, err := upstream.ParseSigned(r.GetReceipt(), upstream.MaxReceiptBytes)
	require.NoError(t, err)
	assert.Equal(t, vk.KeyID, sr.KeyID)
	assert.Equal(t, uint64(4), w.receipt(t, r.GetReceipt(), a.id).Seq)

	// A site activated part-way along its chain takes the batch after.
	rs := newFakeSite(t, "lm-resco")
	rs.next(t, now)
	rs.next(t, now)
	assert.Equal(t, uint64(3), w.activate(t, "resco", rs, w.resco).GetNextSeq())
	r, err = push(rs.next(t, now, usageMonth("hr", november, 1, 1)))
	require.NoError(t, err)
	assert.Equal(t, uint64(3), r.GetSeq())
}

// TestUploadUsage: an export file counts once however often it comes and
// whichever way its batches came before; an edited or misdirected file,
// or one uploaded by someone who may not see the site, is refused.
func TestUploadUsage(t *testing.T) {
	w := newUpWorld(t)
	ctx := t.Context()
	a := newFakeSite(t, "lm-acme-1")
	w.activate(t, "acme", a, w.acme)
	upload := func(account string, file []byte) (*licmeshv1.UploadUsageResponse, error) {
		r, err := w.as(t, account).UploadUsage(ctx, connect.NewRequest(&licmeshv1.UploadUsageRequest{File: file}))
		if err != nil {
			return nil, err
		}
		return r.Msg, nil
	}
	now := w.clk.Now()
	b1 := a.next(t, now, usageMonth("crm", october, 5, 50))
	b2 := a.next(t, now, usageMonth("crm", november, 6, 60))
	file := a.export(now, b1, b2)
	r, err := upload("acme", file)
	require.NoError(t, err)
	assert.Equal(t, string(a.id), r.GetClusterId())
	assert.EqualValues(t, 2, r.GetAccepted())
	assert.Equal(t, uint64(2), r.GetSeq())
	rc := w.receipt(t, r.GetReceipt(), a.id)
	assert.Equal(t, uint64(2), rc.Seq)
	assert.Equal(t, b2.Hash(), rc.Hash)
	held := w.usage(t, a.id)
	require.Len(t, held.Months, 2)
	assert.Equal(t, "file", w.sites(t)[string(a.id)].GetArrival())

	// The same file twice counts once, whoever uploads it.
	r, err = upload("lm", file)
	require.NoError(t, err)
	assert.Zero(t, r.GetAccepted())
	assert.EqualValues(t, 2, r.GetDuplicates())
	assert.Equal(t, held, w.usage(t, a.id))

	// A batch pushed online, then carried in a file too, counts once.
	b3 := a.next(t, now, usageMonth("crm", november, 7, 70))
	_, err = w.upstreamClient(t, "").PushUsage(ctx, connect.NewRequest(&licmeshv1.PushUsageRequest{Batches: rawBatches(b3)}))
	require.NoError(t, err)
	held = w.usage(t, a.id)
	r, err = upload("acme", a.export(now, b1, b2, b3))
	require.NoError(t, err)
	assert.Zero(t, r.GetAccepted())
	assert.EqualValues(t, 3, r.GetDuplicates())
	assert.Equal(t, uint64(3), w.receipt(t, r.GetReceipt(), a.id).Seq)
	assert.Equal(t, held, w.usage(t, a.id))
	assert.Equal(t, "both", w.sites(t)[string(a.id)].GetArrival())

	refused := func(name string, account string, file []byte, want ...connect.Code) {
		t.Helper()
		_, err := upload(account, file)
		assert.Contains(t, want, code(t, err), "%s: %v", name, err)
		assert.Equal(t, held, w.usage(t, a.id), "%s changed nothing", name)
	}
	// One byte changed anywhere in a batch the hub does not hold yet.
	b4 := a.next(t, now, usageMonth("crm", november, 8, 80))
	good := a.export(now, b4)
	start := len(good) - len(b4.Marshal()) - len("\n]}\n")
	require.Equal(t, string(b4.Marshal()), string(good[start:start+len(b4.Marshal())]))
	for i := start; i < start+len(b4.Marshal()); i += 7 {
		bad := append([]byte(nil), good...)
		bad[i] ^= 0x01
		if e, err := upstream.ParseExport(bad); err == nil && bytes.Equal(e.Batches[0].Marshal(), b4.Marshal()) {
			continue // a padding bit of base64: the same batch
		}
		refused("a byte changed", "acme", bad, connect.CodeInvalidArgument)
	}
	// A file whose batches are not all of the cluster it names.
	g := newFakeSite(t, "lm-globex-1")
	w.activate(t, "globex", g, w.globex)
	g1 := g.next(t, now, usageMonth("erp", november, 1, 1))
	mixed := upstream.Export{Format: upstream.ExportFormat, ClusterID: a.id, CreatedAt: now, Batches: []upstream.Signed{b4, g1}}
	refused("a batch of another cluster", "lm", mixed.Marshal(), connect.CodeInvalidArgument)
	other := upstream.Export{Format: upstream.ExportFormat, ClusterID: g.id, CreatedAt: now, Batches: []upstream.Signed{b4}}
	refused("batches of another cluster than the file names", "lm", other.Marshal(), connect.CodeInvalidArgument)
	assert.Zero(t, w.usage(t, g.id).Seq)
	unknown := upstream.Export{Format: upstream.ExportFormat, ClusterID: "lm-unknown", CreatedAt: now, Batches: []upstream.Signed{b4}}
	refused("an unregistered cluster", "lm", unknown.Marshal(), connect.CodeInvalidArgument)
	refused("not a file", "lm", []byte("hello"), connect.CodeInvalidArgument)
	refused("a gap", "acme", a.export(now, a.next(t, now, usageMonth("crm", november, 9, 90))), connect.CodeInvalidArgument)
	// Accounts that may not see the site's company.
	refused("another company's customer", "globex", good, connect.CodeNotFound, connect.CodePermissionDenied)
	refused("another company's reseller", "reseller", good, connect.CodeNotFound, connect.CodePermissionDenied)
	refused("sales", "sales", good, connect.CodePermissionDenied)

	r, err = upload("acme", good)
	require.NoError(t, err)
	assert.EqualValues(t, 1, r.GetAccepted())
	assert.Equal(t, uint64(4), r.GetSeq())

	// Each upload that was taken is audited, with who and what it held;
	// the refused ones left no record.
	log, err := w.admin.ListAudit(ctx, connect.NewRequest(&licmeshv1.ListAuditRequest{Limit: 1000}))
	require.NoError(t, err)
	var uploads []string
	for _, e := range log.Msg.GetEntries() {
		if e.GetAction() == "usage.upload" {
			assert.Equal(t, string(a.id), e.GetTarget())
			uploads = append(uploads, e.GetActor()+": "+e.GetDetail())
		}
	}
	assert.ElementsMatch(t, []string{
		"jane@acme.example: batches up to 4: 1 new, 0 already held",
		"jane@acme.example: batches up to 3: 0 new, 3 already held",
		"lm@vendor.example: batches up to 2: 0 new, 2 already held",
		"jane@acme.example: batches up to 2: 2 new, 0 already held",
	}, uploads)
}

// TestClosedMonthsNeverChange: promise P3 through the hub. Once a month
// arrives closed, later batches cannot change its metrics, online or by
// file; only its late arrivals follow.
func TestClosedMonthsNeverChange(t *testing.T) {
	w := newUpWorld(t)
	ctx := t.Context()
	a := newFakeSite(t, "lm-acme-1")
	w.activate(t, "acme", a, w.acme)
	up := w.upstreamClient(t, "")
	now := w.clk.Now()
	history := func() []*licmeshv1.UsageMonthRow {
		t.Helper()
		r, err := w.as(t, "acme").InstallationHistory(ctx, connect.NewRequest(&licmeshv1.InstallationHistoryRequest{ClusterId: string(a.id), Installation: "crm"}))
		require.NoError(t, err)
		return r.Msg.GetMonths()
	}
	metrics := func(row *licmeshv1.UsageMonthRow) usage.Metrics {
		t.Helper()
		var m usage.Metrics
		require.NoError(t, json.Unmarshal([]byte(row.GetMetricsJson()), &m))
		return m
	}
	_, err := up.PushUsage(ctx, connect.NewRequest(&licmeshv1.PushUsageRequest{Batches: rawBatches(
		a.next(t, now, usageMonth("crm", october, 5, 50)),
		a.next(t, now, closedMonth("crm", october, 7, nil)),
	)}))
	require.NoError(t, err)
	rows := history()
	require.Len(t, rows, 1)
	assert.True(t, rows[0].GetClosed())
	assert.Equal(t, t0.Add(-time.Hour).UnixMilli(), rows[0].GetClosedAtMs())
	assert.EqualValues(t, 7, metrics(rows[0]).UserCountLatest)
	assert.Empty(t, rows[0].GetLateJson())
	final := rows[0].GetMetricsJson()

	// Other metrics for the closed month, with late arrivals: online, then
	// by file, then as if it were open.
	late := &usage.LateArrivals{Users: 2, Facts: true, Metrics: usage.Metrics{UserCountLatest: 2}, Combined: usage.Metrics{UserCountLatest: 9}}
	_, err = up.PushUsage(ctx, connect.NewRequest(&licmeshv1.PushUsageRequest{Batches: rawBatches(a.next(t, now, closedMonth("crm", october, 99, late)))}))
	require.NoError(t, err)
	rows = history()
	require.Len(t, rows, 1)
	assert.Equal(t, final, rows[0].GetMetricsJson(), "a closed month's metrics are final")
	var gotLate usage.LateArrivals
	require.NoError(t, json.Unmarshal([]byte(rows[0].GetLateJson()), &gotLate))
	assert.Equal(t, *late, gotLate, "late arrivals are kept beside it")

	later := &usage.LateArrivals{Users: 4, Facts: true, Metrics: usage.Metrics{UserCountLatest: 4}, Combined: usage.Metrics{UserCountLatest: 11}}
	_, err = w.as(t, "acme").UploadUsage(ctx, connect.NewRequest(&licmeshv1.UploadUsageRequest{File: a.export(now,
		a.next(t, now, closedMonth("crm", october, 100, later)),
		a.next(t, now, usageMonth("crm", october, 1, 1), usageMonth("crm", november, 3, 30)),
	)}))
	require.NoError(t, err)
	rows = history()
	require.Len(t, rows, 2)
	assert.Equal(t, "2026-11", rows[0].GetMonth(), "newest first")
	assert.False(t, rows[0].GetClosed())
	oct := rows[1]
	assert.True(t, oct.GetClosed(), "a closed month never opens again")
	assert.Equal(t, final, oct.GetMetricsJson())
	require.NoError(t, json.Unmarshal([]byte(oct.GetLateJson()), &gotLate))
	assert.Equal(t, *later, gotLate, "newer late arrivals replace older ones")
	assert.Equal(t, t0.Add(-time.Hour).UnixMilli(), oct.GetClosedAtMs())
}

// TestCheckLicenses: a fresh proof gets the cluster's licenses as they
// change (a pack, a revocation); stale, foreign or forged proofs are
// refused.
func TestCheckLicenses(t *testing.T) {
	w := newUpWorld(t)
	ctx := t.Context()
	a := newFakeSite(t, "lm-acme-1")
	act := w.activate(t, "acme", a, w.acme)
	g := newFakeSite(t, "lm-globex-1")
	w.activate(t, "globex", g, w.globex)
	up := w.upstreamClient(t, "")
	check := func(proof []byte) (*licmeshv1.CheckLicensesResponse, error) {
		r, err := up.CheckLicenses(ctx, connect.NewRequest(&licmeshv1.CheckLicensesRequest{Proof: proof}))
		if err != nil {
			return nil, err
		}
		return r.Msg, nil
	}

	w.clk.Advance(time.Minute)
	r, err := check(a.proof(t, "check", w.clk.Now()))
	require.NoError(t, err)
	assert.Equal(t, act.GetLicenses(), r.GetLicenses(), "the licenses bound at activation, and not globex's")
	assert.Empty(t, r.GetRevoked())
	assert.Equal(t, w.clk.Now().UnixMilli(), w.sites(t)[string(a.id)].GetLastContactMs())
	bound := w.bound(t, r.GetLicenses()[0], a.id)

	// A seat pack replaces the bound license with one bound the same way.
	pack, err := w.admin.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{LicenseId: string(bound.ID), AddQuantity: 3}))
	require.NoError(t, err)
	r, err = check(a.proof(t, "check", w.clk.Now()))
	require.NoError(t, err)
	require.Len(t, r.GetLicenses(), 1)
	pl := w.bound(t, r.GetLicenses()[0], a.id)
	assert.Equal(t, license.LicenseID(pack.Msg.GetLicense().GetId()), pl.ID)
	assert.Equal(t, 5, pl.Quantity)
	assert.True(t, pl.Replaces(&bound.Payload))
	assert.Empty(t, r.GetRevoked())

	// Revoked: named as such, no longer in force.
	_, err = w.admin.RevokeLicense(ctx, connect.NewRequest(&licmeshv1.RevokeLicenseRequest{LicenseId: string(pl.ID)}))
	require.NoError(t, err)
	r, err = check(a.proof(t, "check", w.clk.Now()))
	require.NoError(t, err)
	assert.Empty(t, r.GetLicenses())
	assert.Equal(t, []string{string(bound.ID), string(pl.ID)}, r.GetRevoked(), "the revoked license, and the one it replaced")

	// Proofs the hub does not take.
	stale := a.proof(t, "check", w.clk.Now())
	w.clk.Advance(proofSkew + time.Minute)
	_, err = check(stale)
	assert.Equal(t, connect.CodeInvalidArgument, code(t, err), "a stale proof")
	assert.Contains(t, err.Error(), "stale")
	_, err = check(a.proof(t, "check", w.clk.Now().Add(proofSkew+time.Minute)))
	assert.Equal(t, connect.CodeInvalidArgument, code(t, err), "a proof from the future")
	_, err = check(a.impostor(t).proof(t, "check", w.clk.Now()))
	assert.Equal(t, connect.CodePermissionDenied, code(t, err), "a proof signed by another key")
	_, err = check(newFakeSite(t, "lm-stranger").proof(t, "check", w.clk.Now()))
	assert.Equal(t, connect.CodePermissionDenied, code(t, err), "an unregistered cluster")
	_, err = check(a.proof(t, "push", w.clk.Now()))
	assert.Equal(t, connect.CodeInvalidArgument, code(t, err), "a proof for something else")
	_, err = check([]byte("not a proof"))
	assert.Equal(t, connect.CodeInvalidArgument, code(t, err))
	tampered, err := upstream.ParseSigned(a.proof(t, "check", w.clk.Now()), upstream.MaxRequestBytes)
	require.NoError(t, err)
	tampered.Sig[0] ^= 1
	_, err = check(tampered.Marshal())
	assert.Equal(t, connect.CodePermissionDenied, code(t, err), "a proof changed after signing")

	// Just within the window, either side.
	_, err = check(a.proof(t, "check", w.clk.Now().Add(-proofSkew+time.Minute)))
	require.NoError(t, err)
	r, err = check(g.proof(t, "check", w.clk.Now().Add(proofSkew-time.Minute)))
	require.NoError(t, err)
	require.Len(t, r.GetLicenses(), 1)
	held := w.bound(t, r.GetLicenses()[0], g.id)

	// A replacement revoked before the site ever saw it: the license the
	// site holds, which it replaced, is named revoked too, or the site
	// would keep it in force.
	ext, err := w.admin.ExtendLicense(ctx, connect.NewRequest(&licmeshv1.ExtendLicenseRequest{LicenseId: string(held.ID)}))
	require.NoError(t, err)
	_, err = w.admin.RevokeLicense(ctx, connect.NewRequest(&licmeshv1.RevokeLicenseRequest{LicenseId: ext.Msg.GetLicense().GetId()}))
	require.NoError(t, err)
	r, err = check(g.proof(t, "check", w.clk.Now()))
	require.NoError(t, err)
	assert.Empty(t, r.GetLicenses())
	assert.ElementsMatch(t, []string{string(held.ID), ext.Msg.GetLicense().GetId()}, r.GetRevoked())
}

// TestStartSiteTrial: the dashboard's trial button registers the cluster
// and binds the new company's trial to it; the cluster then reports and
// checks like any other. A cluster already registered is refused.
func TestStartSiteTrial(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr, func(c *Config) { c.SignupRate = 100 })
	ctx := t.Context()
	up := h.upstreamClient(t, "")
	trial := func(s *fakeSite, email string) (*licmeshv1.StartSiteTrialResponse, error) {
		r, err := up.StartSiteTrial(ctx, connect.NewRequest(&licmeshv1.StartSiteTrialRequest{
			Request: s.request(t, h.clk.Now()), Email: email, Company: "Trialco", Name: "Tess"}))
		if err != nil {
			return nil, err
		}
		return r.Msg, nil
	}
	s := newFakeSite(t, "lm-trial-1")
	r, err := trial(s, "tess@trialco.example")
	require.NoError(t, err)
	assert.Equal(t, "Trialco", r.GetCompanyName())
	kr := h.keyring(t)
	l, err := license.Verify([]byte(r.GetLicense()), kr, license.VerifyOptions{ClusterID: s.id, Now: h.clk.Now()})
	require.NoError(t, err)
	assert.Equal(t, license.Trial, l.Type)
	assert.Equal(t, s.id, l.ClusterID)

	// Registered: it pushes usage and checks its licenses.
	push, err := up.PushUsage(ctx, connect.NewRequest(&licmeshv1.PushUsageRequest{Batches: rawBatches(s.next(t, h.clk.Now(), usageMonth("crm", november, 1, 1)))}))
	require.NoError(t, err)
	assert.EqualValues(t, 1, push.Msg.GetAccepted())
	check, err := up.CheckLicenses(ctx, connect.NewRequest(&licmeshv1.CheckLicensesRequest{Proof: s.proof(t, "check", h.clk.Now())}))
	require.NoError(t, err)
	assert.Equal(t, []string{r.GetLicense()}, check.Msg.GetLicenses())

	// The button once per cluster, whoever presses it with whatever key.
	for name, site := range map[string]*fakeSite{"again": s, "an impostor": s.impostor(t)} {
		_, err = trial(site, "other@else.example")
		assert.Equal(t, connect.CodeInvalidArgument, code(t, err), name)
		assert.Contains(t, err.Error(), "already activated", name)
	}
	_, err = up.StartSiteTrial(ctx, connect.NewRequest(&licmeshv1.StartSiteTrialRequest{Request: []byte("nope"), Email: "x@y.example", Company: "X"}))
	assert.Equal(t, connect.CodeInvalidArgument, code(t, err))
	// An address with an account gets a mail and no license, and the
	// cluster stays unregistered.
	quiet, err := trial(newFakeSite(t, "lm-trial-2"), "tess@trialco.example")
	require.NoError(t, err)
	assert.Empty(t, quiet.GetLicense())
	sites, err := h.admin.ListSites(ctx, connect.NewRequest(&licmeshv1.ListSitesRequest{}))
	require.NoError(t, err)
	require.Len(t, sites.Msg.GetSites(), 1)
	assert.Equal(t, string(s.id), sites.Msg.GetSites()[0].GetClusterId())
}
