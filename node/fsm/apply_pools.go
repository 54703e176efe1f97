package fsm

func applyCreatePool(s *state, _ *applyCtx, c *CreatePool) Response {
	if _, ok := s.pools[c.Pool.Name]; ok {
		return Response{Err: ErrPoolExists}
	}
	s.addPool(c.Pool, c.Now)
	return Response{}
}

// applyUpdatePool changes seats and enforcement only. Held leases stay, even
// past the new seat count: evicting a seat in use would break a promise
// made to a collector, so the pool just grants nothing new (hard) or only
// overage (soft) until releases bring it under.
func applyUpdatePool(s *state, _ *applyCtx, c *UpdatePool) Response {
	p, ok := s.pools[c.Pool.Name]
	if !ok {
		return Response{Err: ErrUnknownPool}
	}
	p.pool = c.Pool
	p.updatedAt = c.Now
	return Response{}
}
