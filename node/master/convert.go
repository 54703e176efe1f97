package master

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/lease"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func leaseOpToWire(op fsm.LeaseOp) *licmeshv1.LeaseOp {
	w := &licmeshv1.LeaseOp{Pool: op.Pool, Holder: op.Holder, CollectorId: op.CollectorID, LeaseId: uint64(op.LeaseID), Offline: op.Offline}
	switch op.Kind {
	case fsm.Acquire:
		w.Kind = licmeshv1.LeaseOp_KIND_ACQUIRE
	case fsm.Release:
		w.Kind = licmeshv1.LeaseOp_KIND_RELEASE
	}
	return w
}

// leaseOpFromWire accepts only what a follower may forward: acquires and
// releases. Expiry is the leader's alone.
func leaseOpFromWire(w *licmeshv1.LeaseOp) (fsm.LeaseOp, error) {
	op := fsm.LeaseOp{Pool: w.Pool, Holder: w.Holder, CollectorID: w.CollectorId, LeaseID: lease.ID(w.LeaseId), Offline: w.Offline}
	switch w.Kind {
	case licmeshv1.LeaseOp_KIND_ACQUIRE:
		op.Kind = fsm.Acquire
	case licmeshv1.LeaseOp_KIND_RELEASE:
		op.Kind = fsm.Release
	default:
		return op, fmt.Errorf("%w: lease operation kind %v", ErrBadRequest, w.Kind)
	}
	return op, nil
}

func opResultToWire(r fsm.OpResult) *licmeshv1.LeaseOpResult {
	if r.Err != nil {
		return refusal(r.Err)
	}
	w := &licmeshv1.LeaseOpResult{Existing: r.Existing}
	if r.Lease != nil {
		w.Lease = leaseToWire(*r.Lease)
	}
	return w
}

// refusal is a refused seat operation's answer: the connect code the
// single call would have failed with, the reason's stable name and the
// message.
func refusal(err error) *licmeshv1.LeaseOpResult {
	var ce *connect.Error
	if !errors.As(toConnect(err), &ce) {
		ce = connect.NewError(connect.CodeInternal, err)
	}
	return &licmeshv1.LeaseOpResult{Code: uint32(ce.Code()), Reason: reasonOf(err), Detail: ce.Message()}
}

func opResultFromWire(w *licmeshv1.LeaseOpResult) fsm.OpResult {
	if w.Code != 0 {
		if sentinel(w.Reason) != nil {
			return fsm.OpResult{Err: fromWire(w.Reason, w.Detail)}
		}
		return fsm.OpResult{Err: connect.NewError(connect.Code(w.Code), fmt.Errorf("leader: %s", w.Detail))}
	}
	r := fsm.OpResult{Existing: w.Existing}
	if w.Lease != nil {
		l := leaseFromWire(w.Lease)
		r.Lease = &l
	}
	return r
}

func leaseToWire(l fsm.Lease) *licmeshv1.Lease {
	w := &licmeshv1.Lease{
		Id: uint64(l.ID), Fence: l.Fence, Pool: l.Pool, Holder: l.Holder, CollectorId: l.CollectorID,
		GrantedAtMs: l.GrantedAt, TtlMs: l.TTLms, ExpiresAtMs: l.GrantedAt + l.TTLms,
		GraceMs: l.GraceMs, BorrowedUntilMs: l.Borrowed, Offline: l.Offline, Overage: l.Overage,
	}
	if l.Borrowed != 0 {
		w.ExpiresAtMs = l.Borrowed
	}
	return w
}

func leaseFromWire(w *licmeshv1.Lease) fsm.Lease {
	return fsm.Lease{
		ID: lease.ID(w.Id), Fence: w.Fence, Pool: w.Pool, Holder: w.Holder, CollectorID: w.CollectorId,
		GrantedAt: w.GrantedAtMs, TTLms: w.TtlMs, GraceMs: w.GraceMs, Borrowed: w.BorrowedUntilMs,
		Offline: w.Offline, Overage: w.Overage,
	}
}

// signLease returns l's cluster-signed document, valid until expiresAt ms.
func (s *Server) signLease(l fsm.Lease, expiresAt int64) (lease.Token, error) {
	sg, err := s.signingKey()
	if err != nil {
		return "", err
	}
	return lease.Sign(l.Document(sg.clusterID, time.UnixMilli(l.GrantedAt), time.UnixMilli(expiresAt)), sg.priv)
}
