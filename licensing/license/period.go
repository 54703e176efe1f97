package license

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Unit is the unit of a trial or renewal period.
type Unit string

// Period units. Months are calendar months: a period of one month from
// January 31 ends on March 3 (or 2 in a leap year), as time.AddDate
// normalizes it, and all arithmetic is done in UTC so the result never
// depends on a master's time zone.
const (
	Day   Unit = "day"
	Week  Unit = "week"
	Month Unit = "month"
	Year  Unit = "year"
)

// MaxPeriodCount bounds a period's count, whatever its unit.
const MaxPeriodCount = 1000

// Add returns t plus n units, in UTC.
func (u Unit) Add(t time.Time, n int) time.Time {
	t = t.UTC()
	switch u {
	case Day:
		return t.AddDate(0, 0, n)
	case Week:
		return t.AddDate(0, 0, 7*n)
	case Month:
		return t.AddDate(0, n, 0)
	case Year:
		return t.AddDate(n, 0, 0)
	}
	return t
}

// checkPeriod returns why (count, unit) is not a period with one of the
// allowed units, or "" if it is.
func checkPeriod(count int, unit Unit, allowed ...Unit) (field, problem string) {
	ok := false
	for _, a := range allowed {
		if unit == a {
			ok = true
		}
	}
	if !ok {
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
		}
		if unit == "" {
			return "unit", "is missing; want " + strings.Join(names, ", ")
		}
		return "unit", fmt.Sprintf("%s is not one of %s", quote(string(unit)), strings.Join(names, ", "))
	}
	if count < 1 || count > MaxPeriodCount {
		return "count", fmt.Sprintf("%d is out of range 1..%d", count, MaxPeriodCount)
	}
	return "", ""
}

// Duration is a length of time in a payload, written as a Go duration
// ("36h", "90m") or a whole number of days ("14d"). It is used for the
// grace period.
type Duration time.Duration

const day = 24 * time.Hour

// MaxGrace bounds the grace period: a year.
const MaxGrace = Duration(365 * day)

var errDuration = errors.New("want a duration like 72h or 14d")

// ParseDuration parses "14d" or a Go duration like "72h". Negative values
// are refused.
func ParseDuration(s string) (Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 64)
		// Digits only: ParseInt would take a sign, and the bound keeps the
		// product from overflowing.
		if err != nil || n == "" || n[0] < '0' || n[0] > '9' || days > math.MaxInt64/int64(day) {
			return 0, fmt.Errorf("%s: %w", quote(s), errDuration)
		}
		d = time.Duration(days) * day
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || s == "" {
			return 0, fmt.Errorf("%s: %w", quote(s), errDuration)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("%s: must not be negative", quote(s))
	}
	return Duration(d), nil
}

// String writes whole days as "Nd" and anything else as a Go duration.
func (d Duration) String() string {
	td := time.Duration(d)
	if td != 0 && td%day == 0 {
		return strconv.FormatInt(int64(td/day), 10) + "d"
	}
	return td.String()
}

// MarshalText writes d as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses d as ParseDuration does. ParsePayload checks
// durations before decoding, so that its errors can name the field.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
