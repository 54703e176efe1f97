package fsm

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Utilization (issue 17, seed 003 "Usage Analytics and Reporting"): per
// pool, per department and per month (UTC), the seat-time held, the time
// at the limit and the peak, integrated on trusted time at every change of
// a pool's leases. Averages and shares are the integrals over the time
// observed, so a report reads them without any sampling.

const (
	// utilMonths is how many months are kept.
	utilMonths = 24
)

// Utilization is one pool's (or one department's in a pool) month.
type Utilization struct {
	Month string // "2026-12"
	Pool  string
	// Department is empty for the pool as a whole.
	Department string `json:",omitempty"`
	// SeatMs is the integral of seats held over time; ObservedMs the time
	// observed in the month; LimitMs the time the pool was at or past its
	// seats (the pool's only).
	SeatMs, ObservedMs, LimitMs int64
	// Peak is the most seats held at once; Seats the pool's seats when it
	// was last seen.
	Peak, Seats int
}

type utilKey struct{ month, pool, dept string }

type utilState struct {
	aggs map[utilKey]*Utilization
	// last is, per pool, the trusted time integrated up to.
	last map[string]int64
	// months is asked on every lease change, thousands a second; the
	// month changes rarely.
	months monthCache
	// pruned is the month pruning last ran in: once a month is enough.
	pruned string
}

// monthCache remembers the month [from, to) it last named.
type monthCache struct {
	month    string
	from, to int64
}

// at returns the month ms falls in and the millisecond it ends at.
func (c *monthCache) at(ms int64) (month string, end int64) {
	if ms < c.from || ms >= c.to {
		t := time.UnixMilli(ms).UTC()
		from := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		c.month, c.from, c.to = from.Format("2006-01"), from.UnixMilli(), from.AddDate(0, 1, 0).UnixMilli()
	}
	return c.month, c.to
}

func newUtilState() *utilState {
	return &utilState{aggs: map[utilKey]*Utilization{}, last: map[string]int64{}}
}

// aggIn returns the row for the key in aggs, made if missing.
func aggIn(aggs map[utilKey]*Utilization, month, pool, dept string) *Utilization {
	k := utilKey{month, pool, dept}
	a := aggs[k]
	if a == nil {
		a = &Utilization{Month: month, Pool: pool, Department: dept}
		aggs[k] = a
	}
	return a
}

// integrate adds pool p's use over [from, to), with its departments
// holding depts throughout, to aggs, split at month ends. utilTick stores
// it; a read adds the interval not yet ticked to a copy the same way.
func integrate(aggs map[utilKey]*Utilization, months *monthCache, p *poolState, depts map[string]int, from, to int64) {
	name, held, seats := p.pool.Name, len(p.holders), p.pool.Seats
	for t := from; t < to; {
		month, next := months.at(t)
		end := min(to, next)
		d := end - t
		a := aggIn(aggs, month, name, "")
		a.ObservedMs += d
		a.SeatMs += int64(held) * d
		a.Peak, a.Seats = max(a.Peak, held), seats
		if held >= seats && seats > 0 {
			a.LimitMs += d
		}
		for dept, n := range depts {
			da := aggIn(aggs, month, name, dept)
			da.ObservedMs += d
			da.SeatMs += int64(n) * d
			da.Peak = max(da.Peak, n)
		}
		t = end
	}
}

// utilTick integrates pool p's use from its last tick to the current
// command's time, split at month ends; call it before p's leases change.
func (s *state) utilTick(p *poolState) {
	u, now, name := s.util, s.at, p.pool.Name
	if now == 0 {
		return // a restore's recount, outside any command
	}
	last := u.last[name]
	u.last[name] = max(last, now)
	if last == 0 || now <= last {
		return
	}
	integrate(u.aggs, &u.months, p, s.alloc.held[name], last, now)
	if month, _ := u.months.at(now); month != u.pruned {
		u.prune(now)
		u.pruned = month
	}
}

// utilPeak records p's peaks after its leases changed.
func (s *state) utilPeak(p *poolState, dept string) {
	if s.at == 0 {
		return
	}
	m, _ := s.util.months.at(s.at)
	a := p.utilAgg
	if a == nil || a.Month != m {
		a = aggIn(s.util.aggs, m, p.pool.Name, "")
		p.utilAgg = a
	}
	a.Peak, a.Seats = max(a.Peak, len(p.holders)), p.pool.Seats
	if dept != "" {
		da := aggIn(s.util.aggs, m, p.pool.Name, dept)
		da.Peak = max(da.Peak, s.alloc.held[p.pool.Name][dept])
	}
}

// prune keeps the last utilMonths months.
func (u *utilState) prune(now int64) {
	t := time.UnixMilli(now).UTC()
	oldest := time.Date(t.Year(), t.Month()-utilMonths+1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
	for k := range u.aggs {
		if k.month < oldest {
			delete(u.aggs, k)
		}
	}
}

// UtilizationFilter selects utilization rows; empty fields match all.
type UtilizationFilter struct {
	Month, Pool string
	// Departments includes the departments' rows besides the pools'.
	Departments bool
}

// Utilization returns the rows the filter selects, by month, pool and
// department, with the open interval up to trusted time counted in.
func (f *FSM) Utilization(q UtilizationFilter) []Utilization {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.st
	now := s.trusted
	out := make(map[utilKey]*Utilization, len(s.util.aggs))
	for k, a := range s.util.aggs {
		c := *a
		out[k] = &c
	}
	// The interval since each pool's last tick, as utilTick will count it.
	var months monthCache // the state's cache is not the reader's to write
	for name, p := range s.pools {
		if last := s.util.last[name]; last != 0 && now > last {
			integrate(out, &months, p, s.alloc.held[name], last, now)
		}
	}
	var rows []Utilization
	for k, a := range out {
		if (q.Month != "" && k.month != q.Month) || (q.Pool != "" && k.pool != q.Pool) || (k.dept != "" && !q.Departments) {
			continue
		}
		rows = append(rows, *a)
	}
	slices.SortFunc(rows, func(a, b Utilization) int {
		return cmp.Or(
			strings.Compare(b.Month, a.Month), // newest month first
			strings.Compare(a.Pool, b.Pool),
			strings.Compare(a.Department, b.Department))
	})
	return rows
}

// Snapshot record kinds 31 and 32, after allocation's and counted with
// the alerts' in the end record:
//
//	31 utilization  one month of one pool or department, by key
//	32 util tick    one pool's last integrated time
const (
	recUtilization byte = 31
	recUtilTick    byte = 32
)

type utilTickRecord struct {
	Pool string
	Last int64
}

func (u *utilState) snapshot() ([]snapRecord, error) {
	var out []snapRecord
	keys := slices.SortedFunc(maps.Keys(u.aggs), func(a, b utilKey) int {
		return cmp.Or(strings.Compare(a.month, b.month), strings.Compare(a.pool, b.pool), strings.Compare(a.dept, b.dept))
	})
	for _, k := range keys {
		b, err := json.Marshal(u.aggs[k])
		if err != nil {
			return nil, fmt.Errorf("fsm: snapshot: utilization: %w", err)
		}
		out = append(out, snapRecord{recUtilization, b})
	}
	for _, p := range slices.Sorted(maps.Keys(u.last)) {
		b, err := json.Marshal(utilTickRecord{Pool: p, Last: u.last[p]})
		if err != nil {
			return nil, fmt.Errorf("fsm: snapshot: utilization: %w", err)
		}
		out = append(out, snapRecord{recUtilTick, b})
	}
	return out, nil
}

func (rs *restorer) utilRecord(kind byte, body []byte) error {
	u := rs.st.util
	switch kind {
	case recUtilization:
		var a Utilization
		if err := strictJSON(body, &a); err != nil {
			return badSnap("utilization: %v", err)
		}
		if _, err := time.Parse("2006-01", a.Month); err != nil || a.Pool == "" || a.SeatMs < 0 || a.ObservedMs < 0 || a.LimitMs < 0 || a.Peak < 0 {
			return badSnap("utilization %s/%s: fields out of range", clip(a.Month), clip(a.Pool))
		}
		if err := rs.ordered("utilization", a.Month+"\x00"+a.Pool+"\x00"+a.Department); err != nil {
			return err
		}
		u.aggs[utilKey{a.Month, a.Pool, a.Department}] = &a
	case recUtilTick:
		var r utilTickRecord
		if err := strictJSON(body, &r); err != nil {
			return badSnap("util tick: %v", err)
		}
		if r.Pool == "" || r.Last < 0 {
			return badSnap("util tick: fields out of range")
		}
		u.last[r.Pool] = r.Last
	}
	rs.counts[7]++
	return nil
}
