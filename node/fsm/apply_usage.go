package fsm

import "fmt"

// applyUsageBatch commits a collector's records exactly once (promise P2).
// Per collector the FSM keeps its spool epoch and high-water sequence:
//
//   - a batch from an older epoch than the stored one is a stale duplicate
//     (a retry from before the spool was replaced): it changes nothing;
//   - a newer epoch starts the high-water again at 0;
//   - records at or below the high-water were committed before and are
//     skipped; the others are applied in order and the high-water becomes
//     the last one's sequence.
//
// Records were validated whole when the command was decoded, so nothing
// here can fail half-way. Months that ended by the batch's time are closed
// before its records apply, so a record for one of them is kept as a late
// arrival beside it, never inside it.
func applyUsageBatch(s *state, ac *applyCtx, c *UsageBatch) Response {
	if _, ok := s.collectors.m[c.Collector]; !ok {
		return Response{Err: fmt.Errorf("%w: %s", ErrUnknownCollector, c.Collector)}
	}
	u := s.usage
	sp := u.spools[c.Collector]
	if sp != nil && c.Epoch < sp.epoch {
		return Response{}
	}
	if u.closeAt == 0 || ac.at >= u.closeAt {
		u.closeDue(ac.at)
	}
	if sp == nil {
		sp = &spoolRec{epoch: c.Epoch}
		u.spools[c.Collector] = sp
	}
	if c.Epoch > sp.epoch {
		sp.epoch, sp.seq = c.Epoch, 0
	}
	sp.installation, sp.lastAt = c.Installation, ac.at
	for _, r := range c.Records {
		if r.Seq <= sp.seq {
			continue
		}
		sp.dropped += u.observe(c.Installation, r.Sample)
		s.markSample(c.Installation, r.Sample)
		sp.seq = r.Seq
		sp.samples++
	}
	return Response{}
}

// applySetSiteZone sets the zone months and days are cut in. Setting the
// zone in force is a no-op; changing it after usage was recorded is
// refused.
func applySetSiteZone(s *state, _ *applyCtx, c *SetSiteZone) Response {
	u := s.usage
	if c.Zone == u.zone {
		return Response{}
	}
	if u.recorded() {
		return Response{Err: fmt.Errorf("%w: usage is already recorded in months and days of %s; it cannot be re-cut in %s",
			ErrZoneLocked, u.zone, c.Zone)}
	}
	loc, err := LoadZone(c.Zone)
	if err != nil {
		return Response{Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
	}
	u.setZone(c.Zone, loc)
	return Response{}
}
