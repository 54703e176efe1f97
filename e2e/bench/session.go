package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
)

// Session is one benchmark run: a validated Config and the baselines measured
// so far, so that B1 runs at most once however many measurements divide by
// it. Its methods are safe for concurrent use, though Run itself measures one
// thing at a time so that measurements do not disturb each other.
type Session struct {
	cfg Config

	mu     sync.Mutex
	b1     map[int]Throughput
	b1Rows []Result

	b4 *FailoverRun

	// g1mu is separate from mu because measuring G1 takes B1 first.
	g1mu   sync.Mutex
	g1     map[int]LeaseRun
	g1Rows []Result
}

// NewSession validates cfg and returns a session that measures with it.
func NewSession(cfg Config) (*Session, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Concurrency = slices.Clone(cfg.Concurrency)
	cfg.Mesh.Concurrency = slices.Clone(cfg.Mesh.Concurrency)
	return &Session{cfg: cfg}, nil
}

// Config returns a copy of the session's configuration.
func (s *Session) Config() Config {
	cfg := s.cfg
	cfg.Concurrency = slices.Clone(cfg.Concurrency)
	cfg.Mesh.Concurrency = slices.Clone(cfg.Mesh.Concurrency)
	return cfg
}

// B1 returns the raw Raft baseline of this session, measuring it on first use
// (see MeasureB1). A failure is not remembered, so a later caller retries.
func (s *Session) B1(ctx context.Context) (map[int]Throughput, []Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b1 == nil {
		byConc, rows, err := MeasureB1(ctx, s.cfg)
		if err != nil {
			return nil, nil, err
		}
		s.b1, s.b1Rows = byConc, rows
	}
	return maps.Clone(s.b1), slices.Clone(s.b1Rows), nil
}

// B4 returns the raw raft failover baseline of this session, measuring it
// on first use (see MeasureB4). A failure is not remembered.
func (s *Session) B4(ctx context.Context) (FailoverRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b4 == nil {
		r, err := MeasureB4(ctx, s.cfg)
		if err != nil {
			return FailoverRun{}, err
		}
		s.b4 = &r
	}
	return *s.b4, nil
}

// G1 returns this session's G1 runs (see MeasureG1), measuring them, and
// the B1 baseline they divide by, on first use. A failure is not remembered.
func (s *Session) G1(ctx context.Context) (map[int]LeaseRun, []Result, error) {
	s.g1mu.Lock()
	defer s.g1mu.Unlock()
	if s.g1 == nil {
		b1, err := s.b1At(ctx, s.cfg.Mesh.Concurrency)
		if err != nil {
			return nil, nil, fmt.Errorf("G1 needs B1: %w", err)
		}
		byConc, rows, err := MeasureG1(ctx, s.cfg, b1)
		if err != nil {
			return nil, nil, err
		}
		s.g1, s.g1Rows = byConc, rows
	}
	return maps.Clone(s.g1), slices.Clone(s.g1Rows), nil
}

// b1At returns the B1 baseline at every one of levels: the session's B1,
// plus a separate B1 run at the levels it does not cover.
func (s *Session) b1At(ctx context.Context, levels []int) (map[int]Throughput, error) {
	b1, _, err := s.B1(ctx)
	if err != nil {
		return nil, err
	}
	var missing []int
	for _, n := range levels {
		if _, ok := b1[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return b1, nil
	}
	cfg := s.Config()
	cfg.Concurrency = missing
	extra, _, err := MeasureB1(ctx, cfg)
	if err != nil {
		return nil, err
	}
	maps.Copy(b1, extra)
	return b1, nil
}

// Run runs ms in order and collects their rows into one table. A failing
// measurement becomes a MISSED row carrying its error and the run goes on,
// and so does a row whose value is NaN or infinite;
// the returned error joins every failure. Cancelling ctx stops the run after
// the measurement in progress.
func (s *Session) Run(ctx context.Context, ms []Measurement, progress func(m Measurement)) (Table, error) {
	var table Table
	var errs []error
	for _, m := range ms {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if progress != nil {
			progress(m)
		}
		rows, err := m.Run(ctx, s)
		if err != nil {
			errs = append(errs, err)
			table = append(table, Result{ID: m.ID, Name: m.Name, Goal: "completes", Met: Verdict(false),
				Note: "error: " + err.Error()})
			continue
		}
		for _, r := range rows {
			table = append(table, finite(r))
		}
	}
	return table, errors.Join(errs...)
}

// finite keeps a NaN or infinite value (a ratio over a zero baseline) from
// breaking JSON output: the row becomes a MISSED zero that says why.
func finite(r Result) Result {
	if !math.IsNaN(r.Value) && !math.IsInf(r.Value, 0) {
		return r
	}
	note := fmt.Sprintf("value was %v", r.Value)
	if r.Note != "" {
		note += "; " + r.Note
	}
	r.Value, r.Met, r.Note = 0, Verdict(false), note
	return r
}
