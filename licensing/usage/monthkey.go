package usage

import (
	"cmp"
	"fmt"
	"time"
)

// MonthKey names a calendar month. Which instants belong to it depends on
// the site's time zone; see Bounds.
type MonthKey struct {
	Year  int
	Month time.Month
}

// Valid reports whether k is a month in 1970..2199.
func (k MonthKey) Valid() bool {
	return k.Year >= 1970 && k.Year < 2200 && k.Month >= time.January && k.Month <= time.December
}

// String formats k as "2008-01", the form snapshots and APIs use.
func (k MonthKey) String() string { return fmt.Sprintf("%04d-%02d", k.Year, int(k.Month)) }

// Label formats k as "Jan 2008", the way seed 004 labels month rows.
func (k MonthKey) Label() string { return fmt.Sprintf("%s %d", k.Month.String()[:3], k.Year) }

// Compare orders months chronologically: -1 if k is before o, 0 if equal,
// +1 if after.
func (k MonthKey) Compare(o MonthKey) int {
	if c := cmp.Compare(k.Year, o.Year); c != 0 {
		return c
	}
	return cmp.Compare(k.Month, o.Month)
}

// Next returns the month after k.
func (k MonthKey) Next() MonthKey {
	if k.Month == time.December {
		return MonthKey{k.Year + 1, time.January}
	}
	return MonthKey{k.Year, k.Month + 1}
}

// Prev returns the month before k.
func (k MonthKey) Prev() MonthKey {
	if k.Month == time.January {
		return MonthKey{k.Year - 1, time.December}
	}
	return MonthKey{k.Year, k.Month - 1}
}

// Bounds returns the month as the half-open interval [start, end) of
// instants, in UTC: from local midnight on the 1st to local midnight on the
// 1st of the next month in loc. Where a zone skips or repeats local midnight,
// time.Date's (deterministic) normalisation decides, and consecutive months
// still share their boundary instant.
func (k MonthKey) Bounds(loc *time.Location) (start, end time.Time) {
	start = time.Date(k.Year, k.Month, 1, 0, 0, 0, 0, loc).UTC()
	end = time.Date(k.Year, k.Month+1, 1, 0, 0, 0, 0, loc).UTC()
	return start, end
}

// KeyOf returns the month of loc whose Bounds hold t. It uses the bounds, not
// the local date alone, so routing and splitting always agree.
func KeyOf(t time.Time, loc *time.Location) MonthKey {
	l := t.In(loc)
	k := MonthKey{l.Year(), l.Month()}
	start, end := k.Bounds(loc)
	switch {
	case t.Before(start):
		return k.Prev()
	case !t.Before(end):
		return k.Next()
	}
	return k
}

// ParseMonthKey parses the "2008-01" form String produces.
func ParseMonthKey(s string) (MonthKey, error) {
	var y, m int
	if len(s) != 7 || s[4] != '-' {
		return MonthKey{}, fmt.Errorf("%w: %q is not YYYY-MM", ErrInvalidMonth, clip(s))
	}
	if _, err := fmt.Sscanf(s, "%4d-%2d", &y, &m); err != nil {
		return MonthKey{}, fmt.Errorf("%w: %q is not YYYY-MM", ErrInvalidMonth, clip(s))
	}
	k := MonthKey{y, time.Month(m)}
	if !k.Valid() || k.String() != s {
		return MonthKey{}, fmt.Errorf("%w: %q out of range", ErrInvalidMonth, clip(s))
	}
	return k, nil
}

// MarshalText encodes k as "2008-01".
func (k MonthKey) MarshalText() ([]byte, error) {
	if !k.Valid() {
		return nil, fmt.Errorf("%w: %d-%d", ErrInvalidMonth, k.Year, int(k.Month))
	}
	return []byte(k.String()), nil
}

// UnmarshalText decodes the "2008-01" form.
func (k *MonthKey) UnmarshalText(b []byte) error {
	v, err := ParseMonthKey(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// clip shortens untrusted text before it goes into an error message.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
