package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// testToken is the admin token the harness gives meshctl.
const testToken = "lma1.testadmintoken.s3cretpart"

// recorded is one call the fake master received.
type recorded struct {
	procedure string
	auth      string
	msg       proto.Message
}

// fakeAdmin is an AdminService that records each request and answers with
// canned responses, or with err when it is set.
type fakeAdmin struct {
	// Calls the tests do not script answer Unimplemented.
	licmeshv1connect.UnimplementedAdminServiceHandler

	mu    sync.Mutex
	calls []recorded
	err   error
	// block makes every call wait until its context ends.
	block bool

	status      *v1.GetStatusResponse
	members     *v1.ListMembersResponse
	pools       *v1.ListPoolsResponse
	leases      *v1.ListLeasesResponse
	tokens      *v1.ListTokensResponse
	collectors  *v1.ListCollectorsResponse
	createdPool *v1.CreatePoolResponse
	createdTok  *v1.CreateTokenResponse

	usageOverview *v1.UsageOverviewResponse
	usageHistory  *v1.UsageHistoryResponse
	usageMonth    *v1.UsageMonthResponse
}

var _ licmeshv1connect.AdminServiceHandler = (*fakeAdmin)(nil)

// answer records a call and returns what pick chooses; pick runs under
// f.mu so tests may change the canned data after the server started.
func answer[Res any](ctx context.Context, f *fakeAdmin, proc string, h http.Header, req proto.Message, pick func() *Res) (*connect.Response[Res], error) {
	f.mu.Lock()
	f.calls = append(f.calls, recorded{procedure: proc, auth: h.Get("Authorization"), msg: proto.Clone(req)})
	err, block, res := f.err, f.block, pick()
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, connect.NewError(connect.CodeDeadlineExceeded, ctx.Err())
	}
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(res), nil
}

func (f *fakeAdmin) GetStatus(ctx context.Context, r *connect.Request[v1.GetStatusRequest]) (*connect.Response[v1.GetStatusResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.GetStatusResponse { return f.status })
}

func (f *fakeAdmin) ListMembers(ctx context.Context, r *connect.Request[v1.ListMembersRequest]) (*connect.Response[v1.ListMembersResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.ListMembersResponse { return f.members })
}

func (f *fakeAdmin) RemovePeer(ctx context.Context, r *connect.Request[v1.RemovePeerRequest]) (*connect.Response[v1.RemovePeerResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.RemovePeerResponse { return &v1.RemovePeerResponse{} })
}

func (f *fakeAdmin) CreatePool(ctx context.Context, r *connect.Request[v1.CreatePoolRequest]) (*connect.Response[v1.CreatePoolResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.CreatePoolResponse { return f.createdPool })
}

func (f *fakeAdmin) ListPools(ctx context.Context, r *connect.Request[v1.ListPoolsRequest]) (*connect.Response[v1.ListPoolsResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.ListPoolsResponse { return f.pools })
}

func (f *fakeAdmin) ListAlerts(ctx context.Context, r *connect.Request[v1.ListAlertsRequest]) (*connect.Response[v1.ListAlertsResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.ListAlertsResponse {
		return &v1.ListAlertsResponse{Alerts: []*v1.Alert{{Key: "pool_usage/designer/80%", Kind: "pool_usage", Severity: "warning",
			Summary: "pool designer is at 80% of its seats", FiredAtMs: 1772366400000, Episodes: 1}}}
	})
}

func (f *fakeAdmin) AckAlert(ctx context.Context, r *connect.Request[v1.AckAlertRequest]) (*connect.Response[v1.AckAlertResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.AckAlertResponse {
		return &v1.AckAlertResponse{Alert: &v1.Alert{Key: r.Msg.GetKey(), Severity: "warning", AckedBy: "token:admin", FiredAtMs: 1772366400000}}
	})
}

func (f *fakeAdmin) SetAlertChannel(ctx context.Context, r *connect.Request[v1.SetAlertChannelRequest]) (*connect.Response[v1.SetAlertChannelResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.SetAlertChannelResponse {
		ch := proto.Clone(r.Msg.GetChannel()).(*v1.AlertChannel)
		ch.HasSecret = r.Msg.GetSecret() != ""
		return &v1.SetAlertChannelResponse{Channel: ch}
	})
}

func (f *fakeAdmin) SetAlertRule(ctx context.Context, r *connect.Request[v1.SetAlertRuleRequest]) (*connect.Response[v1.SetAlertRuleResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.SetAlertRuleResponse {
		return &v1.SetAlertRuleResponse{Rules: []*v1.AlertRule{r.Msg.GetRule()}}
	})
}

func (f *fakeAdmin) ListLeases(ctx context.Context, r *connect.Request[v1.ListLeasesRequest]) (*connect.Response[v1.ListLeasesResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.ListLeasesResponse { return f.leases })
}

func (f *fakeAdmin) CreateToken(ctx context.Context, r *connect.Request[v1.CreateTokenRequest]) (*connect.Response[v1.CreateTokenResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.CreateTokenResponse { return f.createdTok })
}

func (f *fakeAdmin) ListTokens(ctx context.Context, r *connect.Request[v1.ListTokensRequest]) (*connect.Response[v1.ListTokensResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.ListTokensResponse { return f.tokens })
}

func (f *fakeAdmin) RevokeToken(ctx context.Context, r *connect.Request[v1.RevokeTokenRequest]) (*connect.Response[v1.RevokeTokenResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.RevokeTokenResponse { return &v1.RevokeTokenResponse{} })
}

func (f *fakeAdmin) ListCollectors(ctx context.Context, r *connect.Request[v1.ListCollectorsRequest]) (*connect.Response[v1.ListCollectorsResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.ListCollectorsResponse { return f.collectors })
}

var testLicense = &v1.License{
	Id: "lic-1", Customer: "Acme", Product: "Timesheet Admin User", Type: "subscription", Status: "active",
	DaysLeft: 42, ExpiresAtMs: 1800000000000, Pools: []*v1.Pool{{Name: "designer", Seats: 5, Held: 2}},
	Features: []string{"orektic__timesheet"}, Text: "-----BEGIN LICMESH LICENSE-----\n...\n",
}

func (f *fakeAdmin) AddLicense(ctx context.Context, r *connect.Request[v1.AddLicenseRequest]) (*connect.Response[v1.AddLicenseResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.AddLicenseResponse {
		return &v1.AddLicenseResponse{License: testLicense}
	})
}

func (f *fakeAdmin) ListLicenses(ctx context.Context, r *connect.Request[v1.ListLicensesRequest]) (*connect.Response[v1.ListLicensesResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.ListLicensesResponse {
		return &v1.ListLicensesResponse{Licenses: []*v1.License{testLicense}}
	})
}

func (f *fakeAdmin) GetLicense(ctx context.Context, r *connect.Request[v1.GetLicenseRequest]) (*connect.Response[v1.GetLicenseResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.GetLicenseResponse {
		return &v1.GetLicenseResponse{License: testLicense}
	})
}

func (f *fakeAdmin) RemoveLicense(ctx context.Context, r *connect.Request[v1.RemoveLicenseRequest]) (*connect.Response[v1.RemoveLicenseResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.RemoveLicenseResponse { return &v1.RemoveLicenseResponse{} })
}

func (f *fakeAdmin) UsageOverview(ctx context.Context, r *connect.Request[v1.UsageOverviewRequest]) (*connect.Response[v1.UsageOverviewResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.UsageOverviewResponse { return f.usageOverview })
}

func (f *fakeAdmin) UsageHistory(ctx context.Context, r *connect.Request[v1.UsageHistoryRequest]) (*connect.Response[v1.UsageHistoryResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.UsageHistoryResponse { return f.usageHistory })
}

func (f *fakeAdmin) UsageMonth(ctx context.Context, r *connect.Request[v1.UsageMonthRequest]) (*connect.Response[v1.UsageMonthResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.UsageMonthResponse { return f.usageMonth })
}

func (f *fakeAdmin) UsageDays(ctx context.Context, r *connect.Request[v1.UsageDaysRequest]) (*connect.Response[v1.UsageDaysResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.UsageDaysResponse { return &v1.UsageDaysResponse{} })
}

func (f *fakeAdmin) recordedCalls() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.calls...)
}

// update changes the fake's behaviour under its lock.
func (f *fakeAdmin) update(change func(f *fakeAdmin)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// Fixed times for the canned data, so tables are predictable.
var (
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(23*time.Hour + 59*time.Minute)
)

func newFakeAdmin() *fakeAdmin {
	return &fakeAdmin{
		status: &v1.GetStatusResponse{
			ClusterId: "c-42", NodeId: "m1", State: "Leader", LeaderId: "m1",
			LeaderApiAddr: "10.0.0.1:7400", Term: 7, CommitIndex: 120, AppliedIndex: 119,
			LastLogIndex: 121, TrustedTimeMs: t0.UnixMilli(), Version: "v0.1.0",
			ProtocolVersion: 1, Pools: 2, Leases: 3, Collectors: 4, Voters: 3,
		},
		members: &v1.ListMembersResponse{Members: []*v1.Member{
			{Id: "m1", GossipAddr: "10.0.0.1:7402", RaftAddr: "10.0.0.1:7401", ApiAddr: "10.0.0.1:7400", State: "alive", Voter: true, Leader: true, Version: "v0.1.0"},
			{Id: "m2", GossipAddr: "10.0.0.2:7402", RaftAddr: "10.0.0.2:7401", ApiAddr: "10.0.0.2:7400", State: "alive", Voter: true, Version: "v0.1.0"},
		}},
		pools: &v1.ListPoolsResponse{Pools: []*v1.Pool{
			{Name: "designer", Seats: 10, Enforce: "hard", Held: 3, PeakHeld: 5},
			{Name: "=cmd|' /C calc'!A0", Seats: 5, Enforce: "soft", Held: 6, PeakHeld: 7, OverageGrants: 2, LastOverageMs: t0.UnixMilli()},
		}},
		leases: &v1.ListLeasesResponse{Leases: []*v1.Lease{
			{Id: 17, Fence: 118, Pool: "designer", Holder: "alice", CollectorId: "col-1", GrantedAtMs: t0.UnixMilli(), TtlMs: 60000, ExpiresAtMs: t1.UnixMilli(), Token: "lml1.payload.sig"},
		}},
		tokens: &v1.ListTokensResponse{Tokens: []*v1.Token{
			{Id: "abcdefghij", Role: "collector", CreatedAtMs: t0.UnixMilli(), ExpiresAtMs: t1.UnixMilli(), MaxUses: 0, Uses: 2},
			{Id: "klmnopqrst", Role: "collector", CreatedAtMs: t0.UnixMilli(), ExpiresAtMs: t1.UnixMilli(), MaxUses: 1, Uses: 1, Revoked: true},
		}},
		collectors: &v1.ListCollectorsResponse{Collectors: []*v1.Collector{
			{Id: "col-1", Hostname: "bpm-01\x1b[31m", Version: "v0.1.0", EnrolledAtMs: t0.UnixMilli(), LastSeenMs: t1.UnixMilli(), Protocol: "h3", Leases: 1},
		}},
		createdPool: &v1.CreatePoolResponse{Pool: &v1.Pool{Name: "modeler", Seats: 25, Enforce: "soft"}},
		createdTok: &v1.CreateTokenResponse{
			Token:       &v1.Token{Id: "uvwxyz2345", Role: "collector", CreatedAtMs: t0.UnixMilli(), ExpiresAtMs: t0.Add(24 * time.Hour).UnixMilli(), MaxUses: 3},
			SecretToken: "lmj1.uvwxyz2345.SECRETSECRETSECRET.pinpinpin",
		},
		usageOverview: &v1.UsageOverviewResponse{
			Months: []string{"2026-02", "2026-01"}, TimeZone: "Europe/Paris",
			Installations: []*v1.UsageInstallation{
				{Installation: "acme-prod", CollectorId: "col-1", SpoolEpoch: 2, AckedSeq: 118, LastReportMs: t0.UnixMilli(), Samples: 5400},
			},
		},
		usageHistory: &v1.UsageHistoryResponse{TimeZone: "Europe/Paris", Reports: []*v1.UsageReport{
			usageReport("acme-prod", "2026-02", false, 4, 0, nil),
			usageReport("acme-prod", "2026-01", true, 7, t0.Add(-40*24*time.Hour).UnixMilli(), &v1.UsageLate{Users: 2}),
		}},
		usageMonth: &v1.UsageMonthResponse{TimeZone: "Europe/Paris", Reports: []*v1.UsageReport{
			usageReport("=cmd|' /C calc'!A0", "2026-01", true, 3, 0, nil),
			usageReport("acme-prod", "2026-01", true, 7, t0.Add(-40*24*time.Hour).UnixMilli(), &v1.UsageLate{Users: 2}),
		}},
	}
}

// usageReport is a canned month: super users as given, the other metrics
// fixed so their columns can be told apart.
func usageReport(inst, month string, closed bool, super, concWhenMs int64, late *v1.UsageLate) *v1.UsageReport {
	return &v1.UsageReport{Installation: inst, Month: month, Closed: closed, Late: late, Metrics: &v1.UsageMetrics{
		Super: super, EnStaff: 12, AcStaff: 9, ConcMax: 5, ConcWhenMs: concWhenMs, LogonMinutes: 1440, FileLimit: 250,
	}}
}

// harness is a fake master behind real TLS on 127.0.0.1, and meshctl
// pointed at it through the environment.
type harness struct {
	t      *testing.T
	fake   *fakeAdmin
	srv    *httptest.Server
	caFile string
	env    map[string]string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	fake := newFakeAdmin()
	mux := http.NewServeMux()
	mux.Handle(licmeshv1connect.NewAdminServiceHandler(fake))
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writePEM(t, caFile, srv.Certificate().Raw)
	return &harness{
		t: t, fake: fake, srv: srv, caFile: caFile,
		env: map[string]string{
			envAddr:  srv.URL,
			envCA:    caFile,
			envToken: testToken,
		},
	}
}

// run runs meshctl in-process and returns what it printed and its status.
func (h *harness) run(args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	return runMeshctl(h.t, h.env, args...)
}

func writePEM(t *testing.T, path string, der []byte) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

// otherCA writes a CA certificate that signed nothing the fake master
// presents, and returns its path.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "some other cluster CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	writePEM(t, path, der)
	return path
}

func (f *fakeAdmin) CreateUser(ctx context.Context, r *connect.Request[v1.CreateUserRequest]) (*connect.Response[v1.CreateUserResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.CreateUserResponse {
		return &v1.CreateUserResponse{User: &v1.User{Name: r.Msg.Name, Role: r.Msg.Role, CreatedBy: "token:admin", ApiTokens: 0}}
	})
}

func (f *fakeAdmin) ListUsers(ctx context.Context, r *connect.Request[v1.ListUsersRequest]) (*connect.Response[v1.ListUsersResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.ListUsersResponse {
		return &v1.ListUsersResponse{Users: []*v1.User{
			{Name: "alice", Role: "license_manager", ApiTokens: 2, CreatedAtMs: 1772366400000},
			{Name: "bob", Role: "viewer", Disabled: true},
		}}
	})
}

func (f *fakeAdmin) UpdateUser(ctx context.Context, r *connect.Request[v1.UpdateUserRequest]) (*connect.Response[v1.UpdateUserResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.UpdateUserResponse {
		return &v1.UpdateUserResponse{User: &v1.User{Name: r.Msg.Name, Role: r.Msg.Role, Disabled: r.Msg.Disable}}
	})
}

func (f *fakeAdmin) GetCaller(ctx context.Context, r *connect.Request[v1.GetCallerRequest]) (*connect.Response[v1.GetCallerResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.GetCallerResponse {
		return &v1.GetCallerResponse{Principal: "user:alice", User: "alice", Role: "license_manager", TokenId: "abcdefghij",
			Permissions: []string{"ack", "licenses", "read", "self"}}
	})
}

func (f *fakeAdmin) ListAuditLog(ctx context.Context, r *connect.Request[v1.ListAuditLogRequest]) (*connect.Response[v1.ListAuditLogResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.ListAuditLogResponse {
		return &v1.ListAuditLogResponse{Records: []*v1.AuditRecord{
			{Seq: 7, AtMs: 1772366400000, Actor: "user:alice", Role: "license_manager", Addr: "10.0.0.9:5123", Via: "api",
				Action: "CreatePool", Commands: []string{"CreatePool"}, Outcome: "ok", RequestId: "r7"},
		}, Dropped: 3, Kept: 1}
	})
}

func (f *fakeAdmin) GetAlertPrefs(ctx context.Context, r *connect.Request[v1.GetAlertPrefsRequest]) (*connect.Response[v1.GetAlertPrefsResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.GetAlertPrefsResponse {
		return &v1.GetAlertPrefsResponse{Prefs: &v1.AlertPrefs{Email: "old@acme.example", Kinds: []string{"license_expiry"},
			QuietFrom: "22:00", QuietTo: "07:00", Zone: "Europe/Paris"}}
	})
}

func (f *fakeAdmin) SetAlertPrefs(ctx context.Context, r *connect.Request[v1.SetAlertPrefsRequest]) (*connect.Response[v1.SetAlertPrefsResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.SetAlertPrefsResponse {
		return &v1.SetAlertPrefsResponse{Prefs: r.Msg.Prefs}
	})
}

func (f *fakeAdmin) MarkAlertsRead(ctx context.Context, r *connect.Request[v1.MarkAlertsReadRequest]) (*connect.Response[v1.MarkAlertsReadResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.MarkAlertsReadResponse {
		return &v1.MarkAlertsReadResponse{Unread: 2}
	})
}

func (f *fakeAdmin) TestAlertChannel(ctx context.Context, r *connect.Request[v1.TestAlertChannelRequest]) (*connect.Response[v1.TestAlertChannelResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.TestAlertChannelResponse {
		return &v1.TestAlertChannelResponse{Delivery: r.Msg.Id + "/test#1"}
	})
}

func (f *fakeAdmin) GetReconciliation(ctx context.Context, r *connect.Request[v1.GetReconciliationRequest]) (*connect.Response[v1.GetReconciliationResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.GetReconciliationResponse {
		return &v1.GetReconciliationResponse{JudgedAtMs: 1772366400000, Products: []*v1.ProductCompliance{{Sku: "ts", Name: "Timesheet", Licenses: 1, Seats: 1, Held: 2, Status: "over", Detail: "ts holds 2 of 1"}},
			Mismatches: []*v1.Mismatch{{Kind: "pool_over_seats", Subject: "ts", Detail: "pool ts holds 2 seats of 1"}},
			Inventory:  []*v1.InventoryRow{{CollectorId: "col-1", Hostname: "bpm-1", Status: "covered", Licenses: []string{"lic-1"}}}}
	})
}

func (f *fakeAdmin) GetUtilization(ctx context.Context, r *connect.Request[v1.GetUtilizationRequest]) (*connect.Response[v1.GetUtilizationResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.GetUtilizationResponse {
		return &v1.GetUtilizationResponse{Rows: []*v1.UtilizationRow{
			{Month: "2026-11", Pool: "designer", Seats: 25, Peak: 22, AverageHeld: 14.456, LimitShare: 0.125, IdleSeats: 3, CostMinor: 120050, Currency: "EUR"},
			{Month: "2026-11", Pool: "designer", Department: "eng", Peak: 12, AverageHeld: 9.5},
		}}
	})
}

func (f *fakeAdmin) SetLicenseCost(ctx context.Context, r *connect.Request[v1.SetLicenseCostRequest]) (*connect.Response[v1.SetLicenseCostResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.SetLicenseCostResponse {
		return &v1.SetLicenseCostResponse{Cost: r.Msg.Cost}
	})
}

func (f *fakeAdmin) RequestPurchase(ctx context.Context, r *connect.Request[v1.RequestPurchaseRequest]) (*connect.Response[v1.RequestPurchaseResponse], error) {
	return answer(ctx, f, r.Spec().Procedure, r.Header(), r.Msg, func() *v1.RequestPurchaseResponse {
		return &v1.RequestPurchaseResponse{Purchase: &v1.Purchase{Id: "pr-1", Sku: r.Msg.Sku, Pool: r.Msg.Pool, Quantity: r.Msg.Quantity, State: "requested"}}
	})
}
