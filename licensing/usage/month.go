package usage

import (
	"fmt"
	"time"
)

// Month accumulates one installation's observations for one calendar month
// in the site's time zone. Once closed it is frozen: its metrics never
// change and every Observe returns ErrMonthClosed.
type Month struct {
	installation InstallationID
	key          MonthKey
	start, end   int64 // [start, end) in Unix nanoseconds
	users        map[UserID]*userRec
	facts        factsAgg
	closed       bool
	closedAt     time.Time
	frozen       Metrics
}

// ClosedMonth is a month's final record: its metrics as they were when it
// closed, which never change again.
type ClosedMonth struct {
	Installation InstallationID `json:"installation"`
	Key          MonthKey       `json:"month"`
	Start        time.Time      `json:"start"`
	End          time.Time      `json:"end"`
	ClosedAt     time.Time      `json:"closed_at"`
	Metrics      Metrics        `json:"metrics"`
}

// NewMonth returns an empty, open month for installation: the given calendar
// month in loc.
func NewMonth(installation InstallationID, year int, month time.Month, loc *time.Location) (*Month, error) {
	if err := installation.Validate(); err != nil {
		return nil, err
	}
	k := MonthKey{year, month}
	if !k.Valid() {
		return nil, fmt.Errorf("%w: %d-%d", ErrInvalidMonth, year, int(month))
	}
	if loc == nil {
		return nil, fmt.Errorf("%w: nil time zone", ErrInvalidMonth)
	}
	start, end := k.Bounds(loc)
	return newMonth(installation, k, start.UnixNano(), end.UnixNano()), nil
}

func newMonth(installation InstallationID, k MonthKey, start, end int64) *Month {
	return &Month{installation: installation, key: k, start: start, end: end, users: make(map[UserID]*userRec)}
}

// Installation returns the installation the month belongs to.
func (m *Month) Installation() InstallationID { return m.installation }

// Key returns the calendar month.
func (m *Month) Key() MonthKey { return m.key }

// Start returns the month's first instant, in UTC.
func (m *Month) Start() time.Time { return time.Unix(0, m.start).UTC() }

// End returns the first instant after the month, in UTC.
func (m *Month) End() time.Time { return time.Unix(0, m.end).UTC() }

// Closed reports whether the month has been closed.
func (m *Month) Closed() bool { return m.closed }

// Users returns how many distinct users the month holds state for; memory
// grows with this, not with the number of observations.
func (m *Month) Users() int { return len(m.users) }

// ObserveUser folds in a user snapshot taken inside the month.
func (m *Month) ObserveUser(s UserState) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return m.observe(userObs{normUser(s)})
}

// ObserveLogon folds in a session that overlaps the month or starts in it.
// The part of the session outside the month is ignored here; a session that
// crosses months is given to each of them.
func (m *Month) ObserveLogon(l Logon) error {
	if err := l.Validate(); err != nil {
		return err
	}
	return m.observe(newLogonObs(l))
}

// ObserveFacts folds in an installation facts sample taken inside the month.
func (m *Month) ObserveFacts(f Facts) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return m.observe(factsObs{normFacts(f)})
}

func (m *Month) observe(o observation) error {
	if m.closed {
		return fmt.Errorf("%w: %s %s", ErrMonthClosed, m.installation, m.key)
	}
	if !o.within(m) {
		return fmt.Errorf("%w: %s is not in %s", ErrOutsideMonth, o, m.key)
	}
	o.apply(m)
	return nil
}

// Metrics returns the month's metrics: the frozen values once closed, else
// the values so far.
func (m *Month) Metrics() Metrics {
	if m.closed {
		return m.frozen
	}
	return computeMetrics(m.eachUser, m.facts)
}

// Close freezes the month at at, which must not be before the month's end,
// and returns its final record. The frozen metrics are stored, not
// recomputed later, so no future change to how metrics are computed can
// alter a closed month.
func (m *Month) Close(at time.Time) (ClosedMonth, error) {
	if m.closed {
		return ClosedMonth{}, fmt.Errorf("%w: %s %s", ErrMonthClosed, m.installation, m.key)
	}
	if !validTime(at) {
		return ClosedMonth{}, fmt.Errorf("%w: close time %v out of range", ErrInvalidObservation, at)
	}
	if at.UnixNano() < m.end {
		return ClosedMonth{}, fmt.Errorf("%w: %s ends at %v, asked to close at %v",
			ErrMonthNotEnded, m.key, m.End(), at.UTC())
	}
	m.frozen = m.Metrics()
	m.closed = true
	m.closedAt = at.UTC()
	return m.record(), nil
}

// Record returns the month's final record; ok is false while it is open.
func (m *Month) Record() (ClosedMonth, bool) {
	if !m.closed {
		return ClosedMonth{}, false
	}
	return m.record(), true
}

func (m *Month) record() ClosedMonth {
	return ClosedMonth{Installation: m.installation, Key: m.key, Start: m.Start(), End: m.End(),
		ClosedAt: m.closedAt, Metrics: m.frozen}
}

func (m *Month) eachUser(yield func(*userRec) bool) {
	for _, u := range m.users {
		if !yield(u) {
			return
		}
	}
}

// observation is one validated, normalised input, ready to fold into a
// month.
type observation interface {
	fmt.Stringer
	// within reports whether the observation belongs to m.
	within(m *Month) bool
	// apply folds the observation into m and reports whether m changed.
	apply(m *Month) bool
	// changes reports whether apply would change m's state, leaving m as
	// it is. Unlike adds it counts evidence timestamps too, so that the set
	// of observations it selects, joined, gives the same result as all of
	// them, in any order.
	changes(m *Month) bool
	// adds reports whether the observation would change anything the
	// metrics can see in closed and late (nil if none) taken together,
	// leaving both as they are.
	adds(closed, late *Month) bool
}

// mergedUser returns the user's record in closed and late together, nil if
// neither has one. It copies only when both do.
func mergedUser(closed, late *Month, id UserID) *userRec {
	u := closed.users[id]
	if late == nil || late.users[id] == nil {
		return u
	}
	if u == nil {
		return late.users[id]
	}
	u = u.clone()
	u.merge(late.users[id])
	return u
}

func normUser(s UserState) UserState { s.At = s.At.UTC(); return s }

func normFacts(f Facts) Facts { f.At = f.At.UTC(); return f }

type userObs struct{ s UserState }

func (o userObs) String() string { return fmt.Sprintf("user state at %v", o.s.At) }

func (o userObs) within(m *Month) bool {
	t := o.s.At.UnixNano()
	return t >= m.start && t < m.end
}

func (o userObs) apply(m *Month) bool {
	u := m.users[o.s.UserID]
	if u == nil {
		u = &userRec{}
		m.users[o.s.UserID] = u
	}
	return u.observeState(o.s)
}

func (o userObs) changes(m *Month) bool {
	u := m.users[o.s.UserID]
	return u == nil || u.clone().observeState(o.s)
}

func (o userObs) adds(closed, late *Month) bool {
	u := mergedUser(closed, late, o.s.UserID)
	return u == nil || u.adds(func(c *userRec) { c.observeState(o.s) })
}

type logonObs struct {
	l      Logon
	st, en int64
}

func newLogonObs(l Logon) logonObs {
	st, en := l.span()
	return logonObs{l: l, st: st, en: en}
}

func (o logonObs) String() string {
	return fmt.Sprintf("session [%v, %v)", time.Unix(0, o.st).UTC(), time.Unix(0, o.en).UTC())
}

// within: the session overlaps the month, or (if it has no length) starts
// in it.
func (o logonObs) within(m *Month) bool {
	return o.st < m.end && (o.en > m.start || o.st >= m.start)
}

func (o logonObs) apply(m *Month) bool {
	u := m.users[o.l.UserID]
	if u == nil {
		u = &userRec{}
		m.users[o.l.UserID] = u
	}
	return u.observeLogon(o.l, o.st, o.en, m.start, m.end)
}

func (o logonObs) changes(m *Month) bool {
	u := m.users[o.l.UserID]
	return u == nil || u.clone().observeLogon(o.l, o.st, o.en, m.start, m.end)
}

func (o logonObs) adds(closed, late *Month) bool {
	u := mergedUser(closed, late, o.l.UserID)
	return u == nil || u.adds(func(c *userRec) { c.observeLogon(o.l, o.st, o.en, closed.start, closed.end) })
}

type factsObs struct{ f Facts }

func (o factsObs) String() string { return fmt.Sprintf("facts at %v", o.f.At) }

func (o factsObs) within(m *Month) bool {
	t := o.f.At.UnixNano()
	return t >= m.start && t < m.end
}

func (o factsObs) apply(m *Month) bool { return m.facts.observe(o.f) }

func (o factsObs) changes(m *Month) bool {
	c := m.facts
	return c.observe(o.f)
}

func (o factsObs) adds(closed, late *Month) bool {
	f := closed.facts
	if late != nil {
		f.merge(late.facts)
	}
	before := f.view()
	f.observe(o.f)
	return f.view() != before
}
