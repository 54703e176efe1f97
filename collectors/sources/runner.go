package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/licmesh/licmesh/licensing/clock"
)

// Job is one source with its schedule.
type Job struct {
	Source   Source
	Interval time.Duration
	Timeout  time.Duration
}

// Runner defaults.
const (
	DefaultJitter     = 0.1
	DefaultMaxBackoff = time.Hour
)

// RunnerOptions configure a Runner. OnSample is required.
type RunnerOptions struct {
	// Clock is the runner's time; nil means the system clock. Tests
	// inject a fake.
	Clock clock.Clock
	// Rand returns a uniform value in [0, 1); nil means math/rand/v2.
	Rand func() float64
	// Jitter spreads runs: each wait is the interval times a factor
	// uniform in [1-Jitter, 1+Jitter), and the first run of each job comes
	// after a uniform part of Jitter times its interval. 0 means
	// DefaultJitter; negative means none.
	Jitter float64
	// MaxBackoff caps the wait after failures (the interval doubles with
	// each failure in a row, starting from the interval). It is never less
	// than a job's interval. 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// OnSample receives each sample. Calls are serialized across jobs, so
	// it need not be safe for concurrent use; a slow OnSample delays its
	// job's next run (never a run in parallel).
	OnSample func(ctx context.Context, s Sample)
	// OnError, if set, receives each failed collection with the number of
	// failures in a row. Calls are serialized with OnSample.
	OnError func(source string, err error, failures int)
	// Logger logs failures (at failure 1, 2, 4, 8, ... in a row, so a
	// source that stays down does not flood the log), recoveries and
	// rejected rows; nil discards.
	Logger *slog.Logger
}

// JobStats are one job's counters.
type JobStats struct {
	Source string
	// Runs counts collections started; Failures those that failed.
	Runs, Failures int
	// Skipped counts ticks missed because the previous run (with its
	// OnSample) was still going when they came.
	Skipped int
	// FailuresInRow is the current run of failures; 0 after a success.
	FailuresInRow int
	// LastSuccess is when the last successful collection started.
	LastSuccess time.Time
	// LastError is the last failure's message, empty after a success.
	LastError string
}

// Runner runs jobs on their intervals, one collection at a time per job.
type Runner struct {
	jobs []Job
	opts RunnerOptions

	deliver sync.Mutex // serializes OnSample and OnError

	mu    sync.Mutex
	stats []JobStats
}

// NewRunner checks the jobs and returns a runner; Run starts it.
func NewRunner(jobs []Job, opts RunnerOptions) (*Runner, error) {
	if opts.OnSample == nil {
		return nil, fmt.Errorf("%w: the runner needs OnSample", ErrConfig)
	}
	if opts.Clock == nil {
		opts.Clock = clock.System{}
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	switch {
	case opts.Jitter == 0:
		opts.Jitter = DefaultJitter
	case opts.Jitter < 0:
		opts.Jitter = 0
	case opts.Jitter > 0.5:
		return nil, fmt.Errorf("%w: runner jitter %v must be at most 0.5", ErrConfig, opts.Jitter)
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{jobs: jobs, opts: opts, stats: make([]JobStats, len(jobs))}
	seen := map[string]bool{}
	for i, j := range jobs {
		switch {
		case j.Source == nil:
			return nil, fmt.Errorf("%w: runner job %d has no source", ErrConfig, i)
		case j.Interval <= 0 || j.Timeout <= 0:
			return nil, fmt.Errorf("%w: runner job %q needs a positive interval and timeout", ErrConfig, j.Source.Name())
		case seen[j.Source.Name()]:
			return nil, fmt.Errorf("%w: two runner jobs are named %q", ErrConfig, j.Source.Name())
		}
		seen[j.Source.Name()] = true
		r.stats[i].Source = j.Source.Name()
	}
	return r, nil
}

// Jobs builds a job for each config, creating its source with opts. On an
// error it closes the sources it made and reports every bad config.
func Jobs(cfgs []Config, opts Options) ([]Job, error) {
	if err := ValidateAll(cfgs); err != nil {
		return nil, err
	}
	var jobs []Job
	var errs []error
	for _, c := range cfgs {
		src, err := New(c, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d := c.withDefaults()
		jobs = append(jobs, Job{Source: src, Interval: d.Interval, Timeout: d.Timeout})
	}
	if err := errors.Join(errs...); err != nil {
		for _, j := range jobs {
			j.Source.Close()
		}
		return nil, err
	}
	return jobs, nil
}

// Stats returns every job's counters, in job order.
func (r *Runner) Stats() []JobStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]JobStats(nil), r.stats...)
}

// Run runs every job until ctx ends, then returns nil once every job has
// stopped. It does not close the sources.
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range r.jobs {
		wg.Go(func() { r.loop(ctx, i) })
	}
	wg.Wait()
	return nil
}

// jittered scales d by a factor uniform in [1-j, 1+j).
func (r *Runner) jittered(d time.Duration) time.Duration {
	f := 1 + r.opts.Jitter*(2*r.opts.Rand()-1)
	return time.Duration(float64(d) * f)
}

// backoff is the wait after n failures in a row.
func (r *Runner) backoff(interval time.Duration, n int) time.Duration {
	limit := max(r.opts.MaxBackoff, interval)
	d := interval
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func (r *Runner) loop(ctx context.Context, i int) {
	job := r.jobs[i]
	clk := r.opts.Clock
	name := job.Source.Name()
	failures := 0
	wait := time.Duration(r.opts.Rand() * r.opts.Jitter * float64(job.Interval))
	for {
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-clk.After(wait):
		}
		start := clk.Now()
		r.update(i, func(s *JobStats) { s.Runs++ })
		cctx, cancel := context.WithTimeout(ctx, job.Timeout)
		sample, err := job.Source.Collect(cctx)
		cancel()
		if err != nil && ctx.Err() != nil {
			return // stopping: a collection cut short is not a failure
		}
		period := job.Interval
		if err != nil {
			failures++
			period = r.backoff(job.Interval, failures)
			r.failed(i, name, err, failures, period)
		} else {
			if failures > 0 {
				r.opts.Logger.Info("source recovered", "source", name, "failures", failures)
			}
			failures = 0
			r.update(i, func(s *JobStats) { s.FailuresInRow, s.LastSuccess, s.LastError = 0, sample.At, "" })
			if sample.Rejected > 0 {
				r.opts.Logger.Warn("source rows rejected", "source", name, "rejected", sample.Rejected, "first_reason", sample.RejectedReason)
			}
			r.deliver.Lock()
			r.opts.OnSample(ctx, sample)
			r.deliver.Unlock()
		}
		// The next run is one period after this one started. A run that
		// overran (a slow OnSample, or a source ignoring its timeout) skips
		// the ticks it covered rather than running twice at once.
		next := start.Add(r.jittered(period))
		now := clk.Now()
		if !next.After(now) {
			missed := int(now.Sub(next)/period) + 1
			next = next.Add(time.Duration(missed) * period)
			r.update(i, func(s *JobStats) { s.Skipped += missed })
		}
		wait = next.Sub(now)
	}
}

func (r *Runner) failed(i int, name string, err error, failures int, retry time.Duration) {
	r.update(i, func(s *JobStats) { s.Failures++; s.FailuresInRow = failures; s.LastError = err.Error() })
	if failures&(failures-1) == 0 { // 1, 2, 4, 8, ...
		r.opts.Logger.Warn("source failed", "source", name, "failures", failures, "retry_in", retry.String(), "err", err)
	}
	if r.opts.OnError != nil {
		r.deliver.Lock()
		r.opts.OnError(name, err, failures)
		r.deliver.Unlock()
	}
}

func (r *Runner) update(i int, f func(*JobStats)) {
	r.mu.Lock()
	f(&r.stats[i])
	r.mu.Unlock()
}
