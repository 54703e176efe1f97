package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// MeasureB4 is G4's floor: the same failover with nothing of licmesh in the
// way. A raw 3-node raft cluster with the session's timeouts (B1's
// cluster) loses its leader cfg.Mesh.FailoverTrials times; each trial times
// from the kill to the first entry a survivor commits and applies, every
// attempt bounded by cfg.Mesh.TryTimeout as G4's acquires are. The kill is
// in-process (the leader's raft stops and its connections close without a
// word), which its peers cannot tell from kill -9: they learn of it from
// their heartbeat timeout either way.
func MeasureB4(ctx context.Context, cfg Config) (_ FailoverRun, err error) {
	if err := cfg.Validate(); err != nil {
		return FailoverRun{}, err
	}
	rc := cfg.raftConfig()
	c, err := NewRawRaftCluster(ctx, rc)
	if err != nil {
		return FailoverRun{}, err
	}
	defer func() { err = errors.Join(err, c.Close()) }()
	var run FailoverRun
	for trial := range cfg.Mesh.FailoverTrials {
		d, attempts, err := rawFailoverTrial(ctx, c, rc, cfg.Mesh, trial)
		if err != nil {
			return FailoverRun{}, fmt.Errorf("trial %d: %w", trial+1, err)
		}
		run.Trials = append(run.Trials, d)
		run.Attempts += attempts
	}
	run.Latency = Summarize(append([]time.Duration(nil), run.Trials...))
	return run, nil
}

// rawFailoverTrial kills the leader, races applies on the survivors, and
// restarts the killed node once the cluster has a new leader.
func rawFailoverTrial(ctx context.Context, c *RawRaftCluster, rc RawRaftConfig, mc MeshConfig, trial int) (time.Duration, int, error) {
	wctx, wcancel := context.WithTimeout(ctx, mc.StartTimeout)
	defer wcancel()
	leader, err := c.LeaderIndex(wctx)
	if err != nil {
		return 0, 0, err
	}
	// The cluster is whole and settled: every node follows this leader.
	if err := c.Nodes()[leader].Barrier(mc.StartTimeout).Error(); err != nil {
		return 0, 0, fmt.Errorf("%w: barrier: %w", ErrNoLeader, err)
	}
	var survivors []*raft.Raft
	for i, r := range c.Nodes() {
		if i != leader {
			survivors = append(survivors, r)
		}
	}
	start := time.Now()
	if err := c.Kill(leader); err != nil {
		return 0, 0, err
	}
	first, attempts, errs := firstSuccess(ctx, mc, len(survivors), func(_ context.Context, j, attempt int) bool {
		data := make([]byte, 16)
		binary.BigEndian.PutUint64(data, uint64(trial))
		binary.BigEndian.PutUint64(data[8:], uint64(attempt))
		return survivors[j].Apply(data, mc.TryTimeout).Error() == nil
	})
	if first.IsZero() {
		return 0, attempts, fmt.Errorf("%w: no entry applied within %v of killing the leader: %w", ErrNoLeader, mc.FailoverTimeout, errors.Join(errs...))
	}
	if err := c.Restart(leader, rc); err != nil {
		return 0, attempts, err
	}
	return first.Sub(start), attempts, nil
}

// b4Rows are the raw failover's median and worst.
func b4Rows(r FailoverRun, heartbeat time.Duration) []Result {
	return []Result{
		{ID: "B4", Name: "raw raft failover to first applied entry p50", Value: r.Latency.P50.Seconds(), Unit: "s",
			Note: fmt.Sprintf("%s heartbeat timeouts (%v); %d trials, %d attempts", FormatValue(r.Latency.P50.Seconds()/heartbeat.Seconds()), heartbeat,
				len(r.Trials), r.Attempts)},
		{ID: "B4", Name: "raw raft failover to first applied entry max", Value: r.Latency.Max.Seconds(), Unit: "s",
			Note: fmt.Sprintf("trials: %s", formatSeconds(r.Trials))},
	}
}
