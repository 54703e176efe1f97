package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/mesh/wire"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// G4's goals: the median failover within 2.5 heartbeat timeouts, and
// within 1.1x raw raft's (B4) with the same timeouts.
const (
	g4MaxP50X   = 2.5
	g4MaxOverB4 = 1.1
)

// retryPause keeps a failover attempt that failed at once (connection
// refused, no leader known) from spinning; attempts that time out retry
// immediately.
const retryPause = 5 * time.Millisecond

// FailoverRun is the outcome of G4: for each trial, the time from the kill
// -9 of the leader to the first grant a surviving master returned.
type FailoverRun struct {
	// Trials are the measured failover times, in trial order.
	Trials []time.Duration
	// Latency summarizes Trials.
	Latency Latencies
	// Attempts is the number of acquire attempts made across all trials.
	Attempts int
}

// MeasureG4 starts a MeshCluster and enrolls one collector, then runs
// cfg.Mesh.FailoverTrials trials. Each waits for the cluster to be whole,
// opens fresh QUIC connections to every master (untimed), kills the leader
// with SIGKILL and races an acquire loop for a fresh holder against each
// survivor, every attempt bounded by cfg.Mesh.TryTimeout; the first grant
// ends the trial. The killed master is restarted before the next one.
func MeasureG4(ctx context.Context, cfg Config) (_ FailoverRun, err error) {
	if err := cfg.Validate(); err != nil {
		return FailoverRun{}, err
	}
	mc := cfg.Mesh
	m, err := StartMesh(ctx, cfg)
	if err != nil {
		return FailoverRun{}, err
	}
	defer func() { m.CloseAfter(err) }()
	const pool = "g4"
	// Granted leases are never released: each trial needs its own seat.
	if err := m.CreatePool(ctx, pool, mc.FailoverTrials); err != nil {
		return FailoverRun{}, err
	}
	cols, err := m.EnrollCollectors(ctx, 1)
	if err != nil {
		return FailoverRun{}, err
	}
	defer closeCollectors(cols)

	var run FailoverRun
	for trial := range mc.FailoverTrials {
		d, attempts, err := failoverTrial(ctx, m, cols[0], pool, fmt.Sprintf("g4-t%d", trial), mc)
		if err != nil {
			return FailoverRun{}, fmt.Errorf("trial %d: %w", trial+1, err)
		}
		run.Trials = append(run.Trials, d)
		run.Attempts += attempts
	}
	run.Latency = Summarize(append([]time.Duration(nil), run.Trials...))
	return run, nil
}

// firstSuccess races n loops, each calling try (bounded by TryTimeout)
// until it succeeds or FailoverTimeout from now passes, and returns when
// the first succeeded, the attempts of all, and the errors of those that
// gave up. The first success stops the others; their attempts still count.
func firstSuccess(ctx context.Context, mc MeshConfig, n int, try func(ctx context.Context, loop, attempt int) bool) (time.Time, int, []error) {
	tctx, cancel := context.WithTimeout(ctx, mc.FailoverTimeout)
	defer cancel()
	type outcome struct {
		at       time.Time
		attempts int
		err      error
	}
	results := make(chan outcome, n)
	for loop := range n {
		go func() {
			attempts := 0
			for {
				if err := tctx.Err(); err != nil {
					results <- outcome{attempts: attempts, err: err}
					return
				}
				attempts++
				actx, acancel := context.WithTimeout(tctx, mc.TryTimeout)
				began := time.Now()
				ok := try(actx, loop, attempts)
				acancel()
				if ok {
					results <- outcome{at: time.Now(), attempts: attempts}
					return
				}
				if time.Since(began) < retryPause {
					select {
					case <-tctx.Done():
					case <-time.After(retryPause):
					}
				}
			}
		}()
	}
	var first time.Time
	var attempts int
	var errs []error
	for range n {
		o := <-results
		attempts += o.attempts
		switch {
		case o.err != nil:
			errs = append(errs, o.err)
		case first.IsZero() || o.at.Before(first):
			first = o.at
			cancel()
		}
	}
	return first, attempts, errs
}

// failoverTrial runs one kill and returns the time to the first grant and
// the attempts it took. It leaves the cluster whole again.
func failoverTrial(ctx context.Context, m *MeshCluster, col *Collector, pool, holder string, mc MeshConfig) (time.Duration, int, error) {
	leader, err := m.WaitWhole(ctx)
	if err != nil {
		return 0, 0, err
	}
	// A collector's connections to a master restarted by an earlier trial
	// are dead; a real collector would have reconnected long before.
	c := col.Fresh()
	defer c.Close()
	var survivors []int
	for i := range m.Masters() {
		if i != leader {
			survivors = append(survivors, i)
		}
		if err := hello(ctx, c, m.CollectorAddr(i), mc); err != nil {
			return 0, 0, err
		}
	}

	start := time.Now()
	m.Kill(leader)
	clients := make([]licmeshv1connect.CollectorServiceClient, len(survivors))
	for j, i := range survivors {
		clients[j] = c.Client(m.CollectorAddr(i))
	}
	first, attempts, errs := firstSuccess(ctx, mc, len(clients), func(ctx context.Context, j, _ int) bool {
		r, err := clients[j].Acquire(ctx, connect.NewRequest(&licmeshv1.AcquireRequest{Pool: pool, Holder: holder}))
		return err == nil && r.Msg.Lease != nil
	})
	if first.IsZero() {
		return 0, attempts, fmt.Errorf("%w: no grant within %v of killing the leader: %w",
			ErrMesh, mc.FailoverTimeout, errors.Join(errs...))
	}
	if err := m.Restart(leader); err != nil {
		return 0, attempts, err
	}
	return first.Sub(start), attempts, nil
}

// hello calls Hello on the master at addr until it answers, so the trial's
// connections exist before the clock starts.
func hello(ctx context.Context, c *Collector, addr string, mc MeshConfig) error {
	ctx, cancel := context.WithTimeout(ctx, mc.StartTimeout)
	defer cancel()
	client := c.Client(addr)
	return poll(ctx, func() error {
		hctx, hcancel := context.WithTimeout(ctx, mc.CallTimeout)
		defer hcancel()
		_, err := client.Hello(hctx, connect.NewRequest(&licmeshv1.HelloRequest{ProtocolVersion: wire.ProtocolVersion, Version: "bench"}))
		if err != nil {
			return fmt.Errorf("%w: hello to %s: %w", ErrMesh, addr, err)
		}
		return nil
	})
}

// g4Rows are the median failover (goal) and the worst one.
func g4Rows(r FailoverRun, heartbeat time.Duration) []Result {
	limit := time.Duration(g4MaxP50X * float64(heartbeat))
	p50 := r.Latency.P50.Seconds()
	return []Result{
		{ID: "G4", Name: "failover to first grant p50", Value: p50, Unit: "s",
			Goal: fmt.Sprintf("≤ %gx heartbeat %v = %v", g4MaxP50X, heartbeat, limit),
			Met:  Verdict(r.Latency.P50 <= limit),
			Note: fmt.Sprintf("%s heartbeat timeouts; %d trials, %d attempts", FormatValue(p50/heartbeat.Seconds()), len(r.Trials), r.Attempts)},
		{ID: "G4", Name: "failover to first grant max", Value: r.Latency.Max.Seconds(), Unit: "s",
			Note: fmt.Sprintf("trials: %s", formatSeconds(r.Trials))},
	}
}

func formatSeconds(ds []time.Duration) string {
	out := ""
	for i, d := range ds {
		if i > 0 {
			out += " "
		}
		out += FormatValue(d.Seconds())
	}
	return out
}

// g4RatioRow divides G4's median failover by B4's.
func g4RatioRow(r, b4 FailoverRun, b4Err error) Result {
	row := Result{ID: "G4", Name: "failover p50 ÷ raw raft's (B4)", Unit: "x", Goal: fmt.Sprintf("≤ %gx", g4MaxOverB4)}
	if b4Err != nil || b4.Latency.P50 <= 0 {
		row.Value, row.Met = math.NaN(), Verdict(false)
		row.Note = fmt.Sprintf("no B4 baseline: %v", b4Err)
		return row
	}
	x := r.Latency.P50.Seconds() / b4.Latency.P50.Seconds()
	row.Value, row.Met = x, Verdict(x <= g4MaxOverB4)
	row.Note = fmt.Sprintf("G4 p50 %ss, B4 p50 %ss", FormatValue(r.Latency.P50.Seconds()), FormatValue(b4.Latency.P50.Seconds()))
	return row
}
