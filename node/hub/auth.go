package hub

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/node/hub/store"
)

// apiKeyPrefix starts every hub API key: "lmh1.<key id>.<secret>". The ID
// finds the key, the secret (32 random bytes) proves it; only the secret's
// SHA-256 is stored.
const apiKeyPrefix = "lmh1."

// sessionCookie carries a signed-in browser's session secret.
const sessionCookie = "lmhub_session"

// csrfHeader carries the session's CSRF token on API calls made from the
// pages; forms carry it as the csrf field.
const csrfHeader = "X-CSRF-Token"

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// newAPIKey makes a key's full secret text and the record to store.
func newAPIKey(account store.AccountID, name string, now time.Time) (text string, k store.APIKey) {
	secret := randomSecret()
	k = store.APIKey{ID: store.NewAPIKeyID(), Account: account, Name: name, SecretHash: hashSecret(secret), CreatedAt: now}
	return apiKeyPrefix + string(k.ID) + "." + secret, k
}

// parseAPIKey splits a key's text into its ID and secret.
func parseAPIKey(text string) (store.APIKeyID, string, error) {
	rest, ok := strings.CutPrefix(text, apiKeyPrefix)
	if !ok {
		return "", "", fmt.Errorf("%w: not a hub API key (lmh1...)", ErrUnauthenticated)
	}
	id, secret, ok := strings.Cut(rest, ".")
	if !ok || !store.APIKeyID(id).Valid() || len(secret) != 43 {
		return "", "", fmt.Errorf("%w: malformed API key", ErrUnauthenticated)
	}
	return store.APIKeyID(id), secret, nil
}

// principal is who a request acts as.
type principal struct {
	store.Account
	// session is set when the request came from a signed-in browser.
	session *store.Session
}

// actor names the principal in the audit log.
func (p *principal) actor() string { return p.Email }

// authenticate finds who r acts as: an API key in Authorization, or a
// session cookie (whose unsafe requests must carry the CSRF token).
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	ctx := r.Context()
	now := s.clk.Now()
	if h := r.Header.Get("Authorization"); h != "" {
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, fmt.Errorf("%w: Authorization must be Bearer <API key>", ErrUnauthenticated)
		}
		id, secret, err := parseAPIKey(strings.TrimSpace(token))
		if err != nil {
			return nil, err
		}
		// A read: authenticating must not take SQLite's write lock, which
		// would queue every call behind every write.
		var p principal
		var lastUsed time.Time
		err = s.store.Read(ctx, func(tx *store.Tx) error {
			k, err := tx.APIKey(ctx, id)
			if err != nil {
				return err
			}
			if !constantTimeEqualHex(k.SecretHash, hashSecret(secret)) || !k.RevokedAt.IsZero() {
				return store.ErrNotFound
			}
			a, err := tx.Account(ctx, k.Account)
			if err != nil {
				return err
			}
			if !a.DisabledAt.IsZero() {
				return store.ErrNotFound
			}
			p.Account, lastUsed = a, k.LastUsedAt
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: unknown, revoked or disabled API key", ErrUnauthenticated)
		}
		if err != nil {
			return nil, err
		}
		// The last use is recorded at most once a minute: not a write per
		// call. Losing one to a concurrent call is harmless.
		if now.Sub(lastUsed) > time.Minute {
			if err := s.store.Tx(ctx, func(tx *store.Tx) error { return tx.TouchAPIKey(ctx, id, now) }); err != nil {
				s.log.Warn("hub: recording an API key's use failed", "api_key", id, "err", err)
			}
		}
		return &p, nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, fmt.Errorf("%w: sign in, or send an API key", ErrUnauthenticated)
	}
	var p principal
	err = s.store.Read(ctx, func(tx *store.Tx) error {
		sess, err := tx.Session(ctx, hashSecret(c.Value), now)
		if err != nil {
			return err
		}
		a, err := tx.Account(ctx, sess.Account)
		if err != nil {
			return err
		}
		if !a.DisabledAt.IsZero() {
			return store.ErrNotFound
		}
		p.Account, p.session = a, &sess
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: the session has ended; sign in again", ErrUnauthenticated)
	}
	if err != nil {
		return nil, err
	}
	token := r.Header.Get(csrfHeader)
	// A multipart body (a release upload) is streamed by its handler:
	// parsing it here for the token would spool it whole first. Such a
	// request carries the token in the header.
	if token == "" && !safeMethod(r.Method) && !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		token = r.PostFormValue("csrf")
	}
	if !safeMethod(r.Method) && !constantTimeEqualHex(hashSecret(token), hashSecret(p.session.CSRF)) {
		return nil, fmt.Errorf("%w: missing or wrong CSRF token", ErrPermission)
	}
	return &p, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func constantTimeEqualHex(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := range len(a) {
		v |= a[i] ^ b[i]
	}
	return v == 0
}

// Actions a role may take. Each API call names one; allowed says which
// roles may. Scoping (a reseller's own customers, a customer's own
// company) is checked by the call itself.
type action string

const (
	actRead          action = "read"           // products, companies, licenses, history
	actManageLicense action = "license.manage" // products, companies, licenses
	actReseller      action = "reseller.sell"  // companies, trials and packs for own customers
	actAdmin         action = "admin"          // accounts of staff, resellers, audit, keys
	actPortal        action = "portal"         // a customer's own company
	actRelease       action = "release.manage" // publish, edit and withdraw releases
)

var allowed = map[action][]store.Role{
	actRead:          {store.RoleAdmin, store.RoleLicenseManager, store.RoleReleaseManager, store.RoleSales},
	actManageLicense: {store.RoleAdmin, store.RoleLicenseManager},
	actReseller:      {store.RoleAdmin, store.RoleLicenseManager, store.RoleReseller},
	actAdmin:         {store.RoleAdmin},
	actPortal:        {store.RoleCustomer},
	actRelease:       {store.RoleAdmin, store.RoleReleaseManager},
}

// may reports whether p's role allows a.
func (p *principal) may(a action) bool { return slices.Contains(allowed[a], p.Role) }

// require returns ErrPermission unless p's role allows one of acts.
func (p *principal) require(acts ...action) error {
	for _, a := range acts {
		if p.may(a) {
			return nil
		}
	}
	return fmt.Errorf("%w: role %s may not do this", ErrPermission, p.Role)
}
