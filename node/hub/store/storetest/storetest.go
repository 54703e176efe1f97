// Package storetest is the hub store's conformance suite: every test runs
// on every engine (embedded SQLite and a real PostgreSQL), so that the two
// behave the same by proof rather than by promise.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/node/hub/store"
)

// Opener opens a fresh, empty store for one test.
type Opener func(t *testing.T) *store.Store

// T0 is the suite's clock: a millisecond-exact UTC time, as the store
// keeps them.
var T0 = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

// Run runs the suite against open.
func Run(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		f    func(t *testing.T, s *store.Store)
	}{
		{"Accounts", testAccounts},
		{"APIKeysAndSessions", testAPIKeysAndSessions},
		{"Audit", testAudit},
		{"VendorKeys", testVendorKeys},
		{"Companies", testCompanies},
		{"ProductVersions", testProductVersions},
		{"Licenses", testLicenses},
		{"Subscriptions", testSubscriptions},
		{"Erase", testErase},
		{"TxRollsBack", testTxRollsBack},
		{"ConcurrentWriters", testConcurrentWriters},
		{"SignupTokens", testSignupTokens},
		{"Signups", testSignups},
		{"MailOutbox", testMailOutbox},
		{"Sites", testSites},
		{"SitesChain", testSitesChain},
		{"SitesClosedMonths", testSitesClosedMonths},
		{"SitesLicenses", testSitesLicenses},
		{"SitesInstallations", testSitesInstallations},
		{"VendorAlerts", testVendorAlerts},
		{"QuoteRequests", testQuoteRequests},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, open(t)) })
	}
}

func tx(t *testing.T, s *store.Store, f func(tx *store.Tx) error) {
	t.Helper()
	require.NoError(t, s.Tx(context.Background(), f))
}

func staff(role store.Role, email string) store.Account {
	return store.Account{ID: store.NewAccountID(), Email: email, Name: "Staff " + email, Role: role, PasswordHash: "$argon2id$fake", CreatedAt: T0}
}

func testAccounts(t *testing.T, s *store.Store) {
	ctx := context.Background()
	a := staff(store.RoleAdmin, "Admin@Example.COM")
	tx(t, s, func(tx *store.Tx) error {
		got, err := tx.CreateAccount(ctx, a)
		assert.Equal(t, "admin@example.com", got.Email, "emails are kept in lower case")
		return err
	})
	// The same address in another case is the same account.
	err := s.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.CreateAccount(ctx, staff(store.RoleSales, "ADMIN@example.com"))
		return err
	})
	require.ErrorIs(t, err, store.ErrConflict)
	for name, bad := range map[string]store.Account{
		"bad email":             staff(store.RoleAdmin, "not an address"),
		"two addresses":         staff(store.RoleAdmin, "a@x.com, b@x.com"),
		"unknown role":          staff("root", "r@x.com"),
		"customer, no company":  staff(store.RoleCustomer, "c@x.com"),
		"reseller, no reseller": staff(store.RoleReseller, "rs@x.com"),
		"no password":           {ID: store.NewAccountID(), Email: "p@x.com", Name: "P", Role: store.RoleSales},
		"bad ID":                {ID: "acc_x", Email: "i@x.com", Name: "I", Role: store.RoleSales, PasswordHash: "h"},
	} {
		err := s.Tx(ctx, func(tx *store.Tx) error { _, err := tx.CreateAccount(ctx, bad); return err })
		require.ErrorIs(t, err, store.ErrInvalid, name)
	}
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		got, err := tx.AccountByEmail(ctx, "admin@EXAMPLE.com")
		require.NoError(t, err)
		assert.Equal(t, a.ID, got.ID)
		assert.Equal(t, T0, got.CreatedAt)
		assert.True(t, got.DisabledAt.IsZero())
		_, err = tx.AccountByEmail(ctx, "nobody@example.com")
		assert.ErrorIs(t, err, store.ErrNotFound)
		all, err := tx.ListAccounts(ctx, store.AccountFilter{})
		require.NoError(t, err)
		assert.Len(t, all, 1, "refused accounts were not stored")
		return nil
	}))
	tx(t, s, func(tx *store.Tx) error { return tx.SetPassword(ctx, a.ID, "$argon2id$new") })
	tx(t, s, func(tx *store.Tx) error { return tx.DisableAccount(ctx, a.ID, T0.Add(time.Hour)) })
	err = s.Tx(ctx, func(tx *store.Tx) error { return tx.DisableAccount(ctx, a.ID, T0.Add(2*time.Hour)) })
	require.ErrorIs(t, err, store.ErrNotFound, "disabling twice")
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		got, err := tx.Account(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, "$argon2id$new", got.PasswordHash)
		assert.Equal(t, T0.Add(time.Hour), got.DisabledAt)
		return nil
	}))
}

func testAPIKeysAndSessions(t *testing.T, s *store.Store) {
	ctx := context.Background()
	a := staff(store.RoleLicenseManager, "lm@example.com")
	k := store.APIKey{ID: store.NewAPIKeyID(), Account: a.ID, Name: "ci", SecretHash: "hash1", CreatedAt: T0}
	tx(t, s, func(tx *store.Tx) error {
		if _, err := tx.CreateAccount(ctx, a); err != nil {
			return err
		}
		if err := tx.CreateAPIKey(ctx, k); err != nil {
			return err
		}
		return tx.CreateSession(ctx, store.Session{IDHash: "sess1", Account: a.ID, CSRF: "csrf1", Remote: "127.0.0.1", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)})
	})
	tx(t, s, func(tx *store.Tx) error { return tx.TouchAPIKey(ctx, k.ID, T0.Add(time.Minute)) })
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		got, err := tx.APIKey(ctx, k.ID)
		require.NoError(t, err)
		assert.Equal(t, "hash1", got.SecretHash)
		assert.Equal(t, T0.Add(time.Minute), got.LastUsedAt)
		sess, err := tx.Session(ctx, "sess1", T0.Add(59*time.Minute))
		require.NoError(t, err)
		assert.Equal(t, "csrf1", sess.CSRF)
		_, err = tx.Session(ctx, "sess1", T0.Add(time.Hour))
		assert.ErrorIs(t, err, store.ErrNotFound, "an expired session is no session")
		return nil
	}))
	other := staff(store.RoleSales, "sales@example.com")
	tx(t, s, func(tx *store.Tx) error { _, err := tx.CreateAccount(ctx, other); return err })
	err := s.Tx(ctx, func(tx *store.Tx) error { return tx.RevokeAPIKey(ctx, other.ID, k.ID, T0) })
	require.ErrorIs(t, err, store.ErrNotFound, "another account's key")
	tx(t, s, func(tx *store.Tx) error { return tx.RevokeAPIKey(ctx, a.ID, k.ID, T0.Add(2*time.Minute)) })
	err = s.Tx(ctx, func(tx *store.Tx) error { return tx.RevokeAPIKey(ctx, a.ID, k.ID, T0) })
	require.ErrorIs(t, err, store.ErrNotFound, "revoking twice")

	// Disabling an account ends its sessions and keys.
	k2 := store.APIKey{ID: store.NewAPIKeyID(), Account: a.ID, Name: "second", SecretHash: "hash2", CreatedAt: T0}
	tx(t, s, func(tx *store.Tx) error { return tx.CreateAPIKey(ctx, k2) })
	tx(t, s, func(tx *store.Tx) error { return tx.DisableAccount(ctx, a.ID, T0.Add(3*time.Minute)) })
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		_, err := tx.Session(ctx, "sess1", T0)
		assert.ErrorIs(t, err, store.ErrNotFound)
		keys, err := tx.ListAPIKeys(ctx, a.ID)
		require.NoError(t, err)
		require.Len(t, keys, 2)
		for _, k := range keys {
			assert.False(t, k.RevokedAt.IsZero(), "key %s still active", k.Name)
		}
		return nil
	}))

	// Sign-ins: recorded, counted, pruned by age.
	tx(t, s, func(tx *store.Tx) error {
		for i, ok := range []bool{false, false, true} {
			if err := tx.RecordSignin(ctx, store.Signin{At: T0.Add(time.Duration(i) * time.Minute), Email: "lm@example.com", Account: a.ID, OK: ok, Remote: "10.0.0.1"}); err != nil {
				return err
			}
		}
		return tx.RecordSignin(ctx, store.Signin{At: T0.Add(-48 * time.Hour), Email: "ghost@example.com", Remote: "10.0.0.2"})
	})
	tx(t, s, func(tx *store.Tx) error {
		n, err := tx.FailedSignins(ctx, "lm@example.com", T0)
		assert.Equal(t, 2, n)
		if err != nil {
			return err
		}
		pruned, err := tx.Prune(ctx, T0.Add(-24*time.Hour), T0)
		assert.EqualValues(t, 1, pruned, "the old sign-in")
		return err
	})
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		all, err := tx.Signins(ctx, time.Time{}, 100)
		require.NoError(t, err)
		require.Len(t, all, 3)
		assert.True(t, all[0].OK, "newest first")
		assert.Equal(t, a.ID, all[0].Account)
		return nil
	}))
}

func testAudit(t *testing.T, s *store.Store) {
	ctx := context.Background()
	tx(t, s, func(tx *store.Tx) error {
		for i := range 5 {
			if err := tx.Audit(ctx, store.AuditEntry{At: T0.Add(time.Duration(i) * time.Second), Actor: "admin@example.com", Action: "product.save", Target: "sku" + string(rune('a'+i)), Remote: "127.0.0.1"}); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.Tx(ctx, func(tx *store.Tx) error { return tx.Audit(ctx, store.AuditEntry{At: T0}) })
	require.ErrorIs(t, err, store.ErrInvalid)
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		page, err := tx.AuditLog(ctx, time.Time{}, 2)
		require.NoError(t, err)
		require.Len(t, page, 2)
		assert.Equal(t, "skue", page[0].Target, "newest first")
		next, err := tx.AuditLog(ctx, page[1].At, 10)
		require.NoError(t, err)
		require.Len(t, next, 3)
		assert.Equal(t, "skuc", next[0].Target)
		return nil
	}))
}

func testVendorKeys(t *testing.T, s *store.Store) {
	ctx := context.Background()
	err := s.Read(ctx, func(tx *store.Tx) error { _, err := tx.SigningKey(ctx); return err })
	require.ErrorIs(t, err, store.ErrNotFound)
	tx(t, s, func(tx *store.Tx) error {
		return tx.AddVendorKey(ctx, store.VendorKey{KeyID: "v1", PublicKey: "v1:pub", PrivateKeySealed: "sealed1", CreatedAt: T0})
	})
	tx(t, s, func(tx *store.Tx) error {
		return tx.AddVendorKey(ctx, store.VendorKey{KeyID: "v2", PublicKey: "v2:pub", PrivateKeySealed: "sealed2", CreatedAt: T0.Add(time.Hour)})
	})
	err = s.Tx(ctx, func(tx *store.Tx) error {
		return tx.AddVendorKey(ctx, store.VendorKey{KeyID: "v1", PublicKey: "x", PrivateKeySealed: "y", CreatedAt: T0.Add(2 * time.Hour)})
	})
	require.ErrorIs(t, err, store.ErrConflict, "a key ID is used once")
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		k, err := tx.SigningKey(ctx)
		require.NoError(t, err)
		assert.Equal(t, "v2", k.KeyID, "the newest key signs")
		all, err := tx.VendorKeys(ctx)
		require.NoError(t, err)
		require.Len(t, all, 2)
		assert.Equal(t, T0.Add(time.Hour), all[0].RetiredAt, "the old key is retired, still listed")
		return nil
	}))
}

func company(name string, reseller store.ResellerID) store.Company {
	return store.Company{ID: store.NewCompanyID(), Name: name, Email: "it@" + name + ".example", Reseller: reseller, CreatedAt: T0}
}

func testCompanies(t *testing.T, s *store.Store) {
	ctx := context.Background()
	r1 := store.Reseller{ID: store.NewResellerID(), Name: "Partner One", CreatedAt: T0}
	r2 := store.Reseller{ID: store.NewResellerID(), Name: "Partner Two", CreatedAt: T0}
	acme, globex, initech := company("acme", r1.ID), company("globex", r2.ID), company("initech", "")
	tx(t, s, func(tx *store.Tx) error {
		for _, r := range []store.Reseller{r1, r2} {
			if err := tx.CreateReseller(ctx, r); err != nil {
				return err
			}
		}
		for _, c := range []store.Company{acme, globex, initech} {
			if _, err := tx.CreateCompany(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.Tx(ctx, func(tx *store.Tx) error {
		return tx.CreateReseller(ctx, store.Reseller{ID: store.NewResellerID(), Name: "Partner One"})
	})
	require.ErrorIs(t, err, store.ErrConflict)
	err = s.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.CreateCompany(ctx, company("orphan", store.NewResellerID()))
		return err
	})
	require.Error(t, err, "a company of an unknown reseller")
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		all, err := tx.ListCompanies(ctx, "")
		require.NoError(t, err)
		assert.Len(t, all, 3)
		mine, err := tx.ListCompanies(ctx, r1.ID)
		require.NoError(t, err)
		require.Len(t, mine, 1, "a reseller sees its own customers only")
		assert.Equal(t, acme.ID, mine[0].ID)
		return nil
	}))
	tx(t, s, func(tx *store.Tx) error {
		for i, kind := range []string{"trial.created", "trial.extended", "license.issued"} {
			if err := tx.RecordEvent(ctx, store.Event{Company: acme.ID, At: T0.Add(time.Duration(i) * time.Hour), Kind: kind, Detail: kind}); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		h, err := tx.History(ctx, acme.ID)
		require.NoError(t, err)
		require.Len(t, h, 3)
		assert.Equal(t, "license.issued", h[0].Kind, "newest first")
		return nil
	}))
}

func product(sku string) store.Product {
	return store.Product{
		SKU: license.SKU(sku), Name: "Timesheet Admin User", Application: "orektic__timesheet", AppVersion: "2.1.0",
		Type: license.Subscription, Billing: license.Annually, TrialCount: 14, TrialUnit: license.Day,
		TrialTemplate:   []license.TemplateEntry{{Name: "orektic__timesheetAdminUser", Users: 5}},
		LicenseTemplate: []license.TemplateEntry{{Name: "orektic__timesheetAdminUser", Users: 1, UsersCalculation: license.Fixed}},
		Features:        []license.Feature{{Name: "orektic__timesheet", Type: license.Checkbox, Scope: license.Instance}},
		CreatedAt:       T0,
	}
}

func testProductVersions(t *testing.T, s *store.Store) {
	ctx := context.Background()
	p := product("timesheet-admin")
	var saved store.Product
	tx(t, s, func(tx *store.Tx) (err error) { saved, err = tx.SaveProduct(ctx, p); return err })
	assert.Equal(t, 1, saved.Version)
	// Saving the same terms is a no-op; a change before any license edits
	// version 1 in place.
	tx(t, s, func(tx *store.Tx) (err error) { saved, err = tx.SaveProduct(ctx, p); return err })
	assert.Equal(t, 1, saved.Version)
	p.Name = "Timesheet Admin"
	tx(t, s, func(tx *store.Tx) (err error) { saved, err = tx.SaveProduct(ctx, p); return err })
	assert.Equal(t, 1, saved.Version)
	// Once a license is issued under version 1, a change makes version 2.
	issueLicense(t, s, saved, T0)
	p.LicenseTemplate[0].Users = 2
	tx(t, s, func(tx *store.Tx) (err error) { saved, err = tx.SaveProduct(ctx, p); return err })
	assert.Equal(t, 2, saved.Version)
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		v1, err := tx.Product(ctx, p.SKU, 1)
		require.NoError(t, err)
		assert.Equal(t, 1, v1.LicenseTemplate[0].Users, "the version a license was issued under is unchanged")
		assert.Equal(t, "Timesheet Admin", v1.Name)
		latest, err := tx.Product(ctx, p.SKU, 0)
		require.NoError(t, err)
		assert.Equal(t, 2, latest.Version)
		assert.Equal(t, p.Features, latest.Features)
		list, err := tx.ListProducts(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1, "the list holds the latest version")
		assert.Equal(t, 2, list[0].Version)
		versions, err := tx.ProductVersions(ctx, p.SKU)
		require.NoError(t, err)
		assert.Len(t, versions, 2)
		_, err = tx.Product(ctx, "nope", 0)
		assert.ErrorIs(t, err, store.ErrNotFound)
		return nil
	}))
}

// issueLicense stores a license for p of a new company, as the hub would.
func issueLicense(t *testing.T, s *store.Store, p store.Product, at time.Time, supersedes ...store.LicenseID) store.License {
	t.Helper()
	ctx := context.Background()
	var l store.License
	tx(t, s, func(tx *store.Tx) error {
		if _, err := tx.SigningKey(ctx); errors.Is(err, store.ErrNotFound) {
			if err := tx.AddVendorKey(ctx, store.VendorKey{KeyID: "k1", PublicKey: "k1:pub", PrivateKeySealed: "sealed", CreatedAt: T0}); err != nil {
				return err
			}
		}
		co := company("buyer", "")
		if len(supersedes) > 0 {
			old, err := tx.License(ctx, supersedes[0])
			if err != nil {
				return err
			}
			co.ID = old.Company
		} else if _, err := tx.CreateCompany(ctx, co); err != nil {
			return err
		}
		l = store.License{ID: store.NewLicenseID(), Company: co.ID, SubscriptionID: "sub-1", SKU: p.SKU, ProductVersion: p.Version,
			Type: p.Type, Quantity: 3, IssuedAt: at, NotBefore: at, ExpiresAt: at.AddDate(1, 0, 0), KeyID: "k1", IssuedBy: "lm@example.com", Text: "-----BEGIN LICMESH LICENSE-----"}
		return tx.CreateLicense(ctx, l, supersedes...)
	})
	return l
}

func testLicenses(t *testing.T, s *store.Store) {
	ctx := context.Background()
	var p store.Product
	tx(t, s, func(tx *store.Tx) (err error) { p, err = tx.SaveProduct(ctx, product("reports")); return err })
	first := issueLicense(t, s, p, T0)
	second := issueLicense(t, s, p, T0.Add(time.Hour), first.ID)
	other := issueLicense(t, s, p, T0.Add(2*time.Hour))
	// A license superseded once cannot be superseded again, and nothing of
	// the refused change stays.
	err := s.Tx(ctx, func(tx *store.Tx) error {
		return tx.CreateLicense(ctx, store.License{ID: store.NewLicenseID(), Company: first.Company, SKU: p.SKU, ProductVersion: 1,
			Type: p.Type, Quantity: 1, IssuedAt: T0, KeyID: "k1", IssuedBy: "x", Text: "t"}, first.ID)
	})
	require.ErrorIs(t, err, store.ErrNotFound)
	tx(t, s, func(tx *store.Tx) error { return tx.RevokeLicense(ctx, other.ID, T0.Add(3*time.Hour)) })
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		got, err := tx.License(ctx, first.ID)
		require.NoError(t, err)
		assert.Equal(t, second.ID, got.SupersededBy)
		assert.Equal(t, T0.AddDate(1, 0, 0), got.ExpiresAt)
		all, err := tx.ListLicenses(ctx, store.LicenseFilter{})
		require.NoError(t, err)
		assert.Len(t, all, 3, "the refused license was not stored")
		current, err := tx.ListLicenses(ctx, store.LicenseFilter{Current: true})
		require.NoError(t, err)
		require.Len(t, current, 1)
		assert.Equal(t, second.ID, current[0].ID)
		mine, err := tx.ListLicenses(ctx, store.LicenseFilter{Company: first.Company})
		require.NoError(t, err)
		assert.Len(t, mine, 2)
		// Pages in issue order.
		page1, err := tx.ListLicenses(ctx, store.LicenseFilter{Limit: 2})
		require.NoError(t, err)
		require.Len(t, page1, 2)
		page2, err := tx.ListLicenses(ctx, store.LicenseFilter{Limit: 2, After: page1[1].ID})
		require.NoError(t, err)
		require.Len(t, page2, 1)
		assert.Equal(t, other.ID, page2[0].ID)
		return nil
	}))
}

func testErase(t *testing.T, s *store.Store) {
	ctx := context.Background()
	co := company("acme", "")
	user := store.Account{ID: store.NewAccountID(), Email: "jane@acme.example", Name: "Jane Doe", Role: store.RoleCustomer, Company: co.ID, PasswordHash: "h", CreatedAt: T0}
	tx(t, s, func(tx *store.Tx) error {
		if _, err := tx.CreateCompany(ctx, co); err != nil {
			return err
		}
		if _, err := tx.CreateAccount(ctx, user); err != nil {
			return err
		}
		if err := tx.RecordSignin(ctx, store.Signin{At: T0, Email: user.Email, Account: user.ID, OK: true, Remote: "10.1.1.1"}); err != nil {
			return err
		}
		if err := tx.RecordSignup(ctx, store.Signup{At: T0, Remote: "10.1.1.1", Email: user.Email, Account: user.ID, Outcome: store.SignupQuiet}); err != nil {
			return err
		}
		if err := tx.EnqueueMail(ctx, store.Mail{ID: store.NewMailID(), Kind: "signup", To: user.Email, Message: "sealed", CreatedAt: T0, NextAt: T0}); err != nil {
			return err
		}
		return tx.CreateSession(ctx, store.Session{IDHash: "s", Account: user.ID, CSRF: "c", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)})
	})
	tx(t, s, func(tx *store.Tx) error { return tx.EraseCompany(ctx, co.ID, T0.Add(time.Hour)) })
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		n, err := tx.CountSignups(ctx, store.SignupFilter{Email: user.Email})
		require.NoError(t, err)
		assert.Zero(t, n, "the erased users' sign-up records go")
		mails, err := tx.ListMail(ctx, 100)
		require.NoError(t, err)
		for _, m := range mails {
			assert.NotEqual(t, user.Email, m.To, "a mail still queued for an erased user")
		}
		return nil
	}))
	err := s.Tx(ctx, func(tx *store.Tx) error { return tx.EraseCompany(ctx, co.ID, T0.Add(2*time.Hour)) })
	require.ErrorIs(t, err, store.ErrNotFound, "erasing twice")
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		c, err := tx.Company(ctx, co.ID)
		require.NoError(t, err)
		assert.NotContains(t, c.Name+c.Email, "acme")
		assert.Equal(t, T0.Add(time.Hour), c.ErasedAt)
		a, err := tx.Account(ctx, user.ID)
		require.NoError(t, err)
		assert.NotContains(t, a.Email+a.Name, "jane")
		assert.False(t, a.DisabledAt.IsZero())
		_, err = tx.Session(ctx, "s", T0)
		assert.ErrorIs(t, err, store.ErrNotFound)
		signins, err := tx.Signins(ctx, time.Time{}, 10)
		require.NoError(t, err)
		assert.Empty(t, signins, "the erased users' sign-ins go too")
		return nil
	}))
}

func testTxRollsBack(t *testing.T, s *store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.CreateCompany(ctx, company("halfway", "")); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		all, err := tx.ListCompanies(ctx, "")
		require.NoError(t, err)
		assert.Empty(t, all, "a failed transaction leaves nothing")
		return nil
	}))
}

// testConcurrentWriters: transactions that read then write, side by side,
// all commit (SQLite queues them on its write lock, PostgreSQL retries a
// serialization failure) and none is lost.
func testConcurrentWriters(t *testing.T, s *store.Store) {
	ctx := context.Background()
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.Tx(ctx, func(tx *store.Tx) error {
				if _, err := tx.ListCompanies(ctx, ""); err != nil {
					return err
				}
				_, err := tx.CreateCompany(ctx, company("c"+string(rune('a'+i)), ""))
				return err
			})
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	require.NoError(t, s.Read(ctx, func(tx *store.Tx) error {
		all, err := tx.ListCompanies(ctx, "")
		require.NoError(t, err)
		assert.Len(t, all, n)
		return nil
	}))
}
