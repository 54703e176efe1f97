package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/mesh/batch"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// applyTimeout bounds one Raft apply on the leader.
const applyTimeout = 10 * time.Second

// apply commits one FSM command through the leader, forwarding it in one
// hop when this master is a follower, and returns the FSM's error, if any,
// as the same sentinel on every master.
func (s *Server) apply(ctx context.Context, t fsm.MsgType, cmd any) (any, error) {
	data, err := fsm.Encode(t, cmd)
	if err != nil {
		return nil, err
	}
	if err := s.checkVoters(t); err != nil {
		return nil, err
	}
	if _, audited := auditFrom(ctx); audited {
		// Until every voter applies audit records, changes go unrecorded
		// rather than refused.
		if err := s.checkVoters(fsm.AuditedType); err != nil {
			s.log.Warn("audit: not recorded during the update", "err", err)
		} else if data, err = wrapAudited(ctx, data); err != nil {
			return nil, err
		}
	}
	if s.node.IsLeader() {
		return s.applyLocal(ctx, data)
	}
	s.m.forwarded.Inc()
	pc, err := s.peers.leader()
	if err != nil {
		return nil, err
	}
	resp, err := pc.Apply(ctx, connect.NewRequest(&licmeshv1.ApplyRequest{Command: data}))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrForwardFailure, err)
	}
	var r wireResult
	if err := json.Unmarshal(resp.Msg.Result, &r); err != nil {
		return nil, fmt.Errorf("%w: bad result from leader: %w", ErrForwardFailure, err)
	}
	// Read your writes: what a caller wrote through this master is visible
	// here when the call returns.
	s.waitApplied(ctx, r.Index)
	return nil, r.err()
}

// waitApplied waits, briefly, until this master's FSM has applied index.
func (s *Server) waitApplied(ctx context.Context, index uint64) {
	if index == 0 {
		return
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.fsm.AppliedIndex() < index && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
	}
}

func (s *Server) applyLocal(ctx context.Context, data []byte) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	res, err := s.node.Apply(ctx, data)
	if err != nil {
		return nil, err
	}
	switch r := res.(type) {
	case fsm.Response:
		return r, r.Err
	case *fsm.Response:
		return *r, r.Err
	case error:
		return nil, r
	}
	return res, nil
}

// applyLeaseOps is the leader's flush: one Raft entry for the whole batch.
func (s *Server) applyLeaseOps(ctx context.Context, ops []fsm.LeaseOp) ([]fsm.OpResult, error) {
	data, err := fsm.Encode(fsm.LeaseBatchType, fsm.LeaseBatch{Now: s.now().UnixMilli(), Ops: ops})
	if err != nil {
		return nil, err
	}
	res, err := s.applyLocal(ctx, data)
	if err != nil {
		return nil, err
	}
	r, ok := res.(fsm.Response)
	if !ok {
		return nil, fmt.Errorf("master: lease batch returned %T", res)
	}
	out := r.Ops
	s.m.batches.Inc()
	s.m.batchOps.Observe(float64(len(ops)))
	return out, nil
}

// forwardLeaseOps is a follower's flush: the whole batch goes to the
// leader's coalescer in one call.
func (s *Server) forwardLeaseOps(ctx context.Context, ops []fsm.LeaseOp) ([]fsm.OpResult, error) {
	pc, err := s.peers.leader()
	if err != nil {
		return nil, err
	}
	req := &licmeshv1.LeaseOpsRequest{Ops: make([]*licmeshv1.LeaseOp, len(ops))}
	for i, op := range ops {
		req.Ops[i] = leaseOpToWire(op)
	}
	s.m.forwarded.Inc()
	resp, err := pc.LeaseOps(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrForwardFailure, err)
	}
	if len(resp.Msg.Results) != len(ops) {
		return nil, fmt.Errorf("%w: %d results for %d operations", ErrForwardFailure, len(resp.Msg.Results), len(ops))
	}
	out := make([]fsm.OpResult, len(ops))
	for i, r := range resp.Msg.Results {
		out[i] = opResultFromWire(r)
	}
	return out, nil
}

// submitLease runs one lease operation through this master's coalescer: the
// leader's commits it, a follower's forwards it.
func (s *Server) submitLease(ctx context.Context, op fsm.LeaseOp) (fsm.OpResult, error) {
	if s.node.IsLeader() {
		return s.leaderOps.Do(ctx, op)
	}
	return s.followerOps.Do(ctx, op)
}

// submitLeases runs lease operations through this master's coalescer
// together, so that they ride in as few batches as the load allows.
func (s *Server) submitLeases(ctx context.Context, ops []fsm.LeaseOp) ([]fsm.OpResult, []error) {
	if s.node.IsLeader() {
		return s.leaderOps.DoMany(ctx, ops)
	}
	return s.followerOps.DoMany(ctx, ops)
}

// wireResult carries an FSM outcome between masters: a stable reason code
// for the sentinel, never a message to match.
type wireResult struct {
	Index   uint64 `json:"index,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

func resultFromErr(index uint64, err error) wireResult {
	if err == nil {
		return wireResult{Index: index}
	}
	return wireResult{Index: index, Reason: reasonOf(err), Message: err.Error()}
}

func (r wireResult) err() error {
	if r.Reason == "" {
		return nil
	}
	return fromWire(r.Reason, r.Message)
}

// wireError is an FSM error that crossed from the leader: it is the same
// sentinel (for errors.Is) with the leader's full message.
type wireError struct {
	sentinel error
	msg      string
}

func (e *wireError) Error() string { return e.msg }
func (e *wireError) Unwrap() error { return e.sentinel }

func fromWire(reason, msg string) error {
	if e := sentinel(reason); e != nil {
		return &wireError{sentinel: e, msg: msg}
	}
	return errors.New(msg)
}

// reasons maps each FSM sentinel to its code on the wire and the Connect
// code a client sees. The list is append-only like the FSM's message types.
var reasons = []struct {
	reason string
	err    error
	code   connect.Code
}{
	{"unknown_pool", fsm.ErrUnknownPool, connect.CodeNotFound},
	{"pool_full", fsm.ErrPoolFull, connect.CodeResourceExhausted},
	{"unknown_lease", fsm.ErrUnknownLease, connect.CodeNotFound},
	{"not_holder", fsm.ErrNotHolder, connect.CodePermissionDenied},
	{"pool_exists", fsm.ErrPoolExists, connect.CodeAlreadyExists},
	{"already_bootstrapped", fsm.ErrAlreadyBootstrapped, connect.CodeAlreadyExists},
	{"unknown_token", fsm.ErrUnknownToken, connect.CodeNotFound},
	{"token_exists", fsm.ErrTokenExists, connect.CodeAlreadyExists},
	{"token_role", fsm.ErrTokenRole, connect.CodePermissionDenied},
	{"held_elsewhere", fsm.ErrHeldElsewhere, connect.CodeFailedPrecondition},
	{"not_bootstrapped", fsm.ErrNotBootstrapped, connect.CodeUnavailable},
	{"token_revoked", fsm.ErrTokenRevoked, connect.CodePermissionDenied},
	{"token_expired", fsm.ErrTokenExpired, connect.CodePermissionDenied},
	{"token_exhausted", fsm.ErrTokenExhausted, connect.CodePermissionDenied},
	{"token_secret", fsm.ErrTokenSecret, connect.CodePermissionDenied},
	{"collector_exists", fsm.ErrCollectorExists, connect.CodeAlreadyExists},
	{"unknown_collector", fsm.ErrUnknownCollector, connect.CodeNotFound},
	{"license_exists", fsm.ErrLicenseExists, connect.CodeAlreadyExists},
	{"unknown_license", fsm.ErrUnknownLicense, connect.CodeNotFound},
	{"license_outdated", fsm.ErrLicenseOutdated, connect.CodeFailedPrecondition},
	{"license_conflict", fsm.ErrLicenseConflict, connect.CodeFailedPrecondition},
	{"license_cluster", fsm.ErrLicenseCluster, connect.CodeFailedPrecondition},
	{"license_not_in_force", fsm.ErrLicenseNotInForce, connect.CodeFailedPrecondition},
	{"pool_expired", fsm.ErrPoolExpired, connect.CodeFailedPrecondition},
	{"licensed_pool", fsm.ErrLicensedPool, connect.CodeFailedPrecondition},
	{"invalid_op", fsm.ErrInvalidOp, connect.CodeInvalidArgument},
	{"malformed", fsm.ErrMalformed, connect.CodeInvalidArgument},
	{"credits_exhausted", fsm.ErrCreditsExhausted, connect.CodeResourceExhausted},
	{"unknown_credit_unit", fsm.ErrUnknownCreditUnit, connect.CodeNotFound},
	{"zone_locked", fsm.ErrZoneLocked, connect.CodeFailedPrecondition},
	{"upstream_chain", fsm.ErrUpstreamChain, connect.CodeFailedPrecondition},
	{"outbox_full", fsm.ErrOutboxFull, connect.CodeResourceExhausted},
	{"no_borrow", fsm.ErrNoBorrow, connect.CodeFailedPrecondition},
	{"borrow_too_long", fsm.ErrBorrowTooLong, connect.CodeInvalidArgument},
	{"borrowed", fsm.ErrBorrowed, connect.CodeFailedPrecondition},
	{"unknown_alert", fsm.ErrUnknownAlert, connect.CodeNotFound},
	{"unknown_channel", fsm.ErrUnknownChannel, connect.CodeNotFound},
	{"user_exists", fsm.ErrUserExists, connect.CodeAlreadyExists},
	{"unknown_user", fsm.ErrUnknownUser, connect.CodeNotFound},
	{"user_disabled", fsm.ErrUserDisabled, connect.CodeFailedPrecondition},
	{"too_many_users", fsm.ErrTooManyUsers, connect.CodeResourceExhausted},
	{"unknown_department", fsm.ErrUnknownDepartment, connect.CodeNotFound},
	{"over_reserved", fsm.ErrOverReserved, connect.CodeFailedPrecondition},
	{"currency", fsm.ErrCurrency, connect.CodeFailedPrecondition},
	{"purchase_state", fsm.ErrPurchaseState, connect.CodeFailedPrecondition},
	// A master's report forwarded to the leader must come back as this,
	// or it would retry a report for a rollout that is gone forever.
	{"rollout_state", fsm.ErrRolloutState, connect.CodeFailedPrecondition},
}

func reasonOf(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "internal"
}

func sentinel(reason string) error {
	for _, r := range reasons {
		if r.reason == reason {
			return r.err
		}
	}
	return nil
}

// toConnect turns any error of the master or the FSM into the Connect error
// a client sees: the right code, and a message that names the problem.
func toConnect(err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return connect.NewError(r.code, err)
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	case errors.Is(err, ErrVoterTooOld):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, ErrNoLeader), errors.Is(err, ErrNotLeader), errors.Is(err, ErrShuttingDown), errors.Is(err, batch.ErrClosed), errors.Is(err, ErrForwardFailure),
		errors.Is(err, ErrNotBootstrap):
		return connect.NewError(connect.CodeUnavailable, err)
	case errors.Is(err, ErrBadRequest), errors.Is(err, ErrProtocol):
		return connect.NewError(connect.CodeInvalidArgument, err)
	}
	return connect.NewError(connect.CodeUnavailable, err)
}
