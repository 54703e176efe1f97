package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
)

// U1 goal: one Raft entry carrying a collector's batch must ingest usage at
// least this many times faster than one entry per sample.
const u1MinRatio = 20.0

// UsageRun is one U1 mode: Samples usage samples reported by Collectors
// collectors at once, each sequentially as a collector's meter sends,
// PerCall records in each ReportUsage call.
type UsageRun struct {
	PerCall, Collectors int
	// Samples were all acknowledged, in Calls calls over Elapsed.
	Samples, Calls int
	Elapsed        time.Duration
	PerSecond      float64
	// Latency summarizes the calls.
	Latency Latencies
	// Use is what the cluster spent; its Ops counts samples.
	Use ClusterUse
	// Route says which masters the collectors talked to.
	Route string
	// Users and Scalars are the user rows and scalars of each sample.
	Users, Scalars int
}

// EntriesPerSample is the Raft entries the leader logged per sample.
func (r UsageRun) EntriesPerSample() float64 { return float64(r.Use.Entries) / float64(r.Samples) }

// MeasureU1 starts a MeshCluster, enrolls cfg.Mesh.Collectors collectors
// and has them ingest cfg.Usage.Samples samples four times: one collector
// with one sample per call, all of them with one sample per call, then
// both again with cfg.Usage.BatchRecords samples per call. The lone
// collector talks to the leader, so that its single calls are not slowed
// by a follower's forwarding and the ratio is not flattered; the others
// are spread over every master as in G1. Every call must be acknowledged
// in full, and at the end the masters must have counted every sample.
func MeasureU1(ctx context.Context, cfg Config) (_ []UsageRun, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	uc, mc := cfg.Usage, cfg.Mesh
	m, err := StartMesh(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { m.CloseAfter(err) }()
	cols, err := m.EnrollCollectors(ctx, mc.Collectors)
	if err != nil {
		return nil, err
	}
	defer closeCollectors(cols)
	clients := collectorClients(m, cols)
	senders := make([]*usageSender, len(cols))
	for i, c := range clients {
		senders[i] = newUsageSender(c, fmt.Sprintf("u1-inst-%d", i), uc.Users)
	}
	// Untimed: the first report of a spool creates its state on the
	// masters, and opens each collector's QUIC connection.
	for _, s := range senders {
		if err := s.report(ctx, 1, mc.CallTimeout); err != nil {
			return nil, err
		}
	}
	leader, _, err := m.Leader(ctx)
	if err != nil {
		return nil, err
	}
	toLeader, spread := cols[0].Client(m.CollectorAddr(leader)), clients[0]

	var runs []UsageRun
	for _, mode := range []struct{ perCall, collectors int }{
		{1, 1}, {1, len(senders)}, {uc.BatchRecords, 1}, {uc.BatchRecords, len(senders)},
	} {
		route := fmt.Sprintf("%d collectors over %d masters", len(senders), m.Masters())
		senders[0].client = spread
		if mode.collectors == 1 {
			route = "1 collector to the leader"
			senders[0].client = toLeader
		}
		run, err := usageLoop(ctx, m, senders[:mode.collectors], uc.Samples, mode.perCall, mc.CallTimeout)
		if err != nil {
			return nil, err
		}
		run.Route = route
		runs = append(runs, run)
	}
	if err := checkCounted(ctx, m, cols, senders); err != nil {
		return nil, err
	}
	return runs, nil
}

// usageLoop has senders report samples between them, each sequentially,
// perCall records a call, and times it.
func usageLoop(ctx context.Context, m *MeshCluster, senders []*usageSender, samples, perCall int, timeout time.Duration) (UsageRun, error) {
	before, err := markRaft(ctx, m)
	if err != nil {
		return UsageRun{}, err
	}
	lat := make([][]time.Duration, len(senders))
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range senders {
		// Samples split evenly; the first ones take the remainder.
		n := samples / len(senders)
		if i < samples%len(senders) {
			n++
		}
		g.Go(func() error {
			for n > 0 {
				k := min(n, perCall)
				t0 := time.Now()
				if err := s.report(gctx, k, timeout); err != nil {
					return err
				}
				lat[i] = append(lat[i], time.Since(t0))
				n -= k
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return UsageRun{}, err
	}
	elapsed := time.Since(start)
	use, err := useSince(ctx, m, before, int64(samples))
	if err != nil {
		return UsageRun{}, err
	}
	all := slices.Concat(lat...)
	return UsageRun{
		PerCall: perCall, Collectors: len(senders),
		Users: len(senders[0].users), Scalars: len(senders[0].scalars),
		Samples: samples, Calls: len(all), Elapsed: elapsed,
		PerSecond: float64(samples) / elapsed.Seconds(),
		Latency:   Summarize(all), Use: use,
	}, nil
}

// checkCounted asks the leader how many samples it committed for each
// collector: exactly the ones reported, or an acknowledgement lied.
func checkCounted(ctx context.Context, m *MeshCluster, cols []*Collector, senders []*usageSender) error {
	leader, _, err := m.Leader(ctx)
	if err != nil {
		return err
	}
	ov, err := m.UsageOverview(ctx, leader)
	if err != nil {
		return err
	}
	counted := map[string]uint64{}
	for _, in := range ov.Installations {
		counted[in.CollectorId] = in.Samples
	}
	for i, c := range cols {
		// Sequences start at 1 and have no gaps, so the last one is the count.
		if got, want := counted[c.ID], senders[i].seq; got != want {
			return fmt.Errorf("%w: %s (%s) reported %d samples, the leader counted %d",
				ErrNotAcked, c.ID, senders[i].inst, want, got)
		}
	}
	return nil
}

// u1Rows are, per mode, the samples/s and the Raft entries per sample, and
// per concurrency the batched ÷ one-per-call ratio (goal).
func u1Rows(runs []UsageRun) []Result {
	single := map[int]UsageRun{}
	var rows []Result
	for _, r := range runs {
		label := fmt.Sprintf("usage samples %d/call c=%d", r.PerCall, r.Collectors)
		rows = append(rows,
			Result{ID: "U1", Name: label, Value: r.PerSecond, Unit: "samples/s",
				Note: fmt.Sprintf("n=%d in %v, %d calls (p50 %s ms, p99 %s ms), %s; %d users, %d scalars per sample",
					r.Samples, r.Elapsed.Round(time.Millisecond), r.Calls, FormatValue(Millis(r.Latency.P50)),
					FormatValue(Millis(r.Latency.P99)), r.Route, r.Users, r.Scalars)},
			Result{ID: "U1", Name: fmt.Sprintf("usage raft entries per sample %d/call c=%d", r.PerCall, r.Collectors),
				Value: r.EntriesPerSample(), Unit: "entries/sample",
				Note: fmt.Sprintf("%d samples in %d raft entries; masters' CPU %s µs per sample",
					r.Samples, r.Use.Entries, FormatValue(Micros(r.Use.MastersCPU)/float64(r.Samples)))},
		)
		if r.PerCall == 1 {
			single[r.Collectors] = r
			continue
		}
		base, ok := single[r.Collectors]
		name := fmt.Sprintf("usage %d/call ÷ 1/call c=%d", r.PerCall, r.Collectors)
		goal := fmt.Sprintf("≥ %gx", u1MinRatio)
		if !ok {
			rows = append(rows, Result{ID: "U1", Name: name, Unit: "x", Goal: goal, Met: Verdict(false),
				Note: fmt.Sprintf("no 1/call run at c=%d", r.Collectors)})
			continue
		}
		ratio := r.PerSecond / base.PerSecond
		rows = append(rows, Result{ID: "U1", Name: name, Value: ratio, Unit: "x", Goal: goal, Met: Verdict(ratio >= u1MinRatio),
			Note: fmt.Sprintf("1/call %s samples/s", FormatValue(base.PerSecond))})
	}
	return rows
}
