package fsm

import "crypto/subtle"

// applyEnroll checks the join token in a fixed order, each failure with its
// own error, then registers the collector and counts the use. The collector
// ID is checked last so that only a holder of a valid token learns whether
// an ID is taken.
func applyEnroll(s *state, _ *applyCtx, c *Enroll) Response {
	t, ok := s.tokens.m[c.TokenID]
	switch {
	case !ok:
		return Response{Err: ErrTokenUnknown}
	case t.Revoked:
		return Response{Err: ErrTokenRevoked}
	case t.ExpiresAt != 0 && c.Now >= t.ExpiresAt:
		return Response{Err: ErrTokenExpired}
	case t.MaxUses > 0 && t.Uses >= t.MaxUses:
		return Response{Err: ErrTokenExhausted}
	case subtle.ConstantTimeCompare(t.SecretHash[:], c.SecretHash[:]) != 1:
		return Response{Err: ErrTokenSecret}
	case t.Role != RoleCollector:
		return Response{Err: ErrTokenRole}
	}
	if _, ok := s.collectors.m[c.CollectorID]; ok {
		return Response{Err: ErrCollectorExists}
	}
	t.Uses++
	s.tokens = s.tokens.mutable()
	s.tokens.m[c.TokenID] = t
	s.collectors = s.collectors.mutable()
	s.collectors.m[c.CollectorID] = Collector{
		ID:         c.CollectorID,
		Hostname:   c.Hostname,
		Version:    c.Version,
		EnrolledAt: c.Now,
		CertSerial: c.CertSerial,
		TokenID:    c.TokenID,
		LastSeenAt: c.Now,
	}
	if s.hasVolumeLicense() {
		s.entChanged = s.index // who a volume license covers may change
	}
	return Response{}
}

func applyRenewCert(s *state, _ *applyCtx, c *RenewCert) Response {
	col, ok := s.collectors.m[c.CollectorID]
	if !ok {
		return Response{Err: ErrUnknownCollector}
	}
	col.CertSerial = c.CertSerial
	col.CertRenewedAt = c.Now
	s.collectors = s.collectors.mutable()
	s.collectors.m[c.CollectorID] = col
	return Response{}
}

// applyCollectorSeen keeps, per collector, the latest report: an entry older
// than what is recorded changes nothing, so reordered batches from
// different masters converge.
func applyCollectorSeen(s *state, _ *applyCtx, c *CollectorSeen) Response {
	for _, e := range c.Entries {
		col, ok := s.collectors.m[e.CollectorID]
		if !ok || e.SeenAt < col.LastSeenAt {
			continue
		}
		col.LastSeenAt = e.SeenAt
		if e.Version != "" {
			col.Version = e.Version
		}
		if e.Protocol != "" {
			col.Protocol = e.Protocol
		}
		s.collectors = s.collectors.mutable()
		s.collectors.m[e.CollectorID] = col
	}
	return Response{}
}
