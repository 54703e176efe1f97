package fsm

// applyBootstrap records the cluster and also enters the first admin token
// in the token table, so the API authenticates every token the same way and
// an operator can revoke the bootstrap token once others exist.
func applyBootstrap(s *state, _ *applyCtx, c *Bootstrap) Response {
	if s.cluster != nil {
		return Response{Err: ErrAlreadyBootstrapped}
	}
	ci := ClusterInfo{
		ID:             c.ClusterID,
		CACertPEM:      c.CACertPEM,
		CAKeyPEM:       c.CAKeyPEM,
		SigningKey:     c.SigningKey,
		AdminTokenID:   c.AdminTokenID,
		AdminTokenHash: c.AdminTokenHash,
		BootstrappedAt: c.Now,
	}.clone()
	s.cluster = &ci
	s.tokens = s.tokens.mutable()
	s.tokens.m[c.AdminTokenID] = Token{
		ID:         c.AdminTokenID,
		Role:       RoleAdmin,
		SecretHash: c.AdminTokenHash,
		CreatedAt:  c.Now,
	}
	return Response{}
}
