package dashboard_test

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
	_ "time/tzdata" // the same zone data on every machine the tests run on

	"google.golang.org/protobuf/proto"

	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/mesh/usagewire"
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
	usage      []usage.Report
	zone       string // the site's time zone usage is reported in
	err        error  // returned by every method when set
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
		zone:  "Europe/Paris",
		usage: usageFixture(),
	}
}

// usageFixture is three months of four installations. Their names sort
// differently by case and by byte, and one needs escaping in HTML and URLs.
// Each installation's Super count is its own, and other metrics follow the
// month, so a row in the wrong place shows.
func usageFixture() []usage.Report {
	rep := func(inst string, month time.Month, super int64) usage.Report {
		k := usage.MonthKey{Year: 2026, Month: month}
		start, end := k.Bounds(paris)
		r := usage.Report{Installation: usage.InstallationID(inst), Key: k, Label: k.Label(), Start: start, End: end,
			Closed: month < time.March, Metrics: usage.Metrics{
				Super: super, EnStaff: 10 + int64(month), AcStaff: 5, ConcMax: 3, LogonMinutes: 600 * int64(month), FileLimitMB: 250,
			}}
		if r.Closed {
			r.ClosedAt = end.Add(time.Minute)
			r.Metrics.ConcWhen = start.Add(14*24*time.Hour + 9*time.Hour + 30*time.Minute) // the 15th, 09:30 Paris
		}
		return r
	}
	late := rep("acme-prod", time.January, 4)
	late.Late = &usage.LateArrivals{Users: 2}
	return []usage.Report{
		late,
		rep("acme-prod", time.February, 5),
		rep("acme-prod", time.March, 6),
		rep("Beta Corp", time.February, 21),
		rep("Beta Corp", time.March, 22),
		rep("zeta-labs", time.March, 31),
		rep("a&b <x>", time.February, 41),
	}
}

var paris = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return loc
}()

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

func (s *memSource) UsageOverview(context.Context) (*licmeshv1.UsageOverviewResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	resp := &licmeshv1.UsageOverviewResponse{TimeZone: s.zone}
	var insts []string
	for _, r := range s.usage {
		if m := r.Key.String(); !slices.Contains(resp.Months, m) {
			resp.Months = append(resp.Months, m)
		}
		if i := string(r.Installation); !slices.Contains(insts, i) {
			insts = append(insts, i)
		}
	}
	slices.SortFunc(resp.Months, func(a, b string) int { return cmp.Compare(b, a) })
	slices.Sort(insts)
	for _, i := range insts {
		resp.Installations = append(resp.Installations, &licmeshv1.UsageInstallation{Installation: i})
	}
	return resp, nil
}

// usageReports returns the reports keep selects, in the master's order:
// installation by byte, then newest first.
func (s *memSource) usageReports(keep func(usage.Report) bool) ([]*licmeshv1.UsageReport, error) {
	if s.err != nil {
		return nil, s.err
	}
	rs := slices.Clone(s.usage)
	slices.SortFunc(rs, func(a, b usage.Report) int {
		return cmp.Or(cmp.Compare(a.Installation, b.Installation), b.Key.Compare(a.Key))
	})
	var out []*licmeshv1.UsageReport
	for _, r := range rs {
		if keep(r) {
			out = append(out, usagewire.ReportToWire(r))
		}
	}
	return out, nil
}

func (s *memSource) UsageHistory(_ context.Context, inst string) (*licmeshv1.UsageHistoryResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, err := s.usageReports(func(r usage.Report) bool { return string(r.Installation) == inst })
	if err != nil {
		return nil, err
	}
	return &licmeshv1.UsageHistoryResponse{Reports: rs, TimeZone: s.zone}, nil
}

func (s *memSource) UsageMonth(_ context.Context, month string) (*licmeshv1.UsageMonthResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, err := s.usageReports(func(r usage.Report) bool { return r.Key.String() == month })
	if err != nil {
		return nil, err
	}
	return &licmeshv1.UsageMonthResponse{Reports: rs, TimeZone: s.zone}, nil
}

// editUsage changes the usage reports under the lock.
func (s *memSource) editUsage(f func(rs []usage.Report) []usage.Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.usage = f(s.usage)
}

// editLicenses changes the licenses under the lock.
func (s *memSource) editLicenses(f func(*licmeshv1.ListLicensesResponse)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.licenses)
}

const adminToken = "lmt1.adm-42.0123456789abcdef0123456789abcdef"

var errRefused = errors.New("test: token refused")

// checkToken stands in for the master's admin token check.
// checkCreds knows the admin token and one viewer, vera.
func checkCreds(_ context.Context, c dashboard.Credentials) (dashboard.Principal, error) {
	switch {
	case c.Token == adminToken:
		return dashboard.Principal{ID: "adm-42", Role: "admin", TokenID: "adm-42", Perms: []string{"ack", "audit", "licenses", "read", "self"}}, nil
	case c.Token == "" && c.User == "vera" && c.Password == veraPassword:
		return dashboard.Principal{ID: "user:vera", User: "vera", Role: "viewer", Epoch: 1, Perms: []string{"read", "self"}}, nil
	}
	return dashboard.Principal{}, errRefused
}

const veraPassword = "vera's long password"
