package fsm

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
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
		if !errors.Is(r.Err, s.err) || (s.err == nil) != (r.Err == nil) {
			t.Fatalf("%s: err = %v, want %v", s.name, r.Err, s.err)
		}
		if r.Err != nil {
			if after := stateBytes(t, h.f); string(after) != string(before) {
				t.Fatalf("%s: refused command changed the state", s.name)
			}
		}
	}
}

func TestApplyCluster(t *testing.T) {
	h := newHarness(t)
	if _, ok := h.f.Cluster(); ok {
		t.Fatal("cluster before bootstrap")
	}
	runSteps(t, h, []step{
		{"pool before bootstrap", CreatePoolType, CreatePool{Pool: lease.Pool{Name: "p", Seats: 1, Enforce: lease.Hard}, Now: t0}, ErrNotBootstrapped},
		{"bootstrap", BootstrapType, testBootstrap(), nil},
		{"second bootstrap", BootstrapType, testBootstrap(), ErrAlreadyBootstrapped},
	})
	ci, ok := h.f.Cluster()
	b := testBootstrap()
	if !ok || ci.ID != b.ClusterID || string(ci.CAKeyPEM) != string(b.CAKeyPEM) ||
		ci.AdminTokenHash != b.AdminTokenHash || ci.AdminTokenID != b.AdminTokenID || ci.BootstrappedAt != t0 {
		t.Fatalf("Cluster = %v, %v", ci, ok)
	}
	// Returned slices are copies.
	ci.SigningKey[0] ^= 0xFF
	if again, _ := h.f.Cluster(); again.SigningKey[0] != b.SigningKey[0] {
		t.Fatal("Cluster returned shared key bytes")
	}
	pub := again(h).SigningPublicKey()
	if len(pub) != 32 {
		t.Fatalf("public key length %d", len(pub))
	}
	if got := h.f.TrustedTime(); !got.Equal(time.UnixMilli(t0)) {
		t.Fatalf("TrustedTime = %v", got)
	}
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
	if !ok || ps.Pool.Seats != 9 || ps.Pool.Enforce != lease.Soft || ps.CreatedAt != t0+1 || ps.UpdatedAt != t0+4 {
		t.Fatalf("Pool = %+v, %v", ps, ok)
	}
	all := h.f.Pools()
	if len(all) != 2 || all[0].Pool.Name != "a.first" || all[1].Pool.Name != "pm.users" {
		t.Fatalf("Pools = %+v", all)
	}
	if _, ok := h.f.Pool("nope"); ok {
		t.Fatal("unknown pool found")
	}
	if c := h.f.Counts(); c.Pools != 2 {
		t.Fatalf("Counts = %+v", c)
	}
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
	if !ok || !got.Revoked || got.RevokedAt != t0+3 || got.CreatedAt != t0+1 || got.SecretHash != tok.SecretHash || got.Role != RoleAdmin {
		t.Fatalf("Token = %+v", got)
	}
	if l := h.f.Tokens(); len(l) != 2 || l[0].ID != "admintok01" || l[1].ID != "tok1" {
		t.Fatalf("Tokens = %v", l)
	}
	// The bootstrap admin token is an ordinary, revocable token.
	adm, ok := h.f.Token("admintok01")
	if !ok || adm.Role != RoleAdmin || adm.SecretHash != testBootstrap().AdminTokenHash {
		t.Fatalf("bootstrap admin token = %v, %v", adm, ok)
	}
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
	if !ok || c.TokenID != "good" || c.EnrolledAt != t0+1 || c.CertSerial != "01" || c.Hostname != "h" || c.Version != "1.0.0" {
		t.Fatalf("Collector = %+v", c)
	}
	if tk, _ := h.f.Token("good"); tk.Uses != 2 {
		t.Fatalf("Uses = %d, want 2", tk.Uses)
	}
	if l := h.f.Collectors(); len(l) != 2 || l[0].ID != "c1" || l[1].ID != "c2" {
		t.Fatalf("Collectors = %+v", l)
	}
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
	if c.CertSerial != "02" || c.CertRenewedAt != t0+2 || c.LastSeenAt != t0+3 || c.Version != "1.1" || c.Protocol != "h3" {
		t.Fatalf("Collector = %+v", c)
	}
	if _, ok := h.f.Collector("ghost"); ok {
		t.Fatal("seen entry created a collector")
	}
	if got := h.f.TrustedTime(); !got.Equal(time.UnixMilli(t0 + 4)) {
		t.Fatalf("TrustedTime = %v", got)
	}
}

func TestTrustedTimeHighWater(t *testing.T) {
	h := bootstrapped(t)
	h.ok(CreateTokenType, CreateToken{ID: "a", SecretHash: Hash{1}, Role: RoleAdmin, Now: t0 + 5000})
	// A leader with a slower clock does not move trusted time back.
	h.ok(CreateTokenType, CreateToken{ID: "b", SecretHash: Hash{1}, Role: RoleAdmin, Now: t0 + 100})
	// A refused command does not move it forward.
	h.apply(CreateTokenType, CreateToken{ID: "a", SecretHash: Hash{1}, Role: RoleAdmin, Now: t0 + 9000})
	if got := h.f.TrustedTime(); !got.Equal(time.UnixMilli(t0 + 5000)) {
		t.Fatalf("TrustedTime = %v", got)
	}
	if New().TrustedTime() != (time.Time{}) {
		t.Fatal("empty FSM has a trusted time")
	}
}

func TestIgnoreUnknownFlag(t *testing.T) {
	h := bootstrapped(t)
	before := stateBytes(t, h.f)
	r := h.applyRaw(append([]byte{0x80 | 77}, `{"Whatever":1}`...))
	if r.Err != nil {
		t.Fatalf("flagged unknown type: %v", r.Err)
	}
	if string(stateBytes(t, h.f)) != string(before) {
		t.Fatal("skipped entry changed the state")
	}
	r = h.applyRaw(append([]byte{77}, `{"Whatever":1}`...))
	if !errors.Is(r.Err, ErrUnknownMsgType) {
		t.Fatalf("unflagged unknown type: %v", r.Err)
	}
	// A known type with the flag applies normally.
	h.ok(CreatePoolType|IgnoreUnknownTypeFlag, CreatePool{Pool: lease.Pool{Name: "p", Seats: 1, Enforce: lease.Hard}, Now: t0})
	if _, ok := h.f.Pool("p"); !ok {
		t.Fatal("flagged known command not applied")
	}
}
