package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// G3 goals.
const (
	g3MinRatio      = 10.0 // renewals/s ≥ 10x G1's ops/s at its highest level
	g3MaxEntryShare = 0.01 // Raft entries per renewal
)

// RenewRun is the outcome of G3: workers that each hold a set of leases and
// renew them all in one call, over and over.
type RenewRun struct {
	// Throughput counts Renew calls; each renews LeasesPerCall leases.
	Throughput
	// LeasesPerCall is the number of leases each call renews.
	LeasesPerCall int
	// Use is what the cluster spent over the warm-up and the window; its
	// Ops counts renewals, not calls.
	Use ClusterUse
}

// RenewalsPerSecond is the number of leases renewed per second.
func (r RenewRun) RenewalsPerSecond() float64 { return r.PerSecond * float64(r.LeasesPerCall) }

// EntriesPerRenewal is the number of Raft entries logged per lease renewed.
func (r RenewRun) EntriesPerRenewal() float64 { return float64(r.Use.Entries) / float64(r.Use.Ops) }

// MeasureG3 starts a MeshCluster, has cfg.Mesh.RenewWorkers workers each
// acquire cfg.Mesh.LeasesPerWorker leases (untimed), then runs a closed loop
// in which every worker renews all of its leases at once, on a RenewStream
// of its own, as collectord renews. Workers share the enrolled collectors
// as in G1.
func MeasureG3(ctx context.Context, cfg Config) (_ RenewRun, err error) {
	if err := cfg.Validate(); err != nil {
		return RenewRun{}, err
	}
	mc := cfg.Mesh
	m, err := StartMesh(ctx, cfg)
	if err != nil {
		return RenewRun{}, err
	}
	defer func() { m.CloseAfter(err) }()
	const pool = "g3"
	if err := m.CreatePool(ctx, pool, mc.RenewWorkers*mc.LeasesPerWorker); err != nil {
		return RenewRun{}, err
	}
	cols, err := m.EnrollCollectors(ctx, mc.Collectors)
	if err != nil {
		return RenewRun{}, err
	}
	defer closeCollectors(cols)
	clients, err := leaderClients(ctx, m, cols)
	if err != nil {
		return RenewRun{}, err
	}

	// held[w] are worker w's leases, all acquired through its own collector:
	// a collector may renew only the leases it holds.
	held := make([][]uint64, mc.RenewWorkers)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	senders := make([]*seatSender, len(clients))
	for i, c := range clients {
		senders[i] = newSeatSender(sctx, c, mc.CallTimeout)
	}
	g, gctx := errgroup.WithContext(ctx)
	for w := range held {
		g.Go(func() error {
			for l := range mc.LeasesPerWorker {
				lw := leaseWorker{seats: senders[w%len(senders)], holder: fmt.Sprintf("g3-w%d-l%d", w, l)}
				if err := lw.step(gctx, pool, mc.CallTimeout); err != nil {
					return err
				}
				held[w] = append(held[w], lw.lease)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return RenewRun{}, err
	}

	var renewed atomic.Int64
	// Each worker renews on a stream of its own, as collectord keeps one
	// to the master its renewals go to.
	streams := make([]*renewStream, mc.RenewWorkers)
	defer func() {
		for _, st := range streams {
			if st != nil {
				st.close()
			}
		}
	}()
	op := func(ctx context.Context, w int) error {
		if streams[w] == nil {
			streams[w] = openRenewStream(sctx, clients[w%len(clients)])
		}
		n, err := streams[w].renewAll(ctx, held[w], mc)
		if err != nil {
			return err
		}
		renewed.Add(int64(n))
		return nil
	}
	before, err := markRaft(ctx, m)
	if err != nil {
		return RenewRun{}, err
	}
	prof := make(chan error, 1)
	if cfg.ProfileDir != "" {
		go func() {
			select {
			case <-ctx.Done():
			case <-time.After(cfg.Warmup):
			}
			prof <- m.Profile(ctx, before.leader, cfg.Duration, cfg.ProfileDir, "g3-leader")
		}()
	} else {
		prof <- nil
	}
	t, err := ClosedLoop(ctx, Load{Concurrency: mc.RenewWorkers, Warmup: cfg.Warmup, Duration: cfg.Duration}, op)
	if err != nil {
		return RenewRun{}, err
	}
	if err := <-prof; err != nil {
		return RenewRun{}, fmt.Errorf("profile: %w", err)
	}
	use, err := useSince(ctx, m, before, renewed.Load())
	if err != nil {
		return RenewRun{}, err
	}
	return RenewRun{Throughput: t, LeasesPerCall: mc.LeasesPerWorker, Use: use}, nil
}

// renewStream is a RenewStream a load generator renews on.
type renewStream struct {
	st     *connect.BidiStreamForClient[licmeshv1.RenewStreamRequest, licmeshv1.RenewStreamResponse]
	cancel context.CancelFunc
}

// openRenewStream opens a renewal stream on c that lasts until ctx ends or
// it is closed.
func openRenewStream(ctx context.Context, c licmeshv1connect.CollectorServiceClient) *renewStream {
	ctx, cancel := context.WithCancel(ctx)
	return &renewStream{st: c.RenewStream(ctx), cancel: cancel}
}

func (r *renewStream) close() {
	r.cancel()
	_ = r.st.CloseRequest()
	_ = r.st.CloseResponse()
}

// renew sends req on the stream and reads its answer; when ctx ends first
// the stream is cut (both directions closed, as collectord cuts it: over
// HTTP/2 a cancelled context alone does not end a Receive), and is of no
// more use.
func (r *renewStream) renew(ctx context.Context, req *licmeshv1.RenewRequest) (*licmeshv1.RenewResponse, error) {
	cut := make(chan struct{})
	stopFunc := context.AfterFunc(ctx, func() {
		defer close(cut)
		r.close()
	})
	stop := func() bool {
		if stopFunc() {
			return true
		}
		<-cut
		return false
	}
	resp, err := func() (*licmeshv1.RenewResponse, error) {
		if err := r.st.Send(&licmeshv1.RenewStreamRequest{Renew: req}); err != nil {
			if errors.Is(err, io.EOF) {
				_, err = r.st.Receive()
			}
			return nil, err
		}
		m, err := r.st.Receive()
		if err != nil {
			return nil, err
		}
		if m.Renew == nil {
			return nil, errors.New("a renewal stream answer carries no renewal")
		}
		return m.Renew, nil
	}()
	if !stop() {
		err = context.Cause(ctx)
	}
	return resp, err
}

// renewAll renews ids in one renewal and fails unless every lease was
// renewed.
func (r *renewStream) renewAll(ctx context.Context, ids []uint64, mc MeshConfig) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, mc.CallTimeout)
	defer cancel()
	resp, err := r.renew(ctx, &licmeshv1.RenewRequest{LeaseIds: ids})
	if err != nil {
		return 0, fmt.Errorf("%w: renew %d leases: %w", ErrMesh, len(ids), err)
	}
	if len(resp.Results) != len(ids) {
		return 0, fmt.Errorf("%w: renew %d leases got %d results", ErrMesh, len(ids), len(resp.Results))
	}
	for _, res := range resp.Results {
		if !res.Ok {
			return 0, fmt.Errorf("%w: renew lease %d refused: %s", ErrMesh, res.LeaseId, res.Reason)
		}
	}
	return len(ids), nil
}

// g3Rows are the renewal rate, its ratio to G1 (goal), the Raft entries per
// renewal (goal) and the p99 of one Renew call. g1 is G1's rate at level
// g1Level, or g1Err says why there is none.
func g3Rows(r RenewRun, g1 float64, g1Level int, g1Err error) []Result {
	rate := r.RenewalsPerSecond()
	rows := []Result{{ID: "G3", Name: "lease renewals", Value: rate, Unit: "renewals/s",
		Note: fmt.Sprintf("%d calls of %d leases by %d workers in %v", r.Ops, r.LeasesPerCall, r.Concurrency, r.Window)}}
	ratio := Result{ID: "G3", Name: fmt.Sprintf("renewals ÷ G1 ops c=%d", g1Level), Unit: "x",
		Goal: fmt.Sprintf("≥ %gx", g3MinRatio)}
	if g1Err != nil || g1 <= 0 {
		ratio.Met, ratio.Note = Verdict(false), fmt.Sprintf("no G1 baseline: %v", g1Err)
	} else {
		ratio.Value = rate / g1
		ratio.Met = Verdict(ratio.Value >= g3MinRatio)
		ratio.Note = fmt.Sprintf("G1 %s ops/s", FormatValue(g1))
	}
	share := r.EntriesPerRenewal()
	rows = append(rows, ratio,
		Result{ID: "G3", Name: "raft entries per renewal", Value: share, Unit: "entries",
			Goal: fmt.Sprintf("≤ %g", g3MaxEntryShare), Met: Verdict(share <= g3MaxEntryShare),
			Note: fmt.Sprintf("%d entries for %d renewals; followers forwarded %.0f", r.Use.Entries, r.Use.Ops, r.Use.Forwarded)},
		Result{ID: "G3", Name: "renew call p99", Value: Millis(r.Latency.P99), Unit: "ms",
			Note: fmt.Sprintf("p50 %s ms, %d leases per call", FormatValue(Millis(r.Latency.P50)), r.LeasesPerCall)},
	)
	if r.Use.MastersCPU > 0 {
		masters, client := r.Use.CPUPerOp()
		rows = append(rows, Result{ID: "G3", Name: "renewal cpu", Value: Micros(masters + client), Unit: "µs/renewal",
			Note: fmt.Sprintf("masters %s + collectors' side %s µs per renewal; %d CPUs for all",
				FormatValue(Micros(masters)), FormatValue(Micros(client)), runtime.NumCPU())})
	}
	return rows
}
