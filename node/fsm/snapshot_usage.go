package fsm

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/licmesh/licmesh/licensing/usage"
)

// Usage metering's snapshot records (format 3), after the credit records:
//
//	11 zone     the site zone's IANA name; absent for UTC
//	12 ledger   the monthly ledger (usage.Ledger.MarshalBinary, JSON) cut
//	            into records of at most maxRecordLen bytes, to be joined;
//	            absent until the first usage batch
//	13 spool    one collector's spool position, by collector ID
//	14 day      one installation's day, by installation then day
//
// A state that never saw usage writes none of them, so its bytes are what
// they were before usage metering. Restore checks each record as Apply
// would have built it, and the ledger with usage.RestoreLedger.
const (
	recUsageZone   byte = 11
	recUsageLedger byte = 12
	recUsageSpool  byte = 13
	recUsageDay    byte = 14
)

type usageSpoolRecord struct {
	Collector    string
	Installation usage.InstallationID
	Epoch        uint64
	Seq          uint64
	LastAt       int64
	Samples      uint64
	Dropped      uint64 `json:",omitempty"`
}

type usageDayRecord struct {
	Installation usage.InstallationID
	Day          usage.DayStats
}

// snapRecord is a record encoded ahead of Persist.
type snapRecord struct {
	kind byte
	body []byte
}

// snapshot encodes usage metering's records. It runs under the FSM's lock:
// the ledger's encoding is its only point-in-time copy, so the cost is one
// pass over the usage state, which grows with users and months, not with
// samples.
func (u *usageState) snapshot() ([]snapRecord, error) {
	var out []snapRecord
	add := func(kind byte, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("fsm: snapshot: usage: %w", err)
		}
		out = append(out, snapRecord{kind, b})
		return nil
	}
	if u.zone != defaultZone {
		out = append(out, snapRecord{recUsageZone, []byte(u.zone)})
	}
	if !u.ledger.ClosedAsOf().IsZero() {
		b, err := u.ledger.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("fsm: snapshot: usage ledger: %w", err)
		}
		for len(b) > 0 {
			n := min(len(b), maxRecordLen)
			out = append(out, snapRecord{recUsageLedger, b[:n]})
			b = b[n:]
		}
	}
	for _, id := range slices.Sorted(maps.Keys(u.spools)) {
		sp := u.spools[id]
		if err := add(recUsageSpool, usageSpoolRecord{Collector: id, Installation: sp.installation, Epoch: sp.epoch,
			Seq: sp.seq, LastAt: sp.lastAt, Samples: sp.samples, Dropped: sp.dropped}); err != nil {
			return nil, err
		}
	}
	for _, inst := range slices.Sorted(maps.Keys(u.days)) {
		days := u.days[inst]
		keys := slices.SortedFunc(maps.Keys(days), usage.DayKey.Compare)
		for _, k := range keys {
			if err := add(recUsageDay, usageDayRecord{Installation: inst, Day: *days[k]}); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// usageRestore is what Restore gathers of usage metering before the end
// record: the ledger's encoding arrives in pieces.
type usageRestore struct {
	zone   bool
	ledger []byte
	days   map[usage.InstallationID]int
}

func (rs *restorer) usageRecord(kind byte, body []byte) error {
	u, ur := rs.st.usage, &rs.usage
	switch kind {
	case recUsageZone:
		name := string(body)
		if ur.zone {
			return badSnap("usage: zone given twice")
		}
		if name == defaultZone {
			return badSnap("usage: zone record for the default zone")
		}
		loc, err := LoadZone(name)
		if err != nil {
			return badSnap("usage: %v", err)
		}
		ur.zone = true
		u.setZone(name, loc)
	case recUsageLedger:
		if len(body) == 0 {
			return badSnap("usage: empty ledger record")
		}
		ur.ledger = append(ur.ledger, body...)
	case recUsageSpool:
		return rs.usageSpool(body)
	case recUsageDay:
		return rs.usageDay(body)
	}
	rs.counts[7]++
	return nil
}

func (rs *restorer) usageSpool(body []byte) error {
	var r usageSpoolRecord
	if err := strictJSON(body, &r); err != nil {
		return badSnap("usage spool: %v", err)
	}
	if err := firstErr(checkID("collector id", r.Collector), checkNow(r.LastAt)); err != nil {
		return badSnap("usage spool: %v", err)
	}
	if err := r.Installation.Validate(); err != nil {
		return badSnap("usage spool %q: %v", r.Collector, err)
	}
	if err := rs.ordered("usage spool", r.Collector); err != nil {
		return err
	}
	switch {
	case rs.st.collectors.m[r.Collector].ID == "":
		return badSnap("usage spool %q: collector not enrolled", r.Collector)
	case r.LastAt > rs.st.trusted:
		return badSnap("usage spool %q: last report %d after trusted time %d", r.Collector, r.LastAt, rs.st.trusted)
	}
	rs.st.usage.spools[r.Collector] = &spoolRec{installation: r.Installation, epoch: r.Epoch, seq: r.Seq,
		lastAt: r.LastAt, samples: r.Samples, dropped: r.Dropped}
	rs.counts[7]++
	return nil
}

func (rs *restorer) usageDay(body []byte) error {
	var r usageDayRecord
	if err := strictJSON(body, &r); err != nil {
		return badSnap("usage day: %v", err)
	}
	if err := r.Installation.Validate(); err != nil {
		return badSnap("usage day: %v", err)
	}
	u := rs.st.usage
	if err := r.Day.Validate(u.loc); err != nil {
		return badSnap("usage day of %q: %v", r.Installation, err)
	}
	// Installation IDs hold no control character, so NUL sorts this key
	// by installation, then day.
	if err := rs.ordered("usage day", string(r.Installation)+"\x00"+r.Day.Day.String()); err != nil {
		return err
	}
	if rs.usage.days == nil {
		rs.usage.days = map[usage.InstallationID]int{}
	}
	if rs.usage.days[r.Installation]++; rs.usage.days[r.Installation] > MaxUsageDays {
		return badSnap("usage days of %q: more than %d", r.Installation, MaxUsageDays)
	}
	days := u.days[r.Installation]
	if days == nil {
		days = map[usage.DayKey]*usage.DayStats{}
		u.days[r.Installation] = days
	}
	d := r.Day
	days[d.Day] = &d
	rs.counts[7]++
	return nil
}

// finishUsage restores the ledger once every piece of it is read, and
// derives when the next month can close.
func (rs *restorer) finishUsage() error {
	u, ur := rs.st.usage, &rs.usage
	if ur.ledger == nil {
		if len(u.spools) > 0 || len(u.days) > 0 {
			return badSnap("usage: spools or days without a ledger")
		}
		return nil
	}
	l, err := usage.RestoreLedger(ur.ledger, ledgerConfig(u.loc))
	if err != nil {
		return badSnap("usage ledger: %v", err)
	}
	if l.ClosedAsOf().IsZero() || l.ClosedAsOf().UnixMilli() > rs.st.trusted {
		return badSnap("usage: ledger closed as of %v, trusted time is %d", l.ClosedAsOf(), rs.st.trusted)
	}
	u.ledger = l
	u.settleClose(rs.st.trusted)
	ur.ledger = nil
	return nil
}
