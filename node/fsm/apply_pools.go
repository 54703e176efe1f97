package fsm

// applyCreatePool adds a manual pool. The name must be free: a pool that
// licenses grant (or granted, before they expired) is not shadowed by a
// manual one. A pool that only lingers for its leases (SourceNone) is
// taken over, leases and counters included.
func applyCreatePool(s *state, ac *applyCtx, c *CreatePool) Response {
	ps, ok := s.pools[c.Pool.Name]
	if ok && ps.source != SourceNone {
		return Response{Err: ErrPoolExists}
	}
	if !ok {
		ps = s.addPool(c.Pool.Name, ac.at)
	}
	m := c.Pool
	ps.manual = &m
	s.sourcesChanged(ac.at)
	return Response{}
}

// applyUpdatePool changes a manual pool's seats and enforcement. Held
// leases stay, even past the new seat count: evicting a seat in use would
// break a promise made to a collector, so the pool just grants nothing new
// (hard) or only overage (soft) until releases bring it under. While a
// license grants the pool, the manual config is not in force and cannot be
// changed (ErrLicensedPool).
func applyUpdatePool(s *state, ac *applyCtx, c *UpdatePool) Response {
	ps, ok := s.pools[c.Pool.Name]
	switch {
	case ok && (ps.source == SourceLicense || ps.source == SourceExpired):
		return Response{Err: ErrLicensedPool}
	case !ok || ps.manual == nil:
		return Response{Err: ErrUnknownPool}
	}
	m := c.Pool
	ps.manual = &m
	ps.updatedAt = ac.at
	s.sourcesChanged(ac.at)
	return Response{}
}
