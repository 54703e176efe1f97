package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/mesh/batch"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// Seat operations from the product travel to the masters together: while
// one call is under way, whatever else the product asks waits for the next,
// and leaves with it as one SeatOps call. A lone request leaves at once.
const (
	// maxSeatBatch bounds one SeatOps call: with each grant's signed token
	// the answer stays far below maxMessageBytes.
	maxSeatBatch = 256
	// seatCallsInFlight is how many SeatOps calls may be under way at once.
	// One more call in flight is one more Raft entry the leader may fill;
	// beyond two, batches only get smaller.
	seatCallsInFlight = 2
)

// seatOp is an acquire (pool and holder) or a release (leaseID).
type seatOp struct {
	release bool
	pool    string
	holder  string
	offline bool
	leaseID lease.ID
}

// seatResult is one operation's outcome: for a grant, the checked grant
// and when the call that got it was sent.
type seatResult struct {
	grant  leasebook.Grant
	sentAt time.Time
	err    error
}

func (op seatOp) wire() *licmeshv1.LeaseOp {
	if op.release {
		return &licmeshv1.LeaseOp{Kind: licmeshv1.LeaseOp_KIND_RELEASE, LeaseId: uint64(op.leaseID)}
	}
	return &licmeshv1.LeaseOp{Kind: licmeshv1.LeaseOp_KIND_ACQUIRE, Pool: op.pool, Holder: op.holder, Offline: op.offline}
}

// seat runs one operation with whatever else is waiting.
func (a *Agent) seat(ctx context.Context, op seatOp) (seatResult, error) {
	if !a.startSeats() {
		return seatResult{}, ErrNotReady
	}
	r, err := a.seats.Do(ctx, op)
	if err == nil {
		err = r.err
	}
	switch {
	case errors.Is(err, batch.ErrClosed):
		// Stopping: a release is then retried by the next run.
		err = fmt.Errorf("%w: the collector is stopping", ErrUnavailable)
	case err != nil && !errors.Is(err, ErrUnavailable) && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)):
		// The request's time ran out while its batch was still trying the
		// masters: to the product that is no master answering (and a pool
		// that fails open lets the holder in), as it was before batching.
		err = fmt.Errorf("%w: no master answered within the request's time: %w", ErrUnavailable, err)
	}
	return r, err
}

// startSeats starts the goroutine that sends the seats' batches, once;
// closeTransport stops it for good. It reports whether it runs.
func (a *Agent) startSeats() bool {
	a.seatsMu.Lock()
	defer a.seatsMu.Unlock()
	if a.seatsClosed {
		return false
	}
	if a.seatsStop != nil {
		return true
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.seats.Run(ctx) }()
	a.seatsStop = func() { cancel(); <-done }
	return true
}

func (a *Agent) stopSeats() {
	a.seatsMu.Lock()
	stop := a.seatsStop
	a.seatsStop, a.seatsClosed = nil, true
	a.seatsMu.Unlock()
	if stop != nil {
		stop()
	}
}

// orphanedSeats takes the outcomes of seat operations whose product gave
// up waiting after they had left for the masters. A seat granted then would
// be held by nobody until its TTL ran out; it is released at once instead,
// and recorded as releasing first, so that the holder asking again settles
// that release before it is granted a seat (see Acquire).
func (a *Agent) orphanedSeats(ops []seatOp, res []seatResult) {
	for i, op := range ops {
		g := res[i].grant
		if op.release || res[i].err != nil || g.ID == 0 || !a.book.AddReleasing(g, res[i].sentAt) {
			continue
		}
		a.log.Info("collectord: releasing a seat granted after its request gave up", "pool", g.Pool, "lease_id", g.ID)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.RequestTimeout)
			defer cancel()
			// Not confirmed now, retryReleases tries again.
			if a.releaseCall(ctx, g.ID) == nil {
				a.book.RemoveIfReleasing(g.ID)
			}
		}()
	}
}

// flushSeats sends a batch to the masters, preferred first. An operation
// refused for good (no free seat, unknown pool) is answered with that
// refusal; one a master could not take now (an expiring lease, a bad
// grant, its leader gone) is tried on the next master with the others
// still open, as a single call would be.
func (a *Agent) flushSeats(ctx context.Context, ops []seatOp) ([]seatResult, error) {
	out := make([]seatResult, len(ops))
	id, tr := a.identity(), a.transport()
	if id == nil || tr == nil {
		for i := range out {
			out[i].err = ErrNotReady
		}
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	defer cancel()
	open := make([]int, len(ops))
	for i := range open {
		open[i] = i
	}
	err := a.call(ctx, tr, a.interactiveAttempt(), func(ctx context.Context, c licmeshv1connect.CollectorServiceClient, addr string) error {
		req := &licmeshv1.SeatOpsRequest{Ops: make([]*licmeshv1.LeaseOp, len(open))}
		for k, i := range open {
			req.Ops[k] = ops[i].wire()
		}
		sentAt := a.clock.Now()
		results, err := a.seatOps(ctx, c, req)
		if err != nil {
			return err
		}
		var again []int
		var last error
		for k, i := range open {
			r := results[k]
			if code := connect.Code(r.GetCode()); code != 0 {
				if finalCodes[code] {
					out[i].err = rejection(addr, code, r.GetDetail())
					continue
				}
				again, last = append(again, i), connect.NewError(code, errors.New(r.GetDetail()))
				continue
			}
			if ops[i].release {
				continue
			}
			g, err := a.checkLease(addr, r.GetLease(), ops[i].pool, ops[i].holder, id)
			if err != nil {
				again, last = append(again, i), err
				continue
			}
			out[i].grant, out[i].sentAt = g, sentAt
		}
		open = again
		if last != nil {
			return fmt.Errorf("%d of %d seat operations: %w", len(again), len(req.Ops), last)
		}
		return nil
	})
	// What is still open failed on every master, or was refused as a
	// whole (not enrolled, a bad request): that is its answer.
	for _, i := range open {
		out[i].err = err
	}
	return out, nil
}

// seatOps makes one SeatOps call, or, on a master too old to know it (a
// site part-way through its masters' update), the single calls it stands
// for, answered the same way.
func (a *Agent) seatOps(ctx context.Context, c licmeshv1connect.CollectorServiceClient, req *licmeshv1.SeatOpsRequest) ([]*licmeshv1.LeaseOpResult, error) {
	resp, err := c.SeatOps(ctx, connect.NewRequest(req))
	if err == nil {
		if len(resp.Msg.GetResults()) != len(req.Ops) {
			return nil, badAnswer("%d answers to %d seat operations", len(resp.Msg.GetResults()), len(req.Ops))
		}
		if h := resp.Msg.GetLeader(); h != "" {
			a.leaderHint.Store(h)
		}
		return resp.Msg.GetResults(), nil
	}
	if connect.CodeOf(err) != connect.CodeUnimplemented {
		return nil, err
	}
	out := make([]*licmeshv1.LeaseOpResult, len(req.Ops))
	for i, op := range req.Ops {
		var err error
		if op.Kind == licmeshv1.LeaseOp_KIND_RELEASE {
			_, err = c.Release(ctx, connect.NewRequest(&licmeshv1.ReleaseRequest{LeaseId: op.LeaseId}))
			out[i] = &licmeshv1.LeaseOpResult{}
		} else {
			var resp *connect.Response[licmeshv1.AcquireResponse]
			resp, err = c.Acquire(ctx, connect.NewRequest(&licmeshv1.AcquireRequest{Pool: op.Pool, Holder: op.Holder, Offline: op.Offline}))
			if err == nil {
				out[i] = &licmeshv1.LeaseOpResult{Lease: resp.Msg.GetLease(), Existing: resp.Msg.GetExisting()}
			}
		}
		if err != nil {
			if !connect.IsWireError(err) {
				return nil, err
			}
			out[i] = &licmeshv1.LeaseOpResult{Code: uint32(connect.CodeOf(err)), Detail: connectMessage(err)}
		}
	}
	return out, nil
}

// connectMessage is a connect error's message without its code.
func connectMessage(err error) string {
	if ce, ok := errors.AsType[*connect.Error](err); ok {
		return ce.Message()
	}
	return err.Error()
}
