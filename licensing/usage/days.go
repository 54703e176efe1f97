package usage

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// DayKey names a calendar day in the site's time zone.
type DayKey struct {
	Year  int
	Month time.Month
	Day   int
}

// DayOf returns the day of loc that t falls on.
func DayOf(t time.Time, loc *time.Location) DayKey {
	l := t.In(loc)
	return DayKey{l.Year(), l.Month(), l.Day()}
}

// Valid reports whether d is a real date in 1970..2199.
func (d DayKey) Valid() bool {
	if !d.MonthKey().Valid() || d.Day < 1 {
		return false
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Day() == d.Day
}

// MonthKey returns the month d is in.
func (d DayKey) MonthKey() MonthKey { return MonthKey{d.Year, d.Month} }

// String formats d as "2008-01-31".
func (d DayKey) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// Compare orders days chronologically: -1 if d is before o, 0 if equal, +1
// if after.
func (d DayKey) Compare(o DayKey) int {
	return cmp.Or(d.MonthKey().Compare(o.MonthKey()), cmp.Compare(d.Day, o.Day))
}

// ParseDayKey parses the "2008-01-31" form String produces.
func ParseDayKey(s string) (DayKey, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil || len(s) != 10 {
		return DayKey{}, fmt.Errorf("%w: %q is not YYYY-MM-DD", ErrInvalidDay, clip(s))
	}
	d := DayKey{t.Year(), t.Month(), t.Day()}
	if !d.Valid() {
		return DayKey{}, fmt.Errorf("%w: %q out of range", ErrInvalidDay, clip(s))
	}
	return d, nil
}

// MarshalText encodes d as "2008-01-31".
func (d DayKey) MarshalText() ([]byte, error) {
	if !d.Valid() {
		return nil, fmt.Errorf("%w: %d-%d-%d", ErrInvalidDay, d.Year, int(d.Month), d.Day)
	}
	return []byte(d.String()), nil
}

// UnmarshalText decodes the "2008-01-31" form.
func (d *DayKey) UnmarshalText(b []byte) error {
	v, err := ParseDayKey(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MaxDayScalars bounds the distinct scalar names one day keeps statistics
// for. Names are fixed by the sources' configuration, so the bound only
// stops a misbehaving collector from growing the state without end.
const MaxDayScalars = 256

// ScalarStats summarises one scalar over a day's samples.
type ScalarStats struct {
	Name string `json:"name"`
	Min  int64  `json:"min"`
	Max  int64  `json:"max"`
	// Sum saturates at the int64 range rather than wrapping.
	Sum int64 `json:"sum"`
	// Last is the value of the latest sample (by sample time, the larger
	// value on a tie, so it does not depend on arrival order), taken at
	// LastAt (UTC).
	Last   int64     `json:"last"`
	LastAt time.Time `json:"last_at"`
}

// DayStats aggregates one installation's samples of one day. The zero value
// with a Day set is an empty day ready for Add.
type DayStats struct {
	Day     DayKey `json:"day"`
	Samples uint64 `json:"samples"`
	// Scalars are sorted by name.
	Scalars []ScalarStats `json:"scalars,omitempty"`
}

// Add folds in one sample taken at at. Every aggregate but Samples is a
// join (min, max, saturating sum, latest), so the result does not depend on
// the order samples arrive in, except which names are kept once a day has
// MaxDayScalars of them: later new names are not tracked.
func (d *DayStats) Add(at time.Time, scalars map[string]int64) {
	d.Samples++
	at = at.UTC()
	// Sorted, so that which names a full day leaves out is the same on
	// every replica.
	for _, name := range slices.Sorted(maps.Keys(scalars)) {
		v := scalars[name]
		i, found := slices.BinarySearchFunc(d.Scalars, name, func(s ScalarStats, n string) int { return strings.Compare(s.Name, n) })
		if !found {
			if len(d.Scalars) >= MaxDayScalars {
				continue
			}
			d.Scalars = slices.Insert(d.Scalars, i, ScalarStats{Name: name, Min: v, Max: v, Sum: v, Last: v, LastAt: at})
			continue
		}
		s := &d.Scalars[i]
		s.Min, s.Max, s.Sum = min(s.Min, v), max(s.Max, v), satAdd(s.Sum, v)
		if at.After(s.LastAt) || at.Equal(s.LastAt) && v > s.Last {
			s.Last, s.LastAt = v, at
		}
	}
}

// Clone returns a copy of d that shares nothing with it.
func (d DayStats) Clone() DayStats {
	d.Scalars = slices.Clone(d.Scalars)
	return d
}

// Validate reports whether d could have been built by Add with samples
// taken in loc on d.Day: for checking a restored snapshot.
func (d DayStats) Validate(loc *time.Location) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: day %s: %s", ErrInvalidObservation, d.Day, fmt.Sprintf(format, args...))
	}
	switch {
	case !d.Day.Valid():
		return bad("not a valid day")
	case d.Samples == 0:
		return bad("no samples")
	case len(d.Scalars) > MaxDayScalars:
		return bad("%d scalars (max %d)", len(d.Scalars), MaxDayScalars)
	}
	for i, s := range d.Scalars {
		if err := CheckScalarName(s.Name); err != nil {
			return bad("%v", err)
		}
		if i > 0 && d.Scalars[i-1].Name >= s.Name {
			return bad("scalars not sorted or repeated at %q", s.Name)
		}
		if s.Min > s.Last || s.Last > s.Max {
			return bad("scalar %q: last %d outside [%d, %d]", s.Name, s.Last, s.Min, s.Max)
		}
		if !validTime(s.LastAt) || DayOf(s.LastAt, loc) != d.Day {
			return bad("scalar %q: last sample time %v is not on the day", s.Name, s.LastAt)
		}
	}
	return nil
}

// satAdd adds without wrapping: a sum past the int64 range stays at its
// bound.
func satAdd(a, b int64) int64 {
	s := a + b
	if (s > a) != (b > 0) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}
