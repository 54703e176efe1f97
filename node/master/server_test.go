package master

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/mesh/transport"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// poll is how often require.Eventually checks a condition.
const poll = 10 * time.Millisecond

// startMaster runs a single-node cluster in this process on loopback, with
// the lease clock in the test's hands. opts adjust its configuration.
func startMaster(t *testing.T, opts ...func(*Config)) (*Server, *clocktest.Fake) {
	t.Helper()
	clk := clocktest.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	cfg := testConfig(t, clk)
	for _, o := range opts {
		o(&cfg)
	}
	s := runMaster(t, cfg)
	require.Eventually(t, func() bool { return s.leading.Load() && s.Ready() }, 20*time.Second, poll, "leadership")
	return s, clk
}

// testConfig is a single-node configuration on loopback ports with fast
// Raft timings and clk as the clock.
func testConfig(t *testing.T, clk *clocktest.Fake) Config {
	t.Helper()
	cfg := validConfig(t)
	cfg.BootstrapExpect = 1
	cfg.APIAddr, cfg.RaftAddr, cfg.GossipAddr, cfg.CollectorAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.LeaseTTL = 10 * time.Second
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = 200*time.Millisecond, 200*time.Millisecond
	cfg.Clock = clk
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Stdout = io.Discard
	return cfg
}

// runMaster runs a master until the test ends.
func runMaster(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, nil) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done, "Run")
	})
	return s
}

// enrolled creates a pool and an enrolled collector through Raft.
func enrolled(t *testing.T, s *Server, pool string, seats int) string {
	t.Helper()
	ctx := context.Background()
	now := s.now().UnixMilli()
	_, err := s.apply(ctx, fsm.CreatePoolType, fsm.CreatePool{Pool: lease.Pool{Name: pool, Seats: seats, Enforce: lease.Hard}, Now: now})
	require.NoError(t, err, "create pool")
	secret := []byte("0123456789abcdef0123456789abcdef")
	_, err = s.apply(ctx, fsm.CreateTokenType, fsm.CreateToken{ID: "tok1234567", SecretHash: sha256.Sum256(secret), Role: fsm.RoleCollector, ExpiresAt: now + 3600e3, Now: now})
	require.NoError(t, err, "create token")
	_, err = s.apply(ctx, fsm.EnrollType, fsm.Enroll{TokenID: "tok1234567", SecretHash: sha256.Sum256(secret), CollectorID: "c-test", Hostname: "h", Version: "v", CertSerial: "1", Now: now})
	require.NoError(t, err, "enroll")
	return "c-test"
}

func acquire(t *testing.T, s *Server, pool, holder, col string) fsm.Lease {
	t.Helper()
	r, err := s.submitLease(context.Background(), fsm.LeaseOp{Kind: fsm.Acquire, Pool: pool, Holder: holder, CollectorID: col, TTLms: s.cfg.LeaseTTL.Milliseconds()})
	require.NoError(t, err)
	require.NoError(t, r.Err)
	return *r.Lease
}

func lastIndex(s *Server) uint64 { return s.node.Raft().LastIndex() }

// Renewals are answered from the leader's memory: they extend the deadline
// and write nothing to Raft. Expiry is committed only once the deadline has
// passed, and a renewal after that is refused.
func TestRenewalsFromMemoryAndExpiryAfterTheDeadline(t *testing.T) {
	s, clk := startMaster(t)
	col := enrolled(t, s, "designer", 2)
	l := acquire(t, s, "designer", "alice", col)
	other := acquire(t, s, "designer", "bob", col)

	before := lastIndex(s)
	for range 5 {
		clk.Advance(s.cfg.LeaseTTL / 3)
		res := s.renewLocal(col, []uint64{uint64(l.ID)})
		require.True(t, res[0].Ok, "renewal refused: %+v", res[0])
		require.Equal(t, s.cfg.LeaseTTL.Milliseconds(), res[0].TtlMs, "renewal: %+v", res[0])
	}
	require.Equal(t, before, lastIndex(s), "renewals wrote Raft entries")
	// Another collector can't renew a lease it doesn't hold.
	res := s.renewLocal("c-someone-else", []uint64{uint64(l.ID)})
	require.False(t, res[0].Ok, "foreign renewal: %+v", res[0])
	require.Equal(t, "unknown_lease", res[0].Reason, "foreign renewal")
	// One call answers every lease it carries, each on its own, in order.
	res = s.renewLocal(col, []uint64{uint64(l.ID), 1 << 40, uint64(l.ID)})
	require.Len(t, res, 3)
	for i, want := range []string{"", "unknown_lease", ""} {
		require.Equal(t, want == "", res[i].Ok, "renewal %d: %+v", i, res[i])
		require.Equal(t, want, res[i].Reason, "renewal %d", i)
	}
	require.Equal(t, uint64(1<<40), res[1].LeaseId)

	// bob was never renewed: more than a TTL has passed for him (5 x TTL/3).
	require.Eventually(t, func() bool { _, ok := s.fsm.Lease(other.ID); return !ok }, 5*time.Second, poll, "bob's expiry")
	require.False(t, s.renewLocal(col, []uint64{uint64(other.ID)})[0].Ok, "an expired lease was renewed")
	// alice, renewed a moment ago, stays: no amount of real time expires
	// her while the lease clock stands still.
	time.Sleep(300 * time.Millisecond)
	_, ok := s.fsm.Lease(l.ID)
	require.True(t, ok, "a renewed lease expired before its deadline")
	clk.Advance(s.cfg.LeaseTTL - time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	_, ok = s.fsm.Lease(l.ID)
	require.True(t, ok, "lease expired a millisecond before its deadline")
	clk.Advance(2 * time.Millisecond)
	require.Eventually(t, func() bool { _, ok := s.fsm.Lease(l.ID); return !ok }, 5*time.Second, poll, "alice's expiry")
	// Her seat is free again.
	acquire(t, s, "designer", "carol", col)
}

// Acquiring again for a holder returns the same lease and renews it, so the
// leader's deadline never ends before the collector's count of the lease.
func TestReacquireIsIdempotentAndRenews(t *testing.T) {
	s, clk := startMaster(t)
	col := enrolled(t, s, "designer", 1)
	l := acquire(t, s, "designer", "alice", col)
	clk.Advance(s.cfg.LeaseTTL * 2 / 3)
	r, err := s.submitLease(context.Background(), fsm.LeaseOp{Kind: fsm.Acquire, Pool: "designer", Holder: "alice", CollectorID: col, TTLms: s.cfg.LeaseTTL.Milliseconds()})
	require.NoError(t, err, "re-acquire")
	require.NoError(t, r.Err, "re-acquire")
	require.True(t, r.Existing, "re-acquire: %+v", r)
	require.Equal(t, l.ID, r.Lease.ID, "re-acquire")
	// The handler renews an existing lease; the deadline moves.
	res, err := s.renew(context.Background(), col, []uint64{uint64(l.ID)})
	require.NoError(t, err, "renew")
	require.True(t, res[0].Ok, "renew: %+v", res)
	d, _ := s.table.Deadline(l.ID)
	require.True(t, d.Equal(clk.Now().Add(s.cfg.LeaseTTL)), "deadline %v, want now+TTL %v", d, clk.Now().Add(s.cfg.LeaseTTL))
	// The pool of one is full for anyone else.
	r, _ = s.submitLease(context.Background(), fsm.LeaseOp{Kind: fsm.Acquire, Pool: "designer", Holder: "bob", CollectorID: col, TTLms: 10000})
	require.Error(t, r.Err, "a second holder got the only seat")
}

// TestIdleLeaderMovesTrustedTime: with no command at all, the leader
// commits a tick once trusted time lags its clock by trustedTick, so
// months close and licenses change standing on time on an idle site.
func TestIdleLeaderMovesTrustedTime(t *testing.T) {
	s, clk := startMaster(t)
	require.Eventually(t, func() bool { _, ok := s.fsm.Cluster(); return ok }, 10*time.Second, poll, "bootstrap")
	clk.Advance(trustedTick + time.Second)
	want := clk.Now().Add(-time.Second)
	require.Eventually(t, func() bool { return !s.fsm.TrustedTime().Before(want) }, 15*time.Second, poll, "a trusted time tick")
	idx := lastIndex(s)
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, idx, lastIndex(s), "the leader ticks while trusted time is current")
}

// TestConsumeCreditsRefusesBadRequests: a malformed consumption is refused
// as InvalidArgument before it reaches Raft.
func TestConsumeCreditsRefusesBadRequests(t *testing.T) {
	s, _ := startMaster(t)
	col := enrolled(t, s, "p", 1)
	ctx := context.WithValue(context.Background(), collectorKey{}, callerInfo{id: col})
	before := lastIndex(s)
	for name, m := range map[string]*licmeshv1.ConsumeCreditsRequest{
		"short request id": {RequestId: []byte("abc"), Unit: "case", Amount: 1},
		"zero amount":      {RequestId: make([]byte, 16), Unit: "case", Amount: 0},
		"no unit":          {RequestId: make([]byte, 16), Amount: 1},
	} {
		_, err := collectorHandler{s}.ConsumeCredits(ctx, connect.NewRequest(m))
		assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "%s: %v", name, err)
	}
	assert.Equal(t, before, lastIndex(s), "a refused consumption reached Raft")
}

// A renewal that carries the collector's version counts as its presence,
// as a hello does, and says so; one without it (a collector from before)
// does not, and a bad version is refused before anything is renewed. A
// collector that keeps calling is recorded again only every
// presenceRefresh, or at once when its version changes.
func TestRenewalCountsAsPresence(t *testing.T) {
	s, clk := startMaster(t)
	col := enrolled(t, s, "designer", 2)
	l := acquire(t, s, "designer", "alice", col)
	c := collectorClient(t, s, col)
	ctx := context.Background()
	renew := func(version string) (*licmeshv1.RenewResponse, error) {
		resp, err := c.Renew(ctx, connect.NewRequest(&licmeshv1.RenewRequest{LeaseIds: []uint64{uint64(l.ID)}, Version: version}))
		if err != nil {
			return nil, err
		}
		require.True(t, resp.Msg.Results[0].Ok, "the renewal itself: %+v", resp.Msg.Results[0])
		return resp.Msg, nil
	}

	resp, err := renew("")
	require.NoError(t, err)
	require.False(t, resp.Presence, "a renewal without a version counted as presence")
	_, ok := s.presence.recordedOf(col)
	require.False(t, ok, "a renewal without a version recorded presence")

	_, err = renew("2.0\n")
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "a version with a control character: %v", err)
	_, ok = s.presence.recordedOf(col)
	require.False(t, ok, "a refused renewal recorded presence")

	resp, err = renew("2.0.0")
	require.NoError(t, err)
	require.True(t, resp.Presence, "a renewal with a version did not count as presence")
	first, ok := s.presence.recordedOf(col)
	require.True(t, ok, "not recorded")
	assert.Equal(t, "2.0.0", first.Version)
	assert.Equal(t, "h2", first.Protocol, "the protocol the call came over")

	// Time passes in renewals' steps, so that the lease does not lapse.
	step := s.cfg.LeaseTTL / 3
	clk.Advance(step)
	_, err = renew("2.0.0")
	require.NoError(t, err)
	again, _ := s.presence.recordedOf(col)
	assert.Equal(t, first.SeenAt, again.SeenAt, "recorded again within presenceRefresh")
	_, err = renew("2.1.0")
	require.NoError(t, err)
	again, _ = s.presence.recordedOf(col)
	assert.Equal(t, "2.1.0", again.Version, "a new version waited for presenceRefresh")
	for clk.Now().UnixMilli()-again.SeenAt < presenceRefresh.Milliseconds() {
		now := clk.Now().UnixMilli()
		_, err = renew("2.1.0")
		require.NoError(t, err)
		e, _ := s.presence.recordedOf(col)
		require.Equal(t, again.SeenAt, e.SeenAt, "recorded again %v after the last", time.Duration(now-again.SeenAt)*time.Millisecond)
		clk.Advance(step)
	}
	_, err = renew("2.1.0")
	require.NoError(t, err)
	later, _ := s.presence.recordedOf(col)
	assert.Equal(t, clk.Now().UnixMilli(), later.SeenAt, "not recorded again after presenceRefresh")
}

// recordedOf returns what p last recorded of collector id.
func (p *presence) recordedOf(id string) (fsm.SeenEntry, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.recorded[id]
	return e, ok
}

// TestRenewStreamAnswersEachRenewal: renewals on one stream, over HTTP/3
// and HTTP/2, are answered one by one as Renew answers them, and the
// stream is counted open while it lasts.
func TestRenewStreamAnswersEachRenewal(t *testing.T) {
	s, clk := startMaster(t)
	col := enrolled(t, s, "designer", 2)
	l := acquire(t, s, "designer", "alice", col)
	for _, mode := range []transport.Mode{transport.ModeQUICOnly, transport.ModeTCPOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			c := collectorClientOver(t, s, col, mode)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st := c.RenewStream(ctx)
			for i := range 3 {
				clk.Advance(s.cfg.LeaseTTL / 3)
				require.NoError(t, st.Send(&licmeshv1.RenewStreamRequest{Renew: &licmeshv1.RenewRequest{
					LeaseIds: []uint64{uint64(l.ID), 1 << 40}, Version: "v2"}}))
				resp, err := st.Receive()
				require.NoError(t, err, "renewal %d", i)
				res := resp.GetRenew().GetResults()
				require.Len(t, res, 2)
				require.True(t, res[0].Ok, "renewal %d: %+v", i, res[0])
				require.Equal(t, clk.Now().Add(s.cfg.LeaseTTL).UnixMilli(), res[0].ExpiresAtMs, "renewal %d", i)
				require.Equal(t, "unknown_lease", res[1].Reason, "renewal %d", i)
				require.True(t, resp.GetRenew().GetPresence(), "a renewal with the version is presence")
				require.Equal(t, 1.0, openStreams(t, s), "streams open")
			}
			// A renewal over the bounds ends the stream with the refusal.
			// The master can end it while the message is still being
			// written (an empty message's header is enough to refuse),
			// and then Send says io.EOF and Receive has the error.
			if err := st.Send(&licmeshv1.RenewStreamRequest{}); err != nil {
				require.ErrorIs(t, err, io.EOF, "empty message")
			}
			_, err := st.Receive()
			require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "empty message: %v", err)
			require.NoError(t, st.CloseRequest())
			require.NoError(t, st.CloseResponse())
			require.Eventually(t, func() bool { return openStreams(t, s) == 0 }, 5*time.Second, poll, "streams open after the end")
			// A collector that stops waiting cuts its stream (as collectord
			// does: its context, and both directions, since over HTTP/2
			// the context alone does not reach the master), which ends
			// the master's side of it too.
			cctx, cut := context.WithCancel(context.Background())
			st = c.RenewStream(cctx)
			require.NoError(t, st.Send(&licmeshv1.RenewStreamRequest{Renew: &licmeshv1.RenewRequest{LeaseIds: []uint64{uint64(l.ID)}}}))
			_, err = st.Receive()
			require.NoError(t, err)
			require.Equal(t, 1.0, openStreams(t, s), "streams open")
			cut()
			_ = st.CloseRequest()
			_ = st.CloseResponse()
			require.Eventually(t, func() bool { return openStreams(t, s) == 0 }, 5*time.Second, poll, "streams open after the cut")
		})
	}
}

// openStreams reads the master's gauge of renewal streams open.
func openStreams(t *testing.T, s *Server) float64 {
	var m dto.Metric
	require.NoError(t, s.m.renewStreams.Write(&m))
	return m.GetGauge().GetValue()
}

// TestStoppingMasterEndsRenewalStreams: a renewal stream waiting for its
// collector's next renewal does not hold a stopping master for the
// transport's whole shutdown timeout (5 s): the stream ends at once.
func TestStoppingMasterEndsRenewalStreams(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	s, err := New(testConfig(t, clk))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, nil) }()
	require.Eventually(t, func() bool { return s.leading.Load() && s.Ready() }, 20*time.Second, poll, "leadership")
	col := enrolled(t, s, "designer", 2)
	l := acquire(t, s, "designer", "alice", col)
	st := collectorClientOver(t, s, col, transport.ModeQUICOnly).RenewStream(context.Background())
	require.NoError(t, st.Send(&licmeshv1.RenewStreamRequest{Renew: &licmeshv1.RenewRequest{LeaseIds: []uint64{uint64(l.ID)}}}))
	_, err = st.Receive()
	require.NoError(t, err)

	start := time.Now()
	cancel()
	_, err = st.Receive()
	require.Error(t, err, "the stream outlived its master")
	select {
	case err := <-done:
		require.NoError(t, err, "Run")
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	assert.Less(t, time.Since(start), 4*time.Second, "stopping waited for the renewal stream")
}
