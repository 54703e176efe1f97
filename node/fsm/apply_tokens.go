package fsm

func applyCreateToken(s *state, _ *applyCtx, c *CreateToken) Response {
	if _, ok := s.tokens.m[c.ID]; ok {
		return Response{Err: ErrTokenExists}
	}
	s.tokens = s.tokens.mutable()
	s.tokens.m[c.ID] = Token{
		ID:         c.ID,
		Role:       c.Role,
		SecretHash: c.SecretHash,
		ExpiresAt:  c.ExpiresAt,
		MaxUses:    c.MaxUses,
		CreatedAt:  c.Now,
	}
	return Response{}
}

// applyRevokeToken is idempotent: revoking a revoked token keeps the first
// revocation time.
func applyRevokeToken(s *state, _ *applyCtx, c *RevokeToken) Response {
	t, ok := s.tokens.m[c.ID]
	if !ok {
		return Response{Err: ErrUnknownToken}
	}
	if t.Revoked {
		return Response{}
	}
	t.Revoked = true
	t.RevokedAt = c.Now
	s.tokens = s.tokens.mutable()
	s.tokens.m[c.ID] = t
	return Response{}
}
