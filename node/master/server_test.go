package master

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/lease"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// startMaster runs a single-node cluster in this process on loopback, with
// the lease clock in the test's hands. opts adjust its configuration.
func startMaster(t *testing.T, opts ...func(*Config)) (*Server, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	cfg := testConfig(t, clk)
	for _, o := range opts {
		o(&cfg)
	}
	s := runMaster(t, cfg)
	waitFor(t, 20*time.Second, "leadership", func() bool { return s.leading.Load() && s.Ready() })
	return s, clk
}

// testConfig is a single-node configuration on loopback ports with fast
// Raft timings and clk as the clock.
func testConfig(t *testing.T, clk *fakeClock) Config {
	t.Helper()
	cfg := validConfig(t)
	cfg.BootstrapExpect = 1
	cfg.APIAddr, cfg.RaftAddr, cfg.GossipAddr, cfg.CollectorAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.LeaseTTL = 10 * time.Second
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = 200*time.Millisecond, 200*time.Millisecond
	cfg.Now = clk.Now
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Stdout = io.Discard
	return cfg
}

// runMaster runs a master until the test ends.
func runMaster(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// enrolled creates a pool and an enrolled collector through Raft.
func enrolled(t *testing.T, s *Server, pool string, seats int) string {
	t.Helper()
	ctx := context.Background()
	now := s.now().UnixMilli()
	if _, err := s.apply(ctx, fsm.CreatePoolType, fsm.CreatePool{Pool: lease.Pool{Name: pool, Seats: seats, Enforce: lease.Hard}, Now: now}); err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	if _, err := s.apply(ctx, fsm.CreateTokenType, fsm.CreateToken{ID: "tok1234567", SecretHash: sha256.Sum256(secret), Role: fsm.RoleCollector, ExpiresAt: now + 3600e3, Now: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.apply(ctx, fsm.EnrollType, fsm.Enroll{TokenID: "tok1234567", SecretHash: sha256.Sum256(secret), CollectorID: "c-test", Hostname: "h", Version: "v", CertSerial: "1", Now: now}); err != nil {
		t.Fatal(err)
	}
	return "c-test"
}

func acquire(t *testing.T, s *Server, pool, holder, col string) fsm.Lease {
	t.Helper()
	r, err := s.submitLease(context.Background(), fsm.LeaseOp{Kind: fsm.Acquire, Pool: pool, Holder: holder, CollectorID: col, TTLms: s.cfg.LeaseTTL.Milliseconds()})
	if err == nil {
		err = r.Err
	}
	if err != nil {
		t.Fatal(err)
	}
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
		if !res[0].Ok || res[0].TtlMs != s.cfg.LeaseTTL.Milliseconds() {
			t.Fatalf("renewal refused: %+v", res[0])
		}
	}
	if after := lastIndex(s); after != before {
		t.Fatalf("renewals wrote %d Raft entries", after-before)
	}
	// Another collector can't renew a lease it doesn't hold.
	if res := s.renewLocal("c-someone-else", []uint64{uint64(l.ID)}); res[0].Ok || res[0].Reason != "unknown_lease" {
		t.Fatalf("foreign renewal: %+v", res[0])
	}

	// bob was never renewed: more than a TTL has passed for him (5 x TTL/3).
	waitFor(t, 5*time.Second, "bob's expiry", func() bool { _, ok := s.fsm.Lease(other.ID); return !ok })
	if res := s.renewLocal(col, []uint64{uint64(other.ID)}); res[0].Ok {
		t.Fatal("an expired lease was renewed")
	}
	// alice, renewed a moment ago, stays: no amount of real time expires
	// her while the lease clock stands still.
	time.Sleep(300 * time.Millisecond)
	if _, ok := s.fsm.Lease(l.ID); !ok {
		t.Fatal("a renewed lease expired before its deadline")
	}
	clk.Advance(s.cfg.LeaseTTL - time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	if _, ok := s.fsm.Lease(l.ID); !ok {
		t.Fatal("lease expired a millisecond before its deadline")
	}
	clk.Advance(2 * time.Millisecond)
	waitFor(t, 5*time.Second, "alice's expiry", func() bool { _, ok := s.fsm.Lease(l.ID); return !ok })
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
	if err != nil || r.Err != nil || !r.Existing || r.Lease.ID != l.ID {
		t.Fatalf("re-acquire: %+v %v", r, err)
	}
	// The handler renews an existing lease; the deadline moves.
	res, err := s.renew(context.Background(), col, []uint64{uint64(l.ID)})
	if err != nil || !res[0].Ok {
		t.Fatalf("renew: %+v %v", res, err)
	}
	if d, _ := s.table.Deadline(l.ID); !d.Equal(clk.Now().Add(s.cfg.LeaseTTL)) {
		t.Fatalf("deadline %v, want now+TTL %v", d, clk.Now().Add(s.cfg.LeaseTTL))
	}
	// The pool of one is full for anyone else.
	r, _ = s.submitLease(context.Background(), fsm.LeaseOp{Kind: fsm.Acquire, Pool: "designer", Holder: "bob", CollectorID: col, TTLms: 10000})
	if r.Err == nil {
		t.Fatal("a second holder got the only seat")
	}
}

// TestIdleLeaderMovesTrustedTime: with no command at all, the leader
// commits a tick once trusted time lags its clock by trustedTick, so
// months close and licenses change standing on time on an idle site.
func TestIdleLeaderMovesTrustedTime(t *testing.T) {
	s, clk := startMaster(t)
	waitFor(t, 10*time.Second, "bootstrap", func() bool { _, ok := s.fsm.Cluster(); return ok })
	clk.Advance(trustedTick + time.Second)
	want := clk.Now().Add(-time.Second)
	waitFor(t, 15*time.Second, "a trusted time tick", func() bool { return !s.fsm.TrustedTime().Before(want) })
	idx := lastIndex(s)
	time.Sleep(300 * time.Millisecond)
	if lastIndex(s) != idx {
		t.Fatal("the leader ticks while trusted time is current")
	}
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
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if lastIndex(s) != before {
		t.Error("a refused consumption reached Raft")
	}
}
