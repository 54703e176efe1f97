package master

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	"github.com/licmesh/licmesh/licensing/usage"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/fsm"
	"github.com/licmesh/licmesh/node/hub"
)

// vendorHub is a real hub in this process, on a fixed loopback port so
// that it can be stopped and started again where the master pinned it, on
// the test's clock.
type vendorHub struct {
	t      *testing.T
	cfg    hub.Config
	init   hub.InitResult
	url    string
	cancel context.CancelFunc
	done   chan error
	admin  licmeshv1connect.HubServiceClient
	apiKey string
}

func startVendorHub(t *testing.T, clk *clocktest.Fake) *vendorHub {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	cfg := hub.DefaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "hub")
	cfg.Listen = addr
	cfg.Clock = clk
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ir, err := hub.Init(t.Context(), cfg, "admin@vendor.example", "Admin")
	require.NoError(t, err)
	h := &vendorHub{t: t, cfg: cfg, init: ir, url: "https://" + addr}
	h.start()
	t.Cleanup(h.stop)
	hc := h.httpClient()
	c := licmeshv1connect.NewHubServiceClient(hc, h.url)
	r, err := c.SignIn(t.Context(), connect.NewRequest(&licmeshv1.SignInRequest{Email: ir.AdminEmail, Password: ir.AdminPassword}))
	require.NoError(t, err)
	session := licmeshv1connect.NewHubServiceClient(hc, h.url, connect.WithInterceptors(setHeader("X-CSRF-Token", r.Msg.GetCsrfToken())))
	k, err := session.CreateAPIKey(t.Context(), connect.NewRequest(&licmeshv1.CreateAPIKeyRequest{Name: "test"}))
	require.NoError(t, err)
	h.apiKey = k.Msg.GetSecret()
	h.admin = licmeshv1connect.NewHubServiceClient(h.httpClient(), h.url, connect.WithInterceptors(bearer(h.apiKey)))
	return h
}

func setHeader(k, v string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(k, v)
			return next(ctx, req)
		}
	}
}

func (h *vendorHub) httpClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the test's own hub
	}}
}

func (h *vendorHub) start() {
	s, err := hub.New(context.Background(), h.cfg)
	require.NoError(h.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() {
		h.done <- s.Run(ctx, func(string) { close(ready) })
		s.Close()
	}()
	select {
	case <-ready:
	case err := <-h.done:
		h.t.Fatalf("hub: %v", err)
	}
}

func (h *vendorHub) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.cancel = nil
	}
}

func (h *vendorHub) certPEM() string {
	b, err := os.ReadFile(filepath.Join(h.cfg.DataDir, "hub-cert.pem"))
	require.NoError(h.t, err)
	return string(b)
}

// TestMonthOfHubOutage: a master activated with a real hub (both in this
// process, on one injected clock) sends usage; the hub is away for a month,
// during which the month ends and closes on the site; the master keeps
// counting, fails its pushes and backs off; when the hub is back every day
// arrives once and the closed month arrives closed, with the metrics the
// site closed it with.
func TestMonthOfHubOutage(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
	vh := startVendorHub(t, clk)
	ctx := t.Context()
	_, err := vh.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: &licmeshv1.Product{
		Sku: "bpm", Name: "BPM", Application: "bpm", AppVersion: "1.0.0", Type: "subscription", Billing: "annually",
		LicenseTemplate: []*licmeshv1.TemplateEntry{{Name: "designer", Users: 5, UsersCalculation: "fixed"}}}}))
	require.NoError(t, err)
	co, err := vh.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	require.NoError(t, err)
	_, err = vh.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: co.Msg.GetCompany().GetId(), Sku: "bpm", Quantity: 1}))
	require.NoError(t, err)

	cfg := testConfig(t, clk)
	cfg.VendorKeys = []string{vh.init.PublicKey}
	cfg.UpstreamSyncInterval = time.Minute
	s := runMaster(t, cfg)
	require.Eventually(t, func() bool { return s.leading.Load() && s.Ready() }, 20*time.Second, poll, "leadership")
	col := enrolled(t, s, "seats", 3)
	admin := adminHandler{s}
	_, err = admin.ActivateCluster(ctx, connect.NewRequest(&licmeshv1.ActivateClusterRequest{
		Hub: &licmeshv1.HubTarget{Url: vh.url, CaPem: vh.certPEM()}, ApiKey: vh.apiKey, CompanyId: co.Msg.GetCompany().GetId()}))
	require.NoError(t, err)

	seq := uint64(0)
	report := func(n int) {
		t.Helper()
		var recs []fsm.UsageRecord
		for range n {
			seq++
			recs = append(recs, fsm.UsageRecord{Seq: seq, Sample: fsm.UsageSample{At: clk.Now().UnixMilli(),
				Scalars: map[string]int64{"tick": int64(seq), usage.ScalarUsers: 7, usage.ScalarCases: int64(100 + seq)}}})
		}
		_, err := s.apply(ctx, fsm.UsageBatchType, fsm.UsageBatch{Now: clk.Now().UnixMilli(), Collector: col, Installation: "inst-1", Epoch: 1, Records: recs})
		require.NoError(t, err)
	}
	nudge := func() {
		select {
		case s.syncNudge <- struct{}{}:
		default:
		}
	}
	hubSum := func() (samples, tick int64) {
		h, err := vh.admin.InstallationHistory(ctx, connect.NewRequest(&licmeshv1.InstallationHistoryRequest{ClusterId: s.id.clusterID, Installation: "inst-1"}))
		if err != nil {
			return -1, -1
		}
		for _, raw := range h.Msg.GetDaysJson() {
			var d usage.DayStats
			require.NoError(t, jsonUnmarshal(raw, &d))
			samples += int64(d.Samples)
			for _, sc := range d.Scalars {
				if sc.Name == "tick" {
					tick += sc.Sum
				}
			}
		}
		return samples, tick
	}
	want := func() (int64, int64) { return int64(seq), int64(seq * (seq + 1) / 2) }

	report(3)
	nudge()
	require.Eventually(t, func() bool {
		n, sum := hubSum()
		w, wsum := want()
		return n == w && sum == wsum
	}, 20*time.Second, poll, "the first samples at the hub")

	// The hub goes away for a month. November ends and closes on the site.
	vh.stop()
	for day := range 31 {
		clk.Advance(24 * time.Hour)
		report(2)
		if day%10 == 0 {
			nudge()
		}
	}
	require.Eventually(t, func() bool {
		st := s.fsm.Upstream()
		s.sync.mu.Lock()
		defer s.sync.mu.Unlock()
		return st.Outbox == 1 && s.sync.lastErr != ""
	}, 20*time.Second, poll, "a batch waits and the error is kept")
	nov, ok := s.fsm.UsageHistory("inst-1")
	require.True(t, ok)
	var closedNov usage.Report
	for _, r := range nov {
		if r.Key == (usage.MonthKey{Year: 2026, Month: time.November}) {
			closedNov = r
		}
	}
	require.True(t, closedNov.Closed, "November closed on the site during the outage")
	up, err := admin.GetUpstream(ctx, connect.NewRequest(&licmeshv1.GetUpstreamRequest{}))
	require.NoError(t, err)
	assert.Contains(t, up.Msg.GetLastError(), "pushing usage batches")
	assert.NotZero(t, up.Msg.GetNextAttemptMs())

	// The hub is back; the master's next attempt (its backoff, on the
	// clock) delivers everything once.
	vh.start()
	require.Eventually(t, func() bool {
		clk.Advance(maxBackoff)
		n, sum := hubSum()
		w, wsum := want()
		return n == w && sum == wsum
	}, 30*time.Second, 50*time.Millisecond, "every sample at the hub once")
	require.Eventually(t, func() bool { return s.fsm.Upstream().Outbox == 0 && s.fsm.Upstream().Dirty == 0 }, 20*time.Second, poll)
	h, err := vh.admin.InstallationHistory(ctx, connect.NewRequest(&licmeshv1.InstallationHistoryRequest{ClusterId: s.id.clusterID, Installation: "inst-1"}))
	require.NoError(t, err)
	var got *licmeshv1.UsageMonthRow
	for _, m := range h.Msg.GetMonths() {
		if m.GetMonth() == "2026-11" {
			got = m
		}
	}
	require.NotNil(t, got, "November at the hub")
	assert.True(t, got.GetClosed(), "November arrives closed")
	var metrics usage.Metrics
	require.NoError(t, jsonUnmarshal(got.GetMetricsJson(), &metrics))
	assert.Equal(t, closedNov.Metrics, metrics, "with the metrics the site closed it with")
	t.Logf("%d samples through a month of hub outage, counted once at the hub", seq)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
