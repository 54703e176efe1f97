package master

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// Inventory and reconciliation (issue 17, seed 003 "Software Inventory",
// "Audit and Reconciliation"): every installation set against the licenses
// that cover it, what does not match, and each product's standing, judged
// from the replicated state at trusted time.

const (
	// silentAfter is how long a collector may go unheard before the
	// inventory calls it silent.
	silentAfter = 7 * 24 * time.Hour
	// overageWindow is how recent an overage grant makes a product "over".
	overageWindow = 30 * 24 * time.Hour
)

// Mismatch kinds.
const (
	mismatchUncovered = "uncovered_installation"
	mismatchUnused    = "unused_license"
	mismatchOver      = "pool_over_seats"
	mismatchOverage   = "soft_overage"
	mismatchGrace     = "in_grace_in_use"
)

func (s *Server) reconcile(month string) (*licmeshv1.GetReconciliationResponse, error) {
	base, ok := s.fsm.EntitlementBase()
	if !ok {
		return nil, ErrNotBootstrap
	}
	now := time.UnixMilli(base.Trusted)
	out := &licmeshv1.GetReconciliationResponse{JudgedAtMs: base.Trusted}
	pools := map[string]fsm.PoolStatus{}
	for _, p := range s.fsm.Pools() {
		pools[p.Pool.Name] = p
	}
	leases := s.fsm.LeasesPerCollector()
	// Inventory: each collector and the licenses in force that cover it.
	for _, c := range s.fsm.Collectors() {
		row := &licmeshv1.InventoryRow{CollectorId: c.ID, Hostname: c.Hostname, Version: c.Version, LastSeenMs: c.LastSeenAt,
			Leases: uint32(leases[c.ID])}
		for _, e := range base.For(c.ID) {
			if e.Covered && e.InForce {
				row.Licenses = append(row.Licenses, string(e.ID))
			}
		}
		switch {
		case len(row.Licenses) == 0:
			row.Status = "uncovered"
			out.Mismatches = append(out.Mismatches, &licmeshv1.Mismatch{Kind: mismatchUncovered, Subject: c.ID,
				Detail: fmt.Sprintf("collector %s on %s runs with no license in force covering it", c.ID, c.Hostname)})
		case now.Sub(time.UnixMilli(c.LastSeenAt)) > silentAfter:
			row.Status = "silent"
		default:
			row.Status = "covered"
		}
		out.Inventory = append(out.Inventory, row)
	}
	// Licenses against use, and products.
	type product struct {
		p                  *licmeshv1.ProductCompliance
		pools              map[string]bool
		inForce, inGrace   int
		over, overageNotes []string
	}
	products := map[string]*product{}
	for _, l := range base.Licenses {
		sku := string(l.Product.SKU)
		pr := products[sku]
		if pr == nil {
			pr = &product{p: &licmeshv1.ProductCompliance{Sku: sku, Name: l.Product.Name}, pools: map[string]bool{}}
			products[sku] = pr
		}
		pr.p.Licenses++
		if !l.InForce {
			continue
		}
		pr.inForce++
		held := 0
		for _, g := range l.Grants {
			pr.pools[g.Name] = true
			held += g.Held
		}
		if l.Status.Phase == license.InGrace {
			pr.inGrace++
			if held > 0 {
				out.Mismatches = append(out.Mismatches, &licmeshv1.Mismatch{Kind: mismatchGrace, Subject: string(l.ID),
					Detail: fmt.Sprintf("license %s ended on %s and its pools hold %d seats in its grace, until %s", l.ID,
						l.Status.ExpiresAt.UTC().Format(time.DateOnly), held, l.Status.GraceEnd.UTC().Format(time.DateOnly))})
			}
		}
		if len(l.Grants) > 0 && held == 0 {
			out.Mismatches = append(out.Mismatches, &licmeshv1.Mismatch{Kind: mismatchUnused, Subject: string(l.ID),
				Detail: fmt.Sprintf("license %s (%s) is in force and no installation holds a seat of it", l.ID, l.Product.Name)})
		}
	}
	// A month's report judges each pool by that month's use.
	var used map[string]fsm.Utilization
	if month != "" {
		used = map[string]fsm.Utilization{}
		for _, u := range s.fsm.Utilization(fsm.UtilizationFilter{Month: month}) {
			used[u.Pool] = u
		}
	}
	for _, name := range slices.Sorted(maps.Keys(pools)) {
		p := pools[name]
		if p.Source == fsm.SourceNone {
			continue
		}
		if used != nil {
			if u, ok := used[name]; ok && u.Peak > u.Seats {
				share := 0.0
				if u.ObservedMs > 0 {
					share = 100 * float64(u.LimitMs) / float64(u.ObservedMs)
				}
				out.Mismatches = append(out.Mismatches, &licmeshv1.Mismatch{Kind: mismatchOver, Subject: name,
					Detail: fmt.Sprintf("in %s pool %s held up to %d seats of %d (at or past its seats %.1f%% of the time)", month, name, u.Peak, u.Seats, share)})
			}
			continue
		}
		if p.Held > p.Pool.Seats {
			out.Mismatches = append(out.Mismatches, &licmeshv1.Mismatch{Kind: mismatchOver, Subject: name,
				Detail: fmt.Sprintf("pool %s holds %d seats of %d", name, p.Held, p.Pool.Seats)})
		}
		if p.LastOverageAt != 0 && now.Sub(time.UnixMilli(p.LastOverageAt)) <= overageWindow {
			out.Mismatches = append(out.Mismatches, &licmeshv1.Mismatch{Kind: mismatchOverage, Subject: name,
				Detail: fmt.Sprintf("pool %s granted past its seats %d times, the last on %s", name, p.OverageGrants,
					time.UnixMilli(p.LastOverageAt).UTC().Format(time.DateOnly))})
		}
	}
	out.Compliant = true
	for _, pr := range products {
		for name := range pr.pools {
			p := pools[name]
			if used != nil {
				// The month's peak against the month's seats.
				u := used[name]
				pr.p.Seats += uint32(u.Seats)
				pr.p.Held += uint32(u.Peak)
				if u.Peak > u.Seats {
					pr.over = append(pr.over, fmt.Sprintf("%s held up to %d of %d in %s", name, u.Peak, u.Seats, month))
				}
				continue
			}
			pr.p.Seats += uint32(p.Pool.Seats)
			pr.p.Held += uint32(p.Held)
			if p.Held > p.Pool.Seats {
				pr.over = append(pr.over, fmt.Sprintf("%s holds %d of %d", name, p.Held, p.Pool.Seats))
			} else if p.LastOverageAt != 0 && now.Sub(time.UnixMilli(p.LastOverageAt)) <= overageWindow {
				pr.overageNotes = append(pr.overageNotes, fmt.Sprintf("%s went over its seats in the last 30 days", name))
			}
		}
		slices.Sort(pr.over)
		slices.Sort(pr.overageNotes)
		switch {
		case pr.inForce == 0:
			pr.p.Status, pr.p.Detail = "expired", "no license of the product is in force"
		case len(pr.over) > 0 || len(pr.overageNotes) > 0:
			pr.p.Status, pr.p.Detail = "over", strings.Join(append(pr.over, pr.overageNotes...), "; ")
		case pr.inGrace > 0:
			pr.p.Status, pr.p.Detail = "grace", fmt.Sprintf("%d of its licenses ended and are in their grace", pr.inGrace)
		default:
			pr.p.Status = "compliant"
		}
		if pr.p.Status != "compliant" {
			out.Compliant = false
		}
		out.Products = append(out.Products, pr.p)
	}
	slices.SortFunc(out.Products, func(a, b *licmeshv1.ProductCompliance) int { return cmp.Compare(a.Sku, b.Sku) })
	for _, m := range out.Mismatches {
		if m.Kind == mismatchUncovered {
			out.Compliant = false
		}
	}
	return out, nil
}

func (h adminHandler) GetReconciliation(ctx context.Context, req *connect.Request[licmeshv1.GetReconciliationRequest]) (*connect.Response[licmeshv1.GetReconciliationResponse], error) {
	if m := req.Msg.Month; m != "" {
		if _, err := time.Parse("2006-01", m); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: month %q: want YYYY-MM", ErrBadRequest, clipText(m)))
		}
	}
	out, err := h.s.reconcile(req.Msg.Month)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(out), nil
}
