package bench

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// G1 goals, against B1 at the same concurrency.
const (
	g1MinRatio   = 3.0 // lease ops/s ≥ 3x raw raft entries/s
	g1MaxP99X    = 2.0 // p99 ≤ 2x raw raft p99 ...
	g1P99SlackMs = 1.0 // ... + 1ms
)

// LeaseRun is one G1 level: a closed loop in which each worker acquires a
// seat for its own holder and releases it, over and over, through the
// collector protocol on real masters. A collector's workers send as
// collectord does, together in SeatOps calls (seatSender).
type LeaseRun struct {
	// Throughput counts acquires and releases alike, one op each.
	Throughput
	// Use is what the cluster spent over the warm-up and the window.
	Use ClusterUse
}

// MeasureG1 starts a MeshCluster, enrolls cfg.Mesh.Collectors collectors
// spread over its masters, and runs G1 at each of cfg.Mesh.Concurrency
// against a hard pool with a seat for every worker. b1 is the raw Raft
// baseline the ratios divide by. It returns the runs by concurrency and the
// table rows.
func MeasureG1(ctx context.Context, cfg Config, b1 map[int]Throughput) (_ map[int]LeaseRun, _ []Result, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	m, err := StartMesh(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	defer func() { m.CloseAfter(err) }()
	const pool = "g1"
	if err := m.CreatePool(ctx, pool, slices.Max(cfg.Mesh.Concurrency)); err != nil {
		return nil, nil, err
	}
	cols, err := m.EnrollCollectors(ctx, cfg.Mesh.Collectors)
	if err != nil {
		return nil, nil, err
	}
	defer closeCollectors(cols)
	clients, err := leaderClients(ctx, m, cols)
	if err != nil {
		return nil, nil, err
	}

	byConc := make(map[int]LeaseRun, len(cfg.Mesh.Concurrency))
	runs := make([]LeaseRun, 0, len(cfg.Mesh.Concurrency))
	for _, n := range cfg.Mesh.Concurrency {
		run, err := leaseLoop(ctx, m, clients, pool, n, cfg)
		if err != nil {
			return nil, nil, err
		}
		byConc[n] = run
		runs = append(runs, run)
	}
	return byConc, g1Rows(runs, b1, cfg.Mesh), nil
}

// collectorClients returns one client per collector, each bound to master
// i mod Masters, so that load reaches the leader and every follower.
func collectorClients(m *MeshCluster, cols []*Collector) []licmeshv1connect.CollectorServiceClient {
	out := make([]licmeshv1connect.CollectorServiceClient, len(cols))
	for i, c := range cols {
		out[i] = c.Client(m.CollectorAddr(i % m.Masters()))
	}
	return out
}

// leaderClients returns one client per collector, each bound to the
// leader: collectord sends its calls to the leader a master names in its
// answers (Hello, Renew, SeatOps), so a follower forwards only what a
// collector sends before it knows the leader.
func leaderClients(ctx context.Context, m *MeshCluster, cols []*Collector) ([]licmeshv1connect.CollectorServiceClient, error) {
	leader, _, err := m.Leader(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]licmeshv1connect.CollectorServiceClient, len(cols))
	for i, c := range cols {
		out[i] = c.Client(m.CollectorAddr(leader))
	}
	return out, nil
}

// leaseWorker is one G1 worker's state, touched only by that worker.
type leaseWorker struct {
	seats  *seatSender
	holder string
	lease  uint64 // 0 while the holder holds nothing
}

// seatSender sends one collector's seat operations as collectord does:
// what its workers ask while a call is under way leaves together in the
// next SeatOps call, with two calls in flight at most, and a lone request
// leaves at once.
type seatSender struct {
	client licmeshv1connect.CollectorServiceClient
	in     chan seatReq
}

type seatReq struct {
	op   *licmeshv1.LeaseOp
	done chan seatAns
}

type seatAns struct {
	res *licmeshv1.LeaseOpResult
	err error
}

// seatCallsInFlight and maxSeatOps are collectord's own bounds.
const (
	seatCallsInFlight = 2
	maxSeatOps        = 256
)

// newSeatSender starts the sender's calls; they end with ctx.
func newSeatSender(ctx context.Context, client licmeshv1connect.CollectorServiceClient, timeout time.Duration) *seatSender {
	s := &seatSender{client: client, in: make(chan seatReq, 4*maxSeatOps)}
	for range seatCallsInFlight {
		go s.run(ctx, timeout)
	}
	return s
}

func (s *seatSender) run(ctx context.Context, timeout time.Duration) {
	for {
		var batch []seatReq
		select {
		case <-ctx.Done():
			return
		case r := <-s.in:
			batch = append(batch, r)
		}
	gather:
		for len(batch) < maxSeatOps {
			select {
			case r := <-s.in:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		req := &licmeshv1.SeatOpsRequest{Ops: make([]*licmeshv1.LeaseOp, len(batch))}
		for i, r := range batch {
			req.Ops[i] = r.op
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		resp, err := s.client.SeatOps(cctx, connect.NewRequest(req))
		cancel()
		if err == nil && len(resp.Msg.GetResults()) != len(batch) {
			err = fmt.Errorf("%w: %d answers to %d seat operations", ErrMesh, len(resp.Msg.GetResults()), len(batch))
		}
		for i, r := range batch {
			if err != nil {
				r.done <- seatAns{err: err}
				continue
			}
			r.done <- seatAns{res: resp.Msg.GetResults()[i]}
		}
	}
}

// do runs one operation with whatever else is waiting; a refusal of it is
// an error naming its code.
func (s *seatSender) do(ctx context.Context, op *licmeshv1.LeaseOp) (*licmeshv1.LeaseOpResult, error) {
	done := make(chan seatAns, 1)
	select {
	case s.in <- seatReq{op: op, done: done}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case a := <-done:
		if a.err == nil && a.res.GetCode() != 0 {
			a.err = fmt.Errorf("%s: %s", connect.Code(a.res.GetCode()), a.res.GetDetail())
		}
		return a.res, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// leaseLoop runs one G1 level and, untimed, releases what is still held.
func leaseLoop(ctx context.Context, m *MeshCluster, clients []licmeshv1connect.CollectorServiceClient, pool string, n int, cfg Config) (LeaseRun, error) {
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	senders := make([]*seatSender, len(clients))
	for i, c := range clients {
		senders[i] = newSeatSender(sctx, c, cfg.Mesh.CallTimeout)
	}
	workers := make([]leaseWorker, n)
	for w := range workers {
		// Holders are fresh per level, so no acquire finds an old lease.
		workers[w] = leaseWorker{seats: senders[w%len(senders)], holder: fmt.Sprintf("g1-c%d-w%d", n, w)}
	}
	var all atomic.Int64
	op := func(ctx context.Context, w int) error {
		lw := &workers[w]
		if err := lw.step(ctx, pool, cfg.Mesh.CallTimeout); err != nil {
			return err
		}
		all.Add(1)
		return nil
	}
	before, err := markRaft(ctx, m)
	if err != nil {
		return LeaseRun{}, err
	}
	t, err := ClosedLoop(ctx, Load{Concurrency: n, Warmup: cfg.Warmup, Duration: cfg.Duration}, op)
	if err != nil {
		return LeaseRun{}, err
	}
	use, err := useSince(ctx, m, before, all.Load())
	if err != nil {
		return LeaseRun{}, err
	}
	for w := range workers {
		if workers[w].lease != 0 {
			if err := workers[w].step(ctx, pool, cfg.Mesh.CallTimeout); err != nil {
				return LeaseRun{}, err
			}
		}
	}
	return LeaseRun{Throughput: t, Use: use}, nil
}

// step acquires the worker's seat when it holds none, else releases it.
func (lw *leaseWorker) step(ctx context.Context, pool string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if lw.lease == 0 {
		r, err := lw.seats.do(ctx, &licmeshv1.LeaseOp{Kind: licmeshv1.LeaseOp_KIND_ACQUIRE, Pool: pool, Holder: lw.holder})
		if err != nil {
			return fmt.Errorf("%w: acquire for %s: %w", ErrMesh, lw.holder, err)
		}
		if r.GetLease().GetId() == 0 {
			return fmt.Errorf("%w: acquire for %s granted no lease", ErrMesh, lw.holder)
		}
		lw.lease = r.GetLease().GetId()
		return nil
	}
	if _, err := lw.seats.do(ctx, &licmeshv1.LeaseOp{Kind: licmeshv1.LeaseOp_KIND_RELEASE, LeaseId: lw.lease}); err != nil {
		return fmt.Errorf("%w: release lease %d of %s: %w", ErrMesh, lw.lease, lw.holder, err)
	}
	lw.lease = 0
	return nil
}

// g1Rows are up to five rows per level: the rate, its ratio to B1 (goal),
// the p99 (goal), the ops each Raft entry carried and the CPU time per op.
func g1Rows(runs []LeaseRun, b1 map[int]Throughput, mc MeshConfig) []Result {
	var rows []Result
	for _, r := range runs {
		n := r.Concurrency
		label := fmt.Sprintf("lease ops c=%d", n)
		rows = append(rows, Result{ID: "G1", Name: label, Value: r.PerSecond, Unit: "ops/s",
			Note: fmt.Sprintf("acquire+release, n=%d in %v, %d collectors sending SeatOps to the leader of %d masters, as collectord does",
				r.Ops, r.Window, mc.Collectors, mc.Masters)})
		base, ok := b1[n]
		if !ok || base.PerSecond <= 0 {
			rows = append(rows, Result{ID: "G1", Name: label + " ÷ B1", Unit: "x",
				Goal: fmt.Sprintf("≥ %gx", g1MinRatio), Met: Verdict(false),
				Note: fmt.Sprintf("no B1 run at concurrency %d", n)})
		} else {
			ratio := r.PerSecond / base.PerSecond
			limit := g1MaxP99X*Millis(base.Latency.P99) + g1P99SlackMs
			p99 := Millis(r.Latency.P99)
			rows = append(rows,
				Result{ID: "G1", Name: label + " ÷ B1", Value: ratio, Unit: "x",
					Goal: fmt.Sprintf("≥ %gx", g1MinRatio), Met: Verdict(ratio >= g1MinRatio),
					Note: fmt.Sprintf("B1 %s entries/s", FormatValue(base.PerSecond))},
				Result{ID: "G1", Name: fmt.Sprintf("lease op c=%d p99", n), Value: p99, Unit: "ms",
					Goal: fmt.Sprintf("≤ %gx B1 p99 + %gms = %s", g1MaxP99X, g1P99SlackMs, FormatValue(limit)),
					Met:  Verdict(p99 <= limit),
					Note: fmt.Sprintf("p50 %s ms; B1 p99 %s ms", FormatValue(Millis(r.Latency.P50)), FormatValue(Millis(base.Latency.P99)))},
			)
		}
		rows = append(rows, Result{ID: "G1", Name: fmt.Sprintf("lease ops per raft entry c=%d", n),
			Value: r.Use.OpsPerEntry(), Unit: "ops/entry", Note: r.Use.Note()})
		if r.Use.MastersCPU > 0 {
			masters, client := r.Use.CPUPerOp()
			rows = append(rows, Result{ID: "G1", Name: fmt.Sprintf("lease op cpu c=%d", n),
				Value: Micros(masters + client), Unit: "µs/op",
				Note: fmt.Sprintf("masters %s + collectors' side %s µs per op; %d CPUs for all",
					FormatValue(Micros(masters)), FormatValue(Micros(client)), runtime.NumCPU())})
		}
	}
	return rows
}
