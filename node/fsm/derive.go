package fsm

import (
	"slices"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
)

// poolTarget is what a pool should be, given its sources at trusted time.
type poolTarget struct {
	pool     lease.Pool
	source   PoolSource
	licenses []license.LicenseID
	amount   int64
}

// targets computes every pool from its sources at trusted time, with the
// features licenses in force enable and the next moment this result can
// change. It is a pure function of the licenses, the manual configs and
// trusted time, which is what lets Restore recompute it instead of storing
// it. A pool's seats come from the first of:
//
//  1. the licenses in force (active or in grace) that grant it: their
//     seats, overage and amounts add up, capped at lease.MaxSeats; it is
//     hard if any of them says hard (a soft grant must not lift another
//     license's hard limit); the longest offline grace and borrow of
//     them apply, and it fails open only if all of them say so; any
//     manual config of the same name is ignored
//     meanwhile and comes back when they stop;
//  2. its manual config (CreatePool/UpdatePool);
//  3. licenses past their grace that granted it: 0 seats (SourceExpired);
//
// and a pool with none of these lingers with 0 seats (SourceNone) while it
// holds leases, then disappears.
func (s *state) targets() (map[string]*poolTarget, map[string]bool, int64) {
	out := map[string]*poolTarget{}
	features := map[string]bool{}
	expired := map[string][]license.LicenseID{}
	var next int64
	for _, id := range s.licenseIDs() {
		l := s.licenses[id].lic
		if n := nextChange(l, s.trusted); n != 0 && (next == 0 || n < next) {
			next = n
		}
		switch standing(l, s.trusted).Phase {
		case license.Active, license.InGrace:
			for _, p := range grantsAt(l, s.trusted) {
				t := out[p.Name]
				if t == nil {
					t = &poolTarget{pool: lease.Pool{Name: p.Name, Enforce: lease.Soft, FailOpen: true}, source: SourceLicense}
					out[p.Name] = t
				}
				lp := p.LeasePool()
				t.pool.Grace = max(t.pool.Grace, lp.Grace)
				t.pool.MaxBorrow = max(t.pool.MaxBorrow, lp.MaxBorrow)
				t.pool.FailOpen = t.pool.FailOpen && lp.FailOpen
				t.pool.Seats = min(t.pool.Seats+p.Seats, lease.MaxSeats)
				t.pool.Overage = min(t.pool.Overage+p.Overage, lease.MaxSeats)
				if p.Enforce != lease.Soft {
					t.pool.Enforce = lease.Hard
				}
				t.amount += p.Amount
				t.licenses = append(t.licenses, id)
			}
			for _, f := range l.Features {
				if f.Enabled {
					features[f.Name] = true
				}
			}
		case license.Expired:
			for _, p := range grantsAt(l, s.trusted) {
				expired[p.Name] = append(expired[p.Name], id)
			}
		}
	}
	for name, ps := range s.pools {
		if _, ok := out[name]; !ok && ps.manual != nil {
			out[name] = &poolTarget{pool: *ps.manual, source: SourceManual}
		}
	}
	for name, ids := range expired {
		if _, ok := out[name]; !ok {
			out[name] = &poolTarget{pool: lease.Pool{Name: name, Enforce: lease.Hard}, source: SourceExpired, licenses: ids}
		}
	}
	return out, features, next
}

func orphanTarget(name string) *poolTarget {
	return &poolTarget{pool: lease.Pool{Name: name, Enforce: lease.Hard}, source: SourceNone}
}

// setTarget makes p what t says and reports whether that changed anything.
func (p *poolState) setTarget(t *poolTarget) bool {
	if p.pool == t.pool && p.source == t.source && p.amount == t.amount && slices.Equal(p.licenses, t.licenses) {
		return false
	}
	p.pool, p.source, p.amount, p.licenses = t.pool, t.source, t.amount, t.licenses
	return true
}

// derive brings every pool in line with targets. Pools are created, and
// marked updated when their seats, source or licenses change, at trusted
// time. Held leases are never touched: a pool shrunk below them grants
// nothing new until releases bring it under.
func (s *state) derive() {
	tg, features, next := s.targets()
	s.features, s.next = features, next
	s.entChanged = s.index
	names := make([]string, 0, len(tg))
	for name := range tg {
		names = append(names, name)
	}
	// Sorted, so that pools are created in the same order everywhere.
	slices.Sort(names)
	for _, name := range names {
		ps, ok := s.pools[name]
		if !ok {
			ps = s.addPool(name, s.trusted)
		}
		if ps.setTarget(tg[name]) {
			ps.updatedAt = s.trusted
		}
	}
	for name, ps := range s.pools {
		if _, ok := tg[name]; ok {
			continue
		}
		if len(ps.holders) == 0 {
			s.deletePool(ps)
		} else if ps.setTarget(orphanTarget(name)) {
			ps.updatedAt = s.trusted
		}
	}
}

// settle is derive for Restore: it sets the derived fields without
// stamping anything, and refuses a snapshot whose pool records do not
// match what their sources give (a sourced pool without a record, or a
// record with neither a source nor a lease), which no sequence of commands
// can produce.
func (s *state) settle() error {
	tg, features, next := s.targets()
	s.features, s.next = features, next
	for name, t := range tg {
		ps, ok := s.pools[name]
		if !ok {
			return badSnap("pool %q is granted by a license but has no record", name)
		}
		ps.setTarget(t)
	}
	for name, ps := range s.pools {
		if _, ok := tg[name]; ok {
			continue
		}
		if len(ps.holders) == 0 {
			return badSnap("pool %q has no license, no manual config and no lease", name)
		}
		ps.setTarget(orphanTarget(name))
	}
	return nil
}
