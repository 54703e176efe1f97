package fsm

import "fmt"

func applyCreateToken(s *state, _ *applyCtx, c *CreateToken) Response {
	if _, ok := s.tokens.m[c.ID]; ok {
		return Response{Err: ErrTokenExists}
	}
	if c.User != "" {
		u, ok := s.accounts.users[c.User]
		switch {
		case !ok:
			return Response{Err: fmt.Errorf("%w: %s", ErrUnknownUser, c.User)}
		case u.Disabled:
			return Response{Err: fmt.Errorf("%w: %s", ErrUserDisabled, c.User)}
		}
	}
	s.tokens = s.tokens.mutable()
	s.tokens.m[c.ID] = Token{
		ID:         c.ID,
		Role:       c.Role,
		SecretHash: c.SecretHash,
		ExpiresAt:  c.ExpiresAt,
		MaxUses:    c.MaxUses,
		CreatedAt:  c.Now,
		User:       c.User,
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
