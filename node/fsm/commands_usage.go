package fsm

import (
	"errors"
	"fmt"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/usage"
)

// Limits on usage commands, so that one Raft entry and the state it adds
// stay bounded.
const (
	// MaxUsageRecords bounds the records of one UsageBatch: as many as a
	// collector's meter may put in one report (its batch_max_records).
	MaxUsageRecords = 10_000
	// MaxUsageScalars bounds the scalars of one sample.
	MaxUsageScalars = 64
	// MaxUsageUsers and MaxUsageLogons bound the rows of one sample.
	MaxUsageUsers  = 50_000
	MaxUsageLogons = 50_000
	// MaxUsageSkewMs is how far past the command's Now a time in a sample
	// may lie: a collector's clock a little ahead is tolerated, one a year
	// ahead would open months that have not begun.
	MaxUsageSkewMs = 24 * 3600 * 1000
	maxSourceLen   = 64
	maxZoneLen     = 64

	// usageMinMs and usageMaxMs (1970-01-02 and 2199-12-01, UTC) bound
	// every time in a sample: a day inside the months the ledger keeps, so
	// that no zone's offset can move a time out of them and an observation
	// that passed validation cannot fail in Apply.
	usageMinMs = 86_400_000
	usageMaxMs = 7_255_440_000_000
)

// UsageBatch commits records from a collector's usage spool, exactly once:
// the FSM keeps each collector's spool epoch and high-water sequence, skips
// records at or below it, and ignores a whole batch from an older epoch.
// Collector is the caller's verified identity, set by the master, never
// taken from the request. See applyUsageBatch.
type UsageBatch struct {
	Now          int64
	Collector    string
	Installation usage.InstallationID
	// Epoch identifies the collector's spool; sequences restart in a new
	// spool, which has a higher epoch.
	Epoch   uint64
	Records []UsageRecord `json:",omitempty"`
}

// UsageRecord is one spooled sample under its sequence number. Records of a
// batch are in strictly increasing Seq order; gaps are allowed (a full
// spool drops its oldest records).
type UsageRecord struct {
	Seq    uint64
	Sample UsageSample
}

// UsageSample is one collection of one source: named scalars (the
// well-known ones make the installation's facts) and user rows, all taken
// at At (Unix ms).
type UsageSample struct {
	At      int64
	Source  string           `json:",omitempty"`
	Scalars map[string]int64 `json:",omitempty"`
	Users   []UsageUser      `json:",omitempty"`
	Logons  []UsageLogon     `json:",omitempty"`
}

// UsageUser is a user's state at the sample's time. ID is a pseudonym.
type UsageUser struct {
	ID      usage.UserID
	Role    usage.Role
	Enabled bool `json:",omitempty"`
	Locked  bool `json:",omitempty"`
	InTrash bool `json:",omitempty"`
}

// UsageLogon is a session open at the sample's time or ended since the
// previous sample. Start and End are Unix ms; End is 0 while it is open.
type UsageLogon struct {
	ID     usage.UserID
	Role   usage.Role
	Locked bool `json:",omitempty"`
	Start  int64
	End    int64 `json:",omitempty"`
}

// SetSiteZone sets the IANA time zone that usage months and days are cut
// in. It is refused once usage has been recorded in another zone, since
// months already cut cannot be re-cut.
type SetSiteZone struct {
	Zone string
	Now  int64
}

func (UsageBatch) msgType() MsgType  { return UsageBatchType }
func (SetSiteZone) msgType() MsgType { return SetSiteZoneType }

func (c UsageBatch) now() int64  { return c.Now }
func (c SetSiteZone) now() int64 { return c.Now }

// String describes the batch without its rows.
func (c UsageBatch) String() string {
	first, last := uint64(0), uint64(0)
	if n := len(c.Records); n > 0 {
		first, last = c.Records[0].Seq, c.Records[n-1].Seq
	}
	return fmt.Sprintf("UsageBatch{Collector:%s Installation:%s Epoch:%d Seq:%d..%d Records:%d Now:%d}",
		c.Collector, c.Installation, c.Epoch, first, last, len(c.Records), c.Now)
}

// validate checks every record, so that a batch Apply accepts can be
// applied whole, and one bad record refuses the batch before anything
// changes.
func (c UsageBatch) validate() error {
	if len(c.Records) > MaxUsageRecords {
		return fmt.Errorf("%w: usage batch has %d records, at most %d allowed", ErrMalformed, len(c.Records), MaxUsageRecords)
	}
	if err := firstErr(checkNow(c.Now), checkID("collector id", c.Collector)); err != nil {
		return err
	}
	if err := c.Installation.Validate(); err != nil {
		return fmt.Errorf("%w: usage batch: %w", ErrMalformed, err)
	}
	var prev uint64
	for i, r := range c.Records {
		if r.Seq <= prev {
			return fmt.Errorf("%w: usage record %d: seq %d does not follow %d", ErrMalformed, i, r.Seq, prev)
		}
		prev = r.Seq
		if err := r.Sample.validate(c.Now); err != nil {
			return fmt.Errorf("%w: usage record seq %d: %w", ErrMalformed, r.Seq, err)
		}
	}
	return nil
}

// usageTime checks a time of a sample taken no later than now+skew.
func usageTime(field string, ms, now int64) error {
	if ms < usageMinMs || ms >= usageMaxMs {
		return fmt.Errorf("%s %d is not a Unix time in milliseconds between 1970-01-02 and 2199-12-01", field, ms)
	}
	if ms > now+MaxUsageSkewMs {
		return fmt.Errorf("%s %s is more than a day after the master's time %s", field, stamp(time.UnixMilli(ms)), stamp(time.UnixMilli(now)))
	}
	return nil
}

func (s UsageSample) validate(now int64) error {
	if s.Source != "" {
		if err := lease.ValidateField("source", s.Source, maxSourceLen); err != nil {
			return err
		}
	}
	if err := usageTime("sample time", s.At, now); err != nil {
		return err
	}
	switch {
	case len(s.Scalars) > MaxUsageScalars:
		return fmt.Errorf("%d scalars, at most %d allowed", len(s.Scalars), MaxUsageScalars)
	case len(s.Users) > MaxUsageUsers:
		return fmt.Errorf("%d users, at most %d allowed", len(s.Users), MaxUsageUsers)
	case len(s.Logons) > MaxUsageLogons:
		return fmt.Errorf("%d logons, at most %d allowed", len(s.Logons), MaxUsageLogons)
	}
	for name := range s.Scalars {
		if err := usage.CheckScalarName(name); err != nil {
			return err
		}
	}
	at := time.UnixMilli(s.At).UTC()
	if f, ok := usage.FactsFromScalars(at, s.Scalars); ok {
		if err := f.Validate(); err != nil {
			return err
		}
	}
	for i, u := range s.Users {
		if err := u.state(at).Validate(); err != nil {
			return fmt.Errorf("user %d: %w", i, err)
		}
	}
	for i, l := range s.Logons {
		err := usageTime("logon start", l.Start, now)
		if err == nil && l.End != 0 {
			err = usageTime("logon end", l.End, now)
		}
		if err == nil {
			err = l.logon(at).Validate()
		}
		if err != nil {
			return fmt.Errorf("logon %d: %w", i, err)
		}
	}
	return nil
}

func (u UsageUser) state(at time.Time) usage.UserState {
	return usage.UserState{UserID: u.ID, Role: u.Role, Enabled: u.Enabled, Locked: u.Locked, InTrash: u.InTrash, At: at}
}

func (l UsageLogon) logon(at time.Time) usage.Logon {
	lg := usage.Logon{UserID: l.ID, Role: l.Role, Locked: l.Locked, Start: time.UnixMilli(l.Start).UTC(), At: at}
	if l.End != 0 {
		lg.End = time.UnixMilli(l.End).UTC()
	}
	return lg
}

func (c SetSiteZone) validate() error {
	if err := checkNow(c.Now); err != nil {
		return err
	}
	if _, err := LoadZone(c.Zone); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// LoadZone resolves an IANA time zone name the way every master does: from
// the zone database built into this package (zones.go), never the host's.
// It refuses "Local", which means a different zone on each host.
func LoadZone(name string) (*time.Location, error) {
	switch {
	case name == "":
		return nil, errors.New("time zone is empty")
	case len(name) > maxZoneLen:
		return nil, fmt.Errorf("time zone name has %d bytes, at most %d allowed", len(name), maxZoneLen)
	case name == "Local":
		return nil, errors.New(`time zone "Local" differs from host to host: name the zone, like "Europe/Paris" or "UTC"`)
	}
	loc, err := loadBuiltinZone(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", clip(name))
	}
	return loc, nil
}
