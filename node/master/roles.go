package master

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/dashboard"
	"github.com/licmesh/licmesh/node/fsm"
)

// Perm is one thing a role may do. A call of the admin API needs one of the
// permissions methodPerms lists for it; docs/accounts.md has the table.
type Perm string

// Permissions.
const (
	// PermRead reads the cluster: status, pools, leases, collectors,
	// licenses, usage, alerts.
	PermRead Perm = "read"
	// PermSelf is what every signed-in person may do to their own account:
	// change the password, make and revoke their own API tokens.
	PermSelf Perm = "self"
	// PermAck acknowledges alerts.
	PermAck Perm = "ack"
	// PermLicenses manages licenses, pools, activation, the hub link and
	// the alert rules and channels.
	PermLicenses Perm = "licenses"
	// PermCollectors manages collectors and their join tokens.
	PermCollectors Perm = "collectors"
	// PermUsers manages accounts and everyone's tokens.
	PermUsers Perm = "users"
	// PermCluster changes the cluster's membership and reads its profiles.
	PermCluster Perm = "cluster"
	// PermUpdates checks, downloads and installs releases, and rolls
	// them back.
	PermUpdates Perm = "updates"
	// PermAudit reads the accounts and, with issue 17's audit log, the
	// trail of changes.
	PermAudit Perm = "audit"
)

// rolePerms is what each role may do.
var rolePerms = map[fsm.Role][]Perm{
	fsm.RoleAdmin:          {PermRead, PermSelf, PermAck, PermLicenses, PermCollectors, PermUsers, PermCluster, PermAudit, PermUpdates},
	fsm.RoleLicenseManager: {PermRead, PermSelf, PermAck, PermLicenses},
	fsm.RoleIT:             {PermRead, PermSelf, PermAck, PermCollectors, PermUpdates},
	fsm.RoleAuditor:        {PermRead, PermSelf, PermAudit},
	fsm.RoleViewer:         {PermRead, PermSelf},
}

// methodPerms is what each admin API call needs: any one of the
// permissions listed. A call missing here is refused to everyone, and
// TestEveryAdminCallHasAPermission fails, so a new call cannot be
// forgotten.
var methodPerms = map[string][]Perm{
	licmeshv1connect.AdminServiceGetStatusProcedure:              {PermRead},
	licmeshv1connect.AdminServiceUpdateStatusProcedure:           {PermRead},
	licmeshv1connect.AdminServiceCheckUpdatesProcedure:           {PermUpdates},
	licmeshv1connect.AdminServiceDownloadUpdateProcedure:         {PermUpdates},
	licmeshv1connect.AdminServiceInstallUpdateProcedure:          {PermUpdates},
	licmeshv1connect.AdminServiceRollbackUpdateProcedure:         {PermUpdates},
	licmeshv1connect.AdminServiceSetUpdateSettingsProcedure:      {PermUpdates},
	licmeshv1connect.AdminServiceListMembersProcedure:            {PermRead},
	licmeshv1connect.AdminServiceRemovePeerProcedure:             {PermCluster},
	licmeshv1connect.AdminServiceCreatePoolProcedure:             {PermLicenses},
	licmeshv1connect.AdminServiceListPoolsProcedure:              {PermRead},
	licmeshv1connect.AdminServiceListLeasesProcedure:             {PermRead},
	licmeshv1connect.AdminServiceCreateTokenProcedure:            {PermSelf}, // and the token's own rule: createToken
	licmeshv1connect.AdminServiceListTokensProcedure:             {PermSelf}, // one's own, or all with collectors or users
	licmeshv1connect.AdminServiceRevokeTokenProcedure:            {PermSelf}, // as ListTokens
	licmeshv1connect.AdminServiceListCollectorsProcedure:         {PermRead},
	licmeshv1connect.AdminServiceAddLicenseProcedure:             {PermLicenses},
	licmeshv1connect.AdminServiceListLicensesProcedure:           {PermRead},
	licmeshv1connect.AdminServiceGetLicenseProcedure:             {PermRead},
	licmeshv1connect.AdminServiceRemoveLicenseProcedure:          {PermLicenses},
	licmeshv1connect.AdminServiceUsageOverviewProcedure:          {PermRead},
	licmeshv1connect.AdminServiceUsageHistoryProcedure:           {PermRead},
	licmeshv1connect.AdminServiceUsageMonthProcedure:             {PermRead},
	licmeshv1connect.AdminServiceUsageDaysProcedure:              {PermRead},
	licmeshv1connect.AdminServiceListHubCompaniesProcedure:       {PermLicenses},
	licmeshv1connect.AdminServiceActivateClusterProcedure:        {PermLicenses},
	licmeshv1connect.AdminServiceStartClusterTrialProcedure:      {PermLicenses},
	licmeshv1connect.AdminServiceMakeActivationRequestProcedure:  {PermLicenses},
	licmeshv1connect.AdminServiceGetUpstreamProcedure:            {PermRead},
	licmeshv1connect.AdminServiceCheckLicensesNowProcedure:       {PermLicenses},
	licmeshv1connect.AdminServiceExportUsageProcedure:            {PermLicenses},
	licmeshv1connect.AdminServiceImportUsageReceiptProcedure:     {PermLicenses},
	licmeshv1connect.AdminServiceListAlertsProcedure:             {PermRead},
	licmeshv1connect.AdminServiceAckAlertProcedure:               {PermAck},
	licmeshv1connect.AdminServiceListAlertRulesProcedure:         {PermRead},
	licmeshv1connect.AdminServiceSetAlertRuleProcedure:           {PermLicenses},
	licmeshv1connect.AdminServiceListAlertChannelsProcedure:      {PermRead},
	licmeshv1connect.AdminServiceSetAlertChannelProcedure:        {PermLicenses},
	licmeshv1connect.AdminServiceRemoveAlertChannelProcedure:     {PermLicenses},
	licmeshv1connect.AdminServiceTestAlertChannelProcedure:       {PermLicenses},
	licmeshv1connect.AdminServiceListAlertDeliveriesProcedure:    {PermRead},
	licmeshv1connect.AdminServiceGetCallerProcedure:              {PermSelf},
	licmeshv1connect.AdminServiceCreateUserProcedure:             {PermUsers},
	licmeshv1connect.AdminServiceListUsersProcedure:              {PermUsers, PermAudit},
	licmeshv1connect.AdminServiceUpdateUserProcedure:             {PermUsers},
	licmeshv1connect.AdminServiceChangeOwnPasswordProcedure:      {PermSelf},
	licmeshv1connect.AdminServiceListAuditLogProcedure:           {PermAudit},
	licmeshv1connect.AdminServiceGetAlertPrefsProcedure:          {PermSelf}, // one's own, or anyone's with users
	licmeshv1connect.AdminServiceSetAlertPrefsProcedure:          {PermSelf}, // as GetAlertPrefs
	licmeshv1connect.AdminServiceMarkAlertsReadProcedure:         {PermSelf},
	licmeshv1connect.AdminServiceListDepartmentsProcedure:        {PermRead},
	licmeshv1connect.AdminServiceSetDepartmentProcedure:          {PermLicenses},
	licmeshv1connect.AdminServiceSetReservationProcedure:         {PermLicenses},
	licmeshv1connect.AdminServiceListAssignmentsProcedure:        {PermRead},
	licmeshv1connect.AdminServiceGetReconciliationProcedure:      {PermRead},
	licmeshv1connect.AdminServiceGetUtilizationProcedure:         {PermRead},
	licmeshv1connect.AdminServiceSetLicenseCostProcedure:         {PermLicenses},
	licmeshv1connect.AdminServiceListLicenseCostsProcedure:       {PermRead},
	licmeshv1connect.AdminServiceRequestPurchaseProcedure:        {PermLicenses},
	licmeshv1connect.AdminServiceDecidePurchaseProcedure:         {PermUsers},
	licmeshv1connect.AdminServiceListPurchasesProcedure:          {PermRead},
	licmeshv1connect.AdminServiceExportPurchaseRequestsProcedure: {PermLicenses},
}

// Principal is who made a request, and what they may do.
type Principal struct {
	// ID is "user:NAME" for a person, "token:ID" for a token bound to
	// nobody (the bootstrap admin token and the admin tokens made before
	// accounts).
	ID string
	// User is the account, empty for a token bound to nobody.
	User string
	// Role is the role the request acts with: the token's, or the user's
	// for a password sign-in.
	Role fsm.Role
	// TokenID is the API token the request carried, if any.
	TokenID string
	// Epoch is the account's session epoch at sign-in.
	Epoch uint64
	// Index is the state's applied index when the principal was last
	// checked: a master behind it has not seen the account yet.
	Index uint64
	perms []Perm
}

// Can reports whether p holds perm.
func (p Principal) Can(perm Perm) bool { return slices.Contains(p.perms, perm) }

// Perms lists what p may do, sorted.
func (p Principal) Perms() []string {
	out := make([]string, len(p.perms))
	for i, x := range p.perms {
		out[i] = string(x)
	}
	slices.Sort(out)
	return out
}

// mayCall reports whether p may make the admin API call procedure.
func (p Principal) mayCall(procedure string) bool {
	return slices.ContainsFunc(methodPerms[procedure], p.Can)
}

// intersect returns the permissions both roles hold: a user's token acts
// with no more than its user may do now, whatever it was made with.
func intersect(a, b fsm.Role) []Perm {
	var out []Perm
	for _, p := range rolePerms[a] {
		if slices.Contains(rolePerms[b], p) {
			out = append(out, p)
		}
	}
	return out
}

// roleCovers reports whether every permission of sub is one of role's.
func roleCovers(role, sub fsm.Role) bool {
	for _, p := range rolePerms[sub] {
		if !slices.Contains(rolePerms[role], p) {
			return false
		}
	}
	return true
}

// principalKey carries a request's Principal in its context.
type principalKey struct{}

func withPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principalFrom returns the request's Principal; ok is false for a call
// that did not come through authentication (the master's own).
func principalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// checkToken authenticates an API token against the replicated state: the
// bootstrap admin token, or a token of a user role that is neither revoked
// nor expired and whose user, if it has one, is enabled. Every refusal is
// ErrUnauthorized, whatever the reason, so a caller learns nothing about
// which tokens exist.
func (s *Server) checkToken(text string) (Principal, error) {
	tok, err := pki.ParseAdminToken(strings.TrimSpace(text))
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	hash := pki.HashSecret(tok.Secret)
	id := string(tok.ID)
	if info, ok := s.fsm.Cluster(); ok && info.AdminTokenID == id {
		if subtle.ConstantTimeCompare(info.AdminTokenHash[:], hash[:]) == 1 {
			return bootstrapPrincipal(id), nil
		}
		return Principal{}, ErrUnauthorized
	}
	t, ok := s.fsm.Token(id)
	if !ok && s.catchUp(func() bool { _, ok := s.fsm.Token(id); return ok }) {
		t, ok = s.fsm.Token(id)
	}
	if !ok || !t.Role.UserRole() || subtle.ConstantTimeCompare(t.SecretHash[:], hash[:]) != 1 {
		return Principal{}, ErrUnauthorized
	}
	return s.tokenPrincipal(t)
}

// bootstrapPrincipal is the cluster's first admin token's.
func bootstrapPrincipal(id string) Principal {
	return Principal{ID: "token:" + id, Role: fsm.RoleAdmin, TokenID: id, perms: rolePerms[fsm.RoleAdmin]}
}

// tokenPrincipal is who token t speaks for, as long as it and the person
// it was issued to still stand.
func (s *Server) tokenPrincipal(t fsm.Token) (Principal, error) {
	if t.Revoked || (t.ExpiresAt != 0 && s.now().UnixMilli() >= t.ExpiresAt) {
		return Principal{}, ErrUnauthorized
	}
	p := Principal{ID: "token:" + t.ID, Role: t.Role, TokenID: t.ID, perms: rolePerms[t.Role]}
	if t.User == "" {
		return p, nil
	}
	u, ok := s.fsm.User(t.User)
	if !ok || u.Disabled {
		return Principal{}, ErrUnauthorized
	}
	p.ID, p.User, p.Epoch, p.perms = "user:"+u.Name, u.Name, u.Epoch, intersect(t.Role, u.Role)
	return p, nil
}

// checkPassword authenticates a person's password sign-in, on state no
// older than the leader's when it is called: a user disabled, removed or
// given a new password through another master a moment ago is judged so
// here too, whichever master the person signs in to. A follower that
// cannot learn the leader's commit index refuses to judge (it says so,
// wrapping ErrNoLeader and dashboard.ErrSignInUnavailable).
func (s *Server) checkPassword(ctx context.Context, name, password string) (Principal, error) {
	if !s.signins.allow(name, s.now()) {
		return Principal{}, fmt.Errorf("%w: %w", ErrUnauthorized, errThrottled)
	}
	if err := s.catchUpWithLeader(ctx); err != nil {
		return Principal{}, err
	}
	u, ok := s.fsm.User(name)
	hash := u.PasswordHash
	if !ok {
		// Spend the same time on a name that does not exist, so timing
		// does not tell which names do.
		hash = s.signins.decoy
	}
	if !pki.VerifyPassword(hash, password) || !ok || u.Disabled {
		s.signins.failed(name, s.now())
		return Principal{}, ErrUnauthorized
	}
	s.signins.succeeded(name)
	return userPrincipal(u), nil
}

// catchUpWait bounds how long a follower waits for a token or account it
// does not know to arrive: one made through another master a moment ago
// may not have reached this one yet. A made-up token on a follower costs
// its bearer this long, which is no loss.
const catchUpWait = 500 * time.Millisecond

// catchUp waits on a follower, up to catchUpWait, until found reports
// true, and says whether it did. The leader knows everything committed.
func (s *Server) catchUp(found func() bool) bool {
	if s.node.IsLeader() {
		return false
	}
	deadline := time.Now().Add(catchUpWait)
	for time.Now().Before(deadline) {
		if found() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return found()
}

// catchUpWithLeader returns once this master has applied everything the
// leader had committed when it was called. The leader has already.
func (s *Server) catchUpWithLeader(ctx context.Context) error {
	if s.node.IsLeader() {
		return nil
	}
	// A leader elected a moment ago answers once it has taken over:
	// ask again for a little while rather than refuse at once.
	ctx, cancel := context.WithTimeout(ctx, readIndexPatience)
	defer cancel()
	var commit, applied uint64
	var err error
	for {
		if commit, applied, err = s.readIndexes(ctx); err == nil || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err != nil {
		s.log.Warn("master: a sign-in was refused: the leader's commit index could not be had", "err", err)
		return fmt.Errorf("%w: %w: %w", dashboard.ErrSignInUnavailable, ErrNoLeader, err)
	}
	if applied != 0 {
		s.waitApplied(ctx, applied)
		if got := s.fsm.AppliedIndex(); got < applied {
			return fmt.Errorf("%w: %w: applied %d of the leader's %d", dashboard.ErrSignInUnavailable, ErrNoLeader, got, applied)
		}
		return nil
	}
	// A leader of an older release gives its commit index only, which may
	// be an entry the state machine never sees (a barrier): wait on Raft's
	// own applied index, as catching up at start does.
	r := s.node.Raft()
	for r.AppliedIndex() < commit && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
	}
	if r.AppliedIndex() < commit {
		return fmt.Errorf("%w: %w: applied %d of the leader's %d", dashboard.ErrSignInUnavailable, ErrNoLeader, r.AppliedIndex(), commit)
	}
	return nil
}

// readIndexPatience bounds how long a follower asks for the leader's commit
// index before it refuses to judge a sign-in.
const readIndexPatience = 3 * time.Second

// errThrottled says a name failed to sign in too often of late.
var errThrottled = errors.New("too many failed sign-ins")

func userPrincipal(u fsm.User) Principal {
	return Principal{ID: "user:" + u.Name, User: u.Name, Role: u.Role, Epoch: u.Epoch, perms: rolePerms[u.Role]}
}

// recheck says whether a session made for p still stands, and with what it
// acts now: the user is enabled and at the same epoch (no new password,
// role or sign-out everywhere since), or the token is still good.
func (s *Server) recheck(p Principal) (Principal, error) {
	if p.Index > 0 && s.fsm.AppliedIndex() < p.Index &&
		!s.catchUp(func() bool { return s.fsm.AppliedIndex() >= p.Index }) {
		return Principal{}, fmt.Errorf("%w: applied %d, the session was made at %d", dashboard.ErrSessionUnavailable, s.fsm.AppliedIndex(), p.Index)
	}
	q, err := s.recheckState(p)
	q.Index = max(p.Index, s.fsm.AppliedIndex())
	return q, err
}

func (s *Server) recheckState(p Principal) (Principal, error) {
	if p.TokenID != "" {
		if info, boot := s.fsm.Cluster(); boot && info.AdminTokenID == p.TokenID {
			return bootstrapPrincipal(p.TokenID), nil
		}
		t, ok := s.fsm.Token(p.TokenID)
		if !ok {
			return Principal{}, ErrUnauthorized
		}
		return s.tokenPrincipal(t)
	}
	u, ok := s.fsm.User(p.User)
	if !ok || u.Disabled || u.Epoch != p.Epoch {
		return Principal{}, ErrUnauthorized
	}
	return userPrincipal(u), nil
}
