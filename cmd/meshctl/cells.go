package main

import (
	"fmt"
	"strconv"
	"time"
)

// msTime shows a Unix time in milliseconds as RFC 3339 in UTC; zero means
// "never" and shows as empty.
func msTime(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

// humanDuration shows d to the minute, as people read it: "23h59m", "5m",
// and seconds only under a minute.
func humanDuration(d time.Duration) string {
	if d < 0 {
		return "-" + humanDuration(-d)
	}
	if d < time.Minute {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	d = d.Truncate(time.Minute)
	h, m := int64(d/time.Hour), int64(d%time.Hour/time.Minute)
	if h == 0 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func u32(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

func u64(v uint64) string { return strconv.FormatUint(v, 10) }

// termDuration shows a term in milliseconds (a grace, a borrow) as it was
// likely written: whole days as "3d", else as humanDuration; 0 shows as
// empty (none).
func termDuration(ms int64) string {
	if ms == 0 {
		return ""
	}
	d := time.Duration(ms) * time.Millisecond
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return humanDuration(d)
}
