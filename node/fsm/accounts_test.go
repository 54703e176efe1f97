package fsm

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUsersAndTheirSessions(t *testing.T) {
	h := bootstrapped(t)
	h.ok(CreateUserType, CreateUser{Name: "alice", Role: RoleLicenseManager, PasswordHash: testPasswordHash, By: "admintok01", Now: t0})
	u, ok := h.f.User("alice")
	require.True(t, ok)
	assert.Equal(t, RoleLicenseManager, u.Role)
	assert.Equal(t, uint64(1), u.Epoch)
	assert.Equal(t, "admintok01", u.CreatedBy)
	assert.NotContains(t, u.String(), "argon2", "String shows the hash")

	r := h.apply(CreateUserType, CreateUser{Name: "alice", Role: RoleViewer, PasswordHash: testPasswordHash, By: "x", Now: t0})
	require.ErrorIs(t, r.Err, ErrUserExists)
	r = h.apply(UpdateUserType, UpdateUser{Name: "bob", Role: RoleViewer, By: "x", Now: t0})
	require.ErrorIs(t, r.Err, ErrUnknownUser)

	// Every change that should end sessions moves the epoch; a re-enable
	// and a no-op role do not.
	steps := []struct {
		u     UpdateUser
		epoch uint64
	}{
		{UpdateUser{Role: RoleIT}, 2},
		{UpdateUser{Role: RoleIT, EndSessions: false, Enable: true}, 2},
		{UpdateUser{PasswordHash: testPasswordHash}, 3},
		{UpdateUser{Disable: true}, 4},
		{UpdateUser{Disable: true}, 4},
		{UpdateUser{Enable: true}, 4},
		{UpdateUser{EndSessions: true}, 5},
	}
	for i, s := range steps {
		s.u.Name, s.u.By, s.u.Now = "alice", "admintok01", t0+int64(i+1)
		h.ok(UpdateUserType, s.u)
		u, _ := h.f.User("alice")
		assert.Equal(t, s.epoch, u.Epoch, "step %d: %+v", i, s.u)
	}

	// API tokens act for an enabled user.
	h.ok(CreateTokenType, CreateToken{ID: "tokalice", SecretHash: Hash{2}, Role: RoleViewer, User: "alice", Now: t0})
	tok, _ := h.f.Token("tokalice")
	assert.Equal(t, "alice", tok.User)
	r = h.apply(CreateTokenType, CreateToken{ID: "tokbob", SecretHash: Hash{2}, Role: RoleViewer, User: "bob", Now: t0})
	require.ErrorIs(t, r.Err, ErrUnknownUser)
	h.ok(UpdateUserType, UpdateUser{Name: "alice", Disable: true, By: "admintok01", Now: t0 + 10})
	r = h.apply(CreateTokenType, CreateToken{ID: "tokalic2", SecretHash: Hash{2}, Role: RoleViewer, User: "alice", Now: t0})
	require.ErrorIs(t, r.Err, ErrUserDisabled)
	_, ok = h.f.Token("tokalic2")
	assert.False(t, ok, "a refused token was stored")

	h.ok(CreateUserType, CreateUser{Name: "audit.team@acme", Role: RoleAuditor, PasswordHash: testPasswordHash, By: "admintok01", Now: t0})
	snap := snapshotBytes(t, h.f)
	f := New()
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(snap))))
	assert.Equal(t, h.f.Users(), f.Users())
	assert.Equal(t, h.f.Tokens(), f.Tokens())
	assert.Equal(t, snap, snapshotBytes(t, f))
}

func TestAccountCommandsRefuseBadInput(t *testing.T) {
	for name, cmd := range map[string]command{
		"upper-case name":   CreateUser{Name: "Alice", Role: RoleViewer, PasswordHash: testPasswordHash, By: "a", Now: t0},
		"empty name":        CreateUser{Name: "", Role: RoleViewer, PasswordHash: testPasswordHash, By: "a", Now: t0},
		"space in name":     CreateUser{Name: "al ice", Role: RoleViewer, PasswordHash: testPasswordHash, By: "a", Now: t0},
		"unknown role":      CreateUser{Name: "alice", Role: "root", PasswordHash: testPasswordHash, By: "a", Now: t0},
		"collector user":    CreateUser{Name: "alice", Role: RoleCollector, PasswordHash: testPasswordHash, By: "a", Now: t0},
		"plain password":    CreateUser{Name: "alice", Role: RoleViewer, PasswordHash: "hunter2hunter2", By: "a", Now: t0},
		"no change":         UpdateUser{Name: "alice", By: "a", Now: t0},
		"enable and not":    UpdateUser{Name: "alice", Enable: true, Disable: true, By: "a", Now: t0},
		"update bad role":   UpdateUser{Name: "alice", Role: "owner", By: "a", Now: t0},
		"viewer token bare": CreateToken{ID: "tok1", SecretHash: Hash{1}, Role: RoleViewer, Now: t0},
		"join token user":   CreateToken{ID: "tok1", SecretHash: Hash{1}, Role: RoleCollector, User: "alice", Now: t0},
		"token bad user":    CreateToken{ID: "tok1", SecretHash: Hash{1}, Role: RoleAdmin, User: "Alice!", Now: t0},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Encode(cmd.msgType(), cmd)
			require.ErrorIs(t, err, ErrMalformed)
			assert.NotContains(t, err.Error(), "hunter2", "the error carries the password field")
		})
	}
}
