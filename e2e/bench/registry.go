package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Measurement is one named benchmark that can be selected with -only.
type Measurement struct {
	// ID is the short selector ("B1"), matched case-insensitively.
	ID string
	// Name says in a few words what it measures, for -list.
	Name string
	// Run produces the measurement's rows. It may use s for baselines that
	// other measurements share.
	Run func(ctx context.Context, s *Session) ([]Result, error)
}

// Registry is an ordered set of measurements; the table keeps that order.
// It is not safe for concurrent use: fill it, then read it.
type Registry struct {
	list []Measurement
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// DefaultRegistry returns a fresh registry holding every measurement `make
// bench` runs, in the order they are printed.
func DefaultRegistry() *Registry {
	r := NewRegistry()
	for _, m := range []Measurement{
		{ID: "B0", Name: "machine floor: fsync latency, loopback TCP/UDP RTT", Run: runB0},
		{ID: "B1", Name: "raw 3-node raft + bolt apply loop over plain TCP", Run: runB1},
		{ID: "G1", Name: "lease acquire+release through QUIC, masters, raft and FSM", Run: runG1},
		{ID: "G2", Name: "one collector's local API, C concurrent sessions taking and giving back seats", Run: runG2},
		{ID: "G3", Name: "lease renewals answered from the leader's memory", Run: runG3},
		{ID: "B4", Name: "raw 3-node raft: leader killed to the first entry a survivor applies", Run: runB4},
		{ID: "G4", Name: "leader kill -9 to the first grant by a survivor", Run: runG4},
		{ID: "G6", Name: "FSM heap per lease, snapshot and restore of 10M leases", Run: runG6},
		{ID: "G10", Name: "idle collectord holding 10 leases: RSS and CPU", Run: runG10},
		{ID: "G11", Name: "10,000 simulated collectors on 3 masters: masters' CPU and RSS, license change to every stream", Run: runG11},
		{ID: "U1", Name: "usage samples ingested one per raft entry and batched", Run: runU1},
		{ID: "U2", Name: "collectord metering a SQL source, typical site (MariaDB) and demo product (SQLite): RSS and CPU", Run: runU2},
		{ID: "H1", Name: "hub: licenses issued per second, SQLite and PostgreSQL", Run: runH1},
		{ID: "H2", Name: "hub: the portal of a company with 1,000 licenses, SQLite and PostgreSQL", Run: runH2},
		{ID: "H3", Name: "hub: monthly usage batches from 1,000 sites, SQLite and PostgreSQL", Run: runH3},
		{ID: "H4", Name: "hub: the sales monitor over 10,000 installations, SQLite and PostgreSQL", Run: runH4},
	} {
		if err := r.Register(m); err != nil {
			panic(err) // the list above is static; a clash is a programming error
		}
	}
	return r
}

// Register appends m. Its ID must be non-empty and not yet registered.
func (r *Registry) Register(m Measurement) error {
	switch {
	case m.ID == "":
		return fmt.Errorf("%w: empty ID", ErrInvalidConfig)
	case m.Run == nil:
		return fmt.Errorf("%w: %s has no Run", ErrInvalidConfig, m.ID)
	}
	if _, ok := r.find(m.ID); ok {
		return fmt.Errorf("%w: %s", ErrDuplicateMeasurement, m.ID)
	}
	r.list = append(r.list, m)
	return nil
}

// All returns every registered measurement in order.
func (r *Registry) All() []Measurement { return slices.Clone(r.list) }

// Select returns the measurements named in ids, in registry order. No IDs
// selects all of them; an unknown ID is an error naming it, and the valid ones.
func (r *Registry) Select(ids []string) ([]Measurement, error) {
	if len(ids) == 0 {
		return r.All(), nil
	}
	want := make(map[int]bool, len(ids))
	for _, id := range ids {
		i, ok := r.find(strings.TrimSpace(id))
		if !ok {
			return nil, fmt.Errorf("%w: %q (known: %s)", ErrUnknownMeasurement, id, strings.Join(r.ids(), ", "))
		}
		want[i] = true
	}
	var out []Measurement
	for i, m := range r.list {
		if want[i] {
			out = append(out, m)
		}
	}
	return out, nil
}

func (r *Registry) find(id string) (int, bool) {
	for i, m := range r.list {
		if strings.EqualFold(m.ID, id) {
			return i, true
		}
	}
	return 0, false
}

func (r *Registry) ids() []string {
	out := make([]string, 0, len(r.list))
	for _, m := range r.list {
		out = append(out, m.ID)
	}
	return out
}

func runB0(ctx context.Context, s *Session) ([]Result, error) {
	return MeasureB0(ctx, s.Config())
}

func runB1(ctx context.Context, s *Session) ([]Result, error) {
	_, rows, err := s.B1(ctx)
	return rows, err
}

func runG1(ctx context.Context, s *Session) ([]Result, error) {
	_, rows, err := s.G1(ctx)
	return rows, err
}

// runG2 divides by B1 at G2's levels (measuring the ones the session's B1
// lacks).
func runG2(ctx context.Context, s *Session) ([]Result, error) {
	b1, err := s.b1At(ctx, g2Levels)
	if err != nil {
		return nil, fmt.Errorf("G2 needs B1: %w", err)
	}
	runs, err := MeasureG2(ctx, s.Config())
	if err != nil {
		return nil, err
	}
	return g2Rows(runs, b1), nil
}

// runG3 divides by G1 at its highest level; without G1 it still measures,
// and its ratio row says why it has no baseline.
func runG3(ctx context.Context, s *Session) ([]Result, error) {
	cfg := s.Config()
	level := slices.Max(cfg.Mesh.Concurrency)
	var g1 float64
	runs, _, g1Err := s.G1(ctx)
	if g1Err == nil {
		g1 = runs[level].PerSecond
	}
	r, err := MeasureG3(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return g3Rows(r, g1, level, g1Err), nil
}

func runB4(ctx context.Context, s *Session) ([]Result, error) {
	r, err := s.B4(ctx)
	if err != nil {
		return nil, err
	}
	return b4Rows(r, s.Config().Raft.HeartbeatTimeout), nil
}

// runG4 divides by B4 (measured first if it was not); without it, G4 still
// measures and its ratio row says why it has no baseline.
func runG4(ctx context.Context, s *Session) ([]Result, error) {
	cfg := s.Config()
	b4, b4Err := s.B4(ctx)
	r, err := MeasureG4(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return append(g4Rows(r, cfg.Raft.HeartbeatTimeout), g4RatioRow(r, b4, b4Err)), nil
}

func runG10(ctx context.Context, s *Session) ([]Result, error) {
	r, err := MeasureG10(ctx, s.Config(), s.Config().IdleWindow)
	if err != nil {
		return nil, err
	}
	return g10Rows(r), nil
}

func runG6(ctx context.Context, s *Session) ([]Result, error) {
	r, err := MeasureG6(ctx, s.Config())
	if err != nil {
		return nil, err
	}
	return g6Rows(r), nil
}

func runU1(ctx context.Context, s *Session) ([]Result, error) {
	runs, err := MeasureU1(ctx, s.Config())
	if err != nil {
		return nil, err
	}
	return u1Rows(runs), nil
}

func runU2(ctx context.Context, s *Session) ([]Result, error) {
	var rows []Result
	for _, site := range []U2Site{U2Typical, U2SQLite} {
		r, err := MeasureU2(ctx, s.Config(), site)
		if err != nil {
			return rows, fmt.Errorf("%s site: %w", site, err)
		}
		rows = append(rows, u2Rows(r)...)
	}
	return rows, nil
}
