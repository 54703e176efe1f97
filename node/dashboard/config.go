package dashboard

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/clock"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// MinSessionKeyLen is the shortest Config.SessionKey accepted: 32 bytes, the
// size of the HMAC-SHA256 output it keys.
const MinSessionKeyLen = 32

// Source is the live view of the cluster that the dashboard renders. The
// master implements it over its own state; every method is called per
// request (every 2 s per open table while polling), so it should answer from
// memory. A method may be called concurrently with any other.
type Source interface {
	// Status is the answering master's view of the cluster.
	Status(ctx context.Context) (*licmeshv1.GetStatusResponse, error)
	// Members lists the masters.
	Members(ctx context.Context) ([]*licmeshv1.Member, error)
	// Collectors lists the enrolled collectors.
	Collectors(ctx context.Context) ([]*licmeshv1.Collector, error)
	// Pools lists the seat pools.
	Pools(ctx context.Context) ([]*licmeshv1.Pool, error)
	// Leases lists at most limit leases held in pool.
	Leases(ctx context.Context, pool string, limit int) ([]*licmeshv1.Lease, error)
	// Licenses lists the signed licenses in force, judged at the cluster's
	// trusted time, and whether this master's clock looks set back.
	Licenses(ctx context.Context) (*licmeshv1.ListLicensesResponse, error)
	// UsageOverview lists the months that have usage metrics, newest first,
	// and the installations that report them.
	UsageOverview(ctx context.Context) (*licmeshv1.UsageOverviewResponse, error)
	// UsageHistory returns one installation's months, newest first.
	UsageHistory(ctx context.Context, installation string) (*licmeshv1.UsageHistoryResponse, error)
	// UsageMonth returns every installation's metrics for one month, given
	// as "YYYY-MM".
	UsageMonth(ctx context.Context, month string) (*licmeshv1.UsageMonthResponse, error)
}

// AddLicenseFunc adds a pasted, armoured license to the cluster. Its error's
// text is shown to the operator verbatim, so it must name the problem and
// must not carry a secret.
type AddLicenseFunc func(ctx context.Context, text string) (*licmeshv1.License, error)

// HubFuncs link the Vendor hub page to the master's link with its
// vendor's hub (seed 001: activate with an API key and pick the company, or
// start a trial with an e-mail address). Every field is optional: a nil
// Status leaves the page without its live status, a nil action hides its
// form and refuses its POST. An error's text is shown to the operator
// verbatim, so it must name the problem and must not carry a secret (the
// API key least of all).
type HubFuncs struct {
	// Status says where the cluster stands with its hub. It is called per
	// request (every 5 s while the page is open), so it should answer from
	// memory.
	Status func(ctx context.Context) (*licmeshv1.GetUpstreamResponse, error)
	// Companies lists the companies the request's API key may activate the
	// cluster for; the key is for this call only. Activation needs it and
	// Activate both.
	Companies func(ctx context.Context, req *licmeshv1.ListHubCompaniesRequest) (*licmeshv1.ListHubCompaniesResponse, error)
	// Activate activates the cluster with the hub for one company, adding
	// the licenses the hub issued for it.
	Activate func(ctx context.Context, req *licmeshv1.ActivateClusterRequest) (*licmeshv1.ActivateClusterResponse, error)
	// Trial starts a trial for an e-mail address. An empty license ID in
	// the answer means the address already has an account, which the hub
	// has e-mailed instead.
	Trial func(ctx context.Context, req *licmeshv1.StartClusterTrialRequest) (*licmeshv1.StartClusterTrialResponse, error)
	// CheckNow asks the hub for the cluster's licenses at once, the daily
	// check, and says what changed.
	CheckNow func(ctx context.Context) (*licmeshv1.CheckLicensesNowResponse, error)
}

// AlertFuncs are the dashboard's way to the cluster's alerts.
type AlertFuncs struct {
	// List lists alerts as the request selects them.
	List func(ctx context.Context, req *licmeshv1.ListAlertsRequest) ([]*licmeshv1.Alert, error)
	// Ack acknowledges an alert for by, the signed-in principal.
	Ack func(ctx context.Context, key, by string) error
	// Read marks alerts read for the signed-in person: keys, or all.
	Read func(ctx context.Context, keys []string, all bool) error
	// Prefs and SetPrefs read and set the signed-in person's alert mail.
	Prefs    func(ctx context.Context) (*licmeshv1.AlertPrefs, error)
	SetPrefs func(ctx context.Context, p *licmeshv1.AlertPrefs) error
	// Channels, SetChannel, RemoveChannel and TestChannel manage the
	// channels; Deliveries lists the latest deliveries. Any nil leaves its
	// part of the page out.
	Channels      func(ctx context.Context) ([]*licmeshv1.AlertChannel, error)
	SetChannel    func(ctx context.Context, req *licmeshv1.SetAlertChannelRequest) error
	RemoveChannel func(ctx context.Context, id string) error
	TestChannel   func(ctx context.Context, id string) error
	Deliveries    func(ctx context.Context, req *licmeshv1.ListAlertDeliveriesRequest) ([]*licmeshv1.AlertDelivery, error)
}

// enabled reports whether the dashboard has a Vendor hub page at all.
func (f HubFuncs) enabled() bool {
	return f.Status != nil || f.canActivate() || f.Trial != nil || f.CheckNow != nil
}

func (f HubFuncs) canActivate() bool { return f.Companies != nil && f.Activate != nil }

// Principal is who a session belongs to, as Config.Auth names them. It is
// carried in the session cookie and shown on every page; it must not hold a
// secret.
type Principal struct {
	// ID names the user or token, e.g. "user:alice" or "token:<id>".
	ID string `json:"id"`
	// Role is the role the session acts with, e.g. "admin" or "viewer".
	Role string `json:"role"`
	// User, TokenID and Epoch are the caller's to read back in Check: the
	// account, the API token signed in with, the account's session epoch.
	User    string `json:"u,omitempty"`
	TokenID string `json:"t,omitempty"`
	Epoch   uint64 `json:"e,omitempty"`
	// Index is the caller's too: the state's version the sign-in saw, so
	// that a master behind it knows to wait rather than refuse.
	Index uint64 `json:"i,omitempty"`
	// Perms are what the role allows (docs/accounts.md): the dashboard
	// shows a form only to a principal with its permission ("licenses" to
	// add licenses and link the hub, "ack" to acknowledge alerts), and
	// refuses its POST to anyone else.
	Perms []string `json:"perms,omitempty"`
}

// Can reports whether p holds perm.
func (p Principal) Can(perm string) bool { return slices.Contains(p.Perms, perm) }

// can reports whether the request whose context ctx is may do perm: its
// principal holds it.
func can(ctx context.Context, perm string) bool {
	p, ok := PrincipalFrom(ctx)
	return ok && p.Can(perm)
}

// Credentials are what the sign-in form posted: a user name and password,
// or an API token.
type Credentials struct {
	User     string
	Password string
	Token    string
}

// AuthFunc checks the sign-in form's credentials and says whose they are.
// Any error refuses the sign-in; the error is logged without the secret,
// and its text is shown only if it wraps ErrSignInThrottled.
type AuthFunc func(ctx context.Context, c Credentials) (Principal, error)

// CheckFunc says whether a session made for p still stands and returns p as
// it is now (a new role, new permissions); an error ends the session. It is
// called on every request, so it should answer from memory.
type CheckFunc func(ctx context.Context, p Principal) (Principal, error)

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of the request whose context ctx is
// (or derives from): the dashboard puts it into every context it hands to
// Source and the Config's functions, so that they can check it too.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Config configures a Handler.
type Config struct {
	// Source supplies the data shown. Required.
	Source Source
	// Auth checks credentials at sign-in. Required.
	Auth AuthFunc
	// Check re-checks a session on every request, so that a disabled
	// account, a changed password or a revoked token ends it at once; nil
	// keeps a session until it expires.
	Check CheckFunc
	// SessionKey keys the HMAC that signs session cookies and CSRF tokens;
	// at least MinSessionKeyLen random bytes. Sessions survive a restart only
	// if the key does, and every master that may serve the same browser
	// behind one address needs the same key. Required.
	SessionKey []byte
	// Clock is the time for session expiry and relative times.
	Clock clock.Clock
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration
	// Prefix is the path the handler is mounted under, without a trailing
	// slash; the caller routes Prefix+"/" (and Prefix) to the Handler
	// without stripping it.
	Prefix string
	// AddLicense adds a license pasted on the licenses page; nil hides the
	// paste box and refuses the form.
	AddLicense AddLicenseFunc
	// Hub serves the Vendor hub page; its zero value leaves the page and
	// its nav link out.
	Hub HubFuncs
	// Alerts serves the Alerts page and the count in the nav; its zero
	// value leaves them out.
	Alerts AlertFuncs
	// Allocation serves the Allocation page (departments, purchase
	// requests); a nil Departments leaves it out.
	Allocation AllocationFuncs
	// Utilization serves the Reports page and its downloads; nil leaves
	// them out.
	Utilization UtilizationFunc
	// Compliance serves the Compliance page; nil leaves it out.
	Compliance ComplianceFunc
	// Updates serves the Updates page (seed 001, in-app update); a nil
	// Updates.Status leaves it out.
	Updates UpdateFuncs
	// Audit serves the Audit log page and its exports, shown to principals
	// with PermAudit; its zero value leaves them out.
	Audit AuditFuncs
	// LeaseLimit caps the leases listed on a pool's page, and the leases read
	// per pool to count a license's clients.
	LeaseLimit int
	// Logger receives sign-in refusals and Source errors; nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every optional field set; the caller
// adds Source, Auth and SessionKey.
func DefaultConfig() Config {
	return Config{
		Clock:      clock.System{},
		SessionTTL: 12 * time.Hour,
		Prefix:     "/ui",
		LeaseLimit: 500,
		Logger:     slog.New(slog.DiscardHandler),
	}
}

// withDefaults fills the zero optional fields from DefaultConfig, so a
// caller may set only the required ones.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Clock == nil {
		c.Clock = d.Clock
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = d.SessionTTL
	}
	if c.Prefix == "" {
		c.Prefix = d.Prefix
	}
	if c.LeaseLimit == 0 {
		c.LeaseLimit = d.LeaseLimit
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	return c
}

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	switch {
	case c.Source == nil:
		return ErrNoSource
	case c.Auth == nil:
		return ErrNoAuth
	case len(c.SessionKey) < MinSessionKeyLen:
		return fmt.Errorf("SessionKey has %d bytes, want at least %d: %w", len(c.SessionKey), MinSessionKeyLen, ErrSessionKey)
	case c.Clock == nil:
		return ErrNoClock
	case c.SessionTTL <= 0:
		return fmt.Errorf("SessionTTL %v: %w", c.SessionTTL, ErrSessionTTL)
	case c.LeaseLimit <= 0:
		return fmt.Errorf("LeaseLimit %d: %w", c.LeaseLimit, ErrLeaseLimit)
	}
	return validatePrefix(c.Prefix)
}

func validatePrefix(p string) error {
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") ||
		strings.ContainsAny(p, "{}?#%\\ \t\r\n") {
		return fmt.Errorf("dashboard: prefix %q must be an absolute path like /ui, without a trailing slash: %w", p, ErrPrefix)
	}
	return nil
}
