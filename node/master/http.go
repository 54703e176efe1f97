package master

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/licmesh/licmesh/mesh/wire"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/dashboard"
	"github.com/licmesh/licmesh/node/fsm"
)

// compressMin is the smallest response worth compressing. Lease answers are
// a few hundred bytes; gzip on each of them cost a fifth of a master's CPU.
const compressMin = 16 << 10

// apiMux is the HTTPS API port: the admin API (admin token), the peer API
// (master certificates), the dashboard, health and metrics.
func (s *Server) apiMux() http.Handler {
	mux := http.NewServeMux()
	path, h := licmeshv1connect.NewAdminServiceHandler(adminHandler{s}, connect.WithInterceptors(s.auditInterceptor()),
		connect.WithReadMaxBytes(4<<20), connect.WithCodec(wire.StrictJSON{}), connect.WithCompressMinBytes(compressMin))
	mux.Handle(path, s.requirePerm("", h))
	path, h = licmeshv1connect.NewPeerServiceHandler(peerHandler{s}, connect.WithReadMaxBytes(64<<20), connect.WithCompressMinBytes(compressMin))
	mux.Handle(path, onlyMasters(h))
	mux.Handle("GET /v1/peer/artifacts/{sha}", onlyMasters(http.HandlerFunc(s.serveArtifact)))
	mux.Handle("POST /v1/updates/bundle", s.requirePerm(PermUpdates, http.HandlerFunc(s.uploadBundle)))

	// Profiles for operators chasing CPU or memory, behind the admin token.
	mux.Handle("/debug/pprof/", s.requirePerm(PermCluster, http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/profile", s.requirePerm(PermCluster, http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/heap", s.requirePerm(PermCluster, pprof.Handler("heap")))
	mux.Handle("/debug/pprof/goroutine", s.requirePerm(PermCluster, pprof.Handler("goroutine")))

	mux.HandleFunc("GET /api/openapi.json", serveOpenAPI)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.Ready() {
			http.Error(w, "not ready: no leader known yet", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(prometheus.Gatherers{s.m.reg, initProcessMetrics()},
		promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))

	dcfg := dashboard.DefaultConfig()
	dcfg.Source = dashSource{s}
	dcfg.Auth = func(ctx context.Context, c dashboard.Credentials) (dashboard.Principal, error) {
		var (
			p   Principal
			err error
		)
		if c.Token != "" {
			p, err = s.checkToken(c.Token)
		} else {
			p, err = s.checkPassword(ctx, c.User, c.Password)
			if errors.Is(err, errThrottled) {
				err = fmt.Errorf("%w for %q: wait %s and try again", dashboard.ErrSignInThrottled, c.User, signinWindow)
			}
		}
		s.auditSignIn(ctx, c, p, err)
		p.Index = s.fsm.AppliedIndex()
		return dashPrincipal(p), err
	}
	dcfg.Check = func(_ context.Context, dp dashboard.Principal) (dashboard.Principal, error) {
		p, err := s.recheck(Principal{ID: dp.ID, User: dp.User, TokenID: dp.TokenID, Epoch: dp.Epoch, Index: dp.Index})
		return dashPrincipal(p), err
	}
	admin := adminHandler{s}
	dcfg.AddLicense = func(ctx context.Context, text string) (*licmeshv1.License, error) {
		resp, err := dashCall(s, ctx, licmeshv1connect.AdminServiceAddLicenseProcedure, admin.AddLicense, &licmeshv1.AddLicenseRequest{Text: text})
		return resp.GetLicense(), err
	}
	dcfg.Alerts = dashboard.AlertFuncs{
		List: func(ctx context.Context, req *licmeshv1.ListAlertsRequest) ([]*licmeshv1.Alert, error) {
			resp, err := dashCall(s, ctx, licmeshv1connect.AdminServiceListAlertsProcedure, admin.ListAlerts, req)
			return resp.GetAlerts(), err
		},
		Read: func(ctx context.Context, keys []string, all bool) error {
			_, err := dashCall(s, ctx, licmeshv1connect.AdminServiceMarkAlertsReadProcedure, admin.MarkAlertsRead,
				&licmeshv1.MarkAlertsReadRequest{Keys: keys, All: all})
			return err
		},
		Prefs: func(ctx context.Context) (*licmeshv1.AlertPrefs, error) {
			resp, err := dashCall(s, ctx, licmeshv1connect.AdminServiceGetAlertPrefsProcedure, admin.GetAlertPrefs, &licmeshv1.GetAlertPrefsRequest{})
			return resp.GetPrefs(), err
		},
		SetPrefs: func(ctx context.Context, p *licmeshv1.AlertPrefs) error {
			_, err := dashCall(s, ctx, licmeshv1connect.AdminServiceSetAlertPrefsProcedure, admin.SetAlertPrefs, &licmeshv1.SetAlertPrefsRequest{Prefs: p})
			return err
		},
		Channels: func(ctx context.Context) ([]*licmeshv1.AlertChannel, error) {
			resp, err := dashCall(s, ctx, licmeshv1connect.AdminServiceListAlertChannelsProcedure, admin.ListAlertChannels, &licmeshv1.ListAlertChannelsRequest{})
			return resp.GetChannels(), err
		},
		SetChannel: func(ctx context.Context, req *licmeshv1.SetAlertChannelRequest) error {
			_, err := dashCall(s, ctx, licmeshv1connect.AdminServiceSetAlertChannelProcedure, admin.SetAlertChannel, req)
			return err
		},
		RemoveChannel: func(ctx context.Context, id string) error {
			_, err := dashCall(s, ctx, licmeshv1connect.AdminServiceRemoveAlertChannelProcedure, admin.RemoveAlertChannel, &licmeshv1.RemoveAlertChannelRequest{Id: id})
			return err
		},
		TestChannel: func(ctx context.Context, id string) error {
			_, err := dashCall(s, ctx, licmeshv1connect.AdminServiceTestAlertChannelProcedure, admin.TestAlertChannel, &licmeshv1.TestAlertChannelRequest{Id: id})
			return err
		},
		Deliveries: func(ctx context.Context, req *licmeshv1.ListAlertDeliveriesRequest) ([]*licmeshv1.AlertDelivery, error) {
			resp, err := dashCall(s, ctx, licmeshv1connect.AdminServiceListAlertDeliveriesProcedure, admin.ListAlertDeliveries, req)
			return resp.GetDeliveries(), err
		},
		Ack: func(ctx context.Context, key, by string) error {
			return s.dashDo(ctx, licmeshv1connect.AdminServiceAckAlertProcedure, func(ctx context.Context) error {
				_, err := s.ackAlert(ctx, key, by)
				return err
			})
		},
	}
	dcfg.Allocation = dashboard.AllocationFuncs{
		Departments: func(ctx context.Context) ([]*licmeshv1.Department, error) {
			resp, err := dashCall(s, ctx, licmeshv1connect.AdminServiceListDepartmentsProcedure, admin.ListDepartments, &licmeshv1.ListDepartmentsRequest{})
			return resp.GetDepartments(), err
		},
		Purchases: func(ctx context.Context) ([]*licmeshv1.Purchase, error) {
			resp, err := dashCall(s, ctx, licmeshv1connect.AdminServiceListPurchasesProcedure, admin.ListPurchases, &licmeshv1.ListPurchasesRequest{})
			return resp.GetPurchases(), err
		},
		Request: func(ctx context.Context, req *licmeshv1.RequestPurchaseRequest) error {
			_, err := dashCall(s, ctx, licmeshv1connect.AdminServiceRequestPurchaseProcedure, admin.RequestPurchase, req)
			return err
		},
		SetDepartment: func(ctx context.Context, req *licmeshv1.SetDepartmentRequest) error {
			_, err := dashCall(s, ctx, licmeshv1connect.AdminServiceSetDepartmentProcedure, admin.SetDepartment, req)
			return err
		},
		Reserve: func(ctx context.Context, req *licmeshv1.SetReservationRequest) error {
			_, err := dashCall(s, ctx, licmeshv1connect.AdminServiceSetReservationProcedure, admin.SetReservation, req)
			return err
		},
		Decide: func(ctx context.Context, id string, approve bool, note string) error {
			_, err := dashCall(s, ctx, licmeshv1connect.AdminServiceDecidePurchaseProcedure, admin.DecidePurchase,
				&licmeshv1.DecidePurchaseRequest{Id: id, Approve: approve, Note: note})
			return err
		},
	}
	dcfg.Utilization = func(ctx context.Context, req *licmeshv1.GetUtilizationRequest) (*licmeshv1.GetUtilizationResponse, error) {
		return dashCall(s, ctx, licmeshv1connect.AdminServiceGetUtilizationProcedure, admin.GetUtilization, req)
	}
	dcfg.Compliance = func(ctx context.Context, month string) (*licmeshv1.GetReconciliationResponse, error) {
		return dashCall(s, ctx, licmeshv1connect.AdminServiceGetReconciliationProcedure, admin.GetReconciliation, &licmeshv1.GetReconciliationRequest{Month: month})
	}
	dcfg.Audit = dashboard.AuditFuncs{
		List: func(ctx context.Context, req *licmeshv1.ListAuditLogRequest) (*licmeshv1.ListAuditLogResponse, error) {
			return dashCall(s, ctx, licmeshv1connect.AdminServiceListAuditLogProcedure, admin.ListAuditLog, req)
		},
	}
	dcfg.Hub = dashboard.HubFuncs{
		Status: func(ctx context.Context) (*licmeshv1.GetUpstreamResponse, error) {
			return dashCall(s, ctx, licmeshv1connect.AdminServiceGetUpstreamProcedure, admin.GetUpstream, &licmeshv1.GetUpstreamRequest{})
		},
		Companies: func(ctx context.Context, req *licmeshv1.ListHubCompaniesRequest) (*licmeshv1.ListHubCompaniesResponse, error) {
			return dashCall(s, ctx, licmeshv1connect.AdminServiceListHubCompaniesProcedure, admin.ListHubCompanies, req)
		},
		Activate: func(ctx context.Context, req *licmeshv1.ActivateClusterRequest) (*licmeshv1.ActivateClusterResponse, error) {
			return dashCall(s, ctx, licmeshv1connect.AdminServiceActivateClusterProcedure, admin.ActivateCluster, req)
		},
		Trial: func(ctx context.Context, req *licmeshv1.StartClusterTrialRequest) (*licmeshv1.StartClusterTrialResponse, error) {
			return dashCall(s, ctx, licmeshv1connect.AdminServiceStartClusterTrialProcedure, admin.StartClusterTrial, req)
		},
		CheckNow: func(ctx context.Context) (*licmeshv1.CheckLicensesNowResponse, error) {
			return dashCall(s, ctx, licmeshv1connect.AdminServiceCheckLicensesNowProcedure, admin.CheckLicensesNow, &licmeshv1.CheckLicensesNowRequest{})
		},
	}
	dcfg.Updates = s.dashUpdates(admin)
	dcfg.SessionKey = s.id.sessionKey
	dcfg.Clock = s.clock
	if d, err := dashboard.New(dcfg); err == nil {
		mux.Handle("/ui/", withRemoteAddr(d))
		mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	} else {
		s.log.Error("dashboard disabled", "err", err)
	}
	return mux
}

// dashCall calls an admin API method for the dashboard, through dashDo.
func dashCall[Req, Resp any](s *Server, ctx context.Context, procedure string, method func(context.Context, *connect.Request[Req]) (*connect.Response[Resp], error), req *Req) (*Resp, error) {
	var out *Resp
	err := s.dashDo(ctx, procedure, func(ctx context.Context) error {
		resp, err := method(ctx, connect.NewRequest(req))
		if err == nil {
			out = resp.Msg
		}
		return err
	})
	return out, err
}

// dashDo runs call, the dashboard's way to the admin call procedure, as
// the API would: refused unless the principal may make the call, audited
// unless it only reads. The dashboard shows the error verbatim, so a
// connect error becomes a plain one whose text is its message, without
// connect's "invalid_argument: " prefix.
func (s *Server) dashDo(ctx context.Context, procedure string, call func(context.Context) error) error {
	ctx, p, err := dashCtx(ctx, procedure)
	switch {
	case err != nil && p.ID != "" && !readOnly[procedure]:
		s.auditEvent(s.newAuditReq(p, procedure, remoteAddrFrom(ctx), "dashboard"), connect.NewError(connect.CodePermissionDenied, err))
	case err != nil:
	case readOnly[procedure]:
		err = call(ctx)
	default:
		err = s.audit(ctx, s.newAuditReq(p, procedure, remoteAddrFrom(ctx), "dashboard"), call)
	}
	if ce := (*connect.Error)(nil); errors.As(err, &ce) {
		return errors.New(ce.Message())
	}
	return err
}

// dashCtx carries the dashboard's principal, as the master knows it, into
// ctx, once it is known to hold a permission procedure needs: a form the
// dashboard showed by mistake is still refused here.
func dashCtx(ctx context.Context, procedure string) (context.Context, Principal, error) {
	dp, ok := dashboard.PrincipalFrom(ctx)
	if !ok {
		return ctx, Principal{}, fmt.Errorf("%w: the dashboard's call carries no principal", ErrUnauthorized)
	}
	p := Principal{ID: dp.ID, User: dp.User, Role: fsm.Role(dp.Role), TokenID: dp.TokenID, Epoch: dp.Epoch}
	for _, x := range dp.Perms {
		p.perms = append(p.perms, Perm(x))
	}
	if !p.mayCall(procedure) {
		return ctx, p, deniedError(p, procedure, "")
	}
	return withPrincipal(ctx, p), p, nil
}

// dashPrincipal is p as the dashboard carries it in its session cookie.
func dashPrincipal(p Principal) dashboard.Principal {
	return dashboard.Principal{ID: p.ID, Role: string(p.Role), User: p.User, TokenID: p.TokenID, Epoch: p.Epoch, Index: p.Index, Perms: p.Perms()}
}

// dashSource serves the dashboard from this master's view of the state.
type dashSource struct{ s *Server }

func (d dashSource) Status(context.Context) (*licmeshv1.GetStatusResponse, error) {
	return d.s.status(), nil
}
func (d dashSource) Members(context.Context) ([]*licmeshv1.Member, error) { return d.s.members(), nil }
func (d dashSource) Collectors(context.Context) ([]*licmeshv1.Collector, error) {
	return d.s.collectors(), nil
}
func (d dashSource) Pools(context.Context) ([]*licmeshv1.Pool, error) { return d.s.pools(), nil }
func (d dashSource) Leases(_ context.Context, pool string, limit int) ([]*licmeshv1.Lease, error) {
	return d.s.leases(fsm.LeaseFilter{Pool: pool, Limit: limit}), nil
}
func (d dashSource) Licenses(ctx context.Context) (*licmeshv1.ListLicensesResponse, error) {
	resp, err := adminHandler(d).ListLicenses(ctx, connect.NewRequest(&licmeshv1.ListLicensesRequest{}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func (d dashSource) UsageOverview(ctx context.Context) (*licmeshv1.UsageOverviewResponse, error) {
	resp, err := adminHandler(d).UsageOverview(ctx, connect.NewRequest(&licmeshv1.UsageOverviewRequest{}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func (d dashSource) UsageHistory(ctx context.Context, installation string) (*licmeshv1.UsageHistoryResponse, error) {
	resp, err := adminHandler(d).UsageHistory(ctx, connect.NewRequest(&licmeshv1.UsageHistoryRequest{Installation: installation}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func (d dashSource) UsageMonth(ctx context.Context, month string) (*licmeshv1.UsageMonthResponse, error) {
	resp, err := adminHandler(d).UsageMonth(ctx, connect.NewRequest(&licmeshv1.UsageMonthRequest{Month: month}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}
