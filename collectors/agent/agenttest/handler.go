package agenttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/mesh/wire"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// handler serves CollectorService for one master of the cluster.
type handler struct {
	// The fake answers what the agent's lease and update tests need
	// (entitlements only once StreamEntitlements is called); the calls
	// it does not fake (credits, usage) are unimplemented.
	licmeshv1connect.UnimplementedCollectorServiceHandler
	c *Cluster
	m *Master
}

func (h *handler) count(method string) Hooks {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	h.c.calls[method]++
	return h.c.hooks
}

// before counts a call and runs the Before hook, whose error is the answer.
func (h *handler) before(method string) (Hooks, error) {
	hooks := h.count(method)
	if hooks.Before != nil {
		if err := hooks.Before(method); err != nil {
			return hooks, err
		}
	}
	return hooks, nil
}

func (h *handler) Enroll(ctx context.Context, req *connect.Request[licmeshv1.EnrollRequest]) (*connect.Response[licmeshv1.EnrollResponse], error) {
	hooks := h.count("Enroll")
	c := h.c
	if !wire.Supported(req.Msg.GetProtocolVersion()) {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("protocol version %d not supported", req.Msg.GetProtocolVersion()))
	}
	if req.Msg.GetTokenId() != string(c.token.ID) || !bytes.Equal(req.Msg.GetTokenSecret(), tokenSecret(c.token)) {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("join token refused"))
	}
	c.mu.Lock()
	c.nextCollector++
	id := fmt.Sprintf("col-%d", c.nextCollector)
	certTTL := c.certTTL
	list := c.mastersLocked()
	c.mu.Unlock()
	cert, err := c.CA.SignCSR(req.Msg.GetCsr(), id, certTTL, h.c.now())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	resp := &licmeshv1.EnrollResponse{
		ProtocolVersion:  wire.ProtocolVersion,
		CollectorId:      id,
		Certificate:      cert,
		CaCertificate:    c.CA.Cert().Raw,
		ClusterId:        c.ClusterID,
		SigningPublicKey: c.SignPub,
		Masters:          list,
	}
	if hooks.Enroll != nil {
		if err := hooks.Enroll(resp); err != nil {
			return nil, err
		}
	}
	return connect.NewResponse(resp), nil
}

func (h *handler) RenewCertificate(ctx context.Context, req *connect.Request[licmeshv1.RenewCertificateRequest]) (*connect.Response[licmeshv1.RenewCertificateResponse], error) {
	hooks := h.count("RenewCertificate")
	id, err := collector(ctx)
	if err != nil {
		return nil, err
	}
	h.c.mu.Lock()
	certTTL := h.c.certTTL
	h.c.lastCSR = req.Msg.GetCsr()
	h.c.mu.Unlock()
	cert, err := h.c.CA.SignCSR(req.Msg.GetCsr(), id, certTTL, h.c.now())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	resp := &licmeshv1.RenewCertificateResponse{Certificate: cert}
	if hooks.RenewCertificate != nil {
		if err := hooks.RenewCertificate(resp); err != nil {
			return nil, err
		}
	}
	return connect.NewResponse(resp), nil
}

func (h *handler) Hello(ctx context.Context, req *connect.Request[licmeshv1.HelloRequest]) (*connect.Response[licmeshv1.HelloResponse], error) {
	hooks := h.count("Hello")
	if _, err := collector(ctx); err != nil {
		return nil, err
	}
	if !wire.Supported(req.Msg.GetProtocolVersion()) {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("protocol version %d not supported", req.Msg.GetProtocolVersion()))
	}
	c := h.c
	now := c.now()
	c.mu.Lock()
	resp := &licmeshv1.HelloResponse{
		ProtocolVersion:  wire.ProtocolVersion,
		NodeId:           h.m.NodeID,
		ClusterId:        c.ClusterID,
		Masters:          c.mastersLocked(),
		LeaseTtlMs:       c.ttl.Milliseconds(),
		ServerTimeMs:     now.UnixMilli(),
		SigningPublicKey: c.SignPub,
		Leader:           c.leader,
	}
	c.mu.Unlock()
	if hooks.Hello != nil {
		if err := hooks.Hello(resp); err != nil {
			return nil, err
		}
	}
	return connect.NewResponse(resp), nil
}

// protoLease signs and converts a lease; c.mu is held.
func (c *Cluster) protoLeaseLocked(l *Lease, now time.Time) *licmeshv1.Lease {
	end := l.Deadline
	if !l.Borrowed.IsZero() {
		end = l.Borrowed
	}
	tok := c.Sign(lease.Document{
		ClusterID: c.ClusterID, LeaseID: l.ID, Fence: l.Fence, Pool: l.Pool, Holder: l.Holder,
		CollectorID: l.Collector, IssuedAt: now, ExpiresAt: end, Grace: l.Grace, Borrowed: !l.Borrowed.IsZero(),
	})
	w := &licmeshv1.Lease{
		Id: uint64(l.ID), Fence: l.Fence, Pool: l.Pool, Holder: l.Holder, CollectorId: l.Collector,
		GrantedAtMs: now.UnixMilli(), TtlMs: c.ttl.Milliseconds(), Token: string(tok), ExpiresAtMs: end.UnixMilli(),
		GraceMs: l.Grace.Milliseconds(), Offline: l.Offline,
	}
	if !l.Borrowed.IsZero() {
		w.BorrowedUntilMs = l.Borrowed.UnixMilli()
	}
	return w
}

// heldLocked counts a pool's leases and finds the holder's through
// collector cid, if it has one. c.mu must be held.
func (c *Cluster) heldLocked(pool, holder, cid string) (existing *Lease, held int) {
	for _, l := range c.leases {
		if l.Pool == pool {
			held++
			if l.Holder == holder && l.Collector == cid {
				existing = l
			}
		}
	}
	return existing, held
}

// Borrow lends a seat as the masters do: the holder's lease, or a new one,
// until now + duration, refused for a pool that lends nothing or for
// longer than it allows.
func (h *handler) Borrow(ctx context.Context, req *connect.Request[licmeshv1.BorrowRequest]) (*connect.Response[licmeshv1.BorrowResponse], error) {
	h.count("Borrow")
	cid, err := collector(ctx)
	if err != nil {
		return nil, err
	}
	c := h.c
	pool, holder, d := req.Msg.GetPool(), req.Msg.GetHolder(), time.Duration(req.Msg.GetDurationMs())*time.Millisecond
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	seats, ok := c.pools[pool]
	switch off := c.offline[pool]; {
	case !ok:
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("no pool %q", pool))
	case off.MaxBorrow == 0:
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("pool %q lends no seats", pool))
	case d > off.MaxBorrow:
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("borrow longer than the pool allows: %s, at most %s", d, off.MaxBorrow))
	}
	existing, held := c.heldLocked(pool, holder, cid)
	l := existing
	if l == nil {
		if held >= seats {
			return nil, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("pool %q: all %d seats are taken", pool, seats))
		}
		c.nextID++
		l = &Lease{ID: lease.ID(c.nextID), Fence: c.nextID * 7, Pool: pool, Holder: holder, Collector: cid, Deadline: now.Add(c.ttl)}
		c.leases[l.ID] = l
	}
	l.Borrowed = now.Add(d)
	return connect.NewResponse(&licmeshv1.BorrowResponse{Lease: c.protoLeaseLocked(l, now), Existing: existing != nil}), nil
}

// SeatOps answers each operation as Acquire and Release do, hooks and
// counts included, in order.
func (h *handler) SeatOps(ctx context.Context, req *connect.Request[licmeshv1.SeatOpsRequest]) (*connect.Response[licmeshv1.SeatOpsResponse], error) {
	hooks, err := h.before("SeatOps")
	if err != nil {
		return nil, err
	}
	if hooks.SeatOps != nil {
		if err := hooks.SeatOps(req.Msg); err != nil {
			return nil, err
		}
	}
	h.c.mu.Lock()
	old := h.m.noSeatOps
	h.c.mu.Unlock()
	if old {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("licmesh.v1.CollectorService.SeatOps is not implemented"))
	}
	out := make([]*licmeshv1.LeaseOpResult, len(req.Msg.GetOps()))
	for i, op := range req.Msg.GetOps() {
		var err error
		if op.GetKind() == licmeshv1.LeaseOp_KIND_RELEASE {
			_, err = h.Release(ctx, connect.NewRequest(&licmeshv1.ReleaseRequest{LeaseId: op.GetLeaseId()}))
			out[i] = &licmeshv1.LeaseOpResult{}
		} else {
			var resp *connect.Response[licmeshv1.AcquireResponse]
			resp, err = h.Acquire(ctx, connect.NewRequest(&licmeshv1.AcquireRequest{Pool: op.GetPool(), Holder: op.GetHolder(), Offline: op.GetOffline()}))
			if err == nil {
				out[i] = &licmeshv1.LeaseOpResult{Lease: resp.Msg.GetLease(), Existing: resp.Msg.GetExisting()}
			}
		}
		if err != nil {
			msg := err.Error()
			if ce, ok := errors.AsType[*connect.Error](err); ok {
				msg = ce.Message()
			}
			out[i] = &licmeshv1.LeaseOpResult{Code: uint32(connect.CodeOf(err)), Detail: msg}
		}
	}
	return connect.NewResponse(&licmeshv1.SeatOpsResponse{Results: out}), nil
}

func (h *handler) Acquire(ctx context.Context, req *connect.Request[licmeshv1.AcquireRequest]) (*connect.Response[licmeshv1.AcquireResponse], error) {
	hooks, err := h.before("Acquire")
	if err != nil {
		return nil, err
	}
	cid, err := collector(ctx)
	if err != nil {
		return nil, err
	}
	c := h.c
	pool, holder := req.Msg.GetPool(), req.Msg.GetHolder()
	now := h.c.now()
	c.mu.Lock()
	seats, ok := c.pools[pool]
	if !ok {
		c.mu.Unlock()
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("no pool %q", pool))
	}
	existing, held := c.heldLocked(pool, holder, cid)
	resp := &licmeshv1.AcquireResponse{}
	switch {
	case existing != nil:
		existing.Deadline = now.Add(c.ttl)
		resp.Lease, resp.Existing = c.protoLeaseLocked(existing, now), true
	case held >= seats && !(req.Msg.GetOffline() && c.offline[pool].FailOpen):
		c.mu.Unlock()
		return nil, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("pool %q: all %d seats are taken", pool, seats))
	default:
		c.nextID++
		l := &Lease{ID: lease.ID(c.nextID), Fence: c.nextID * 7, Pool: pool, Holder: holder, Collector: cid, Deadline: now.Add(c.ttl),
			Grace: c.offline[pool].Grace, Offline: req.Msg.GetOffline()}
		c.leases[l.ID] = l
		resp.Lease = c.protoLeaseLocked(l, now)
	}
	c.mu.Unlock()
	if hooks.Acquire != nil {
		if err := hooks.Acquire(resp); err != nil {
			return nil, err
		}
	}
	return connect.NewResponse(resp), nil
}

func (h *handler) Renew(ctx context.Context, req *connect.Request[licmeshv1.RenewRequest]) (*connect.Response[licmeshv1.RenewResponse], error) {
	hooks := h.count("Renew")
	cid, err := collector(ctx)
	if err != nil {
		return nil, err
	}
	c := h.c
	now := h.c.now()
	c.mu.Lock()
	// A renewal with the collector's version counts as its presence, as
	// the masters count it, unless the cluster is told to answer as a
	// master from before that.
	resp := &licmeshv1.RenewResponse{Masters: c.mastersLocked(), Presence: req.Msg.GetVersion() != "" && !c.noRenewPresence}
	for _, raw := range req.Msg.GetLeaseIds() {
		l, ok := c.leases[lease.ID(raw)]
		switch {
		case !ok || l.Collector != cid:
			resp.Results = append(resp.Results, &licmeshv1.RenewResult{LeaseId: raw, Reason: "unknown_lease"})
		case !now.Before(l.Deadline):
			delete(c.leases, l.ID)
			resp.Results = append(resp.Results, &licmeshv1.RenewResult{LeaseId: raw, Reason: "expired"})
		default:
			l.Deadline = now.Add(c.ttl)
			pl := c.protoLeaseLocked(l, now)
			resp.Results = append(resp.Results, &licmeshv1.RenewResult{
				LeaseId: raw, Ok: true, TtlMs: pl.TtlMs, Token: pl.Token, ExpiresAtMs: pl.ExpiresAtMs,
			})
		}
	}
	c.mu.Unlock()
	if hooks.Renew != nil {
		if err := hooks.Renew(resp); err != nil {
			return nil, err
		}
	}
	return connect.NewResponse(resp), nil
}

// RenewStream answers each renewal on the stream as Renew does, counted
// as a Renew call; Calls("RenewStream") counts the streams. A hook's error
// ends the stream.
func (h *handler) RenewStream(ctx context.Context, stream *connect.BidiStream[licmeshv1.RenewStreamRequest, licmeshv1.RenewStreamResponse]) error {
	h.count("RenewStream")
	for {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		resp, err := h.Renew(ctx, connect.NewRequest(req.GetRenew()))
		if err != nil {
			return err
		}
		if err := stream.Send(&licmeshv1.RenewStreamResponse{Renew: resp.Msg}); err != nil {
			return err
		}
	}
}

func (h *handler) Release(ctx context.Context, req *connect.Request[licmeshv1.ReleaseRequest]) (*connect.Response[licmeshv1.ReleaseResponse], error) {
	hooks := h.count("Release")
	cid, err := collector(ctx)
	if err != nil {
		return nil, err
	}
	// A hook's error is a master refusing before it acts (not the leader,
	// catching up): the lease stays.
	resp := &licmeshv1.ReleaseResponse{}
	if hooks.Release != nil {
		if err := hooks.Release(resp); err != nil {
			return nil, err
		}
	}
	c := h.c
	c.mu.Lock()
	l, ok := c.leases[lease.ID(req.Msg.GetLeaseId())]
	if !ok || l.Collector != cid {
		c.mu.Unlock()
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("no lease %d", req.Msg.GetLeaseId()))
	}
	delete(c.leases, l.ID)
	c.mu.Unlock()
	return connect.NewResponse(resp), nil
}
