package license

import "time"

// TamperTolerance is how far a master's clock may lag the trusted-time
// mark before it reports tampering. Clocks drift and NTP steps; a day
// behind is no accident.
const TamperTolerance = 24 * time.Hour

// TrustedNow is the time to judge licenses at: the later of the local
// clock and the mark, the replicated high-water mark of trusted time. A
// clock set back therefore changes nothing, and a clock set forward moves
// the mark (its owner records it) so that setting it back again revives
// nothing either.
func TrustedNow(now, mark time.Time) time.Time {
	if mark.After(now) {
		return mark
	}
	return now
}

// Tampered reports whether the local clock is more than TamperTolerance
// behind the mark: someone set it back, or it is badly broken.
func Tampered(now, mark time.Time) bool {
	return !mark.IsZero() && now.Before(mark.Add(-TamperTolerance))
}
