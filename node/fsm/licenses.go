package fsm

import (
	"errors"
	"slices"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
)

// licenseRec is a stored license. It never changes once stored (a renewal
// replaces the whole record), so snapshots share it without copying.
type licenseRec struct {
	lic      *license.License // Text is the canonical armoured form
	addedAt  int64
	replaced []license.LicenseID
}

// parseLicense opens armoured text and parses its payload without checking
// the signature: the master checked it before proposing, with vendor keys
// that are its own configuration, not replicated state. Parsing is
// deterministic, so every node gets the same license from the same text.
func parseLicense(text []byte) (*license.License, error) {
	if len(text) == 0 {
		return nil, errors.New("license text is empty")
	}
	env, err := license.Open(text)
	if err != nil {
		return nil, err
	}
	p, err := env.Inspect()
	if err != nil {
		return nil, err
	}
	return &license.License{Payload: *p, KeyID: env.KeyID, Text: env.Marshal()}, nil
}

// licenseIDs returns the stored licenses' IDs, sorted, so that every walk
// over them, and the first error it finds, is the same on every node.
func (s *state) licenseIDs() []license.LicenseID {
	ids := make([]license.LicenseID, 0, len(s.licenses))
	for id := range s.licenses {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// standing judges l at trusted time at (Unix ms). The local clock plays no
// part: inside the FSM, trusted time is the only clock.
func standing(l *license.License, at int64) license.State {
	t := msTime(at)
	return license.Status(l, t, t)
}

func inForce(ph license.Phase) bool { return ph == license.Active || ph == license.InGrace }

// grantsAt is the pools l grants by its terms at trusted time at: PoolsAt,
// except that from expiry on the license keeps the pools it had just before
// it. So a trial license's grace keeps its trial pools (PoolsAt would give
// the license template, often empty, once the trial period is over), and an
// expired license still names the pools it lapsed from.
func grantsAt(l *license.License, at int64) []license.Pool {
	t := msTime(at)
	if !l.ExpiresAt.IsZero() && !t.Before(l.ExpiresAt) {
		t = l.ExpiresAt.Add(-time.Nanosecond)
	}
	pools, err := l.PoolsAt(t)
	if err != nil {
		// Cannot happen: ParsePayload evaluated every template.
		return nil
	}
	return pools
}

// nextChange returns the first trusted time (Unix ms) after after at which
// l's standing or grants change, or 0 if none is left.
func nextChange(l *license.License, after int64) int64 {
	var next int64
	consider := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if m := ceilMs(t); m > after && (next == 0 || m < next) {
			next = m
		}
	}
	consider(l.NotBefore)
	if end, ok := l.TrialEnd(); ok {
		consider(end)
	}
	consider(l.ExpiresAt)
	consider(l.GraceEnd())
	return next
}

// ceilMs is the first Unix millisecond not before t: payload times may
// carry finer precision than trusted time.
func ceilMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if msTime(ms).Before(t) {
		ms++
	}
	return ms
}

// stamp formats a time for messages: RFC 3339 in UTC, to the second.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
