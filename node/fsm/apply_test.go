package fsm

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// step is one command in an apply table test and the error it must give.
type step struct {
	name string
	mt   MsgType
	cmd  any
	err  error
}

func runSteps(t *testing.T, h *harness, steps []step) {
	t.Helper()
	for _, s := range steps {
		before := stateBytes(t, h.f)
		r := h.apply(s.mt, s.cmd)
		require.ErrorIs(t, r.Err, s.err, s.name)
		if r.Err != nil {
			require.Equal(t, before, stateBytes(t, h.f), "%s: refused command changed the state", s.name)
		}
	}
}

func TestApplyCluster(t *testing.T) {
	h := newHarness(t)
	_, ok := h.f.Cluster()
	require.False(t, ok, "cluster before bootstrap")
	runSteps(t, h, []step{
		{"pool before bootstrap", CreatePoolType, CreatePool{Pool: lease.Pool{Name: "p", Seats: 1, Enforce: lease.Hard}, Now: t0}, ErrNotBootstrapped},
		{"bootstrap", BootstrapType, testBootstrap(), nil},
		{"second bootstrap", BootstrapType, testBootstrap(), ErrAlreadyBootstrapped},
	})
	ci, ok := h.f.Cluster()
	b := testBootstrap()
	require.True(t, ok, "Cluster")
	assert.Equal(t, b.ClusterID, ci.ID)
	assert.Equal(t, string(b.CAKeyPEM), string(ci.CAKeyPEM))
	assert.Equal(t, b.AdminTokenHash, ci.AdminTokenHash)
	assert.Equal(t, b.AdminTokenID, ci.AdminTokenID)
	assert.Equal(t, t0, ci.BootstrappedAt)
	// Returned slices are copies.
	ci.SigningKey[0] ^= 0xFF
	cur, _ := h.f.Cluster()
	require.Equal(t, b.SigningKey[0], cur.SigningKey[0], "Cluster returned shared key bytes")
	require.Len(t, again(h).SigningPublicKey(), 32, "public key length")
	got := h.f.TrustedTime()
	require.True(t, got.Equal(time.UnixMilli(t0)), "TrustedTime = %v", got)
}

func again(h *harness) ClusterInfo { ci, _ := h.f.Cluster(); return ci }

func TestApplyPools(t *testing.T) {
	h := bootstrapped(t)
	p := lease.Pool{Name: "pm.users", Seats: 2, Enforce: lease.Hard}
	runSteps(t, h, []step{
		{"create", CreatePoolType, CreatePool{Pool: p, Now: t0 + 1}, nil},
		{"create again", CreatePoolType, CreatePool{Pool: p, Now: t0 + 2}, ErrPoolExists},
		{"update unknown", UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "nope", Seats: 1, Enforce: lease.Hard}, Now: t0 + 3}, ErrUnknownPool},
		{"update", UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "pm.users", Seats: 9, Enforce: lease.Soft}, Now: t0 + 4}, nil},
		{"create second", CreatePoolType, CreatePool{Pool: lease.Pool{Name: "a.first", Seats: 0, Enforce: lease.Hard}, Now: t0 + 5}, nil},
	})
	ps, ok := h.f.Pool("pm.users")
	require.True(t, ok, "Pool")
	assert.Equal(t, 9, ps.Pool.Seats, "Pool = %+v", ps)
	assert.Equal(t, lease.Soft, ps.Pool.Enforce, "Pool = %+v", ps)
	assert.Equal(t, t0+1, ps.CreatedAt, "Pool = %+v", ps)
	assert.Equal(t, t0+4, ps.UpdatedAt, "Pool = %+v", ps)
	all := h.f.Pools()
	require.Len(t, all, 2, "Pools = %+v", all)
	assert.Equal(t, "a.first", all[0].Pool.Name)
	assert.Equal(t, "pm.users", all[1].Pool.Name)
	_, ok = h.f.Pool("nope")
	assert.False(t, ok, "unknown pool found")
	c := h.f.Counts()
	assert.Equal(t, 2, c.Pools, "Counts = %+v", c)
}

func TestApplyTokens(t *testing.T) {
	h := bootstrapped(t)
	tok := CreateToken{ID: "tok1", SecretHash: sha256.Sum256([]byte("s")), Role: RoleAdmin, ExpiresAt: t0 + 10_000, Now: t0 + 1}
	runSteps(t, h, []step{
		{"create", CreateTokenType, tok, nil},
		{"create again", CreateTokenType, tok, ErrTokenExists},
		{"revoke unknown", RevokeTokenType, RevokeToken{ID: "nope", Now: t0 + 2}, ErrUnknownToken},
		{"revoke", RevokeTokenType, RevokeToken{ID: "tok1", Now: t0 + 3}, nil},
		{"revoke again", RevokeTokenType, RevokeToken{ID: "tok1", Now: t0 + 4}, nil},
	})
	got, ok := h.f.Token("tok1")
	require.True(t, ok, "Token")
	assert.True(t, got.Revoked, "Token = %+v", got)
	assert.Equal(t, t0+3, got.RevokedAt, "Token = %+v", got)
	assert.Equal(t, t0+1, got.CreatedAt, "Token = %+v", got)
	assert.Equal(t, tok.SecretHash, got.SecretHash, "Token = %+v", got)
	assert.Equal(t, RoleAdmin, got.Role, "Token = %+v", got)
	l := h.f.Tokens()
	require.Len(t, l, 2, "Tokens = %v", l)
	assert.Equal(t, "admintok01", l[0].ID)
	assert.Equal(t, "tok1", l[1].ID)
	// The bootstrap admin token is an ordinary, revocable token.
	adm, ok := h.f.Token("admintok01")
	require.True(t, ok, "bootstrap admin token")
	assert.Equal(t, RoleAdmin, adm.Role, "bootstrap admin token = %v", adm)
	assert.Equal(t, testBootstrap().AdminTokenHash, adm.SecretHash, "bootstrap admin token = %v", adm)
	h.ok(RevokeTokenType, RevokeToken{ID: "admintok01", Now: t0 + 5})
}

func TestApplyEnroll(t *testing.T) {
	h := bootstrapped(t)
	secret := sha256.Sum256([]byte("join-secret"))
	mk := func(id string, role Role, exp int64, uses int) CreateToken {
		return CreateToken{ID: id, SecretHash: secret, Role: role, ExpiresAt: exp, MaxUses: uses, Now: t0}
	}
	for _, c := range []CreateToken{
		mk("good", RoleCollector, t0+60_000, 2),
		mk("revoked", RoleCollector, 0, 0),
		mk("old", RoleCollector, t0+10, 0),
		mk("admin", RoleAdmin, 0, 0),
	} {
		h.ok(CreateTokenType, c)
	}
	h.ok(RevokeTokenType, RevokeToken{ID: "revoked", Now: t0})
	enroll := func(tok, col string, hash Hash, now int64) Enroll {
		return Enroll{TokenID: tok, SecretHash: hash, CollectorID: col, Hostname: "h", Version: "1.0.0", CertSerial: "01", Now: now}
	}
	runSteps(t, h, []step{
		{"unknown token", EnrollType, enroll("nope", "c1", secret, t0), ErrTokenUnknown},
		{"revoked token", EnrollType, enroll("revoked", "c1", Hash{9}, t0), ErrTokenRevoked},
		{"expired token", EnrollType, enroll("old", "c1", Hash{9}, t0+10), ErrTokenExpired},
		{"wrong secret", EnrollType, enroll("good", "c1", Hash{9}, t0), ErrTokenSecret},
		{"admin token", EnrollType, enroll("admin", "c1", secret, t0), ErrTokenRole},
		{"enroll", EnrollType, enroll("good", "c1", secret, t0+1), nil},
		{"same collector", EnrollType, enroll("good", "c1", secret, t0+2), ErrCollectorExists},
		{"second use", EnrollType, enroll("good", "c2", secret, t0+3), nil},
		{"exhausted", EnrollType, enroll("good", "c3", secret, t0+4), ErrTokenExhausted},
		{"exhausted beats secret", EnrollType, enroll("good", "c3", Hash{9}, t0+4), ErrTokenExhausted},
	})
	c, ok := h.f.Collector("c1")
	require.True(t, ok, "Collector")
	assert.Equal(t, "good", c.TokenID, "Collector = %+v", c)
	assert.Equal(t, t0+1, c.EnrolledAt, "Collector = %+v", c)
	assert.Equal(t, "01", c.CertSerial, "Collector = %+v", c)
	assert.Equal(t, "h", c.Hostname, "Collector = %+v", c)
	assert.Equal(t, "1.0.0", c.Version, "Collector = %+v", c)
	tk, _ := h.f.Token("good")
	assert.Equal(t, 2, tk.Uses, "Uses")
	l := h.f.Collectors()
	require.Len(t, l, 2, "Collectors = %+v", l)
	assert.Equal(t, "c1", l[0].ID)
	assert.Equal(t, "c2", l[1].ID)
}

func TestApplyCollectorUpdates(t *testing.T) {
	h := bootstrapped(t)
	h.ok(CreateTokenType, CreateToken{ID: "j", SecretHash: Hash{1}, Role: RoleCollector, Now: t0})
	h.ok(EnrollType, Enroll{TokenID: "j", SecretHash: Hash{1}, CollectorID: "c1", CertSerial: "01", Version: "1.0", Now: t0})
	runSteps(t, h, []step{
		{"renew unknown", RenewCertType, RenewCert{CollectorID: "zz", CertSerial: "02", Now: t0 + 1}, ErrUnknownCollector},
		{"renew", RenewCertType, RenewCert{CollectorID: "c1", CertSerial: "02", Now: t0 + 2}, nil},
		{"seen", CollectorSeenType, CollectorSeen{Now: t0 + 3, Entries: []SeenEntry{
			{CollectorID: "c1", Version: "1.1", Protocol: "h3", SeenAt: t0 + 3},
			{CollectorID: "ghost", Version: "9", SeenAt: t0 + 3},
		}}, nil},
		{"stale seen", CollectorSeenType, CollectorSeen{Now: t0 + 4, Entries: []SeenEntry{
			{CollectorID: "c1", Version: "0.9", Protocol: "h2", SeenAt: t0 + 1},
		}}, nil},
	})
	c, _ := h.f.Collector("c1")
	assert.Equal(t, "02", c.CertSerial, "Collector = %+v", c)
	assert.Equal(t, t0+2, c.CertRenewedAt, "Collector = %+v", c)
	assert.Equal(t, t0+3, c.LastSeenAt, "Collector = %+v", c)
	assert.Equal(t, "1.1", c.Version, "Collector = %+v", c)
	assert.Equal(t, "h3", c.Protocol, "Collector = %+v", c)
	_, ok := h.f.Collector("ghost")
	assert.False(t, ok, "seen entry created a collector")
	got := h.f.TrustedTime()
	assert.True(t, got.Equal(time.UnixMilli(t0+4)), "TrustedTime = %v", got)
}

func TestTrustedTimeHighWater(t *testing.T) {
	h := bootstrapped(t)
	h.ok(CreateTokenType, CreateToken{ID: "a", SecretHash: Hash{1}, Role: RoleAdmin, Now: t0 + 5000})
	// A leader with a slower clock does not move trusted time back.
	h.ok(CreateTokenType, CreateToken{ID: "b", SecretHash: Hash{1}, Role: RoleAdmin, Now: t0 + 100})
	// A refused command does not move it forward.
	h.apply(CreateTokenType, CreateToken{ID: "a", SecretHash: Hash{1}, Role: RoleAdmin, Now: t0 + 9000})
	got := h.f.TrustedTime()
	assert.True(t, got.Equal(time.UnixMilli(t0+5000)), "TrustedTime = %v", got)
	assert.Equal(t, time.Time{}, New().TrustedTime(), "empty FSM has a trusted time")
}

func TestIgnoreUnknownFlag(t *testing.T) {
	h := bootstrapped(t)
	before := stateBytes(t, h.f)
	r := h.applyRaw(append([]byte{0x80 | 77}, `{"Whatever":1}`...))
	require.NoError(t, r.Err, "flagged unknown type")
	require.Equal(t, before, stateBytes(t, h.f), "skipped entry changed the state")
	r = h.applyRaw(append([]byte{77}, `{"Whatever":1}`...))
	require.ErrorIs(t, r.Err, ErrUnknownMsgType, "unflagged unknown type")
	// A known type with the flag applies normally.
	h.ok(CreatePoolType|IgnoreUnknownTypeFlag, CreatePool{Pool: lease.Pool{Name: "p", Seats: 1, Enforce: lease.Hard}, Now: t0})
	_, ok := h.f.Pool("p")
	require.True(t, ok, "flagged known command not applied")
}
