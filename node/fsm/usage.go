package fsm

import (
	"math"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
)

// MaxUsageDays is how many days of aggregates the FSM keeps per
// installation: the latest ones, by date.
const MaxUsageDays = 400

// defaultZone is the site zone until SetSiteZone says otherwise.
const defaultZone = "UTC"

// usageState is usage metering's part of the state: the monthly ledger,
// each collector's spool position, and per-day aggregates, all cut in the
// site's zone.
type usageState struct {
	zone   string
	loc    *time.Location
	ledger *usage.Ledger
	// closeAt is the trusted time (Unix ms) at which the ledger may next
	// have a month to close: the end of the month holding its ClosedAsOf.
	// 0 until the first usage batch; MaxInt64 once trusted time is past
	// the last month the ledger can keep. It is derived (settleClose), so
	// a restored state closes months at the same moments.
	closeAt int64
	spools  map[string]*spoolRec
	days    map[usage.InstallationID]map[usage.DayKey]*usage.DayStats
	// onClose is told of the months each close closed (upstream marks
	// them); nil ignores them.
	onClose func([]usage.ClosedMonth)
}

// spoolRec is where one collector's spool stands.
type spoolRec struct {
	installation usage.InstallationID
	epoch        uint64
	seq          uint64 // high-water: records up to it are committed
	lastAt       int64  // trusted time of the last batch, Unix ms
	samples      uint64 // records applied, duplicates not counted
	// dropped counts observations the ledger refused after validation
	// passed, which only zone data differing from that of the months
	// already recorded can cause. They are skipped, not fatal.
	dropped uint64
}

func newUsageState() *usageState {
	u := &usageState{spools: map[string]*spoolRec{}, days: map[usage.InstallationID]map[usage.DayKey]*usage.DayStats{}}
	u.setZone(defaultZone, time.UTC)
	return u
}

func ledgerConfig(loc *time.Location) usage.Config {
	cfg := usage.DefaultConfig()
	cfg.Location = loc
	return cfg
}

// setZone replaces the (empty) ledger with one cut in loc, keeping how far
// months have been closed.
func (u *usageState) setZone(name string, loc *time.Location) {
	old := u.ledger
	u.zone, u.loc = name, loc
	u.ledger, _ = usage.NewLedger(ledgerConfig(loc)) // the config is valid
	if old != nil && !old.ClosedAsOf().IsZero() {
		u.closeDue(old.ClosedAsOf().UnixMilli())
	}
}

// recorded reports whether any usage has been cut into months or days in
// the current zone.
func (u *usageState) recorded() bool {
	return len(u.days) > 0 || len(u.ledger.Installations()) > 0
}

// closeDue closes every month that has ended by trusted time now.
func (u *usageState) closeDue(now int64) {
	// The ledger keeps times before 2200; a trusted time past that closes
	// all it can and no more.
	closed, _ := u.ledger.CloseDue(time.UnixMilli(min(now, usageMaxMs)).UTC())
	if len(closed) > 0 && u.onClose != nil {
		u.onClose(closed)
	}
	u.settleClose(now)
}

// settleClose derives closeAt from the ledger and trusted time.
func (u *usageState) settleClose(trusted int64) {
	asOf := u.ledger.ClosedAsOf()
	if asOf.IsZero() {
		u.closeAt = 0
		return
	}
	_, end := usage.KeyOf(asOf, u.loc).Bounds(u.loc)
	u.closeAt = end.UnixMilli()
	if u.closeAt <= trusted {
		u.closeAt = math.MaxInt64
	}
}

// tick closes months once trusted time passes the end of the earliest
// open one, whatever command moved it: months close on time even when no
// usage arrives. It is one comparison when nothing is due.
func (u *usageState) tick(trusted int64) {
	if u.closeAt != 0 && trusted >= u.closeAt {
		u.closeDue(trusted)
	}
}

// observe folds one validated sample into the ledger and the day
// aggregates and returns how many observations the ledger refused.
func (u *usageState) observe(inst usage.InstallationID, s UsageSample) (dropped uint64) {
	at := time.UnixMilli(s.At).UTC()
	count := func(_ usage.Outcome, err error) {
		if err != nil {
			dropped++
		}
	}
	if f, ok := usage.FactsFromScalars(at, s.Scalars); ok {
		count(u.ledger.ObserveFacts(inst, f))
	}
	for _, x := range s.Users {
		count(u.ledger.ObserveUser(inst, x.state(at)))
	}
	for _, l := range s.Logons {
		count(u.ledger.ObserveLogon(inst, l.logon(at)))
	}
	u.day(inst, usage.DayOf(at, u.loc)).Add(at, s.Scalars)
	return dropped
}

// day returns an installation's aggregate for one day, creating it and
// dropping the oldest day beyond MaxUsageDays. A sample for a day older
// than every kept one, when all are kept, makes a day that is dropped at
// once.
func (u *usageState) day(inst usage.InstallationID, k usage.DayKey) *usage.DayStats {
	days := u.days[inst]
	if days == nil {
		days = map[usage.DayKey]*usage.DayStats{}
		u.days[inst] = days
	}
	if d := days[k]; d != nil {
		return d
	}
	d := &usage.DayStats{Day: k}
	days[k] = d
	if len(days) > MaxUsageDays {
		oldest := k
		for dk := range days {
			if dk.Compare(oldest) < 0 {
				oldest = dk
			}
		}
		delete(days, oldest)
	}
	return d
}
