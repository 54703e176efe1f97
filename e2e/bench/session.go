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
}

// NewSession validates cfg and returns a session that measures with it.
func NewSession(cfg Config) (*Session, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Concurrency = slices.Clone(cfg.Concurrency)
	return &Session{cfg: cfg}, nil
}

// Config returns a copy of the session's configuration.
func (s *Session) Config() Config {
	cfg := s.cfg
	cfg.Concurrency = slices.Clone(cfg.Concurrency)
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
