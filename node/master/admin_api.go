package master

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/mesh/cluster"
	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/licmesh/licmesh/mesh/wire"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/fsm"
	"github.com/licmesh/licmesh/node/version"
)

// requirePerm admits requests bearing a valid API token whose principal
// may do what the path asks: for the admin API, the call's permission in
// methodPerms (any path not there is refused to everyone); for any other
// path, perm.
func (s *Server) requirePerm(perm Perm, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			writeConnectError(w, connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("%w: no bearer token", ErrUnauthorized)))
			return
		}
		p, err := s.checkToken(tok)
		if err != nil {
			writeConnectError(w, connect.NewError(connect.CodeUnauthenticated, ErrUnauthorized))
			return
		}
		allowed := p.Can(perm)
		if perm == "" {
			allowed = p.mayCall(r.URL.Path)
		}
		if !allowed {
			err := connect.NewError(connect.CodePermissionDenied, deniedError(p, r.URL.Path, perm))
			if _, known := methodPerms[r.URL.Path]; known && perm == "" && !readOnly[r.URL.Path] {
				s.auditEvent(s.newAuditReq(p, r.URL.Path, r.RemoteAddr, "api"), err)
			}
			writeConnectError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

// deniedError names who was refused what, and what it would take.
func deniedError(p Principal, path string, perm Perm) error {
	need := []Perm{perm}
	if perm == "" {
		need = methodPerms[path]
	}
	call := path[strings.LastIndexByte(path, '/')+1:]
	if len(need) == 0 {
		return fmt.Errorf("%w: %s is not a call anyone may make", ErrForbidden, call)
	}
	return fmt.Errorf("%w: %s (role %s) may not call %s: it needs permission %v", ErrForbidden, p.ID, p.Role, call, need)
}

func writeConnectError(w http.ResponseWriter, err *connect.Error) {
	w.Header().Set("Content-Type", "application/json")
	status := http.StatusUnauthorized
	if err.Code() == connect.CodePermissionDenied {
		status = http.StatusForbidden
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"code":%q,"message":%q}`, err.Code().String(), err.Message())
}

type adminHandler struct{ s *Server }

var _ licmeshv1connect.AdminServiceHandler = adminHandler{}

func (h adminHandler) GetStatus(ctx context.Context, _ *connect.Request[licmeshv1.GetStatusRequest]) (*connect.Response[licmeshv1.GetStatusResponse], error) {
	return connect.NewResponse(h.s.status()), nil
}

func (s *Server) status() *licmeshv1.GetStatusResponse {
	st := s.node.Stats()
	leaderID, _ := s.node.Leader()
	c := s.fsm.Counts()
	up := s.fsm.Upstream()
	voters := 0
	for _, m := range s.node.Members() {
		if m.Voter {
			voters++
		}
	}
	return &licmeshv1.GetStatusResponse{
		ClusterId:       s.id.clusterID,
		NodeId:          s.cfg.NodeID,
		State:           strings.ToLower(st["state"]),
		LeaderId:        string(leaderID),
		LeaderApiAddr:   s.node.LeaderMeta()[metaAPI],
		Term:            parseUint(st["term"]),
		CommitIndex:     parseUint(st["commit_index"]),
		AppliedIndex:    parseUint(st["applied_index"]),
		LastLogIndex:    parseUint(st["last_log_index"]),
		TrustedTimeMs:   s.fsm.TrustedTime().UnixMilli(),
		LocalTimeMs:     s.now().UnixMilli(),
		ClockTampered:   s.clockTampered(),
		Version:         version.Version,
		ProtocolVersion: wire.ProtocolVersion,
		Pools:           uint32(c.Pools),
		Leases:          uint32(c.Leases),
		Collectors:      uint32(c.Collectors),
		Voters:          uint32(voters),

		HubUrl:                  up.Hub.URL,
		LastLicenseCheckMs:      up.Check.At,
		LastLicenseCheckSummary: up.Check.Summary,
		UsageBatchesAcked:       up.Acked,
		UsageBatchesSealed:      up.HeadSeq,
	}
}

func parseUint(s string) uint64 {
	var n uint64
	fmt.Sscanf(s, "%d", &n)
	return n
}

func (h adminHandler) ListMembers(ctx context.Context, _ *connect.Request[licmeshv1.ListMembersRequest]) (*connect.Response[licmeshv1.ListMembersResponse], error) {
	return connect.NewResponse(&licmeshv1.ListMembersResponse{Members: h.s.members()}), nil
}

func (s *Server) members() []*licmeshv1.Member {
	var out []*licmeshv1.Member
	for _, m := range s.node.Members() {
		out = append(out, &licmeshv1.Member{
			Id: string(m.ID), GossipAddr: m.GossipAddr, RaftAddr: m.RaftAddr, ApiAddr: m.Meta[metaAPI],
			State: string(m.State), Voter: m.Voter, Leader: m.Leader, Version: m.Meta[metaVersion],
		})
	}
	slices.SortFunc(out, func(a, b *licmeshv1.Member) int { return strings.Compare(a.Id, b.Id) })
	return out
}

func (h adminHandler) RemovePeer(ctx context.Context, req *connect.Request[licmeshv1.RemovePeerRequest]) (*connect.Response[licmeshv1.RemovePeerResponse], error) {
	if err := h.s.removePeer(ctx, req.Msg.Id); err != nil {
		return nil, err
	}
	return connect.NewResponse(&licmeshv1.RemovePeerResponse{}), nil
}

// removePeer removes a dead master from the voters, on the leader or
// forwarded to it.
func (s *Server) removePeer(ctx context.Context, id string) error {
	if id == "" {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: peer id is empty", ErrBadRequest))
	}
	if !s.node.IsLeader() {
		pc, err := s.peers.leader()
		if err != nil {
			return toConnect(err)
		}
		_, err = pc.RemoveServer(ctx, connect.NewRequest(&licmeshv1.RemoveServerRequest{Id: id}))
		return err
	}
	if err := s.node.RemovePeer(ctx, cluster.NodeID(id)); err != nil {
		return connect.NewError(connect.CodeFailedPrecondition, err)
	}
	s.log.Info("peer removed", "peer_id", id)
	return nil
}

func (h adminHandler) CreatePool(ctx context.Context, req *connect.Request[licmeshv1.CreatePoolRequest]) (*connect.Response[licmeshv1.CreatePoolResponse], error) {
	enf, err := lease.ParseEnforcement(req.Msg.Enforce)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	p := lease.Pool{Name: req.Msg.Name, Seats: int(req.Msg.Seats), Enforce: enf}
	if err := p.Validate(); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	if _, err := h.s.apply(ctx, fsm.CreatePoolType, fsm.CreatePool{Pool: p, Now: h.s.now().UnixMilli()}); err != nil {
		return nil, toConnect(err)
	}
	h.s.log.Info("pool created", "pool", p.Name, "seats", p.Seats, "enforce", enf.String())
	return connect.NewResponse(&licmeshv1.CreatePoolResponse{Pool: &licmeshv1.Pool{
		Name: p.Name, Seats: uint32(p.Seats), Enforce: enf.String(),
	}}), nil
}

func (h adminHandler) ListPools(ctx context.Context, _ *connect.Request[licmeshv1.ListPoolsRequest]) (*connect.Response[licmeshv1.ListPoolsResponse], error) {
	return connect.NewResponse(&licmeshv1.ListPoolsResponse{Pools: h.s.pools()}), nil
}

func (s *Server) pools() []*licmeshv1.Pool {
	var out []*licmeshv1.Pool
	for _, p := range s.fsm.Pools() {
		out = append(out, &licmeshv1.Pool{
			Name: p.Pool.Name, Seats: uint32(p.Pool.Seats), Enforce: p.Pool.Enforce.String(), Held: uint32(p.Held),
			OverageGrants: p.OverageGrants, PeakHeld: uint32(p.PeakHeld), LastOverageMs: p.LastOverageAt,
			Source: string(p.Source), Licenses: licenseIDs(p.Licenses),
			GraceMs: p.Pool.Grace.Milliseconds(), MaxBorrowMs: p.Pool.MaxBorrow.Milliseconds(), FailOpen: p.Pool.FailOpen,
			Borrowed: uint32(p.Borrowed), Offline: uint32(p.Offline),
		})
	}
	return out
}

func (h adminHandler) ListLeases(ctx context.Context, req *connect.Request[licmeshv1.ListLeasesRequest]) (*connect.Response[licmeshv1.ListLeasesResponse], error) {
	return connect.NewResponse(&licmeshv1.ListLeasesResponse{
		Leases: h.s.leases(fsm.LeaseFilter{Pool: req.Msg.Pool, Holder: req.Msg.Holder, CollectorID: req.Msg.CollectorId,
			Borrowed: req.Msg.Borrowed, Limit: int(req.Msg.Limit)}),
	}), nil
}

func (s *Server) leases(f fsm.LeaseFilter) []*licmeshv1.Lease {
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 10000
	}
	ls := s.fsm.Leases(f)
	out := make([]*licmeshv1.Lease, len(ls))
	for i, l := range ls {
		out[i] = leaseToWire(l)
		if d, ok := s.table.Deadline(l.ID); ok && s.node.IsLeader() {
			out[i].ExpiresAtMs = d.UnixMilli()
		}
	}
	return out
}

func (h adminHandler) CreateToken(ctx context.Context, req *connect.Request[licmeshv1.CreateTokenRequest]) (*connect.Response[licmeshv1.CreateTokenResponse], error) {
	m, s := req.Msg, h.s
	user, err := s.tokenOwner(ctx, fsm.Role(m.Role), m.User)
	if err != nil {
		return nil, err
	}
	ttl := time.Duration(m.TtlSeconds) * time.Second
	if ttl < time.Second || ttl > 365*24*time.Hour {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: ttl %s: must be between 1s and 8760h", ErrBadRequest, ttl))
	}
	now := s.now()
	var (
		id, text string
		hash     [32]byte
	)
	if m.Role == "collector" {
		t, err := pki.NewJoinToken(s.id.ca.Pin())
		if err != nil {
			return nil, connect.NewError(connect.CodeInternal, err)
		}
		id, text, hash = string(t.ID), t.String(), pki.HashSecret(t.Secret)
	} else {
		t, err := pki.NewAdminToken()
		if err != nil {
			return nil, connect.NewError(connect.CodeInternal, err)
		}
		id, text, hash = string(t.ID), t.String(), pki.HashSecret(t.Secret)
	}
	cmd := fsm.CreateToken{ID: id, SecretHash: fsm.Hash(hash), Role: fsm.Role(m.Role), ExpiresAt: now.Add(ttl).UnixMilli(),
		MaxUses: int(m.MaxUses), Now: now.UnixMilli(), User: user}
	if _, err := s.apply(ctx, fsm.CreateTokenType, cmd); err != nil {
		return nil, toConnect(err)
	}
	s.log.Info("token created", "token_id", id, "role", m.Role, "user", user, "ttl", ttl.String(), "max_uses", m.MaxUses, "by", adminCaller(ctx))
	return connect.NewResponse(&licmeshv1.CreateTokenResponse{
		Token:       &licmeshv1.Token{Id: id, Role: m.Role, CreatedAtMs: cmd.Now, ExpiresAtMs: cmd.ExpiresAt, MaxUses: m.MaxUses, User: user},
		SecretToken: text,
	}), nil
}

func (h adminHandler) ListTokens(ctx context.Context, _ *connect.Request[licmeshv1.ListTokensRequest]) (*connect.Response[licmeshv1.ListTokensResponse], error) {
	var out []*licmeshv1.Token
	for _, t := range h.s.fsm.Tokens() {
		if !mayManageToken(ctx, t) {
			continue
		}
		out = append(out, &licmeshv1.Token{
			Id: t.ID, Role: string(t.Role), CreatedAtMs: t.CreatedAt, ExpiresAtMs: t.ExpiresAt,
			MaxUses: uint32(t.MaxUses), Uses: uint32(t.Uses), Revoked: t.Revoked, User: t.User,
		})
	}
	return connect.NewResponse(&licmeshv1.ListTokensResponse{Tokens: out}), nil
}

func (h adminHandler) RevokeToken(ctx context.Context, req *connect.Request[licmeshv1.RevokeTokenRequest]) (*connect.Response[licmeshv1.RevokeTokenResponse], error) {
	if _, err := pki.ParseTokenID(req.Msg.Id); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	if t, ok := h.s.fsm.Token(req.Msg.Id); ok && !mayManageToken(ctx, t) {
		p, _ := principalFrom(ctx)
		return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: %s may revoke only its own tokens", ErrForbidden, p.ID))
	}
	if _, err := h.s.apply(ctx, fsm.RevokeTokenType, fsm.RevokeToken{ID: req.Msg.Id, Now: h.s.now().UnixMilli()}); err != nil {
		return nil, toConnect(err)
	}
	h.s.log.Info("token revoked", "token_id", req.Msg.Id, "by", adminCaller(ctx))
	return connect.NewResponse(&licmeshv1.RevokeTokenResponse{}), nil
}

func (h adminHandler) ListCollectors(ctx context.Context, _ *connect.Request[licmeshv1.ListCollectorsRequest]) (*connect.Response[licmeshv1.ListCollectorsResponse], error) {
	return connect.NewResponse(&licmeshv1.ListCollectorsResponse{Collectors: h.s.collectors()}), nil
}

func (s *Server) collectors() []*licmeshv1.Collector {
	held := s.fsm.LeasesPerCollector()
	var out []*licmeshv1.Collector
	for _, c := range s.fsm.Collectors() {
		out = append(out, &licmeshv1.Collector{
			Id: c.ID, Hostname: c.Hostname, Version: c.Version, EnrolledAtMs: c.EnrolledAt,
			LastSeenMs: c.LastSeenAt, Protocol: c.Protocol, Leases: uint32(held[c.ID]),
		})
	}
	return out
}

func licenseIDs(ids []license.LicenseID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}

// clockTampered reports whether this master's clock is more than 24 h behind
// the cluster's trusted time: someone set it back, or it drifted badly.
// Validity is judged at trusted time anyway; this is for people to see.
func (s *Server) clockTampered() bool { return license.Tampered(s.now(), s.fsm.TrustedTime()) }
