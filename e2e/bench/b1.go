package bench

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/hashicorp/raft"
)

// MeasureB1 starts a RawRaftCluster and drives its leader with a closed loop
// of raft.Apply calls at each of cfg.Concurrency, one after another on the
// same cluster. It returns the results keyed by concurrency, for G benchmarks
// to divide by, and the table rows in cfg.Concurrency order.
func MeasureB1(ctx context.Context, cfg Config) (map[int]Throughput, []Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	cluster, err := NewRawRaftCluster(ctx, cfg.raftConfig())
	if err != nil {
		return nil, nil, err
	}
	byConc, runs, err := measureApply(ctx, cluster, cfg)
	if cerr := cluster.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, err
	}
	return byConc, ThroughputRows("B1", "raw raft apply", "entries/s", runs), nil
}

func measureApply(ctx context.Context, cluster *RawRaftCluster, cfg Config) (map[int]Throughput, []Throughput, error) {
	byConc := make(map[int]Throughput, len(cfg.Concurrency))
	runs := make([]Throughput, 0, len(cfg.Concurrency))
	for _, n := range cfg.Concurrency {
		leader, err := cluster.Leader(ctx)
		if err != nil {
			return nil, nil, err
		}
		t, err := ApplyLoop(ctx, leader, Load{Concurrency: n, Warmup: cfg.Warmup, Duration: cfg.Duration}, cfg)
		if err != nil {
			return nil, nil, err
		}
		byConc[n] = t
		runs = append(runs, t)
	}
	return byConc, runs, nil
}

// ApplyLoop runs a closed loop of raft.Apply on r (which should be the
// leader) with fresh cfg.PayloadBytes-byte entries, each waited for until
// committed and applied. Losing leadership mid-run fails it with ErrApply.
func ApplyLoop(ctx context.Context, r *raft.Raft, load Load, cfg Config) (Throughput, error) {
	counters := make([]uint64, load.Concurrency)
	return ClosedLoop(ctx, load, func(_ context.Context, worker int) error {
		// A fresh slice per entry: raft and its log cache keep a reference.
		data := make([]byte, cfg.PayloadBytes)
		var id [16]byte
		binary.BigEndian.PutUint64(id[:8], uint64(worker))
		binary.BigEndian.PutUint64(id[8:], counters[worker])
		copy(data, id[:])
		counters[worker]++
		if err := r.Apply(data, cfg.ApplyTimeout).Error(); err != nil {
			return fmt.Errorf("%w at concurrency %d: %w", ErrApply, load.Concurrency, err)
		}
		return nil
	})
}
