package hub

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// Public trial sign-up (seed 001's "trial" button): an email and a company
// name make the company, its customer account without a password yet, and
// the trial of the configured product, in one transaction with the mail
// that carries the set-password link and the license (the outbox). The
// link is a one-time token whose hash the store keeps; following it sets
// the password and signs in (signup_pages.go).
//
// An address that already has an account is not refused: the caller gets
// the same answer as for a new one, and the address a mail (a new link if
// the account never set its password, "you already have an account"
// otherwise). So the call does not tell who has an account, and the mail
// tells only the address's owner.

var (
	// ErrSignupOff is returned when the hub takes no public sign-ups
	// (signup_product is not set, or names no product).
	ErrSignupOff = errors.New("hub: sign-up is not available")
	// ErrSignupRate is returned past signup_rate sign-ups from one address
	// in an hour.
	ErrSignupRate = errors.New("hub: too many sign-ups from this address")
)

// signupWindow is the period of signup_rate.
const signupWindow = time.Hour

// signupMailsPerEmail bounds the mails sign-ups send one address in
// signupWindow, whoever asks: past it, a sign-up is answered as usual but
// sends nothing, so the form cannot be used to flood someone's mailbox.
const signupMailsPerEmail = 3

// pendingPassword is the password hash of an account made by a sign-up
// until it sets its password: it matches no password.
const pendingPassword = "!signup-pending"

// signupPrincipal is who a public sign-up acts as: enough to start a
// trial through the same code as StartTrial, audited as "signup".
func signupPrincipal() *principal {
	return &principal{Account: store.Account{Email: "signup", Name: "public sign-up", Role: store.RoleLicenseManager}}
}

// signupRequest is a sign-up as asked.
type signupRequest struct {
	Email, Company, Name, SKU string
	// Site, for a cluster's trial button, is the cluster to bind the
	// trial to and register; issued then receives a new sign-up's
	// license and company (an existing address gets none, as above).
	Site   *upstream.ActivationRequest
	issued *siteTrial
}

// siteTrial is what a cluster's trial sign-up made.
type siteTrial struct {
	company store.Company
	license store.License
}

// signUp runs a sign-up from remote and returns the normalized email.
func (s *Server) signUp(ctx context.Context, a *api, req signupRequest, remote string) (string, error) {
	if !s.signupOpen() {
		return "", ErrSignupOff
	}
	skus := s.cfg.signupSKUs()
	email, err := store.NormalizeEmail(req.Email)
	if err != nil {
		return "", fmt.Errorf("%w: email %q: one plain address, like name@example.com", ErrInvalidArgument, req.Email)
	}
	company := strings.TrimSpace(req.Company)
	if company == "" || len(company) > 200 {
		return "", fmt.Errorf("%w: company: the company's name, 1 to 200 characters", ErrInvalidArgument)
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name, _, _ = strings.Cut(email, "@")
	}
	if len(name) > 200 {
		return "", fmt.Errorf("%w: name: at most 200 characters", ErrInvalidArgument)
	}
	sku := req.SKU
	if sku == "" {
		sku = skus[0]
	} else if !slices.Contains(skus, sku) {
		return "", fmt.Errorf("%w: sku %q: sign-up offers %s", ErrInvalidArgument, sku, strings.Join(skus, ", "))
	}
	now := s.clk.Now()
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		n, err := tx.CountSignups(ctx, store.SignupFilter{Since: now.Add(-signupWindow), Remote: remote})
		if err != nil {
			return err
		}
		if n >= s.cfg.SignupRate {
			return fmt.Errorf("%w: %d in the last hour; try again later", ErrSignupRate, n)
		}
		mailed, err := tx.CountSignups(ctx, store.SignupFilter{Since: now.Add(-signupWindow), Email: email, Mailed: true})
		if err != nil {
			return err
		}
		rec := store.Signup{At: now, Remote: remote, Email: email}
		acc, err := tx.AccountByEmail(ctx, email)
		switch {
		case errors.Is(err, store.ErrNotFound):
			rec.Outcome = store.SignupNew
			var site *siteSignup
			if req.Site != nil {
				if _, err := tx.Site(ctx, req.Site.ClusterID); err == nil {
					return fmt.Errorf("%w: cluster %s is already activated: sign in and use an API key", ErrInvalidArgument, req.Site.ClusterID)
				}
				site = &siteSignup{req: req.Site, out: req.issued}
			}
			rec.Account, err = s.signUpNew(ctx, tx, a, email, company, name, license.SKU(sku), site, remote, now)
		case err != nil:
			return err
		case mailed >= signupMailsPerEmail:
			rec.Outcome, rec.Account = store.SignupQuiet, acc.ID
		case acc.Role == store.RoleCustomer && acc.PasswordHash == pendingPassword && acc.DisabledAt.IsZero():
			rec.Outcome, rec.Account = store.SignupRepeat, acc.ID
			err = s.signUpAgain(ctx, tx, acc, remote, now)
		default:
			rec.Outcome, rec.Account = store.SignupExisting, acc.ID
			err = s.enqueueMail(ctx, tx, mailSignupExisting, email, mailData{}, now)
		}
		if err != nil {
			return err
		}
		return tx.RecordSignup(ctx, rec)
	})
	if err != nil {
		return "", err
	}
	s.mail.nudge()
	return email, nil
}

// signUpNew makes the company, its account and its trial, and queues the
// mail with the link and the license.
func (s *Server) signUpNew(ctx context.Context, tx *store.Tx, a *api, email, company, name string, sku license.SKU, site *siteSignup, remote string, now time.Time) (store.AccountID, error) {
	p := signupPrincipal()
	prod, err := tx.Product(ctx, sku, 0)
	if errors.Is(err, store.ErrNotFound) {
		s.log.Warn("hub: sign-up product is not published", "sku", sku)
		return "", fmt.Errorf("%w: product %s is not published", ErrSignupOff, sku)
	} else if err != nil {
		return "", err
	}
	c, err := tx.CreateCompany(ctx, store.Company{ID: store.NewCompanyID(), Name: company, Email: email, CreatedAt: now})
	if err != nil {
		return "", err
	}
	if err := tx.RecordEvent(ctx, store.Event{Company: c.ID, At: now, Kind: "company.created", Detail: "by public sign-up"}); err != nil {
		return "", err
	}
	if err := audit(ctx, tx, p, remote, now, "company.create", string(c.ID), c.Name); err != nil {
		return "", err
	}
	acc, err := tx.CreateAccount(ctx, store.Account{ID: store.NewAccountID(), Email: email, Name: name, Role: store.RoleCustomer,
		Company: c.ID, PasswordHash: pendingPassword, CreatedAt: now})
	if err != nil {
		return "", err
	}
	if err := audit(ctx, tx, p, remote, now, "account.create", string(acc.ID), fmt.Sprintf("%s as %s, by public sign-up", acc.Email, acc.Role)); err != nil {
		return "", err
	}
	var bind license.ClusterID
	if site != nil {
		bind = site.req.ClusterID
	}
	l, err := a.startTrial(ctx, tx, p, remote, c.ID, sku, bind, now)
	if err != nil {
		return "", err
	}
	if site != nil {
		r := site.req
		err := tx.PutSite(ctx, store.Site{ClusterID: r.ClusterID, Company: c.ID, PublicKey: []byte(b64(r.PublicKey)),
			Products: skuStrings(r.Products), MasterVersions: r.Versions.Masters, CollectorVersions: r.Versions.Collectors,
			RegisteredAt: now, LastContactAt: now, ChainSeq: r.ChainSeq, ChainHash: r.ChainHash, Zone: "UTC"})
		if err != nil {
			return "", err
		}
		*site.out = siteTrial{company: c, license: l}
	}
	link, expires, err := s.newSignupLink(ctx, tx, acc.ID, now)
	if err != nil {
		return "", err
	}
	d := mailData{Company: c.Name, Product: prod.Name, SKU: string(prod.SKU), SetPasswordURL: link, LinkExpiresAt: expires, License: licenseForMail(l)}
	return acc.ID, s.enqueueMail(ctx, tx, mailSignup, email, d, now)
}

// siteSignup is a sign-up's cluster, and where to put what it made.
type siteSignup struct {
	req *upstream.ActivationRequest
	out *siteTrial
}

// signUpSite is a cluster's trial button: a sign-up whose trial is bound
// to the cluster, which it registers. A new address gets the license in
// the answer and in its mail; an address with an account gets a mail and
// no license, so the answer does not tell who has an account.
func (s *Server) signUpSite(ctx context.Context, a *api, req signupRequest, site *upstream.ActivationRequest, remote string) (*licmeshv1.StartSiteTrialResponse, error) {
	req.Site, req.issued = site, &siteTrial{}
	if _, err := s.signUp(ctx, a, req, remote); err != nil {
		return nil, err
	}
	if req.issued.license.ID == "" {
		return &licmeshv1.StartSiteTrialResponse{}, nil
	}
	return &licmeshv1.StartSiteTrialResponse{CompanyId: string(req.issued.company.ID), CompanyName: req.issued.company.Name,
		License: req.issued.license.Text}, nil
}

// signUpAgain sends an account that never set its password a new link
// (ending the old ones), with its company's latest license.
func (s *Server) signUpAgain(ctx context.Context, tx *store.Tx, acc store.Account, remote string, now time.Time) error {
	c, err := tx.Company(ctx, acc.Company)
	if err != nil {
		return err
	}
	if err := tx.EndSignupTokens(ctx, acc.ID, now); err != nil {
		return err
	}
	link, expires, err := s.newSignupLink(ctx, tx, acc.ID, now)
	if err != nil {
		return err
	}
	d := mailData{Company: c.Name, SetPasswordURL: link, LinkExpiresAt: expires, Again: true}
	ls, err := tx.ListLicenses(ctx, store.LicenseFilter{Company: c.ID, Current: true})
	if err != nil {
		return err
	}
	if len(ls) > 0 {
		l := ls[len(ls)-1]
		d.License, d.SKU = licenseForMail(l), string(l.SKU)
		if prod, err := tx.Product(ctx, l.SKU, l.ProductVersion); err == nil {
			d.Product = prod.Name
		}
	}
	if err := tx.Audit(ctx, store.AuditEntry{At: now, Actor: "signup", Action: "signup.repeat", Target: string(acc.ID), Detail: "a new sign-up link", Remote: remote}); err != nil {
		return err
	}
	return s.enqueueMail(ctx, tx, mailSignup, acc.Email, d, now)
}

// newSignupLink stores a new token for account and returns its link and
// expiry.
func (s *Server) newSignupLink(ctx context.Context, tx *store.Tx, account store.AccountID, now time.Time) (string, time.Time, error) {
	secret := randomSecret()
	expires := now.Add(s.cfg.SignupLinkTTL)
	if err := tx.CreateSignupToken(ctx, store.SignupToken{Hash: hashSecret(secret), Account: account, CreatedAt: now, ExpiresAt: expires}); err != nil {
		return "", time.Time{}, err
	}
	return s.mail.publicURL() + signupConfirmPath + "?token=" + url.QueryEscape(secret), expires, nil
}

// licenseForMail is l as a mail shows and attaches it.
func licenseForMail(l store.License) *mailLicense {
	return &mailLicense{ID: string(l.ID), Type: string(l.Type), ExpiresAt: l.ExpiresAt, Text: l.Text, FileName: string(l.ID) + ".lic"}
}

func (a *api) SignUp(ctx context.Context, req *connect.Request[licmeshv1.SignUpRequest]) (*connect.Response[licmeshv1.SignUpResponse], error) {
	remote := ""
	if c, _ := ctx.Value(callerKey{}).(*caller); c != nil {
		remote = c.remote
	}
	m := req.Msg
	email, err := a.s.signUp(ctx, a, signupRequest{Email: m.GetEmail(), Company: m.GetCompany(), Name: m.GetName(), SKU: m.GetSku()}, remote)
	if err != nil {
		return nil, a.fail("SignUp", signupCode(err))
	}
	return res(&licmeshv1.SignUpResponse{Email: email}), nil
}

// signupCode gives the sign-up's own refusals their Connect codes.
func signupCode(err error) error {
	switch {
	case errors.Is(err, ErrSignupOff), errors.Is(err, ErrMailOff):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, ErrSignupRate):
		return connect.NewError(connect.CodeResourceExhausted, err)
	}
	return err
}

// mailTrial queues the mail of trial l to its company's address (a
// reseller's StartTrial with notify).
func (s *Server) mailTrial(ctx context.Context, tx *store.Tx, l store.License, now time.Time) error {
	c, err := tx.Company(ctx, l.Company)
	if err != nil {
		return err
	}
	prod, err := tx.Product(ctx, l.SKU, l.ProductVersion)
	if err != nil {
		return err
	}
	return s.enqueueMail(ctx, tx, mailTrial, c.Email, mailData{Company: c.Name, Product: prod.Name, SKU: string(l.SKU), License: licenseForMail(l)}, now)
}
