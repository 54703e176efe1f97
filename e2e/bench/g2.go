package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/licmesh/licmesh/e2e/harness"
)

// G2: one application server with many user sessions behind one collector.
// C concurrent clients of one real collectord's local API each take a seat
// and give it back, over and over: a pair is two lease operations, each a
// replicated write. Goals, against B1 in the same run: at C=1 the lease
// operations per second reach B1's entries per second at c=1 (an operation
// costs no more than one raw replicated write); at C=64 they reach B1 at
// c=64; and a pair's p99 stays within 4x B1's p99 at the same concurrency.
const g2MaxP99X = 4.0

// g2Levels are the concurrencies G2 runs.
var g2Levels = []int{1, 16, 64, 256}

// MeasureG2 starts a mesh and one collectord, and runs the closed loop at
// each of g2Levels.
func MeasureG2(ctx context.Context, cfg Config) (_ map[int]G2Run, err error) {
	m, err := StartMesh(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { m.CloseAfter(err) }()
	const pool = "g2"
	if err := m.CreatePool(ctx, pool, slices.Max(g2Levels)+16); err != nil {
		return nil, err
	}
	var col *harness.Collector
	err = m.tb.Do(func() {
		tok := m.c.Masters[0].JoinToken(1)
		col = newCollector(m.tb, "g2", m.c.CollectorAddrs(), tok, "max_leases: 10000\nmax_in_flight: 1024\n")
		col.Start()
		col.WaitReady(30 * time.Second)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: start collectord: %w", ErrMesh, err)
	}
	// As many idle connections as workers: the product's own HTTP client
	// would keep them.
	col.UseClient(&http.Client{Timeout: cfg.Mesh.CallTimeout, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}})
	out := map[int]G2Run{}
	for _, c := range g2Levels {
		var pairs atomic.Int64
		before, err := markRaft(ctx, m)
		if err != nil {
			return nil, err
		}
		colBefore, _ := processCPU(col.Proc.Pid())
		prof := make(chan error, 1)
		if cfg.ProfileDir != "" {
			leader, _, err := m.Leader(ctx)
			if err != nil {
				return nil, err
			}
			go func() {
				// Over the measured window, after the warm-up, every
				// master at once.
				select {
				case <-ctx.Done():
				case <-time.After(cfg.Warmup):
				}
				var g errgroup.Group
				for i := range m.Masters() {
					role := "follower" + fmt.Sprint(i)
					if i == leader {
						role = "leader"
					}
					g.Go(func() error {
						return m.Profile(ctx, i, cfg.Duration, cfg.ProfileDir, fmt.Sprintf("g2-c%d-%s", c, role))
					})
				}
				prof <- g.Wait()
			}()
		} else {
			prof <- nil
		}
		t, err := ClosedLoop(ctx, Load{Concurrency: c, Warmup: cfg.Warmup, Duration: cfg.Duration}, func(_ context.Context, worker int) error {
			l, err := col.Acquire(pool, fmt.Sprintf("session-%d", worker))
			if err != nil {
				return fmt.Errorf("%w: acquire at C=%d: %w", ErrMesh, c, err)
			}
			if err := col.Release(l.ID); err != nil {
				return fmt.Errorf("%w: release at C=%d: %w", ErrMesh, c, err)
			}
			pairs.Add(1)
			return nil
		})
		if err != nil {
			return nil, err
		}
		use, err := useSince(ctx, m, before, 2*pairs.Load())
		if err != nil {
			return nil, err
		}
		colAfter, _ := processCPU(col.Proc.Pid())
		if err := <-prof; err != nil {
			return nil, fmt.Errorf("profile at C=%d: %w", c, err)
		}
		out[c] = G2Run{Throughput: t, Use: use, CollectorCPU: colAfter - colBefore}
	}
	return out, nil
}

// G2Run is one level's throughput and what the masters and the collector
// spent on it (over the warm-up and the window).
type G2Run struct {
	Throughput
	Use ClusterUse
	// CollectorCPU is the collectord process's CPU time.
	CollectorCPU time.Duration
}

// cpuNote says the CPU per lease operation of the masters, the collectord
// and this process (the product's side), and what Raft carried.
func (r G2Run) cpuNote() string {
	if r.Use.MastersCPU == 0 || r.Use.Ops == 0 {
		return ""
	}
	masters, product := r.Use.CPUPerOp()
	col := r.CollectorCPU / time.Duration(r.Use.Ops)
	return fmt.Sprintf("; CPU per op: masters %s µs, collectord %s µs, product %s µs; %s ops per raft entry",
		FormatValue(Micros(masters)), FormatValue(Micros(col)), FormatValue(Micros(product)), FormatValue(r.Use.OpsPerEntry()))
}

// g2Rows are each level's pairs and lease operations per second and its
// latency, with the goals where B1 has the level.
func g2Rows(runs map[int]G2Run, b1 map[int]Throughput) []Result {
	var rows []Result
	for _, c := range g2Levels {
		r, ok := runs[c]
		if !ok {
			continue
		}
		ops := 2 * r.PerSecond
		row := Result{ID: "G2", Name: fmt.Sprintf("one collector, C=%d: lease ops/s (acquire+release pairs ×2)", c), Value: ops, Unit: "ops/s",
			Note: fmt.Sprintf("%s pairs/s", FormatValue(r.PerSecond))}
		base, haveBase := b1[c]
		if haveBase && (c == 1 || c == 64) {
			row.Goal = fmt.Sprintf("≥ B1 c=%d %s entries/s", c, FormatValue(base.PerSecond))
			row.Met = Verdict(ops >= base.PerSecond)
			row.Note += fmt.Sprintf(" = %sx B1", FormatValue(ops/base.PerSecond))
		}
		row.Note += r.cpuNote()
		rows = append(rows, row)
		lat := Result{ID: "G2", Name: fmt.Sprintf("one collector, C=%d: pair p50 / p99", c), Value: ms(r.Latency.P99), Unit: "ms p99",
			Note: fmt.Sprintf("p50 %s ms", FormatValue(ms(r.Latency.P50)))}
		if haveBase {
			limit := g2MaxP99X * ms(base.Latency.P99)
			lat.Goal = fmt.Sprintf("≤ %gx B1 p99 = %s ms", g2MaxP99X, FormatValue(limit))
			lat.Met = Verdict(ms(r.Latency.P99) <= limit)
		}
		rows = append(rows, lat)
	}
	return rows
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
