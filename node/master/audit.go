package master

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/dashboard"
	"github.com/licmesh/licmesh/node/fsm"
)

// The master's half of the audit log (fsm/audit.go): every admin API call
// that may change something, from the API or the dashboard, is audited.
// Its commands go into Raft wrapped with who asked (s.apply does the
// wrapping when the context carries an auditReq), and what changed nothing
// or ended in an error is recorded with an AuditEvent once the call
// returns. Reads are not audited.

// readOnly are the admin API calls that change nothing.
var readOnly = map[string]bool{
	licmeshv1connect.AdminServiceGetStatusProcedure:           true,
	licmeshv1connect.AdminServiceUpdateStatusProcedure:        true,
	licmeshv1connect.AdminServiceListMembersProcedure:         true,
	licmeshv1connect.AdminServiceListPoolsProcedure:           true,
	licmeshv1connect.AdminServiceListLeasesProcedure:          true,
	licmeshv1connect.AdminServiceListTokensProcedure:          true,
	licmeshv1connect.AdminServiceListCollectorsProcedure:      true,
	licmeshv1connect.AdminServiceListLicensesProcedure:        true,
	licmeshv1connect.AdminServiceGetLicenseProcedure:          true,
	licmeshv1connect.AdminServiceUsageOverviewProcedure:       true,
	licmeshv1connect.AdminServiceUsageHistoryProcedure:        true,
	licmeshv1connect.AdminServiceUsageMonthProcedure:          true,
	licmeshv1connect.AdminServiceUsageDaysProcedure:           true,
	licmeshv1connect.AdminServiceGetUpstreamProcedure:         true,
	licmeshv1connect.AdminServiceListAlertsProcedure:          true,
	licmeshv1connect.AdminServiceListAlertRulesProcedure:      true,
	licmeshv1connect.AdminServiceListAlertChannelsProcedure:   true,
	licmeshv1connect.AdminServiceListAlertDeliveriesProcedure: true,
	licmeshv1connect.AdminServiceGetCallerProcedure:           true,
	licmeshv1connect.AdminServiceListUsersProcedure:           true,
	licmeshv1connect.AdminServiceListAuditLogProcedure:        true,
	licmeshv1connect.AdminServiceGetAlertPrefsProcedure:       true,
	licmeshv1connect.AdminServiceListDepartmentsProcedure:     true,
	licmeshv1connect.AdminServiceListAssignmentsProcedure:     true,
	licmeshv1connect.AdminServiceGetReconciliationProcedure:   true,
	licmeshv1connect.AdminServiceGetUtilizationProcedure:      true,
	licmeshv1connect.AdminServiceListLicenseCostsProcedure:    true,
	licmeshv1connect.AdminServiceListPurchasesProcedure:       true,
	// Marking alerts read is one person's view, not the site's state.
	licmeshv1connect.AdminServiceMarkAlertsReadProcedure: true,
	// ListHubCompanies asks the hub and changes nothing here.
	licmeshv1connect.AdminServiceListHubCompaniesProcedure: true,
}

// auditReq is one audited request in flight.
type auditReq struct {
	info    fsm.AuditInfo
	applied atomic.Int32 // commands committed for it
}

type auditKey struct{}

func auditFrom(ctx context.Context) (*auditReq, bool) {
	a, ok := ctx.Value(auditKey{}).(*auditReq)
	return a, ok
}

func newRequestID() string {
	b := make([]byte, 12)
	rand.Read(b) // crypto/rand.Read never returns an error.
	return hex.EncodeToString(b)
}

// remoteAddrKey carries the HTTP peer of a dashboard request.
type remoteAddrKey struct{}

// withRemoteAddr remembers each request's peer address, for the audit
// records of the dashboard's actions.
func withRemoteAddr(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), remoteAddrKey{}, r.RemoteAddr)))
	})
}

func remoteAddrFrom(ctx context.Context) string {
	a, _ := ctx.Value(remoteAddrKey{}).(string)
	return a
}

// newAuditReq starts the audit of one call of procedure by p from addr.
func (s *Server) newAuditReq(p Principal, procedure, addr, via string) *auditReq {
	return &auditReq{info: fsm.AuditInfo{
		RequestID: newRequestID(), Actor: p.ID, Role: string(p.Role), Addr: clipText(addr),
		Action: procedure[strings.LastIndexByte(procedure, '/')+1:], Via: via,
		RetentionMs: s.cfg.AuditRetention.Milliseconds(),
	}}
}

// audit runs call as an audited request: what it commits is recorded with
// it, and if it commits nothing or fails, an AuditEvent says how it ended.
func (s *Server) audit(ctx context.Context, a *auditReq, call func(context.Context) error) error {
	err := call(context.WithValue(ctx, auditKey{}, a))
	if err == nil && a.applied.Load() > 0 {
		return nil
	}
	s.auditEvent(a, err)
	return err
}

// auditEvent records how a request ended. It outlives the request's own
// context: a caller that hung up still leaves its trace.
func (s *Server) auditEvent(a *auditReq, err error) {
	outcome, code := "ok", ""
	if err != nil {
		code = connect.CodeOf(err).String()
		outcome = err.Error()
		if ce := (*connect.Error)(nil); errors.As(err, &ce) {
			outcome = ce.Message()
		}
		if len(outcome) > 500 {
			outcome = outcome[:500]
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()
	ev := fsm.AuditEvent{Info: a.info, Outcome: outcome, Code: code, Now: s.now().UnixMilli()}
	if _, aerr := s.apply(ctx, fsm.AuditEventType, ev); aerr != nil {
		// The change, if any, is recorded with its command; this is only
		// the ending. Say so where an operator looks.
		s.log.Error("audit: the request's outcome could not be recorded", "request_id", a.info.RequestID,
			"action", a.info.Action, "actor", a.info.Actor, "err", aerr)
	}
}

// auditInterceptor audits every admin API call that may change something.
func (s *Server) auditInterceptor() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			proc := req.Spec().Procedure
			p, ok := principalFrom(ctx)
			if readOnly[proc] || !ok {
				return next(ctx, req)
			}
			var resp connect.AnyResponse
			err := s.audit(ctx, s.newAuditReq(p, proc, req.Peer().Addr, "api"), func(ctx context.Context) error {
				var err error
				resp, err = next(ctx, req)
				return err
			})
			return resp, err
		}
	}
}

// wrapAudited wraps an encoded command for the request in ctx, if any.
func wrapAudited(ctx context.Context, data []byte) ([]byte, error) {
	a, ok := auditFrom(ctx)
	if !ok {
		return data, nil
	}
	c, err := fsm.NewAudited(a.info, data)
	if err != nil {
		return nil, err
	}
	out, err := fsm.Encode(fsm.AuditedType, c)
	if err != nil {
		return nil, err
	}
	a.applied.Add(1)
	return out, nil
}

func (h adminHandler) ListAuditLog(ctx context.Context, req *connect.Request[licmeshv1.ListAuditLogRequest]) (*connect.Response[licmeshv1.ListAuditLogResponse], error) {
	m := req.Msg
	if m.Limit > 1000 {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: limit %d: at most 1000", ErrBadRequest, m.Limit))
	}
	if m.SinceMs < 0 || m.UntilMs < 0 || (m.UntilMs != 0 && m.UntilMs <= m.SinceMs) {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: since %d, until %d: want 0 <= since < until", ErrBadRequest, m.SinceMs, m.UntilMs))
	}
	page := h.s.fsm.Audit(fsm.AuditFilter{Actor: m.Actor, Action: m.Action, Since: m.SinceMs, Until: m.UntilMs, Before: m.BeforeSeq, Limit: int(m.Limit)})
	out := &licmeshv1.ListAuditLogResponse{More: page.More, Dropped: page.Dropped, Kept: uint32(page.Kept)}
	for _, r := range page.Records {
		out.Records = append(out.Records, &licmeshv1.AuditRecord{
			Seq: r.Seq, AtMs: r.At, RequestId: r.RequestID, Actor: r.Actor, Role: r.Role, Addr: r.Addr,
			Action: r.Action, Via: r.Via, Commands: r.Commands, Outcome: r.Outcome, Code: r.Code,
		})
	}
	return connect.NewResponse(out), nil
}

// auditSignIn records a dashboard sign-in: every one that succeeded, and
// the refusals of names that are accounts. A refusal of a name that is no
// account is only logged: anyone can send those, and the log in Raft is
// not theirs to fill. The throttle bounds the rest to a few per name.
func (s *Server) auditSignIn(ctx context.Context, c dashboard.Credentials, p Principal, err error) {
	if err != nil && c.Token == "" {
		if _, ok := s.fsm.User(c.User); !ok {
			return
		}
		p = Principal{ID: "user:" + c.User, User: c.User}
	}
	if err != nil && c.Token != "" {
		return // a token that is no token names nobody
	}
	a := s.newAuditReq(p, "/dashboard/SignIn", remoteAddrFrom(ctx), "dashboard")
	if err != nil {
		err = connect.NewError(connect.CodeUnauthenticated, err)
	}
	s.auditEvent(a, err)
}
