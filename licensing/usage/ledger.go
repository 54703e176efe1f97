package usage

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Config configures a Ledger. Every master must use the same Config (and
// the same zone data), because month bounds and routing depend on it.
type Config struct {
	// Location is the site's time zone; months begin at local midnight on
	// the 1st.
	Location *time.Location
	// MaxSessionMonths bounds how many months one session report can touch:
	// the month its known end falls in and the ones before it, up to this
	// many. A session open for a year then costs a bounded amount per
	// report; its earlier months already had it from earlier reports.
	MaxSessionMonths int
}

// DefaultConfig returns UTC months and sessions touching at most 3 months.
func DefaultConfig() Config { return Config{Location: time.UTC, MaxSessionMonths: 3} }

// Validate reports whether c is usable.
func (c Config) Validate() error {
	if c.Location == nil {
		return fmt.Errorf("%w: nil Location", ErrInvalidConfig)
	}
	if c.MaxSessionMonths < 1 || c.MaxSessionMonths > 120 {
		return fmt.Errorf("%w: MaxSessionMonths %d not in 1..120", ErrInvalidConfig, c.MaxSessionMonths)
	}
	return nil
}

// Ledger keeps every installation's months: it routes observations to them
// by time in the site's zone, closes months once their end has passed, and
// keeps what arrives for a closed month beside it as a late arrival.
//
// A month is closed exactly when its end is at or before ClosedAsOf, the
// highest time CloseDue has been given. This holds for months the ledger has
// never seen too: data for an old month that has no record yet goes to a
// new, empty, closed month as a late arrival.
type Ledger struct {
	cfg        Config
	closedAsOf time.Time // zero until the first CloseDue
	floor      MonthKey  // months before it were pruned; zero: none
	insts      map[InstallationID]map[MonthKey]*entry
}

type entry struct {
	month *Month
	late  *Month // late arrivals, with the month's bounds; nil if none
}

// Outcome says what became of an observation. A session crossing months can
// have several outcomes at once, one per month.
type Outcome uint8

// Outcome flags.
const (
	// OutcomeApplied: counted in an open month.
	OutcomeApplied Outcome = 1 << iota
	// OutcomeLate: for a closed month, and carries something a metric
	// could see that neither the closed month nor its earlier late
	// arrivals hold. It is kept beside the month; the closed metrics do
	// not change.
	OutcomeLate
	// OutcomeRedundant: for a closed month, and adds nothing a metric could
	// see to it and its late arrivals (a session still open across the
	// month's end is reported again and again, for example). It may still
	// be folded into the late data, where it changes nothing visible.
	OutcomeRedundant
	// OutcomeDropped: for a month that has been pruned.
	OutcomeDropped
)

// Has reports whether o includes every flag of f.
func (o Outcome) Has(f Outcome) bool { return o&f == f && f != 0 }

// String lists the flags, like "applied|late".
func (o Outcome) String() string {
	var parts []string
	for _, f := range []struct {
		f Outcome
		s string
	}{{OutcomeApplied, "applied"}, {OutcomeLate, "late"}, {OutcomeRedundant, "redundant"}, {OutcomeDropped, "dropped"}} {
		if o&f.f != 0 {
			parts = append(parts, f.s)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// NewLedger returns an empty ledger.
func NewLedger(cfg Config) (*Ledger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Ledger{cfg: cfg, insts: make(map[InstallationID]map[MonthKey]*entry)}, nil
}

// ClosedAsOf returns the highest time CloseDue has been given, zero if none.
func (l *Ledger) ClosedAsOf() time.Time { return l.closedAsOf }

// ObserveUser records a user snapshot in the month its At falls in.
func (l *Ledger) ObserveUser(inst InstallationID, s UserState) (Outcome, error) {
	if err := inst.Validate(); err != nil {
		return 0, err
	}
	if err := s.Validate(); err != nil {
		return 0, err
	}
	s = normUser(s)
	return l.observe(inst, []MonthKey{KeyOf(s.At, l.cfg.Location)}, userObs{s})
}

// ObserveFacts records an installation facts sample in the month its At
// falls in.
func (l *Ledger) ObserveFacts(inst InstallationID, f Facts) (Outcome, error) {
	if err := inst.Validate(); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	f = normFacts(f)
	return l.observe(inst, []MonthKey{KeyOf(f.At, l.cfg.Location)}, factsObs{f})
}

// ObserveLogon records a session in every month it overlaps (at most
// Config.MaxSessionMonths of them, the latest), each month taking the part
// inside its bounds.
func (l *Ledger) ObserveLogon(inst InstallationID, lg Logon) (Outcome, error) {
	if err := inst.Validate(); err != nil {
		return 0, err
	}
	if err := lg.Validate(); err != nil {
		return 0, err
	}
	o := newLogonObs(lg)
	loc := l.cfg.Location
	first := KeyOf(time.Unix(0, o.st), loc)
	last := first
	if o.en > o.st {
		last = KeyOf(time.Unix(0, o.en-1), loc)
	}
	var keys []MonthKey
	for k := last; len(keys) < l.cfg.MaxSessionMonths && k.Compare(first) >= 0; k = k.Prev() {
		keys = append(keys, k)
	}
	slices.Reverse(keys)
	return l.observe(inst, keys, o)
}

// observe checks everything first, so an observation that fails changes
// nothing, then folds it into each month.
func (l *Ledger) observe(inst InstallationID, keys []MonthKey, o observation) (Outcome, error) {
	months := l.insts[inst]
	for _, k := range keys {
		if !k.Valid() {
			return 0, fmt.Errorf("%w: %s falls in month %d-%d", ErrInvalidObservation, o, k.Year, int(k.Month))
		}
		if e := months[k]; e != nil && !l.pruned(k) && !o.within(e.month) {
			// Only possible if this master's zone data disagrees with the
			// bounds the month was created with.
			return 0, fmt.Errorf("%w: %s routed to %s [%v, %v); time zone data differs",
				ErrOutsideMonth, o, k, e.month.Start(), e.month.End())
		}
	}
	var out Outcome
	for _, k := range keys {
		if l.pruned(k) {
			out |= OutcomeDropped
			continue
		}
		e := l.entry(inst, k)
		if !e.month.closed {
			o.apply(e.month)
			out |= OutcomeApplied
			continue
		}
		// The late data is the join of every observation that changes the
		// closed month's state, so it (and the combined view) is the same
		// whatever order late data arrives in. The outcome, which only
		// describes this arrival, compares with everything known so far.
		if !o.changes(e.month) {
			out |= OutcomeRedundant
			continue
		}
		if o.adds(e.month, e.late) {
			out |= OutcomeLate
		} else {
			out |= OutcomeRedundant
		}
		if e.late == nil {
			e.late = newMonth(inst, k, e.month.start, e.month.end)
		}
		o.apply(e.late)
	}
	return out, nil
}

func (l *Ledger) pruned(k MonthKey) bool { return l.floor.Valid() && k.Compare(l.floor) < 0 }

// entry returns the month's entry, creating it. A month created after its
// end has passed is closed at once (empty), since it closed at its end
// whether or not anything was recorded for it.
func (l *Ledger) entry(inst InstallationID, k MonthKey) *entry {
	months := l.insts[inst]
	if months == nil {
		months = make(map[MonthKey]*entry)
		l.insts[inst] = months
	}
	e := months[k]
	if e == nil {
		start, end := k.Bounds(l.cfg.Location)
		e = &entry{month: newMonth(inst, k, start.UnixNano(), end.UnixNano())}
		if l.due(e.month) {
			e.month.mustClose(l.closedAsOf)
		}
		months[k] = e
	}
	return e
}

func (l *Ledger) due(m *Month) bool {
	return !m.closed && !l.closedAsOf.IsZero() && m.end <= l.closedAsOf.UnixNano()
}

// mustClose closes a month the ledger has already found due.
func (m *Month) mustClose(at time.Time) {
	if _, err := m.Close(at); err != nil {
		panic("usage: closing a due month: " + err.Error())
	}
}

// CloseDue closes every open month whose end is at or before now and
// returns their final records, ordered by installation then month. ClosedAsOf
// only moves forward: a now earlier than an earlier call closes nothing new.
func (l *Ledger) CloseDue(now time.Time) ([]ClosedMonth, error) {
	if !validTime(now) {
		return nil, fmt.Errorf("%w: close time %v out of range", ErrInvalidObservation, now)
	}
	if now.After(l.closedAsOf) {
		l.closedAsOf = now.UTC()
	}
	var out []ClosedMonth
	for _, months := range l.insts {
		for _, e := range months {
			if l.due(e.month) {
				e.month.mustClose(l.closedAsOf)
				out = append(out, e.month.record())
			}
		}
	}
	slices.SortFunc(out, func(a, b ClosedMonth) int {
		if c := strings.Compare(string(a.Installation), string(b.Installation)); c != 0 {
			return c
		}
		return a.Key.Compare(b.Key)
	})
	return out, nil
}

// Prune forgets every month before before, for every installation, once
// they are all closed (the caller's retention, e.g. after the hub has them).
// Later observations for those months report OutcomeDropped.
func (l *Ledger) Prune(before MonthKey) error {
	if !before.Valid() {
		return fmt.Errorf("%w: prune before %d-%d", ErrInvalidMonth, before.Year, int(before.Month))
	}
	if start, _ := before.Bounds(l.cfg.Location); l.closedAsOf.Before(start) {
		return fmt.Errorf("%w: months before %s end after %v", ErrPruneOpen, before, l.closedAsOf)
	}
	// Sorted, so the error names the same month on every master.
	for _, inst := range l.Installations() {
		months := l.insts[inst]
		for _, k := range sortedKeys(months) {
			if k.Compare(before) < 0 && !months[k].month.closed {
				return fmt.Errorf("%w: %s %s", ErrPruneOpen, inst, k)
			}
		}
	}
	for inst, months := range l.insts {
		maps.DeleteFunc(months, func(k MonthKey, _ *entry) bool { return k.Compare(before) < 0 })
		if len(months) == 0 {
			delete(l.insts, inst)
		}
	}
	if !l.floor.Valid() || before.Compare(l.floor) > 0 {
		l.floor = before
	}
	return nil
}

func sortedKeys(months map[MonthKey]*entry) []MonthKey {
	keys := make([]MonthKey, 0, len(months))
	for k := range months {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, MonthKey.Compare)
	return keys
}
