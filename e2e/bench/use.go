package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Series read from the masters' /metrics.
const (
	metricBatchCount = "licmesh_lease_batch_ops_count"
	metricBatchSum   = "licmesh_lease_batch_ops_sum"
	metricForwarded  = "licmesh_forwarded_requests_total"
	// metricBatchBucket prefixes the histogram's cumulative buckets.
	metricBatchBucket = `licmesh_lease_batch_ops_bucket{le="`
)

// ClusterUse is what the cluster spent while clients completed Ops
// operations: the leader's Raft entries and lease batches, the followers'
// forwarded requests, and CPU time.
type ClusterUse struct {
	// Ops is the number of client operations the span covers.
	Ops int64
	// Entries is the growth of the leader's last_log_index.
	Entries uint64
	// Batches is the number of Raft entries that carried lease operations
	// (licmesh_lease_batch_ops_count), and BatchOps the operations in them
	// (its sum), expiries included.
	Batches, BatchOps float64
	// BatchP50 and BatchP99 are the histogram's bucket bounds that hold the
	// median and the 99th percentile batch: "at most this many ops".
	BatchP50, BatchP99 float64
	// Forwarded is the growth of the followers' forwarded requests: each is
	// one coalesced batch (or renewal) a follower sent to the leader.
	Forwarded float64
	// MastersCPU is the CPU time the running masters used, and ClientCPU
	// the time this process (the collectors' side) used; both zero where
	// they cannot be read.
	MastersCPU, ClientCPU time.Duration
}

// OpsPerEntry is Ops divided by Entries (infinite when nothing was logged).
func (u ClusterUse) OpsPerEntry() float64 { return float64(u.Ops) / float64(u.Entries) }

// MeanBatch is the mean number of lease operations per lease entry.
func (u ClusterUse) MeanBatch() float64 {
	if u.Batches == 0 {
		return 0
	}
	return u.BatchOps / u.Batches
}

// CPUPerOp returns the CPU time per operation of the masters and of the
// client, for telling a saturated machine from a slow path.
func (u ClusterUse) CPUPerOp() (masters, client time.Duration) {
	if u.Ops == 0 {
		return 0, 0
	}
	return u.MastersCPU / time.Duration(u.Ops), u.ClientCPU / time.Duration(u.Ops)
}

// Note describes the span's Raft use for a table row.
func (u ClusterUse) Note() string {
	return fmt.Sprintf("%d ops in %d raft entries; leader logged %.0f lease batches, mean %.1f ops (p50 ≤ %g, p99 ≤ %g); followers forwarded %.0f",
		u.Ops, u.Entries, u.Batches, u.MeanBatch(), u.BatchP50, u.BatchP99, u.Forwarded)
}

// raftMark is the cluster's Raft position at one moment.
type raftMark struct {
	leader    int
	leaderID  string
	term      uint64
	lastIndex uint64
	batches   float64
	batchOps  float64
	buckets   map[float64]float64 // upper bound → cumulative count
	forwarded float64
	masters   time.Duration
	client    time.Duration
}

func markRaft(ctx context.Context, m *MeshCluster) (raftMark, error) {
	i, st, err := m.Leader(ctx)
	if err != nil {
		return raftMark{}, err
	}
	mk := raftMark{leader: i, leaderID: st.NodeId, term: st.Term, lastIndex: st.LastLogIndex}
	// CPU time only explains the figures, so a platform without it (not
	// Linux) measures without it.
	mk.masters, _ = m.CPU()
	mk.client, _ = selfCPU()
	for j := range m.Masters() {
		if !m.Running(j) {
			continue
		}
		ms, err := m.Metrics(ctx, j)
		if err != nil {
			return raftMark{}, err
		}
		if j == i {
			mk.batches, mk.batchOps = ms[metricBatchCount], ms[metricBatchSum]
			mk.buckets = buckets(ms, metricBatchBucket)
		} else {
			mk.forwarded += ms[metricForwarded]
		}
	}
	return mk, nil
}

// useSince returns what the leader logged since before, which must have
// been taken under the same leader and term.
func useSince(ctx context.Context, m *MeshCluster, before raftMark, ops int64) (ClusterUse, error) {
	after, err := markRaft(ctx, m)
	if err != nil {
		return ClusterUse{}, err
	}
	if after.leaderID != before.leaderID || after.term != before.term {
		return ClusterUse{}, fmt.Errorf("%w: %s in term %d, then %s in term %d",
			ErrLeaderChanged, before.leaderID, before.term, after.leaderID, after.term)
	}
	return ClusterUse{
		Ops:        ops,
		Entries:    after.lastIndex - before.lastIndex,
		Batches:    after.batches - before.batches,
		BatchOps:   after.batchOps - before.batchOps,
		BatchP50:   bucketQuantile(before.buckets, after.buckets, 0.50),
		BatchP99:   bucketQuantile(before.buckets, after.buckets, 0.99),
		Forwarded:  after.forwarded - before.forwarded,
		MastersCPU: after.masters - before.masters,
		ClientCPU:  after.client - before.client,
	}, nil
}

// buckets returns a histogram's cumulative bucket counts by upper bound,
// +Inf included, from samples named prefix + bound + `"}`.
func buckets(ms map[string]float64, prefix string) map[float64]float64 {
	out := map[float64]float64{}
	for name, v := range ms {
		bound, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(bound, `"}`), 64)
		if err == nil {
			out[le] = v
		}
	}
	return out
}

// bucketQuantile returns the smallest bucket bound holding the q-quantile
// of the observations made between two readings of one histogram, or 0
// when there were none.
func bucketQuantile(before, after map[float64]float64, q float64) float64 {
	bounds := slices.Sorted(maps.Keys(after))
	if len(bounds) == 0 {
		return 0
	}
	total := after[bounds[len(bounds)-1]] - before[bounds[len(bounds)-1]]
	if total <= 0 {
		return 0
	}
	for _, le := range bounds {
		if after[le]-before[le] >= q*total {
			return le
		}
	}
	return bounds[len(bounds)-1]
}
