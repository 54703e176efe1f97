package master

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/licmesh/licmesh/mesh/wire"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/fsm"
)

// Bounds on what a collector may send in one request.
const (
	maxRenewPerCall  = 10000
	maxCSRBytes      = 8 << 10
	maxCollectorBody = 1 << 20
)

type collectorKey struct{}

// callerInfo is what the transport tells about a collector's request.
type callerInfo struct {
	id    string
	proto string // "h3" or "h2"
}

// collectorMux serves the collector protocol. The verified client
// certificate, when there is one, is put in the request's context; every
// call but Enroll requires it.
func (s *Server) collectorMux() http.Handler {
	mux := http.NewServeMux()
	path, h := licmeshv1connect.NewCollectorServiceHandler(collectorHandler{s},
		connect.WithReadMaxBytes(maxCollectorBody), connect.WithCodec(wire.StrictJSON{}),
		connect.WithCompressMinBytes(compressMin))
	mux.Handle("GET /v1/artifacts/{sha}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "a collector certificate is needed", http.StatusUnauthorized)
			return
		}
		role, id, err := pki.VerifiedPeer(*r.TLS)
		if _, ok := s.fsm.Collector(id); err != nil || role != pki.RoleCollector || !ok {
			http.Error(w, "an enrolled collector's certificate is needed", http.StatusForbidden)
			return
		}
		s.serveArtifact(w, r)
	}))
	mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A master that has not caught up since it started would answer
		// from old state: refuse a seat, call an enrolled collector a
		// stranger. It sends the collector to another master instead.
		if !s.caughtUp() {
			_ = connect.NewErrorWriter().Write(w, r, connect.NewError(connect.CodeUnavailable, ErrCatchingUp))
			return
		}
		if r.TLS != nil {
			if role, id, err := pki.VerifiedPeer(*r.TLS); err == nil && role == pki.RoleCollector {
				proto := "h2"
				if r.ProtoMajor == 3 {
					proto = "h3"
				}
				r = r.WithContext(context.WithValue(r.Context(), collectorKey{}, callerInfo{id: id, proto: proto}))
			}
		}
		// A renewal stream waits in Receive for its collector's next
		// renewal, and would hold a stopping master's shutdown for its
		// whole timeout: closing the request body ends the wait, and the
		// collector renews on another master. (An entitlement stream
		// waits on stopping itself.)
		if r.URL.Path == licmeshv1connect.CollectorServiceRenewStreamProcedure {
			body := r.Body
			defer context.AfterFunc(s.stopping, func() { _ = body.Close() })()
		}
		h.ServeHTTP(w, r)
	}))
	return mux
}

type collectorHandler struct{ s *Server }

var _ licmeshv1connect.CollectorServiceHandler = collectorHandler{}

// caller returns the enrolled collector making the request.
func (h collectorHandler) caller(ctx context.Context) (string, error) {
	ci, _ := ctx.Value(collectorKey{}).(callerInfo)
	id := ci.id
	if id == "" {
		return "", connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("%w: no collector certificate", ErrNotCollector))
	}
	if _, ok := h.s.fsm.Collector(id); !ok {
		return "", connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: collector %s is not enrolled", ErrNotCollector, id))
	}
	return id, nil
}

func checkProtocol(v uint32) error {
	if !wire.Supported(v) {
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%w %d: this master speaks %d to %d",
			ErrProtocol, v, wire.MinProtocolVersion, wire.ProtocolVersion))
	}
	return nil
}

func (h collectorHandler) Enroll(ctx context.Context, req *connect.Request[licmeshv1.EnrollRequest]) (*connect.Response[licmeshv1.EnrollResponse], error) {
	s, m := h.s, req.Msg
	if err := checkProtocol(m.ProtocolVersion); err != nil {
		return nil, err
	}
	tokID, err := pki.ParseTokenID(m.TokenId)
	if err != nil {
		s.m.enrollsRefused.WithLabelValues("malformed").Inc()
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	if len(m.TokenSecret) != 32 {
		s.m.enrollsRefused.WithLabelValues("malformed").Inc()
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: token secret must be 32 bytes", ErrBadRequest))
	}
	if len(m.Csr) == 0 || len(m.Csr) > maxCSRBytes {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: certificate request missing or larger than %d bytes", ErrBadRequest, maxCSRBytes))
	}
	if err := lease.ValidateField("hostname", m.Hostname, fsm.MaxHostnameLen); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	if err := lease.ValidateField("version", m.Version, 64); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	sg, err := s.signingKey()
	if err != nil {
		return nil, toConnect(err)
	}
	id := newCollectorID()
	// The CSR is checked (and the certificate made) before the token is
	// spent, so a bad request costs the operator no use of the token.
	certDER, err := s.id.ca.SignCSR(m.Csr, id, s.cfg.CollectorCertTTL, s.now())
	if err != nil {
		s.m.enrollsRefused.WithLabelValues("csr").Inc()
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	_, err = s.apply(ctx, fsm.EnrollType, fsm.Enroll{
		TokenID: string(tokID), SecretHash: fsm.Hash(sha256.Sum256(m.TokenSecret)), CollectorID: id,
		Hostname: m.Hostname, Version: m.Version, CertSerial: certSerial(certDER), Now: s.now().UnixMilli(),
	})
	if err != nil {
		s.m.enrollsRefused.WithLabelValues(reasonOf(err)).Inc()
		return nil, toConnect(err)
	}
	s.m.enrollments.Inc()
	s.log.Info("collector enrolled", "collector_id", id, "hostname", m.Hostname, "token_id", string(tokID))
	return connect.NewResponse(&licmeshv1.EnrollResponse{
		ProtocolVersion:  wire.ProtocolVersion,
		CollectorId:      id,
		Certificate:      certDER,
		CaCertificate:    s.id.ca.Cert().Raw,
		ClusterId:        sg.clusterID,
		SigningPublicKey: sg.pub,
		Masters:          s.collectorAddrs(),
	}), nil
}

func (h collectorHandler) RenewCertificate(ctx context.Context, req *connect.Request[licmeshv1.RenewCertificateRequest]) (*connect.Response[licmeshv1.RenewCertificateResponse], error) {
	id, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	s := h.s
	if len(req.Msg.Csr) == 0 || len(req.Msg.Csr) > maxCSRBytes {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: certificate request missing or too large", ErrBadRequest))
	}
	certDER, err := s.id.ca.SignCSR(req.Msg.Csr, id, s.cfg.CollectorCertTTL, s.now())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	if _, err := s.apply(ctx, fsm.RenewCertType, fsm.RenewCert{CollectorID: id, CertSerial: certSerial(certDER), Now: s.now().UnixMilli()}); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&licmeshv1.RenewCertificateResponse{Certificate: certDER}), nil
}

func (h collectorHandler) Hello(ctx context.Context, req *connect.Request[licmeshv1.HelloRequest]) (*connect.Response[licmeshv1.HelloResponse], error) {
	id, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkProtocol(req.Msg.ProtocolVersion); err != nil {
		return nil, err
	}
	if err := lease.ValidateField("version", req.Msg.Version, 64); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	s := h.s
	sg, err := s.signingKey()
	if err != nil {
		return nil, toConnect(err)
	}
	s.sawCollector(ctx, id, req.Msg.Version)
	return connect.NewResponse(&licmeshv1.HelloResponse{
		ProtocolVersion:  wire.ProtocolVersion,
		NodeId:           s.cfg.NodeID,
		ClusterId:        sg.clusterID,
		Masters:          s.collectorAddrs(),
		LeaseTtlMs:       s.cfg.LeaseTTL.Milliseconds(),
		ServerTimeMs:     s.now().UnixMilli(),
		SigningPublicKey: sg.pub,
		Leader:           s.leaderCollectorAddr(),
	}), nil
}

func (h collectorHandler) Acquire(ctx context.Context, req *connect.Request[licmeshv1.AcquireRequest]) (*connect.Response[licmeshv1.AcquireResponse], error) {
	id, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	if err := checkSeatRequest(m.Pool, m.Holder); err != nil {
		return nil, err
	}
	s := h.s
	if ok, why := s.fsm.CoversPool(id, m.Pool); !ok {
		s.m.refused.WithLabelValues("not_covered").Inc()
		return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: %s", ErrNotCovered, why))
	}
	r, err := s.submitLease(ctx, fsm.LeaseOp{
		Kind: fsm.Acquire, Pool: m.Pool, Holder: m.Holder, CollectorID: id, TTLms: s.cfg.LeaseTTL.Milliseconds(), Offline: m.Offline,
	})
	if err == nil {
		err = r.Err
	}
	w, err := s.granted(id, r, err, s.renewOne(ctx, id))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&licmeshv1.AcquireResponse{Lease: w, Existing: r.Existing}), nil
}

// renewal renews a lease a holder asked for again.
type renewal func(leaseID uint64) (*licmeshv1.RenewResult, error)

// renewOne is the renewal of a single acquire.
func (s *Server) renewOne(ctx context.Context, collectorID string) renewal {
	return func(leaseID uint64) (*licmeshv1.RenewResult, error) {
		rr, err := s.renew(ctx, collectorID, []uint64{leaseID})
		if err != nil {
			return nil, err
		}
		return rr[0], nil
	}
}

// granted turns the outcome of an acquire into the lease the collector is
// answered, signed; a refusal becomes its connect error.
func (s *Server) granted(id string, r fsm.OpResult, err error, renew renewal) (*licmeshv1.Lease, error) {
	if err != nil {
		s.m.refused.WithLabelValues(reasonOf(err)).Inc()
		return nil, toConnect(err)
	}
	if r.Lease == nil {
		return nil, connect.NewError(connect.CodeInternal, errors.New("master: grant without a lease"))
	}
	if r.Existing {
		s.m.regrants.Inc()
	} else {
		s.m.grants.Inc()
	}
	w := leaseToWire(*r.Lease)
	if r.Existing {
		// The holder asks again for a seat it has: that is a renewal too,
		// or the leader's deadline could end before the collector's count.
		rr, err := renew(w.Id)
		if err != nil {
			return nil, toConnect(err)
		}
		if !rr.Ok {
			return nil, connect.NewError(connect.CodeUnavailable,
				fmt.Errorf("%w: the holder's lease %d is expiring (%s); ask again", ErrLeaseNotHeld, w.Id, rr.Reason))
		}
		w.TtlMs, w.ExpiresAtMs = rr.TtlMs, rr.ExpiresAtMs
	}
	if r.Lease.Borrowed != 0 {
		w.ExpiresAtMs = r.Lease.Borrowed
	}
	tok, err := s.signLease(*r.Lease, w.ExpiresAtMs)
	if err != nil {
		return nil, toConnect(err)
	}
	w.Token = string(tok)
	return w, nil
}

// maxSeatOpsPerCall bounds one SeatOps call: a collector sends at most its
// max_in_flight operations at once, far below this.
const maxSeatOpsPerCall = 4096

// SeatOps runs many acquires and releases through one call, each joining
// this master's coalescer as the single calls do, and answers each in
// order: a refusal of one is that one's answer, not the call's. A call's
// operations join the coalescer as one group, so they are applied in one
// Raft entry, in the order sent.
func (h collectorHandler) SeatOps(ctx context.Context, req *connect.Request[licmeshv1.SeatOpsRequest]) (*connect.Response[licmeshv1.SeatOpsResponse], error) {
	id, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	s := h.s
	if len(req.Msg.Ops) == 0 || len(req.Msg.Ops) > maxSeatOpsPerCall {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: 1 to %d seat operations per call, not %d", ErrBadRequest, maxSeatOpsPerCall, len(req.Msg.Ops)))
	}
	results := make([]*licmeshv1.LeaseOpResult, len(req.Msg.Ops))
	refuse := func(i int, err error) { results[i] = refusal(err) }
	ops := make([]fsm.LeaseOp, 0, len(req.Msg.Ops))
	idx := make([]int, 0, len(req.Msg.Ops))
	for i, w := range req.Msg.Ops {
		if w.CollectorId != "" {
			refuse(i, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: collector_id comes from the certificate", ErrBadRequest)))
			continue
		}
		op, err := leaseOpFromWire(w)
		if err != nil {
			refuse(i, err)
			continue
		}
		op.CollectorID = id
		if op.Kind == fsm.Acquire {
			if err := checkSeatRequest(op.Pool, op.Holder); err != nil {
				refuse(i, err)
				continue
			}
			if ok, why := s.fsm.CoversPool(id, op.Pool); !ok {
				s.m.refused.WithLabelValues("not_covered").Inc()
				refuse(i, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: %s", ErrNotCovered, why)))
				continue
			}
			op.TTLms = s.cfg.LeaseTTL.Milliseconds()
		}
		ops = append(ops, op)
		idx = append(idx, i)
	}
	res, errs := s.submitLeases(ctx, ops)
	// Nothing went through (no leader, an election, this master stopping):
	// the call fails as a whole, Unavailable on the wire, so that the
	// collector waits out the election as it does for a single call rather
	// than taking one refusal per operation as this master's fault.
	if len(ops) > 0 && !slices.ContainsFunc(errs, func(err error) bool { return err == nil }) {
		return nil, toConnect(errs[0])
	}
	renew := s.renewAgain(ctx, id, res, errs)
	for j, i := range idx {
		err := errs[j]
		if err == nil {
			err = res[j].Err
		}
		if ops[j].Kind == fsm.Release {
			if err != nil {
				refuse(i, err)
				continue
			}
			s.m.releases.Inc()
			results[i] = &licmeshv1.LeaseOpResult{}
			continue
		}
		w, err := s.granted(id, res[j], err, renew)
		if err != nil {
			refuse(i, err)
			continue
		}
		results[i] = &licmeshv1.LeaseOpResult{Lease: w, Existing: res[j].Existing}
	}
	return connect.NewResponse(&licmeshv1.SeatOpsResponse{Results: results, Leader: s.leaderCollectorAddr()}), nil
}

func (h collectorHandler) Renew(ctx context.Context, req *connect.Request[licmeshv1.RenewRequest]) (*connect.Response[licmeshv1.RenewResponse], error) {
	id, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := h.renewCall(ctx, id, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(resp), nil
}

// RenewStream answers renewals one by one on one stream, each as Renew
// would. An error ends the stream: the collector renews by Renew on
// another master and comes back with a new stream.
func (h collectorHandler) RenewStream(ctx context.Context, stream *connect.BidiStream[licmeshv1.RenewStreamRequest, licmeshv1.RenewStreamResponse]) error {
	id, err := h.caller(ctx)
	if err != nil {
		return err
	}
	h.s.m.renewStreams.Inc()
	defer h.s.m.renewStreams.Dec()
	for {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if req.Renew == nil {
			return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: a renewal stream message carries no renewal", ErrBadRequest))
		}
		// No deadline per renewal, as a unary call would carry: a
		// collector that stops waiting cuts the stream, which cancels ctx,
		// and a vanished one's connection times out. A timer per renewal
		// would mean thousands a second on a big site.
		resp, err := h.renewCall(ctx, id, req.Renew)
		if err != nil {
			return err
		}
		if err := stream.Send(&licmeshv1.RenewStreamResponse{Renew: resp}); err != nil {
			return err
		}
	}
}

// renewCall answers one renewal request of collector id, from Renew or a
// RenewStream.
func (h collectorHandler) renewCall(ctx context.Context, id string, req *licmeshv1.RenewRequest) (*licmeshv1.RenewResponse, error) {
	if len(req.LeaseIds) > maxRenewPerCall {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: at most %d leases per renewal", ErrBadRequest, maxRenewPerCall))
	}
	if v := req.Version; v != "" {
		if err := lease.ValidateField("version", v, 64); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
	}
	s := h.s
	results, err := s.renew(ctx, id, req.LeaseIds)
	if err != nil {
		return nil, toConnect(err)
	}
	if err := s.refreshTokens(results, req.LeaseIds, req.TokenExpiresAtMs); err != nil {
		return nil, toConnect(err)
	}
	// A collector whose renewals carry its version is seen by them, as by
	// a hello; only a call that got through counts.
	seen := req.Version != ""
	if seen {
		s.sawCollector(ctx, id, req.Version)
	}
	return &licmeshv1.RenewResponse{Results: results, Masters: s.collectorAddrs(), Leader: s.leaderCollectorAddr(), Presence: seen}, nil
}

// sawCollector records that collector id, at version, called this master.
func (s *Server) sawCollector(ctx context.Context, id, version string) {
	ci, _ := ctx.Value(collectorKey{}).(callerInfo)
	s.presence.seen(id, version, ci.proto, s.now())
}

// refreshTokens signs a fresh lease document for each renewed lease whose
// token, as the collector reported it, has less than half a TTL left. With
// renewals every third of a TTL that is about every other renewal, so a held
// token never lapses while renewals succeed, and most renewals cost no
// signature. Signing happens on the master the collector talks to, which
// spreads the work over the cluster.
func (s *Server) refreshTokens(results []*licmeshv1.RenewResult, ids []uint64, tokenEnds []int64) error {
	if len(tokenEnds) == 0 {
		return nil
	}
	if len(tokenEnds) != len(ids) {
		return fmt.Errorf("%w: %d token ends for %d leases", ErrBadRequest, len(tokenEnds), len(ids))
	}
	half := s.cfg.LeaseTTL.Milliseconds() / 2
	now := s.now().UnixMilli()
	for i, r := range results {
		if !r.Ok || i >= len(ids) || r.LeaseId != ids[i] || tokenEnds[i]-now >= half {
			continue
		}
		l, ok := s.fsm.Lease(lease.ID(r.LeaseId))
		if !ok {
			continue
		}
		tok, err := s.signLease(l, r.ExpiresAtMs)
		if err != nil {
			return err
		}
		r.Token = string(tok)
	}
	return nil
}

// renew renews leases on the leader, from its memory, forwarding the call
// when this master is a follower.
func (s *Server) renew(ctx context.Context, collectorID string, ids []uint64) ([]*licmeshv1.RenewResult, error) {
	if s.node.IsLeader() {
		if !s.leading.Load() {
			return nil, fmt.Errorf("%w: the new leader is taking over", ErrNoLeader)
		}
		return s.renewConfirmed(ctx, collectorID, ids)
	}
	pc, err := s.peers.leader()
	if err != nil {
		return nil, err
	}
	s.m.forwarded.Inc()
	resp, err := pc.RenewLeases(ctx, connect.NewRequest(&licmeshv1.RenewLeasesRequest{CollectorId: collectorID, LeaseIds: ids}))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrForwardFailure, err)
	}
	if len(resp.Msg.Results) != len(ids) {
		return nil, fmt.Errorf("%w: %d renewals for %d leases", ErrForwardFailure, len(resp.Msg.Results), len(ids))
	}
	return resp.Msg.Results, nil
}

// renewConfirmed renews from the leader's memory once a quorum has
// confirmed, after the request arrived, that this master still leads. A
// leader deposed while it was frozen may still hold renewals in its sockets;
// without the check it would extend leases that the newer leader has
// expired and granted again. Whatever was confirmed at an instant t is safe
// to extend from t: a newer leader is elected after t and gives every lease
// a full TTL from its own takeover.
//
// The deadlines move while the confirmation is under way, so its round trip
// overlaps the work. A deadline moved for a renewal that then goes
// unanswered errs on the safe side: the master holds the seat longer than
// the collector counts it.
func (s *Server) renewConfirmed(ctx context.Context, collectorID string, ids []uint64) ([]*licmeshv1.RenewResult, error) {
	v := s.leaderCheck.join(true)
	res := s.renewLocal(collectorID, ids)
	if err := v.wait(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotLeader, err)
	}
	// Stepped down while it waited: the deadlines that count are the new
	// leader's.
	if !s.leading.Load() {
		return nil, fmt.Errorf("%w: stepped down", ErrNotLeader)
	}
	return res, nil
}

// renewLocal renews from the leader's memory: no Raft write. Callers have
// confirmed leadership (renewConfirmed).
func (s *Server) renewLocal(collectorID string, raw []uint64) []*licmeshv1.RenewResult {
	// One lookup in the FSM and one in the deadline table for the whole
	// call, not one a lease: a collector renews all its leases at once.
	ids := make([]lease.ID, len(raw))
	for i, id := range raw {
		ids[i] = lease.ID(id)
	}
	views := make([]fsm.RenewView, len(ids))
	s.fsm.RenewViews(collectorID, ids, views)
	results := make([]licmeshv1.RenewResult, len(ids))
	out := make([]*licmeshv1.RenewResult, len(ids))
	for i, id := range raw {
		results[i].LeaseId = id
		out[i] = &results[i]
	}
	// Only the leases the collector holds in a pool still granted are
	// renewed; the others keep out of the table.
	renew := make([]lease.ID, 0, len(ids))
	at := make([]int, 0, len(ids))
	for i, v := range views {
		switch {
		case !v.Held:
			out[i].Reason = "unknown_lease"
		case v.PoolExpired:
			// A pool whose licenses have all ended (past their grace) or
			// been removed renews nothing: its leases run out.
			out[i].Reason = "expired"
		default:
			renew = append(renew, ids[i])
			at = append(at, i)
		}
	}
	now := s.now()
	ttlMs := s.cfg.LeaseTTL.Milliseconds()
	s.table.RenewEach(renew, func(j int, deadline time.Time, err error) {
		r, v := out[at[j]], views[at[j]]
		switch {
		case errors.Is(err, lease.ErrExpired):
			r.Reason = "expired"
		case err != nil:
			r.Reason = "unknown_lease"
		case v.Borrowed != 0:
			// A borrowed seat needs no renewal: it is the collector's
			// until the borrow ends, whatever this answer says.
			r.Ok = true
			r.TtlMs = ttlMs
			r.ExpiresAtMs = v.Borrowed
		default:
			// The table's deadline counts the offline grace on top; what
			// the collector is told, and its token says, is the lease's end
			// without it (the token carries the grace itself).
			end := deadline.Add(-time.Duration(v.GraceMs) * time.Millisecond)
			r.Ok = true
			r.TtlMs = end.Sub(now).Milliseconds()
			r.ExpiresAtMs = end.UnixMilli()
		}
	})
	ok := 0
	for _, r := range out {
		if r.Ok {
			ok++
		}
	}
	s.m.renewals.Add(float64(ok))
	s.m.renewRefused.Add(float64(len(out) - ok))
	return out
}

func (h collectorHandler) Release(ctx context.Context, req *connect.Request[licmeshv1.ReleaseRequest]) (*connect.Response[licmeshv1.ReleaseResponse], error) {
	id, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	s := h.s
	r, err := s.submitLease(ctx, fsm.LeaseOp{Kind: fsm.Release, LeaseID: lease.ID(req.Msg.LeaseId), CollectorID: id})
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return nil, toConnect(err)
	}
	s.m.releases.Inc()
	return connect.NewResponse(&licmeshv1.ReleaseResponse{}), nil
}

// renewAgain renews, in one call under one leadership confirmation, the
// leases of a batch's holders who asked again for the seat they have, and
// returns the renewal that answers each.
func (s *Server) renewAgain(ctx context.Context, collectorID string, res []fsm.OpResult, errs []error) renewal {
	var ids []uint64
	for j, r := range res {
		if errs[j] == nil && r.Err == nil && r.Existing && r.Lease != nil {
			ids = append(ids, uint64(r.Lease.ID))
		}
	}
	if len(ids) == 0 {
		return s.renewOne(ctx, collectorID)
	}
	rr, err := s.renew(ctx, collectorID, ids)
	byID := make(map[uint64]*licmeshv1.RenewResult, len(rr))
	for _, r := range rr {
		byID[r.LeaseId] = r
	}
	return func(leaseID uint64) (*licmeshv1.RenewResult, error) {
		if err != nil {
			return nil, err
		}
		if r, ok := byID[leaseID]; ok {
			return r, nil
		}
		return nil, fmt.Errorf("%w: no renewal of lease %d", ErrForwardFailure, leaseID)
	}
}

// checkSeatRequest checks the pool and holder a collector asks a seat for.
// The holder's bound is the lease document's, so that a holder the master
// takes always fits the lease it is granted.
func checkSeatRequest(pool, holder string) error {
	if err := lease.ValidatePoolName(pool); err != nil {
		return connect.NewError(connect.CodeInvalidArgument, err)
	}
	if err := lease.ValidateField("holder", holder, lease.MaxHolderLen); err != nil {
		return connect.NewError(connect.CodeInvalidArgument, err)
	}
	return nil
}

// Borrow lends a seat until now + duration_ms, through Raft, and answers
// with the lease and its document signed to the borrow's end.
func (h collectorHandler) Borrow(ctx context.Context, req *connect.Request[licmeshv1.BorrowRequest]) (*connect.Response[licmeshv1.BorrowResponse], error) {
	id, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	if err := checkSeatRequest(m.Pool, m.Holder); err != nil {
		return nil, err
	}
	if m.DurationMs <= 0 || m.DurationMs > lease.MaxBorrow.Milliseconds() {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: borrow for %d ms: want 1 ms to %s", ErrBadRequest, m.DurationMs, lease.MaxBorrow))
	}
	s := h.s
	if ok, why := s.fsm.CoversPool(id, m.Pool); !ok {
		s.m.refused.WithLabelValues("not_covered").Inc()
		return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: %s", ErrNotCovered, why))
	}
	now := s.now().UnixMilli()
	cmd := fsm.BorrowLease{Now: now, Pool: m.Pool, Holder: m.Holder, CollectorID: id, TTLms: s.cfg.LeaseTTL.Milliseconds(), Until: now + m.DurationMs}
	if _, err := s.apply(ctx, fsm.BorrowLeaseType, cmd); err != nil {
		s.m.refused.WithLabelValues(reasonOf(err)).Inc()
		return nil, toConnect(err)
	}
	// The lease as this master's FSM has it: apply waited for it here.
	ls := s.fsm.Leases(fsm.LeaseFilter{Pool: m.Pool, Holder: m.Holder})
	if len(ls) != 1 || ls[0].Borrowed == 0 || ls[0].CollectorID != id {
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("%w: the borrow committed but this master has not applied it yet; ask again", ErrLeaseNotHeld))
	}
	l := ls[0]
	w := leaseToWire(l)
	tok, err := s.signLease(l, l.Borrowed)
	if err != nil {
		return nil, toConnect(err)
	}
	w.Token = string(tok)
	s.m.grants.Inc()
	return connect.NewResponse(&licmeshv1.BorrowResponse{Lease: w, Existing: l.GrantedAt < now}), nil
}

// collectorAddrs lists the collector-protocol addresses of the live masters.
// leaderCollectorAddr is the leader's collector address as gossip has it,
// "" when no leader is known.
func (s *Server) leaderCollectorAddr() string {
	return s.node.LeaderMeta()[metaCollector]
}

// collectorAddrs is the alive masters' collector addresses, which every
// Hello and Renew answer carries. It is read from gossip (and Raft's
// configuration, a round trip through Raft's loop) at most once a second
// and shared: under load that was a twentieth of the leader's CPU. The
// slice must not be changed.
func (s *Server) collectorAddrs() []string {
	if c := s.addrCache.Load(); c != nil && time.Since(c.at) < collectorAddrsMaxAge {
		return c.addrs
	}
	addrs := s.readCollectorAddrs()
	s.addrCache.Store(&addrCache{addrs: addrs, at: time.Now()})
	return addrs
}

// collectorAddrsMaxAge bounds how stale the masters list in answers is.
const collectorAddrsMaxAge = time.Second

type addrCache struct {
	addrs []string
	at    time.Time
}

func (s *Server) readCollectorAddrs() []string {
	var out []string
	for _, m := range s.node.Members() {
		if m.State != "alive" {
			continue
		}
		if a := m.Meta[metaCollector]; a != "" {
			out = append(out, a)
		}
	}
	return out
}

// signingKey returns the cluster's lease-signing key, parsed once from the
// replicated state.
func (s *Server) signingKey() (*signer, error) {
	if sg := s.signer.Load(); sg != nil {
		return sg, nil
	}
	info, ok := s.fsm.Cluster()
	if !ok {
		return nil, ErrNotBootstrap
	}
	sg := &signer{clusterID: info.ID, priv: info.SigningPrivateKey(), pub: info.SigningPublicKey()}
	s.signer.Store(sg)
	return sg, nil
}

var collectorIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newCollectorID returns "c-" and 16 random base32 characters (80 bits).
func newCollectorID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return "c-" + strings.ToLower(collectorIDEncoding.EncodeToString(b))
}

func certSerial(der []byte) string {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return ""
	}
	return c.SerialNumber.Text(16)
}
