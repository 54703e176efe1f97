package hub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// upstreamAPI serves UpstreamService: what masters call.
type upstreamAPI struct {
	s *Server
	a *api
}

// activators are the roles that may activate a cluster: a customer for
// its own company, a reseller for its customers, license staff for any.
var activators = []action{actPortal, actReseller, actManageLicense}

func (u *upstreamAPI) ListActivationCompanies(ctx context.Context, _ *connect.Request[licmeshv1.ListActivationCompaniesRequest]) (*connect.Response[licmeshv1.ListActivationCompaniesResponse], error) {
	p, _, err := who(ctx, activators...)
	if err != nil {
		return nil, err
	}
	var out licmeshv1.ListActivationCompaniesResponse
	err = u.s.store.Read(ctx, func(tx *store.Tx) error {
		var cs []store.Company
		if p.Role == store.RoleCustomer {
			c, err := tx.Company(ctx, p.Company)
			if err != nil {
				return err
			}
			cs = []store.Company{c}
		} else {
			scope := store.ResellerID("")
			if p.Role == store.RoleReseller {
				scope = p.Reseller
			}
			var err error
			if cs, err = tx.ListCompanies(ctx, scope); err != nil {
				return err
			}
		}
		for _, c := range cs {
			if !c.ErasedAt.IsZero() {
				continue
			}
			ls, err := tx.ListLicenses(ctx, store.LicenseFilter{Company: c.ID, Current: true})
			if err != nil {
				return err
			}
			var skus []string
			for _, l := range ls {
				if !slices.Contains(skus, string(l.SKU)) {
					skus = append(skus, string(l.SKU))
				}
			}
			out.Companies = append(out.Companies, &licmeshv1.ActivationCompany{Id: string(c.ID), Name: c.Name, Products: skus})
		}
		return nil
	})
	if err != nil {
		return nil, u.a.fail("ListActivationCompanies", err)
	}
	return res(&out), nil
}

// openRequest reads a signed activation request.
func openRequest(b []byte) (*upstream.ActivationRequest, error) {
	s, err := upstream.ParseSigned(b, upstream.MaxRequestBytes)
	if err == nil {
		var r *upstream.ActivationRequest
		if r, err = upstream.OpenRequest(s); err == nil {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w: activation request: %w", ErrInvalidArgument, err)
}

func (u *upstreamAPI) ActivateSite(ctx context.Context, req *connect.Request[licmeshv1.ActivateSiteRequest]) (*connect.Response[licmeshv1.ActivateSiteResponse], error) {
	p, remote, err := who(ctx, activators...)
	if err != nil {
		return nil, err
	}
	r, err := openRequest(req.Msg.GetRequest())
	if err != nil {
		return nil, u.a.fail("ActivateSite", err)
	}
	now := u.s.clk.Now()
	var out licmeshv1.ActivateSiteResponse
	err = u.s.store.Tx(ctx, func(tx *store.Tx) error {
		c, err := companyFor(ctx, tx, p, store.CompanyID(req.Msg.GetCompanyId()))
		if err != nil {
			return err
		}
		if p.Role == store.RoleSales || p.Role == store.RoleReleaseManager {
			return fmt.Errorf("%w: role %s may not activate clusters", ErrPermission, p.Role)
		}
		ls, site, err := u.a.activate(ctx, tx, p, remote, r, c, now)
		if err != nil {
			return err
		}
		out = licmeshv1.ActivateSiteResponse{CompanyId: string(c.ID), CompanyName: c.Name, Licenses: licenseTexts(ls), NextSeq: site.ChainSeq + 1}
		return nil
	})
	if err != nil {
		return nil, u.a.fail("ActivateSite", err)
	}
	return res(&out), nil
}

func (u *upstreamAPI) StartSiteTrial(ctx context.Context, req *connect.Request[licmeshv1.StartSiteTrialRequest]) (*connect.Response[licmeshv1.StartSiteTrialResponse], error) {
	c, _ := ctx.Value(callerKey{}).(*caller)
	remote := ""
	if c != nil {
		remote = c.remote
	}
	r, err := openRequest(req.Msg.GetRequest())
	if err != nil {
		return nil, u.a.fail("StartSiteTrial", err)
	}
	m := req.Msg
	out, err := u.s.signUpSite(ctx, u.a, signupRequest{Email: m.GetEmail(), Company: m.GetCompany(), Name: m.GetName(), SKU: m.GetSku()}, r, remote)
	if err != nil {
		return nil, u.a.fail("StartSiteTrial", signupCode(err))
	}
	return res(out), nil
}

func (u *upstreamAPI) CheckLicenses(ctx context.Context, req *connect.Request[licmeshv1.CheckLicensesRequest]) (*connect.Response[licmeshv1.CheckLicensesResponse], error) {
	s, err := upstream.ParseSigned(req.Msg.GetProof(), upstream.MaxRequestBytes)
	if err != nil {
		return nil, u.a.fail("CheckLicenses", fmt.Errorf("%w: %w", ErrInvalidArgument, err))
	}
	claim, err := upstream.PeekProof(s)
	if err != nil {
		return nil, u.a.fail("CheckLicenses", fmt.Errorf("%w: %w", ErrInvalidArgument, err))
	}
	now := u.s.clk.Now()
	var out licmeshv1.CheckLicensesResponse
	err = u.s.store.Tx(ctx, func(tx *store.Tx) error {
		_, pub, err := siteKey(ctx, tx, claim.ClusterID)
		if err != nil {
			return err
		}
		if _, err := upstream.OpenProof(s, claim.ClusterID, pub, "check", now, proofSkew); err != nil {
			if errors.Is(err, upstream.ErrBadSignature) {
				return fmt.Errorf("%w: %w", ErrSiteKey, err)
			}
			return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
		}
		if err := tx.SetSiteVersions(ctx, claim.ClusterID, capStrings(req.Msg.GetMasterVersions()), capStrings(req.Msg.GetCollectorVersions())); err != nil {
			return err
		}
		if err := u.a.bindNew(ctx, tx, claim.ClusterID, now); err != nil {
			return err
		}
		current, revoked, err := tx.ClusterLicenses(ctx, claim.ClusterID)
		if err != nil {
			return err
		}
		out.Licenses = licenseTexts(current)
		for _, l := range revoked {
			out.Revoked = append(out.Revoked, string(l.ID))
		}
		if out.QuotesReceived, out.QuoteAnswers, err = receiveQuotes(ctx, tx, claim.ClusterID, req.Msg.GetQuoteRequests(), now); err != nil {
			return err
		}
		return tx.TouchSite(ctx, claim.ClusterID, "", now)
	})
	if err != nil {
		return nil, u.a.fail("CheckLicenses", err)
	}
	return res(&out), nil
}

// maxPushBatches bounds the batches of one push.
const maxPushBatches = 64

func (u *upstreamAPI) PushUsage(ctx context.Context, req *connect.Request[licmeshv1.PushUsageRequest]) (*connect.Response[licmeshv1.PushUsageResponse], error) {
	raw := req.Msg.GetBatches()
	if len(raw) > maxPushBatches {
		return nil, u.a.fail("PushUsage", fmt.Errorf("%w: %d batches, at most %d per call", ErrInvalidArgument, len(raw), maxPushBatches))
	}
	signed := make([]upstream.Signed, len(raw))
	for i, b := range raw {
		s, err := upstream.ParseSigned(b, upstream.MaxBatchBytes*2)
		if err != nil {
			return nil, u.a.fail("PushUsage", fmt.Errorf("%w: batch %d: %w", ErrInvalidArgument, i+1, err))
		}
		signed[i] = s
	}
	backlog := int64(req.Msg.GetBacklog())
	r, err := u.s.ingest(ctx, signed, "online", func(tx *store.Tx, r ingestResult) error {
		return tx.SetSiteBacklog(ctx, r.Cluster, backlog)
	})
	if err != nil {
		return nil, u.a.fail("PushUsage", err)
	}
	return res(&licmeshv1.PushUsageResponse{Seq: r.Seq, Hash: r.Hash, Accepted: uint32(r.Accepted), Duplicates: uint32(r.Duplicates), Receipt: r.Receipt}), nil
}

// UploadUsage takes a usage export file carried from a site without
// internet; see ingest for what it refuses.
func (a *api) UploadUsage(ctx context.Context, req *connect.Request[licmeshv1.UploadUsageRequest]) (*connect.Response[licmeshv1.UploadUsageResponse], error) {
	p, remote, err := who(ctx, actManageLicense, actReseller, actPortal)
	if err != nil {
		return nil, err
	}
	out, err := a.upload(ctx, p, remote, req.Msg.GetFile())
	if err != nil {
		return nil, a.fail("UploadUsage", err)
	}
	return res(out), nil
}

// upload ingests an export file for p, whose role must let it see the
// site's company.
func (a *api) upload(ctx context.Context, p *principal, remote string, file []byte) (*licmeshv1.UploadUsageResponse, error) {
	e, err := upstream.ParseExport(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	err = a.s.store.Read(ctx, func(tx *store.Tx) error {
		site, err := tx.Site(ctx, e.ClusterID)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: cluster %s is not activated at this hub: upload its activation request first", ErrInvalidArgument, e.ClusterID)
		}
		if err != nil {
			return err
		}
		_, err = companyFor(ctx, tx, p, site.Company)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, s := range e.Batches {
		if cl, _, err := upstream.Peek(s); err != nil || cl != e.ClusterID {
			return nil, fmt.Errorf("%w: %w: the file is for cluster %s, a batch in it is not", ErrInvalidArgument, upstream.ErrWrongCluster, e.ClusterID)
		}
	}
	now := a.s.clk.Now()
	r, err := a.s.ingest(ctx, e.Batches, "file", func(tx *store.Tx, r ingestResult) error {
		return audit(ctx, tx, p, remote, now, "usage.upload", string(r.Cluster), fmt.Sprintf("batches up to %d: %d new, %d already held", r.Seq, r.Accepted, r.Duplicates))
	})
	if err != nil {
		return nil, err
	}
	return &licmeshv1.UploadUsageResponse{ClusterId: string(r.Cluster), Seq: r.Seq, Accepted: uint32(r.Accepted), Duplicates: uint32(r.Duplicates),
		Receipt: r.Receipt}, nil
}

// ActivateOffline turns an activation request file into licenses bound to
// its cluster, for a site without internet.
func (a *api) ActivateOffline(ctx context.Context, req *connect.Request[licmeshv1.ActivateOfflineRequest]) (*connect.Response[licmeshv1.ActivateOfflineResponse], error) {
	p, remote, err := who(ctx, actManageLicense, actReseller, actPortal)
	if err != nil {
		return nil, err
	}
	r, err := openRequest(req.Msg.GetRequest())
	if err != nil {
		return nil, a.fail("ActivateOffline", err)
	}
	now := a.s.clk.Now()
	var out licmeshv1.ActivateOfflineResponse
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		c, err := companyFor(ctx, tx, p, store.CompanyID(req.Msg.GetCompanyId()))
		if err != nil {
			return err
		}
		ls, _, err := a.activate(ctx, tx, p, remote, r, c, now)
		if err != nil {
			return err
		}
		out = licmeshv1.ActivateOfflineResponse{ClusterId: string(r.ClusterID), Licenses: licenseTexts(ls)}
		return nil
	})
	if err != nil {
		return nil, a.fail("ActivateOffline", err)
	}
	return res(&out), nil
}

// capStrings keeps at most 64 strings of at most 64 bytes: what a site
// says of its versions is shown, not trusted.
func capStrings(in []string) []string {
	var out []string
	for _, v := range in[:min(len(in), 64)] {
		if v = strings.TrimSpace(v); v != "" && len(v) <= 64 && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// sitePrincipal is who the hub acts as when a site's license check binds
// new licenses: audited as the cluster.
func sitePrincipal(cluster license.ClusterID) *principal {
	return &principal{Account: store.Account{Email: "site " + string(cluster), Name: "license check", Role: store.RoleLicenseManager}}
}

// bindNew binds to a cluster the licenses its company was issued since it
// activated, when the company has no other site: they can only be for
// this one. A company with several sites binds each new license by
// activating the site it is for again (or the vendor tailors it).
func (a *api) bindNew(ctx context.Context, tx *store.Tx, cluster license.ClusterID, now time.Time) error {
	site, err := tx.Site(ctx, cluster)
	if err != nil {
		return err
	}
	sites, err := tx.ListSites(ctx, site.Company, "")
	if err != nil || len(sites) != 1 {
		return err
	}
	current, err := tx.ListLicenses(ctx, store.LicenseFilter{Company: site.Company, Current: true})
	if err != nil {
		return err
	}
	c, err := tx.Company(ctx, site.Company)
	if err != nil {
		return err
	}
	p := sitePrincipal(cluster)
	for _, l := range current {
		if l.ClusterID != "" {
			continue
		}
		if _, err := a.reissue(ctx, tx, p, "", l, c, now, func(spec *issueSpec, _ *license.Payload) error {
			spec.Tailoring.ClusterID = cluster
			return nil
		}, "license.bound", "to cluster "+string(cluster)+", its company's only site, at its license check"); err != nil {
			return err
		}
	}
	return nil
}
