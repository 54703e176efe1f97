package bench

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
)

// Load describes one closed-loop run: Concurrency workers each issue their
// next operation as soon as the previous one returns.
type Load struct {
	// Concurrency is the number of workers.
	Concurrency int
	// Warmup runs before the window and is not counted.
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
}

// Throughput is the outcome of one closed-loop run.
type Throughput struct {
	// Concurrency is the number of workers that produced it.
	Concurrency int
	// Ops is the number of operations that completed inside the window.
	Ops int
	// Window is the measured duration Ops is divided by.
	Window time.Duration
	// PerSecond is Ops / Window.
	PerSecond float64
	// Latency summarizes the operations that started inside the window.
	Latency Latencies
}

// Op is one operation of a closed loop; worker is 0..Concurrency-1. Any
// error ends the whole run, so an Op that expects refusals (a full pool)
// should count them itself and return nil.
type Op func(ctx context.Context, worker int) error

// ClosedLoop runs op from load.Concurrency workers through the warm-up and
// the window. Throughput counts the operations that finished inside the
// window; latency covers those that started inside it, including any that
// finished after it, so a slow tail is not cut off at the window's edge.
// Workers start nothing new once the window has ended, and ClosedLoop returns
// when every in-flight operation has.
func ClosedLoop(ctx context.Context, load Load, op Op) (Throughput, error) {
	if load.Concurrency < 1 || load.Duration <= 0 || load.Warmup < 0 {
		return Throughput{}, fmt.Errorf("%w: load concurrency %d, warmup %v, duration %v",
			ErrInvalidConfig, load.Concurrency, load.Warmup, load.Duration)
	}
	// Times are offsets from base on the monotonic clock: 16 bytes an
	// operation keeps millions of samples affordable.
	base := time.Now()
	windowStart := load.Warmup
	windowEnd := windowStart + load.Duration
	// One slice per worker, written only by that worker and read after Wait.
	perWorker := make([][]timedOp, load.Concurrency)

	g, gctx := errgroup.WithContext(ctx)
	for w := range load.Concurrency {
		g.Go(func() error {
			for {
				if err := gctx.Err(); err != nil {
					return err
				}
				start := time.Since(base)
				if start >= windowEnd {
					return nil
				}
				if err := op(gctx, w); err != nil {
					return err
				}
				end := time.Since(base)
				if end >= windowStart {
					perWorker[w] = append(perWorker[w], timedOp{start: start, end: end})
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return Throughput{}, err
	}

	var ops int
	var latencies []time.Duration
	for _, list := range perWorker {
		for _, o := range list {
			if o.end <= windowEnd {
				ops++
			}
			if o.start >= windowStart {
				latencies = append(latencies, o.end-o.start)
			}
		}
	}
	if ops == 0 || len(latencies) == 0 {
		return Throughput{}, fmt.Errorf("%w: concurrency %d, window %v: %d finished, %d started",
			ErrNoSamples, load.Concurrency, load.Duration, ops, len(latencies))
	}
	return Throughput{
		Concurrency: load.Concurrency,
		Ops:         ops,
		Window:      load.Duration,
		PerSecond:   float64(ops) / load.Duration.Seconds(),
		Latency:     Summarize(latencies),
	}, nil
}

// timedOp is one operation that ended at or after the window's start.
type timedOp struct{ start, end time.Duration }

// ThroughputRows turns closed-loop results into two table rows each: the rate
// in unit (for example "entries/s") and the p99 latency, with p50 in the note.
func ThroughputRows(id, what, unit string, runs []Throughput) []Result {
	rows := make([]Result, 0, 2*len(runs))
	for _, t := range runs {
		label := fmt.Sprintf("%s c=%d", what, t.Concurrency)
		rows = append(rows,
			Result{ID: id, Name: label, Value: t.PerSecond, Unit: unit,
				Note: fmt.Sprintf("n=%d in %v", t.Ops, t.Window)},
			Result{ID: id, Name: label + " p99", Value: Millis(t.Latency.P99), Unit: "ms",
				Note: fmt.Sprintf("p50 %s ms", FormatValue(Millis(t.Latency.P50)))},
		)
	}
	return rows
}
