package usage

import (
	"slices"
	"strings"
	"time"
)

// Report is one installation's month as views show it.
type Report struct {
	Installation InstallationID `json:"installation"`
	Key          MonthKey       `json:"month"`
	// Label is the row label, like "Jan 2008".
	Label string    `json:"label"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Closed months carry their frozen metrics; open ones the values so
	// far.
	Closed   bool      `json:"closed"`
	ClosedAt time.Time `json:"closed_at,omitzero"`
	Metrics  Metrics   `json:"metrics"`
	// Late is nil unless data arrived after the month closed.
	Late *LateArrivals `json:"late,omitempty"`
}

// LateArrivals is what came in for a month after it closed. It is shown
// beside the month and never folded into its metrics.
type LateArrivals struct {
	// Users is how many distinct users late data mentions; Facts is whether
	// any late installation facts came. (A count of observations would
	// depend on arrival order; these do not.)
	Users int  `json:"users"`
	Facts bool `json:"facts"`
	// Metrics are computed from the late data alone, which may mention
	// users the closed month already counts.
	Metrics Metrics `json:"metrics"`
	// Combined is what the month would show had the late data arrived in
	// time: for comparison only; the month's Metrics stay as closed.
	Combined Metrics `json:"combined"`
}

func (e *entry) report() Report {
	m := e.month
	r := Report{Installation: m.installation, Key: m.key, Label: m.key.Label(), Start: m.Start(), End: m.End(),
		Closed: m.closed, ClosedAt: m.closedAt, Metrics: m.Metrics()}
	if e.late != nil {
		f := m.facts
		f.merge(e.late.facts)
		r.Late = &LateArrivals{
			Users:    len(e.late.users),
			Facts:    e.late.facts.have,
			Metrics:  computeMetrics(e.late.eachUser, e.late.facts),
			Combined: computeMetrics(mergedUsers(m, e.late), f),
		}
	}
	return r
}

// mergedUsers yields a's users with b's folded in, then b's users a lacks,
// without changing either month.
func mergedUsers(a, b *Month) func(func(*userRec) bool) {
	return func(yield func(*userRec) bool) {
		for id, u := range a.users {
			if o := b.users[id]; o != nil {
				u = u.clone()
				u.merge(o)
			}
			if !yield(u) {
				return
			}
		}
		for id, u := range b.users {
			if a.users[id] == nil && !yield(u) {
				return
			}
		}
	}
}

// Installations returns every installation with at least one month, sorted.
func (l *Ledger) Installations() []InstallationID {
	out := make([]InstallationID, 0, len(l.insts))
	for id := range l.insts {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// History returns every month of one installation, newest first, as seed
// 004's metrics history page lists them.
func (l *Ledger) History(inst InstallationID) []Report {
	months := l.insts[inst]
	out := make([]Report, 0, len(months))
	for _, e := range months {
		out = append(out, e.report())
	}
	slices.SortFunc(out, func(a, b Report) int { return b.Key.Compare(a.Key) })
	return out
}

// Report returns one installation's month.
func (l *Ledger) Report(inst InstallationID, k MonthKey) (Report, bool) {
	e := l.insts[inst][k]
	if e == nil {
		return Report{}, false
	}
	return e.report(), true
}

// MonthReports returns one month for every installation that has it, sorted
// by installation ID (views sort by subscriber name themselves).
func (l *Ledger) MonthReports(k MonthKey) []Report {
	var out []Report
	for _, months := range l.insts {
		if e := months[k]; e != nil {
			out = append(out, e.report())
		}
	}
	slices.SortFunc(out, func(a, b Report) int {
		return strings.Compare(string(a.Installation), string(b.Installation))
	})
	return out
}

// Months returns the months on record across all installations, newest
// first: the month drop-down of seed 004's all-subscribers page.
func (l *Ledger) Months() []MonthKey {
	seen := make(map[MonthKey]bool)
	var out []MonthKey
	for _, months := range l.insts {
		for k := range months {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	slices.SortFunc(out, func(a, b MonthKey) int { return b.Compare(a) })
	return out
}
