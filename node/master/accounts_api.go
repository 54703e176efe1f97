package master

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/mesh/pki"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// The accounts half of the admin API: who the caller is, the people who
// sign in, and their passwords. Only an argon2id hash of a password goes
// into Raft; it is made here, on the master that took the request.

func (h adminHandler) GetCaller(ctx context.Context, _ *connect.Request[licmeshv1.GetCallerRequest]) (*connect.Response[licmeshv1.GetCallerResponse], error) {
	p, ok := principalFrom(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, ErrUnauthorized)
	}
	return connect.NewResponse(&licmeshv1.GetCallerResponse{
		Principal: p.ID, User: p.User, Role: string(p.Role), Permissions: p.Perms(), TokenId: p.TokenID,
	}), nil
}

func (h adminHandler) CreateUser(ctx context.Context, req *connect.Request[licmeshv1.CreateUserRequest]) (*connect.Response[licmeshv1.CreateUserResponse], error) {
	m := req.Msg
	if err := checkUserFields(m.Name, m.Role); err != nil {
		return nil, err
	}
	hash, err := pki.HashPassword(m.Password)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: user %s: %w", ErrBadRequest, m.Name, err))
	}
	cmd := fsm.CreateUser{Name: m.Name, Role: fsm.Role(m.Role), PasswordHash: hash, By: adminCaller(ctx), Now: h.s.now().UnixMilli()}
	if _, err := h.s.apply(ctx, fsm.CreateUserType, cmd); err != nil {
		return nil, toConnect(err)
	}
	h.s.log.Info("user created", "user", m.Name, "role", m.Role, "by", cmd.By)
	return connect.NewResponse(&licmeshv1.CreateUserResponse{User: h.s.userInfo(m.Name)}), nil
}

func (h adminHandler) ListUsers(ctx context.Context, _ *connect.Request[licmeshv1.ListUsersRequest]) (*connect.Response[licmeshv1.ListUsersResponse], error) {
	var out []*licmeshv1.User
	tokens := h.s.liveTokensPerUser()
	for _, u := range h.s.fsm.Users() {
		out = append(out, userToWire(u, tokens[u.Name]))
	}
	return connect.NewResponse(&licmeshv1.ListUsersResponse{Users: out}), nil
}

func (h adminHandler) UpdateUser(ctx context.Context, req *connect.Request[licmeshv1.UpdateUserRequest]) (*connect.Response[licmeshv1.UpdateUserResponse], error) {
	m := req.Msg
	if err := checkUserFields(m.Name, m.Role); err != nil && (m.Role != "" || !errors.Is(err, errNoRole)) {
		return nil, err
	}
	cmd := fsm.UpdateUser{Name: m.Name, Role: fsm.Role(m.Role), Disable: m.Disable, Enable: m.Enable, EndSessions: m.EndSessions,
		By: adminCaller(ctx), Now: h.s.now().UnixMilli()}
	if m.Password != "" {
		hash, err := pki.HashPassword(m.Password)
		if err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: user %s: %w", ErrBadRequest, m.Name, err))
		}
		cmd.PasswordHash = hash
	}
	if _, err := h.s.apply(ctx, fsm.UpdateUserType, cmd); err != nil {
		return nil, toConnect(err)
	}
	h.s.log.Info("user updated", "user", m.Name, "role", m.Role, "password", m.Password != "", "disable", m.Disable,
		"enable", m.Enable, "end_sessions", m.EndSessions, "by", cmd.By)
	return connect.NewResponse(&licmeshv1.UpdateUserResponse{User: h.s.userInfo(m.Name)}), nil
}

func (h adminHandler) ChangeOwnPassword(ctx context.Context, req *connect.Request[licmeshv1.ChangeOwnPasswordRequest]) (*connect.Response[licmeshv1.ChangeOwnPasswordResponse], error) {
	p, _ := principalFrom(ctx)
	if p.User == "" {
		return nil, connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("%w: %s is a token bound to no user; it has no password", ErrBadRequest, p.ID))
	}
	if _, err := h.s.checkPassword(ctx, p.User, req.Msg.OldPassword); errors.Is(err, ErrNoLeader) {
		return nil, toConnect(err)
	} else if err != nil {
		return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: the old password is wrong", ErrForbidden))
	}
	if req.Msg.NewPassword == req.Msg.OldPassword {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: the new password is the old one", ErrBadRequest))
	}
	hash, err := pki.HashPassword(req.Msg.NewPassword)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: %w", ErrBadRequest, err))
	}
	cmd := fsm.UpdateUser{Name: p.User, PasswordHash: hash, By: p.ID, Now: h.s.now().UnixMilli()}
	if _, err := h.s.apply(ctx, fsm.UpdateUserType, cmd); err != nil {
		return nil, toConnect(err)
	}
	h.s.log.Info("password changed", "user", p.User)
	return connect.NewResponse(&licmeshv1.ChangeOwnPasswordResponse{}), nil
}

var errNoRole = errors.New("no role")

// checkUserFields checks a user name and role before anything is hashed,
// so that bad input is refused at once and by name.
func checkUserFields(name, role string) error {
	if err := fsm.CheckUserName(name); err != nil {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: %w", ErrBadRequest, err))
	}
	if role == "" {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: user %s: %w: want one of %v", ErrBadRequest, name, errNoRole, fsm.UserRoles))
	}
	if !fsm.Role(role).UserRole() {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: user %s: unknown role %q, want one of %v", ErrBadRequest, name, role, fsm.UserRoles))
	}
	return nil
}

func (s *Server) userInfo(name string) *licmeshv1.User {
	u, ok := s.fsm.User(name)
	if !ok {
		return &licmeshv1.User{Name: name}
	}
	return userToWire(u, s.liveTokensPerUser()[name])
}

func userToWire(u fsm.User, tokens int) *licmeshv1.User {
	return &licmeshv1.User{Name: u.Name, Role: string(u.Role), Disabled: u.Disabled, CreatedAtMs: u.CreatedAt,
		CreatedBy: u.CreatedBy, UpdatedAtMs: u.UpdatedAt, PasswordSetAtMs: u.PasswordAt, ApiTokens: uint32(tokens),
		AlertPrefs: prefsToWire(u.Alerts)}
}

// liveTokensPerUser counts each user's tokens that still work.
func (s *Server) liveTokensPerUser() map[string]int {
	now := s.now().UnixMilli()
	out := map[string]int{}
	for _, t := range s.fsm.Tokens() {
		if t.User != "" && !t.Revoked && (t.ExpiresAt == 0 || now < t.ExpiresAt) {
			out[t.User]++
		}
	}
	return out
}

// tokenOwner decides whom a new token acts for, and refuses a token that
// would let its caller do more than they may:
//   - a join token needs PermCollectors and is nobody's;
//   - an API token is the caller's own unless an admin (PermUsers) names
//     another user; a token bound to nobody is an admin's legacy form;
//   - its role may not exceed its user's role, nor what the caller may do.
func (s *Server) tokenOwner(ctx context.Context, role fsm.Role, user string) (string, error) {
	p, ok := principalFrom(ctx)
	if role == fsm.RoleCollector {
		if user != "" {
			return "", connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: a collector join token is nobody's; drop user %q", ErrBadRequest, user))
		}
		if ok && !p.Can(PermCollectors) {
			return "", connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: %s (role %s) may not make join tokens: it needs permission collectors", ErrForbidden, p.ID, p.Role))
		}
		return "", nil
	}
	if !role.UserRole() {
		return "", connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: role %q: want collector or one of %v", ErrBadRequest, role, fsm.UserRoles))
	}
	if !ok {
		return user, nil // the master's own call
	}
	if user == "" {
		user = p.User
	}
	if user == "" {
		if role == fsm.RoleAdmin && p.Can(PermUsers) {
			return "", nil
		}
		return "", connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: a %s token must be bound to a user: name one", ErrBadRequest, role))
	}
	if user != p.User && !p.Can(PermUsers) {
		return "", connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: %s may make tokens only for itself, not for %s", ErrForbidden, p.ID, user))
	}
	u, found := s.fsm.User(user)
	switch {
	case !found:
		return "", connect.NewError(connect.CodeNotFound, fmt.Errorf("%w: %s", fsm.ErrUnknownUser, user))
	case u.Disabled:
		return "", connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%w: %s", fsm.ErrUserDisabled, user))
	case !roleCovers(u.Role, role):
		return "", connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: user %s is %s; a %s token would do more", ErrForbidden, user, u.Role, role))
	}
	for _, perm := range rolePerms[role] {
		if !p.Can(perm) && !p.Can(PermUsers) {
			return "", connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: %s may not make a %s token: it lacks permission %s", ErrForbidden, p.ID, role, perm))
		}
	}
	return user, nil
}

// mayManageToken reports whether the caller may see and revoke t: its own
// tokens always; join tokens with PermCollectors; everything with
// PermUsers.
func mayManageToken(ctx context.Context, t fsm.Token) bool {
	p, ok := principalFrom(ctx)
	switch {
	case !ok, p.Can(PermUsers):
		return true
	case t.Role == fsm.RoleCollector:
		return p.Can(PermCollectors)
	}
	return t.User != "" && t.User == p.User || t.ID == p.TokenID
}
