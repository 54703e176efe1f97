package dashboard_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/dashboard"
)

// memSource is an in-memory dashboard.Source whose data a test changes while
// pages are open.
type memSource struct {
	mu         sync.Mutex
	status     *licmeshv1.GetStatusResponse
	members    []*licmeshv1.Member
	collectors []*licmeshv1.Collector
	pools      []*licmeshv1.Pool
	leases     map[string][]*licmeshv1.Lease
	licenses   *licmeshv1.ListLicensesResponse
	err        error // returned by every method when set
}

var _ dashboard.Source = (*memSource)(nil)

// t0 is the fake clock's start; data times are set relative to it.
var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func newMemSource() *memSource {
	ms := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	return &memSource{
		status: &licmeshv1.GetStatusResponse{
			ClusterId: "clu-7f3a9c", NodeId: "master-b", State: "Follower",
			LeaderId: "master-a", LeaderApiAddr: "10.0.0.1:7400",
			Term: 4, CommitIndex: 1842, AppliedIndex: 1841, LastLogIndex: 1842,
			TrustedTimeMs: ms(-3 * time.Second), Version: "v0.3.1", ProtocolVersion: 1,
			Pools: 2, Leases: 3, Collectors: 2, Voters: 3,
		},
		members: []*licmeshv1.Member{
			{Id: "master-c", ApiAddr: "10.0.0.3:7400", RaftAddr: "10.0.0.3:7401", State: "alive", Voter: true, Version: "v0.3.1"},
			{Id: "master-a", ApiAddr: "10.0.0.1:7400", RaftAddr: "10.0.0.1:7401", State: "alive", Voter: true, Leader: true, Version: "v0.3.1"},
			{Id: "master-b", ApiAddr: "10.0.0.2:7400", RaftAddr: "10.0.0.2:7401", State: "alive", Voter: true, Version: "v0.3.1"},
		},
		collectors: []*licmeshv1.Collector{
			{Id: "col-01", Hostname: "bpm-prod-1", Version: "v0.3.1", Protocol: "h3", LastSeenMs: ms(-12 * time.Second), EnrolledAtMs: ms(-48 * time.Hour), Leases: 2},
			{Id: "col-02", Hostname: "bpm-prod-2", Version: "v0.3.0", Protocol: "h2", LastSeenMs: ms(-5 * time.Minute), EnrolledAtMs: ms(-24 * time.Hour), Leases: 1},
		},
		pools: []*licmeshv1.Pool{
			{Name: "designer", Seats: 10, Enforce: "hard", Held: 7, PeakHeld: 8},
			{Name: "runtime", Seats: 4, Enforce: "soft", Held: 5, PeakHeld: 6, OverageGrants: 3},
		},
		leases: map[string][]*licmeshv1.Lease{
			"designer": {
				{Id: 12, Fence: 1801, Pool: "designer", Holder: "alice@example.com", CollectorId: "col-01", GrantedAtMs: ms(-40 * time.Second), ExpiresAtMs: ms(50 * time.Second), Token: "lml1.secret-lease-doc.sig"},
				{Id: 11, Fence: 1790, Pool: "designer", Holder: "bob@example.com", CollectorId: "col-02", GrantedAtMs: ms(-2 * time.Minute), ExpiresAtMs: ms(30 * time.Second)},
				{Id: 10, Fence: 1780, Pool: "designer", Holder: "carol@example.com", CollectorId: "col-01", GrantedAtMs: ms(-3 * time.Minute), ExpiresAtMs: ms(20 * time.Second)},
			},
		},
		licenses: &licmeshv1.ListLicensesResponse{
			TrustedTimeMs: ms(-3 * time.Second),
			Licenses: []*licmeshv1.License{
				{Id: "LIC-2026-0007", Customer: "Acme Corp", Product: "BPM Studio", Type: "subscription", Status: "active",
					DaysLeft: 200, ExpiresAtMs: ms(200 * 24 * time.Hour), AddedAtMs: ms(-10 * 24 * time.Hour),
					Pools: []*licmeshv1.Pool{{Name: "designer", Seats: 10, Enforce: "hard", Held: 7}}},
				{Id: "LIC-2026-0003", Customer: "Acme Corp", Product: "BPM Runtime", Type: "subscription", Status: "active",
					DaysLeft: 12, ExpiresAtMs: ms(12 * 24 * time.Hour), AddedAtMs: ms(-300 * 24 * time.Hour),
					Pools: []*licmeshv1.Pool{{Name: "runtime", Seats: 4, Enforce: "soft", Held: 5}}},
				{Id: "LIC-2025-0001", Customer: "Acme Corp", Product: "BPM Legacy", Type: "term", Status: "expired",
					ExpiresAtMs: ms(-40 * 24 * time.Hour), AddedAtMs: ms(-400 * 24 * time.Hour)},
				{Id: "LIC-2020-0001", Customer: "Acme Corp", Product: "BPM Viewer", Type: "perpetual", Status: "active",
					AddedAtMs: ms(-2000 * 24 * time.Hour)},
			},
		},
	}
}

func (s *memSource) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// setHeld changes a pool's held count, as a grant or release would.
func (s *memSource) setHeld(pool string, held uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pools {
		if p.Name == pool {
			p.Held = held
		}
	}
}

func (s *memSource) addPool(p *licmeshv1.Pool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pools = append(s.pools, p)
}

func cloneAll[T proto.Message](in []T) []T {
	out := make([]T, len(in))
	for i, m := range in {
		out[i] = proto.Clone(m).(T)
	}
	return out
}

func (s *memSource) Status(context.Context) (*licmeshv1.GetStatusResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return proto.Clone(s.status).(*licmeshv1.GetStatusResponse), nil
}

func (s *memSource) Members(context.Context) ([]*licmeshv1.Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return cloneAll(s.members), nil
}

func (s *memSource) Collectors(context.Context) ([]*licmeshv1.Collector, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return cloneAll(s.collectors), nil
}

func (s *memSource) Pools(context.Context) ([]*licmeshv1.Pool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return cloneAll(s.pools), nil
}

func (s *memSource) Leases(_ context.Context, pool string, limit int) ([]*licmeshv1.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	ls := cloneAll(s.leases[pool])
	if len(ls) > limit {
		ls = ls[:limit]
	}
	return ls, nil
}

func (s *memSource) Licenses(context.Context) (*licmeshv1.ListLicensesResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return proto.Clone(s.licenses).(*licmeshv1.ListLicensesResponse), nil
}

// editLicenses changes the licenses under the lock.
func (s *memSource) editLicenses(f func(*licmeshv1.ListLicensesResponse)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.licenses)
}

// fakeClock is the injected clock; tests move it forward.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const adminToken = "lmt1.adm-42.0123456789abcdef0123456789abcdef"

var errRefused = errors.New("test: token refused")

// checkToken stands in for the master's admin token check.
func checkToken(_ context.Context, token string) (dashboard.Principal, error) {
	if token != adminToken {
		return dashboard.Principal{}, errRefused
	}
	return dashboard.Principal{ID: "adm-42", Role: "admin"}, nil
}
