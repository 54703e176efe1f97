package master

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/mesh/pki"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/fsm"
)

// peerClients keeps one PeerService client per leader API address, over a
// shared HTTP/2 transport authenticated by this master's certificate.
type peerClients struct {
	s  *Server
	hc *http.Client
	mu sync.Mutex
	by map[string]licmeshv1connect.PeerServiceClient
}

func newPeerClients(s *Server) *peerClients {
	tr := &http.Transport{
		TLSClientConfig:     s.peerClientTLS(),
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     time.Minute,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	return &peerClients{s: s, hc: &http.Client{Transport: tr}, by: map[string]licmeshv1connect.PeerServiceClient{}}
}

// leader returns a client for the current leader's API.
func (p *peerClients) leader() (licmeshv1connect.PeerServiceClient, error) {
	meta := p.s.node.LeaderMeta()
	addr := meta[metaAPI]
	if addr == "" {
		return nil, ErrNoLeader
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.by[addr]
	if !ok {
		c = licmeshv1connect.NewPeerServiceClient(p.hc, "https://"+addr,
			connect.WithReadMaxBytes(64<<20), connect.WithSendMaxBytes(64<<20))
		p.by[addr] = c
	}
	return c, nil
}

func (p *peerClients) close() { p.hc.CloseIdleConnections() }

// peerHandler serves the PeerService on the leader, to masters only.
type peerHandler struct{ s *Server }

var _ licmeshv1connect.PeerServiceHandler = peerHandler{}

func (h peerHandler) LeaseOps(ctx context.Context, req *connect.Request[licmeshv1.LeaseOpsRequest]) (*connect.Response[licmeshv1.LeaseOpsResponse], error) {
	if !h.s.node.IsLeader() {
		return nil, connect.NewError(connect.CodeUnavailable, ErrNoLeader)
	}
	if len(req.Msg.Ops) > 65535 {
		return nil, connect.NewError(connect.CodeInvalidArgument, ErrBadRequest)
	}
	// The forwarded ops join the leader's queue together, so batches from
	// several followers and local requests share Raft entries.
	results := make([]*licmeshv1.LeaseOpResult, len(req.Msg.Ops))
	ops := make([]fsm.LeaseOp, 0, len(req.Msg.Ops))
	idx := make([]int, 0, len(req.Msg.Ops))
	for i, w := range req.Msg.Ops {
		op, err := leaseOpFromWire(w)
		if err != nil {
			results[i] = opResultToWire(fsm.OpResult{Err: err})
			continue
		}
		if op.Kind == fsm.Acquire {
			op.TTLms = h.s.cfg.LeaseTTL.Milliseconds() // the leader decides
		}
		ops = append(ops, op)
		idx = append(idx, i)
	}
	res, errs := h.s.leaderOps.DoMany(ctx, ops)
	for j, i := range idx {
		r := res[j]
		if errs[j] != nil {
			r = fsm.OpResult{Err: errs[j]}
		}
		results[i] = opResultToWire(r)
	}
	return connect.NewResponse(&licmeshv1.LeaseOpsResponse{Results: results}), nil
}

// ReadIndex confirms leadership with a quorum, then answers the commit
// index: every entry committed before the call is at or below it.
func (h peerHandler) ReadIndex(ctx context.Context, _ *connect.Request[licmeshv1.ReadIndexRequest]) (*connect.Response[licmeshv1.ReadIndexResponse], error) {
	s := h.s
	if !s.leading.Load() || !s.node.IsLeader() {
		return nil, connect.NewError(connect.CodeUnavailable, ErrNoLeader)
	}
	if err := s.leaderCheck.join(false).wait(ctx); err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("%w: %w", ErrNotLeader, err))
	}
	// The confirmation was a barrier made after the call arrived: its
	// completion means this master's state machine holds every command
	// committed before then.
	return connect.NewResponse(&licmeshv1.ReadIndexResponse{Index: s.node.Raft().CommitIndex(), AppliedIndex: s.fsm.AppliedIndex()}), nil
}

func (h peerHandler) RenewLeases(ctx context.Context, req *connect.Request[licmeshv1.RenewLeasesRequest]) (*connect.Response[licmeshv1.RenewLeasesResponse], error) {
	if !h.s.leading.Load() || !h.s.node.IsLeader() {
		return nil, connect.NewError(connect.CodeUnavailable, ErrNoLeader)
	}
	res, err := h.s.renewConfirmed(ctx, req.Msg.CollectorId, req.Msg.LeaseIds)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&licmeshv1.RenewLeasesResponse{Results: res}), nil
}

func (h peerHandler) Apply(ctx context.Context, req *connect.Request[licmeshv1.ApplyRequest]) (*connect.Response[licmeshv1.ApplyResponse], error) {
	if !h.s.node.IsLeader() {
		return nil, connect.NewError(connect.CodeUnavailable, ErrNoLeader)
	}
	if _, _, err := fsm.Decode(req.Msg.Command); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	res, err := h.s.applyLocal(ctx, req.Msg.Command)
	if err != nil && reasonOf(err) == "internal" {
		return nil, toConnect(err)
	}
	var index uint64
	if r, ok := res.(fsm.Response); ok {
		index = r.Index
	}
	b, _ := jsonMarshal(resultFromErr(index, err))
	return connect.NewResponse(&licmeshv1.ApplyResponse{Result: b}), nil
}

func (h peerHandler) RemoveServer(ctx context.Context, req *connect.Request[licmeshv1.RemoveServerRequest]) (*connect.Response[licmeshv1.RemoveServerResponse], error) {
	if !h.s.node.IsLeader() {
		return nil, connect.NewError(connect.CodeUnavailable, ErrNoLeader)
	}
	if err := h.s.removePeer(ctx, req.Msg.Id); err != nil {
		return nil, err
	}
	return connect.NewResponse(&licmeshv1.RemoveServerResponse{}), nil
}

// onlyMasters admits requests whose TLS client certificate is a master's.
func onlyMasters(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, ErrNotMaster.Error(), http.StatusForbidden)
			return
		}
		if err := requireRole(tlsState(r.TLS), pki.RoleMaster); err != nil {
			http.Error(w, ErrNotMaster.Error(), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func tlsState(cs *tls.ConnectionState) tls.ConnectionState { return *cs }
