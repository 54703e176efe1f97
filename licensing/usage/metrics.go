package usage

import (
	"cmp"
	"iter"
	"slices"
	"time"
)

// Metrics are one installation's metrics for one month: seed 004's
// subscriber metrics and seed 000's user and case counts. JSON names match
// the Metric keys of Labels.
type Metrics struct {
	// Super: users with the super-user role at any time in the month who
	// were never locked in it.
	Super int64 `json:"super"`
	// EnStaff, EnMgrs, EnReps: non-super, never-locked users enabled at some
	// time in the month, by role.
	EnStaff int64 `json:"en_staff"`
	// AcStaff, AcMgrs, AcReps: non-super, never-locked users logged on at
	// some time in the month, by role.
	AcStaff int64 `json:"ac_staff"`
	EnMgrs  int64 `json:"en_mgrs"`
	AcMgrs  int64 `json:"ac_mgrs"`
	EnReps  int64 `json:"en_reps"`
	AcReps  int64 `json:"ac_reps"`
	// ConcMax is the most users logged on at once, counting sessions of
	// users who were not locked when they logged on; ConcWhen (UTC) is when
	// that count was first reached, zero if nobody logged on.
	ConcMax  int64     `json:"conc_max"`
	ConcWhen time.Time `json:"conc_when,omitzero"`
	// LogonMinutes is the time users (not locked at logon) spent logged on
	// inside the month, in whole minutes, rounded down.
	LogonMinutes int64 `json:"logon_minutes"`
	// FileLimitMB is the highest file attachment limit seen in the month.
	FileLimitMB int64 `json:"file_limit"`
	// CommItems is the latest sample's commission item count, 0 if the
	// commission module was off in that sample.
	CommItems int64 `json:"comm_items"`
	// ProcessFields is the latest sample's field count excluding trash, 0 if
	// process management was off in that sample.
	ProcessFields int64 `json:"process_fields"`
	// UserCountLatest, UserCountMax, CaseCountLatest, CaseCountMax are seed
	// 000's counts: the latest sample's value and the month's maximum.
	UserCountLatest int64 `json:"user_count_latest"`
	UserCountMax    int64 `json:"user_count_max"`
	CaseCountLatest int64 `json:"case_count_latest"`
	CaseCountMax    int64 `json:"case_count_max"`
}

// nonNegative reports whether every count is >= 0, as computed metrics are.
func (m Metrics) nonNegative() bool {
	for _, v := range []int64{m.Super, m.EnStaff, m.AcStaff, m.EnMgrs, m.AcMgrs, m.EnReps, m.AcReps,
		m.ConcMax, m.LogonMinutes, m.FileLimitMB, m.CommItems, m.ProcessFields,
		m.UserCountLatest, m.UserCountMax, m.CaseCountLatest, m.CaseCountMax} {
		if v < 0 {
			return false
		}
	}
	return true
}

type edge struct {
	t     int64
	delta int64
}

// computeMetrics derives the metrics from per-user records and the facts.
// Users may come in any order: the counts are sums and the concurrency
// sweep sorts its edges, so map iteration order never reaches the result.
func computeMetrics(users iter.Seq[*userRec], f factsAgg) Metrics {
	var m Metrics
	var edges []edge
	var secs, nanos int64 // logon time, split so that many users cannot overflow
	for u := range users {
		if super, locked, role := u.classify(); !locked {
			en, ac := b2i(u.enabled), b2i(u.active)
			switch {
			case super:
				m.Super++
			case role == RoleStaff:
				m.EnStaff += en
				m.AcStaff += ac
			case role == RoleManager:
				m.EnMgrs += en
				m.AcMgrs += ac
			case role == RoleRep:
				m.EnReps += en
				m.AcReps += ac
			}
		}
		for _, sp := range u.spans {
			edges = append(edges, edge{sp.s, 1}, edge{sp.e, -1})
		}
		d := u.spans.total()
		secs += d / int64(time.Second)
		nanos += d % int64(time.Second)
	}
	m.LogonMinutes = (secs + nanos/int64(time.Second)) / 60

	// Sessions are half-open: at an instant where one user leaves and
	// another arrives, the leave is counted first, so they never overlap.
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.delta, b.delta)) })
	var cur int64
	for _, e := range edges {
		cur += e.delta
		if cur > m.ConcMax {
			m.ConcMax, m.ConcWhen = cur, time.Unix(0, e.t).UTC()
		}
	}

	if f.have {
		m.FileLimitMB = f.fileLimitMax
		if f.latest.CommissionModuleOn {
			m.CommItems = f.latest.CommissionItems
		}
		if f.latest.ProcessModuleOn {
			m.ProcessFields = f.latest.ProcessFields - f.latest.ProcessFieldsInTrash
		}
		m.UserCountLatest, m.UserCountMax = f.latest.UserCount, f.userCountMax
		m.CaseCountLatest, m.CaseCountMax = f.latest.CaseCount, f.caseCountMax
	}
	return m
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
