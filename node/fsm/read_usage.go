package fsm

import (
	"maps"
	"slices"

	"github.com/licmesh/licmesh/licensing/usage"
)

// CollectorUsage is where one collector's usage reporting stands.
type CollectorUsage struct {
	Collector string
	// Installation is what the collector's latest batch measured.
	Installation usage.InstallationID
	// Epoch is the collector's spool epoch; Seq its high-water sequence
	// in it: every record up to Seq is committed.
	Epoch uint64
	Seq   uint64
	// LastReportAt is the trusted time (Unix ms) of its latest batch.
	LastReportAt int64
	// Samples counts the records applied, duplicates not included.
	Samples uint64
	// Dropped counts observations the ledger refused after validation,
	// which only a change of zone data under recorded months can cause.
	Dropped uint64
}

// UsageOverview is what usage metering holds, in brief.
type UsageOverview struct {
	// Zone is the IANA zone months and days are cut in.
	Zone string
	// Months are the months with data, newest first.
	Months []usage.MonthKey
	// Collectors are the collectors that reported usage, by ID.
	Collectors []CollectorUsage
}

// UsageHighWater returns a collector's spool epoch and the highest
// sequence of it committed; 0, 0 for a collector that never reported.
func (f *FSM) UsageHighWater(collector string) (epoch, seq uint64) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if sp := f.st.usage.spools[collector]; sp != nil {
		return sp.epoch, sp.seq
	}
	return 0, 0
}

// UsageOverview returns the site zone, the months on record and every
// collector's reporting.
func (f *FSM) UsageOverview() UsageOverview {
	f.mu.RLock()
	defer f.mu.RUnlock()
	u := f.st.usage
	out := UsageOverview{Zone: u.zone, Months: u.ledger.Months(), Collectors: make([]CollectorUsage, 0, len(u.spools))}
	for _, id := range slices.Sorted(maps.Keys(u.spools)) {
		sp := u.spools[id]
		out.Collectors = append(out.Collectors, CollectorUsage{
			Collector: id, Installation: sp.installation, Epoch: sp.epoch, Seq: sp.seq,
			LastReportAt: sp.lastAt, Samples: sp.samples, Dropped: sp.dropped,
		})
	}
	return out
}

// UsageHistory returns an installation's months, newest first, and false
// if no collector ever reported for it.
func (f *FSM) UsageHistory(inst usage.InstallationID) ([]usage.Report, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if !f.st.usage.known(inst) {
		return nil, false
	}
	return f.st.usage.ledger.History(inst), true
}

// UsageMonth returns one month of every installation that has it, by
// installation ID.
func (f *FSM) UsageMonth(k usage.MonthKey) []usage.Report {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.usage.ledger.MonthReports(k)
}

// UsageDays returns an installation's daily aggregates in month (every day
// kept when month is the zero MonthKey), oldest first, and false if no
// collector ever reported for the installation.
func (f *FSM) UsageDays(inst usage.InstallationID, month usage.MonthKey) ([]usage.DayStats, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	u := f.st.usage
	if !u.known(inst) {
		return nil, false
	}
	out := []usage.DayStats{}
	for k, d := range u.days[inst] {
		if month == (usage.MonthKey{}) || k.MonthKey() == month {
			out = append(out, d.Clone())
		}
	}
	slices.SortFunc(out, func(a, b usage.DayStats) int { return a.Day.Compare(b.Day) })
	return out, true
}

// SiteZone returns the IANA zone usage months and days are cut in.
func (f *FSM) SiteZone() string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.usage.zone
}

// UsageRecorded reports whether any usage has been recorded, after which
// the site zone can no longer change.
func (f *FSM) UsageRecorded() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.usage.recorded()
}

// known reports whether inst has months or days, or a collector reports
// for it.
func (u *usageState) known(inst usage.InstallationID) bool {
	if len(u.days[inst]) > 0 || slices.Contains(u.ledger.Installations(), inst) {
		return true
	}
	for _, sp := range u.spools {
		if sp.installation == inst {
			return true
		}
	}
	return false
}
