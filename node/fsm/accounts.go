package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/licmesh/licmesh/mesh/pki"
)

// Accounts (issue 17): the people who sign in to the masters, each with a
// role. They live in Raft like everything else, so a sign-in works on any
// master and survives restarts, and a change (a password, a role, a
// disabled account) ends the user's sessions everywhere at once: every
// session names the account's Epoch, and the Epoch moves on such a change.
//
// Only an argon2id hash of a password is kept, made by the master that took
// the request; String and the read methods never return it.

// User roles. RoleAdmin (commands.go) is the fifth; RoleCollector is a
// token's only.
const (
	// RoleLicenseManager manages licenses, pools, activation and alerts.
	RoleLicenseManager Role = "license_manager"
	// RoleIT reads everything and manages collectors and their tokens.
	RoleIT Role = "it"
	// RoleViewer reads everything an operator can see, and changes nothing.
	RoleViewer Role = "viewer"
	// RoleAuditor reads what a viewer does, plus the audit log.
	RoleAuditor Role = "auditor"
)

// UserRoles are the roles a user or a user's API token may have, most
// powerful first.
var UserRoles = []Role{RoleAdmin, RoleLicenseManager, RoleIT, RoleAuditor, RoleViewer}

// UserRole reports whether r is a role a person may hold.
func (r Role) UserRole() bool { return slices.Contains(UserRoles, r) }

const (
	// maxUsers bounds the accounts; a site has people, not machines, here.
	maxUsers = 10_000
	// MaxUserNameLen bounds a user name.
	MaxUserNameLen = 64
)

// Account errors.
var (
	// ErrUserExists means CreateUser named an existing user.
	ErrUserExists = errors.New("fsm: user exists")
	// ErrUnknownUser means a command named a user that does not exist.
	ErrUnknownUser = errors.New("fsm: unknown user")
	// ErrUserDisabled means a token was asked for a disabled user.
	ErrUserDisabled = errors.New("fsm: user is disabled")
	// ErrTooManyUsers means the cluster holds maxUsers accounts already.
	ErrTooManyUsers = errors.New("fsm: too many users")
)

// User is one person's account.
type User struct {
	Name         string
	Role         Role
	PasswordHash string
	Disabled     bool `json:",omitempty"`
	// Epoch moves on whenever the user's sessions must end: a new
	// password, another role, a disabled account, a sign-out everywhere.
	Epoch     uint64
	CreatedAt int64
	CreatedBy string
	UpdatedAt int64
	// PasswordAt is when the password was last set.
	PasswordAt int64
	// Alerts are the person's alert preferences, if they set any.
	Alerts *AlertPrefs `json:",omitempty"`
}

// String describes the user without the password hash.
func (u User) String() string {
	return fmt.Sprintf("User{Name:%s Role:%s Disabled:%t Epoch:%d}", u.Name, u.Role, u.Disabled, u.Epoch)
}

// CheckUserName says why name cannot name a user: 1..64 characters of
// [a-z0-9._@-], starting with a letter or digit. Lower case only, so that
// "Alice" and "alice" cannot be two people.
func CheckUserName(name string) error {
	switch {
	case name == "":
		return errors.New("user name is empty")
	case len(name) > MaxUserNameLen:
		return fmt.Errorf("user name has %d characters, at most %d allowed", len(name), MaxUserNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("user name %q must start with a lower-case letter or a digit", clip(name))
		}
		if !alnum && c != '.' && c != '_' && c != '@' && c != '-' {
			return fmt.Errorf("user name %q: character %q not allowed (lower-case letters, digits and . _ @ -)", clip(name), c)
		}
	}
	return nil
}

type accountsState struct {
	users map[string]User
}

func newAccountsState() *accountsState { return &accountsState{users: map[string]User{}} }

// CreateUser adds an account.
type CreateUser struct {
	Name         string
	Role         Role
	PasswordHash string
	By           string
	Now          int64
}

// UpdateUser changes an account; zero fields keep what is there. Any change
// but a re-enable ends the user's sessions.
type UpdateUser struct {
	Name         string
	Role         Role   `json:",omitempty"`
	PasswordHash string `json:",omitempty"`
	Disable      bool   `json:",omitempty"`
	Enable       bool   `json:",omitempty"`
	// EndSessions ends the user's sessions and nothing else.
	EndSessions bool `json:",omitempty"`
	By          string
	Now         int64
}

func (CreateUser) msgType() MsgType { return CreateUserType }
func (UpdateUser) msgType() MsgType { return UpdateUserType }

func (c CreateUser) now() int64 { return c.Now }
func (c UpdateUser) now() int64 { return c.Now }

func (c CreateUser) validate() error {
	if err := CheckUserName(c.Name); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !c.Role.UserRole() {
		return fmt.Errorf("%w: role %q, want one of %v", ErrMalformed, clip(string(c.Role)), UserRoles)
	}
	if err := pki.CheckPasswordHash(c.PasswordHash); err != nil {
		return fmt.Errorf("%w: user %s: %w", ErrMalformed, c.Name, err)
	}
	return firstErr(checkNow(c.Now), checkText("by", c.By, 128))
}

func (c UpdateUser) validate() error {
	if err := CheckUserName(c.Name); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if c.Role != "" && !c.Role.UserRole() {
		return fmt.Errorf("%w: role %q, want one of %v", ErrMalformed, clip(string(c.Role)), UserRoles)
	}
	if c.PasswordHash != "" {
		if err := pki.CheckPasswordHash(c.PasswordHash); err != nil {
			return fmt.Errorf("%w: user %s: %w", ErrMalformed, c.Name, err)
		}
	}
	switch {
	case c.Disable && c.Enable:
		return fmt.Errorf("%w: user %s: disable and enable at once", ErrMalformed, c.Name)
	case c.Role == "" && c.PasswordHash == "" && !c.Disable && !c.Enable && !c.EndSessions:
		return fmt.Errorf("%w: user %s: the update changes nothing", ErrMalformed, c.Name)
	}
	return firstErr(checkNow(c.Now), checkText("by", c.By, 128))
}

func applyCreateUser(s *state, ac *applyCtx, c *CreateUser) Response {
	a := s.accounts
	if _, ok := a.users[c.Name]; ok {
		return Response{Err: fmt.Errorf("%w: %s", ErrUserExists, c.Name)}
	}
	if len(a.users) >= maxUsers {
		return Response{Err: fmt.Errorf("%w: at most %d", ErrTooManyUsers, maxUsers)}
	}
	a.users[c.Name] = User{Name: c.Name, Role: c.Role, PasswordHash: c.PasswordHash, Epoch: 1,
		CreatedAt: ac.at, CreatedBy: c.By, UpdatedAt: ac.at, PasswordAt: ac.at}
	return Response{}
}

func applyUpdateUser(s *state, ac *applyCtx, c *UpdateUser) Response {
	u, ok := s.accounts.users[c.Name]
	if !ok {
		return Response{Err: fmt.Errorf("%w: %s", ErrUnknownUser, c.Name)}
	}
	end := c.EndSessions
	if c.Role != "" && c.Role != u.Role {
		u.Role, end = c.Role, true
	}
	if c.PasswordHash != "" {
		u.PasswordHash, u.PasswordAt, end = c.PasswordHash, ac.at, true
	}
	if c.Disable && !u.Disabled {
		u.Disabled, end = true, true
	}
	if c.Enable {
		u.Disabled = false
	}
	if end {
		u.Epoch++
	}
	u.UpdatedAt = ac.at
	s.accounts.users[c.Name] = u
	return Response{}
}

// Users returns every account, sorted by name, password hashes included:
// the caller must not show them.
func (f *FSM) Users() []User {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := sortedValues(f.st.accounts.users)
	for i := range out {
		out[i].Alerts = out[i].Alerts.clone()
	}
	return out
}

func (p *AlertPrefs) clone() *AlertPrefs {
	if p == nil {
		return nil
	}
	c := *p
	c.Kinds = slices.Clone(p.Kinds)
	return &c
}

// User returns one account.
func (f *FSM) User(name string) (User, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	u, ok := f.st.accounts.users[name]
	u.Alerts = u.Alerts.clone()
	return u, ok
}

// Snapshot record kind 24, after the alerts' (alerts.go) and counted with
// them in the end record: one account, by name.
const recUser byte = 24

func (a *accountsState) snapshot() ([]snapRecord, error) {
	var out []snapRecord
	for _, k := range slices.Sorted(maps.Keys(a.users)) {
		b, err := json.Marshal(a.users[k])
		if err != nil {
			return nil, fmt.Errorf("fsm: snapshot: user: %w", err)
		}
		out = append(out, snapRecord{recUser, b})
	}
	return out, nil
}

func (rs *restorer) userRecord(body []byte) error {
	var u User
	if err := strictJSON(body, &u); err != nil {
		return badSnap("user: %v", err)
	}
	c := CreateUser{Name: u.Name, Role: u.Role, PasswordHash: u.PasswordHash, By: u.CreatedBy, Now: max(u.CreatedAt, 1)}
	if err := c.validate(); err != nil {
		return badSnap("user: %v", err)
	}
	if u.Epoch < 1 {
		return badSnap("user %q: epoch 0", clip(u.Name))
	}
	if u.Alerts != nil {
		if err := u.Alerts.validate(); err != nil {
			return badSnap("user %q: %v", clip(u.Name), err)
		}
	}
	if err := rs.ordered("user", u.Name); err != nil {
		return err
	}
	if len(rs.st.accounts.users) >= maxUsers {
		return badSnap("more than %d users", maxUsers)
	}
	rs.st.accounts.users[u.Name] = u
	rs.counts[7]++
	return nil
}
