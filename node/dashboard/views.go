package dashboard

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/mesh/wire"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// The load functions fetch one page's data from the Source and shape it for
// its template. On a Source error they return a 503 and the error, which the
// page shows as a banner inside its self-refreshing block, so the block keeps
// polling and recovers on its own.

// clusterView is the cluster page.
type clusterView struct {
	ClusterID    string
	NodeID       string
	State        string
	Leader       string
	LeaderAddr   string
	Term         uint64
	CommitIndex  uint64
	AppliedIndex uint64
	LastLogIndex uint64
	TrustedTime  timeView
	Version      string
	Protocol     uint32
	Pools        uint32
	Leases       uint32
	Collectors   uint32
	Voters       uint32
	Masters      []masterRow
}

type masterRow struct {
	ID       string
	APIAddr  string
	RaftAddr string
	State    string
	Voter    bool
	Leader   bool
	Version  string
}

func loadCluster(ctx context.Context, h *Handler, _ *http.Request) (string, any, int, error) {
	st, err := h.cfg.Source.Status(ctx)
	if err != nil {
		return "Cluster", nil, http.StatusServiceUnavailable, fmt.Errorf("could not load the cluster status: %w", err)
	}
	members, err := h.cfg.Source.Members(ctx)
	if err != nil {
		return "Cluster", nil, http.StatusServiceUnavailable, fmt.Errorf("could not load the masters: %w", err)
	}
	v := clusterView{
		ClusterID:    st.GetClusterId(),
		NodeID:       st.GetNodeId(),
		State:        st.GetState(),
		Leader:       st.GetLeaderId(),
		LeaderAddr:   st.GetLeaderApiAddr(),
		Term:         st.GetTerm(),
		CommitIndex:  st.GetCommitIndex(),
		AppliedIndex: st.GetAppliedIndex(),
		LastLogIndex: st.GetLastLogIndex(),
		TrustedTime:  h.timeAt(st.GetTrustedTimeMs()),
		Version:      st.GetVersion(),
		Protocol:     st.GetProtocolVersion(),
		Pools:        st.GetPools(),
		Leases:       st.GetLeases(),
		Collectors:   st.GetCollectors(),
		Voters:       st.GetVoters(),
	}
	for _, m := range members {
		v.Masters = append(v.Masters, masterRow{
			ID:       m.GetId(),
			APIAddr:  m.GetApiAddr(),
			RaftAddr: m.GetRaftAddr(),
			State:    m.GetState(),
			Voter:    m.GetVoter(),
			Leader:   m.GetLeader() || (m.GetId() != "" && m.GetId() == st.GetLeaderId()),
			Version:  m.GetVersion(),
		})
	}
	slices.SortFunc(v.Masters, func(a, b masterRow) int { return cmp.Compare(a.ID, b.ID) })
	return "Cluster", v, http.StatusOK, nil
}

type collectorRow struct {
	ID       string
	Hostname string
	Version  string
	Protocol string
	LastSeen timeView
	Leases   uint32
}

func loadCollectors(ctx context.Context, h *Handler, _ *http.Request) (string, any, int, error) {
	cs, err := h.cfg.Source.Collectors(ctx)
	if err != nil {
		return "Collectors", nil, http.StatusServiceUnavailable, fmt.Errorf("could not load the collectors: %w", err)
	}
	rows := make([]collectorRow, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, collectorRow{
			ID:       c.GetId(),
			Hostname: c.GetHostname(),
			Version:  c.GetVersion(),
			Protocol: c.GetProtocol(),
			LastSeen: h.timeAt(c.GetLastSeenMs()),
			Leases:   c.GetLeases(),
		})
	}
	slices.SortFunc(rows, func(a, b collectorRow) int { return cmp.Compare(a.ID, b.ID) })
	return "Collectors", rows, http.StatusOK, nil
}

type poolRow struct {
	Name     string
	Link     string // path of the pool's page, escaped
	Fragment string // path of the pool's fragment, escaped
	Seats    uint32
	Enforce  string
	Held     uint32
	Peak     uint32
	Overage  uint64
	Bar      seatBar
	// Offline says what the pool allows a collector cut off from the
	// masters, in a few words; Grace, Borrow and FailOpen are its parts.
	Offline  string
	Grace    string
	Borrow   string
	Borrowed uint32
	FailOpen bool
	Admitted uint32 // held leases a fail-open collector let in offline
}

func (h *Handler) poolRow(p *licmeshv1.Pool) poolRow {
	esc := url.PathEscape(p.GetName())
	return poolRow{
		Name:     p.GetName(),
		Link:     h.cfg.Prefix + "/pools/" + esc,
		Fragment: h.cfg.Prefix + "/fragments/pools/" + esc,
		Seats:    p.GetSeats(),
		Enforce:  p.GetEnforce(),
		Held:     p.GetHeld(),
		Peak:     p.GetPeakHeld(),
		Overage:  p.GetOverageGrants(),
		Bar:      newSeatBar(p.GetHeld(), p.GetSeats()),
		Grace:    termText(p.GetGraceMs()),
		Borrow:   termText(p.GetMaxBorrowMs()),
		Borrowed: p.GetBorrowed(),
		FailOpen: p.GetFailOpen(),
		Admitted: p.GetOffline(),
		Offline:  offlineText(p),
	}
}

// termText shows a grace or borrow term: whole days as "3d", else as Go
// writes a duration ("2m0s" becomes "2m"); 0 is "none".
func termText(ms int64) string {
	if ms == 0 {
		return "none"
	}
	d := time.Duration(ms) * time.Millisecond
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}

// offlineText sums up a pool's offline terms for the pools table.
func offlineText(p *licmeshv1.Pool) string {
	var parts []string
	if p.GetGraceMs() != 0 {
		parts = append(parts, "grace "+termText(p.GetGraceMs()))
	}
	if p.GetMaxBorrowMs() != 0 {
		b := "borrow ≤ " + termText(p.GetMaxBorrowMs())
		if n := p.GetBorrowed(); n > 0 {
			b += fmt.Sprintf(" (%d lent)", n)
		}
		parts = append(parts, b)
	}
	if p.GetFailOpen() {
		parts = append(parts, "fails open")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " · ")
}

func loadPools(ctx context.Context, h *Handler, _ *http.Request) (string, any, int, error) {
	ps, err := h.cfg.Source.Pools(ctx)
	if err != nil {
		return "Pools", nil, http.StatusServiceUnavailable, fmt.Errorf("could not load the pools: %w", err)
	}
	rows := make([]poolRow, 0, len(ps))
	for _, p := range ps {
		rows = append(rows, h.poolRow(p))
	}
	slices.SortFunc(rows, func(a, b poolRow) int { return cmp.Compare(a.Name, b.Name) })
	return "Pools", rows, http.StatusOK, nil
}

// poolView is one pool's page: its row from the pools table and its leases.
type poolView struct {
	Pool      poolRow
	Leases    []leaseRow
	Limit     int
	Truncated bool
}

type leaseRow struct {
	ID        uint64
	Holder    string
	Collector string
	Fence     uint64
	Granted   timeView
	Expires   timeView
	// Kind is what is special about the lease: borrowed (until Expires),
	// offline (let in by a fail-open collector), overage.
	Kind string
}

func loadPool(ctx context.Context, h *Handler, r *http.Request) (string, any, int, error) {
	name := r.PathValue("name")
	title := "Pool " + name
	// A placeholder row keeps the live block's refresh URL valid even when
	// the Source fails, so the page recovers by itself.
	v := poolView{Pool: h.poolRow(&licmeshv1.Pool{Name: name}), Limit: h.cfg.LeaseLimit}
	ps, err := h.cfg.Source.Pools(ctx)
	if err != nil {
		return title, v, http.StatusServiceUnavailable, fmt.Errorf("could not load pool %q: %w", name, err)
	}
	i := slices.IndexFunc(ps, func(p *licmeshv1.Pool) bool { return p.GetName() == name })
	if i < 0 {
		return title, v, http.StatusNotFound, fmt.Errorf("there is no pool named %q", name)
	}
	v.Pool = h.poolRow(ps[i])
	ls, err := h.cfg.Source.Leases(ctx, name, h.cfg.LeaseLimit)
	if err != nil {
		return title, v, http.StatusServiceUnavailable, fmt.Errorf("could not load the leases of pool %q: %w", name, err)
	}
	for _, l := range ls {
		v.Leases = append(v.Leases, leaseRow{
			ID:        l.GetId(),
			Holder:    l.GetHolder(),
			Collector: l.GetCollectorId(),
			Fence:     l.GetFence(),
			Granted:   h.timeAt(l.GetGrantedAtMs()),
			Expires:   h.timeAt(l.GetExpiresAtMs()),
			Kind:      wire.LeaseKind(l),
		})
	}
	slices.SortFunc(v.Leases, func(a, b leaseRow) int { return cmp.Compare(a.ID, b.ID) })
	v.Truncated = len(ls) >= h.cfg.LeaseLimit
	return title, v, http.StatusOK, nil
}

// timeView is a moment shown relative to now ("12s ago"), with the exact
// UTC time for a tooltip.
type timeView struct {
	Relative string
	Exact    string // RFC 3339, for datetime attributes
	Display  string // for people: "2026-03-14 09:26:50 UTC"
}

func (h *Handler) timeAt(ms int64) timeView {
	if ms <= 0 {
		return timeView{Relative: "never"}
	}
	t := time.UnixMilli(ms).UTC()
	return timeView{
		Relative: relative(h.cfg.Clock.Now(), t),
		Exact:    t.Format(time.RFC3339),
		Display:  t.Format("2006-01-02 15:04:05 UTC"),
	}
}

// relative says how far t is from now in its largest whole unit.
func relative(now, t time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		s = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// seatBar is the inline SVG bar of a pool's held seats.
type seatBar struct {
	Width int // of barWidth
	Class string
	Label string
}

// barWidth is the SVG bar's drawing width in user units.
const barWidth = 120

func newSeatBar(held, seats uint32) seatBar {
	b := seatBar{Label: fmt.Sprintf("%d of %d seats held", held, seats), Class: "ok"}
	switch {
	case held > seats:
		b.Width, b.Class = barWidth, "over"
	case seats > 0:
		b.Width = int(uint64(held) * barWidth / uint64(seats))
		if uint64(held)*10 >= uint64(seats)*9 {
			b.Class = "full"
		}
	}
	if held > 0 && b.Width < 2 {
		b.Width = 2 // a single held seat in a big pool still shows
	}
	return b
}
