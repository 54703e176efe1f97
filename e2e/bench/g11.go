package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

// G11 goals: a whole fleet renewing and streaming, and nothing else, costs
// the masters little, and a license change still reaches every collector
// at once.
const (
	g11MaxCores      = 0.5   // all masters' CPU, in cores
	g11MaxKiBPer     = 100.0 // masters' resident memory per collector
	g11MaxPropagateS = 2.0   // license change to the last collector's stream
)

// G11's pool and licenses.
const (
	g11Pool          = "g11"
	g11BaseLicense   = "g11-base"
	g11ChangeLicense = "g11-change"
)

// MasterUse is one master's share of a G11 window.
type MasterUse struct {
	// ID is the master's node ID; Leader marks the leader.
	ID     string
	Leader bool
	// CPU is the CPU time it used in the window.
	CPU time.Duration
	// RSSBefore is its resident set before any collector enrolled, RSS and
	// Peak (VmHWM) at the end of the window, all in MiB.
	RSSBefore, RSS, Peak float64
	// HeapInUse is its Go heap in use (go_memstats_heap_inuse_bytes),
	// StackInUse its goroutine stacks (go_memstats_stack_inuse_bytes), in
	// MiB, and Goroutines its goroutines, at the end of the window.
	HeapInUse, StackInUse float64
	Goroutines            int
	// Streams is the number of entitlement streams open to it at the end
	// of the window, as the collectors saw them.
	Streams int64
}

// FleetRun is what G11 measured.
type FleetRun struct {
	// Collectors and LeasesEach are the fleet's size.
	Collectors, LeasesEach int
	// TTL is the lease TTL the masters announced; collectors renew every
	// third of it.
	TTL time.Duration
	// Started is how long enrolling and starting the fleet took.
	Started time.Duration
	// Warmup and Window are the steady span before and of the measurement.
	Warmup, Window time.Duration
	// Masters are the masters' shares, in cluster order.
	Masters []MasterUse
	// Counts are the fleet's calls in the window, and Renew the latency of
	// its successful Renew calls (failing over included).
	Counts fleetTally
	Renew  Latencies
	// Use is the cluster's Raft use in the window; its Ops counts leases
	// renewed.
	Use ClusterUse
	// Conns is the number of QUIC connections the fleet held at the end of
	// the window.
	Conns int64
	// LoadCPU is the load generator's (this process's) CPU time in the
	// window; LoadRSS and LoadPeak its resident set in MiB, Goroutines its
	// goroutines, at the end of the window.
	LoadCPU           time.Duration
	LoadRSS, LoadPeak float64
	Goroutines        int
	// Change is the time from the license change's admin call to each
	// collector's stream delivering a document that names the new license,
	// over the Reached collectors it reached within ChangeTimeout.
	Change        Latencies
	Reached       int
	ChangeCall    time.Duration // the AddLicense call alone
	ChangeTimeout time.Duration
	// ChangeSpan is the time from the change's admin call to its last
	// delivery (or the timeout); ChangeCPU each master's CPU time in it,
	// and ChangeLoadCPU the load generator's.
	ChangeSpan    time.Duration
	ChangeCPU     []time.Duration
	ChangeLoadCPU time.Duration
	// LoadAvg is the machine's load average (1, 5, 15 minutes) at the end
	// of the window: the masters and the load generator share its CPUs
	// with whatever else runs.
	LoadAvg string
	// LastError is the fleet's last failure, if any.
	LastError string
	// Took is the whole measurement, cluster start to change.
	Took time.Duration
}

// MastersCores is the masters' CPU in the window, in cores.
func (r FleetRun) MastersCores() float64 {
	var sum time.Duration
	for _, m := range r.Masters {
		sum += m.CPU
	}
	return sum.Seconds() / r.Window.Seconds()
}

// LeaderShare is the leader's part of the masters' CPU, 0 to 1.
func (r FleetRun) LeaderShare() float64 {
	var sum, lead time.Duration
	for _, m := range r.Masters {
		sum += m.CPU
		if m.Leader {
			lead += m.CPU
		}
	}
	if sum == 0 {
		return 0
	}
	return float64(lead) / float64(sum)
}

// RSSPerCollector is the growth of the masters' summed resident set from
// before the fleet to the window's end, per collector, in KiB.
func (r FleetRun) RSSPerCollector() float64 {
	before, after := r.rss()
	return (after - before) * 1024 / float64(r.Collectors)
}

func (r FleetRun) rss() (before, after float64) {
	for _, m := range r.Masters {
		before += m.RSSBefore
		after += m.RSS
	}
	return before, after
}

// runG11 simulates the fleet $LICMESH_BENCH_COLLECTORS sets (10,000 by
// default).
func runG11(ctx context.Context, s *Session) ([]Result, error) {
	fc, err := FleetConfigFromEnv()
	if err != nil {
		return nil, err
	}
	r, err := MeasureG11(ctx, s.Config(), fc)
	if err != nil {
		return nil, err
	}
	return g11Rows(r), nil
}

// MeasureG11 starts a cluster that trusts a fresh vendor key, puts a
// license in force and makes a pool with a seat for every lease, then
// starts the fleet (see startFleet). After a warm-up of at least one
// renewal period it measures the masters' CPU time and resident memory
// over a window of at least two, then adds a second license and times its
// arrival on every collector's entitlement stream.
func MeasureG11(ctx context.Context, cfg Config, fc FleetConfig) (_ FleetRun, err error) {
	if err := cfg.Validate(); err != nil {
		return FleetRun{}, err
	}
	if err := fc.Validate(); err != nil {
		return FleetRun{}, err
	}
	began := time.Now()
	if err := raiseFileLimit(); err != nil {
		return FleetRun{}, fmt.Errorf("bench: raise the open files limit: %w", err)
	}
	v, err := newVendor(cfg.Dir)
	if err != nil {
		return FleetRun{}, err
	}
	defer v.Close()
	m, err := StartMesh(ctx, cfg, "--vendor-keys", v.trust)
	if err != nil {
		return FleetRun{}, err
	}
	defer func() { m.CloseAfter(err) }()
	_, st, err := m.Leader(ctx)
	if err != nil {
		return FleetRun{}, err
	}
	base, err := v.license(g11BaseLicense, st.ClusterId)
	if err != nil {
		return FleetRun{}, err
	}
	change, err := v.license(g11ChangeLicense, st.ClusterId)
	if err != nil {
		return FleetRun{}, err
	}
	if err := m.AddLicense(ctx, 0, base); err != nil {
		return FleetRun{}, err
	}
	if err := m.CreatePool(ctx, g11Pool, fc.Collectors*fc.LeasesEach); err != nil {
		return FleetRun{}, err
	}
	run := FleetRun{Collectors: fc.Collectors, LeasesEach: fc.LeasesEach, ChangeTimeout: fc.ChangeTimeout}
	run.Masters = make([]MasterUse, m.Masters())
	if err := sleepCtx(ctx, 2*time.Second); err != nil { // let start-up garbage go
		return FleetRun{}, err
	}
	for i := range run.Masters {
		run.Masters[i].ID = m.MasterID(i)
		if run.Masters[i].RSSBefore, _, err = processRSS(m.MasterPID(i)); err != nil {
			return FleetRun{}, err
		}
	}

	start := time.Now()
	f, err := startFleet(ctx, m, fc, g11Pool, g11ChangeLicense, cfg.Mesh.Log)
	defer f.stop()
	if err != nil {
		return FleetRun{}, fmt.Errorf("%w: start the fleet: %w", ErrMesh, err)
	}
	run.Started = time.Since(start)
	run.TTL = f.ttl()
	period := run.TTL / 3
	run.Warmup, run.Window = max(cfg.Warmup, period), max(cfg.Duration, 2*period)
	if err := sleepCtx(ctx, run.Warmup); err != nil {
		return FleetRun{}, err
	}

	if err := g11Window(ctx, m, f, &run, cfg.ProfileDir); err != nil {
		return FleetRun{}, err
	}
	if err := g11Change(ctx, m, f, change, &run, cfg.ProfileDir); err != nil {
		return FleetRun{}, err
	}
	run.LastError = f.lastError()
	run.Took = time.Since(began)
	return run, nil
}

// g11Window measures the steady fleet over run.Window, keeping the
// leader's CPU and allocation profiles in profileDir when it is set.
func g11Window(ctx context.Context, m *MeshCluster, f *fleet, run *FleetRun, profileDir string) error {
	mark, err := markRaft(ctx, m)
	if err != nil {
		return err
	}
	cpu0 := make([]time.Duration, len(run.Masters))
	for i := range cpu0 {
		if cpu0[i], err = processCPU(m.MasterPID(i)); err != nil {
			return err
		}
	}
	self0, err := selfCPU()
	if err != nil {
		return err
	}
	counts0 := f.counts.read()
	f.record()
	if profileDir != "" {
		err = m.Profile(ctx, mark.leader, run.Window, profileDir, "g11-leader")
	} else {
		err = sleepCtx(ctx, run.Window)
	}
	if err != nil {
		return err
	}
	run.Renew = Summarize(f.recorded())
	for i := range cpu0 {
		cpu, err := processCPU(m.MasterPID(i))
		if err != nil {
			return err
		}
		run.Masters[i].CPU = cpu - cpu0[i]
	}
	self, err := selfCPU()
	if err != nil {
		return err
	}
	run.LoadCPU = self - self0
	run.Counts = f.counts.read().minus(counts0)
	streams := f.openStreams()
	run.Conns = f.conns.Load()
	if run.Use, err = useSince(ctx, m, mark, run.Counts.Renewed); err != nil {
		return err
	}
	for i := range run.Masters {
		mu := &run.Masters[i]
		mu.Leader = i == mark.leader
		mu.Streams = streams[i]
		if mu.RSS, mu.Peak, err = processRSS(m.MasterPID(i)); err != nil {
			return err
		}
		ms, err := m.Metrics(ctx, i)
		if err != nil {
			return err
		}
		mu.HeapInUse, mu.StackInUse = ms["go_memstats_heap_inuse_bytes"]/(1<<20), ms["go_memstats_stack_inuse_bytes"]/(1<<20)
		mu.Goroutines = int(ms["go_goroutines"])
	}
	run.Goroutines = runtime.NumGoroutine()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			run.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	run.LoadRSS, run.LoadPeak, err = processRSS(os.Getpid())
	return err
}

// mastersCPU returns each master's CPU time so far.
func mastersCPU(m *MeshCluster) ([]time.Duration, error) {
	out := make([]time.Duration, m.Masters())
	for i := range out {
		var err error
		if out[i], err = processCPU(m.MasterPID(i)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// g11Change adds the license and waits until every stream delivered a
// document naming it, or ChangeTimeout passed. With profileDir set, the
// masters' CPU profiles over the first seconds of the change go there as
// g11-change-leader-cpu.pprof and g11-change-<follower>-cpu.pprof, and the
// load generator's over the whole change as g11-change-loadgen-cpu.pprof.
func g11Change(ctx context.Context, m *MeshCluster, f *fleet, text string, run *FleetRun, profileDir string) error {
	if profileDir != "" {
		for i, mu := range run.Masters {
			name := "g11-change-" + mu.ID
			if mu.Leader {
				name = "g11-change-leader"
			}
			profiled := make(chan error, 1)
			go func() { profiled <- m.Profile(ctx, i, 3*time.Second, profileDir, name) }()
			defer func() {
				if err := <-profiled; err != nil {
					fmt.Fprintln(f.log, "G11: profile of the change:", err)
				}
			}()
		}
		// The profiles start when their requests arrive.
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
		// And the load generator's own, over the change.
		if f, err := os.Create(filepath.Join(profileDir, "g11-change-loadgen-cpu.pprof")); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
			} else {
				_ = f.Close()
			}
		}
	}
	cpu0, err := mastersCPU(m)
	if err != nil {
		return err
	}
	self0, err := selfCPU()
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := m.AddLicense(ctx, 0, text); err != nil {
		return err
	}
	run.ChangeCall = time.Since(t0)
	wctx, cancel := context.WithTimeout(ctx, run.ChangeTimeout)
	defer cancel()
	var at []time.Time
	_ = poll(wctx, func() error { // a timeout leaves streams unreached, which the rows say
		at = f.changed()
		for _, t := range at {
			if t.IsZero() {
				return ErrMesh
			}
		}
		return nil
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	run.ChangeSpan = time.Since(t0)
	cpu, err := mastersCPU(m)
	if err != nil {
		return err
	}
	self, err := selfCPU()
	if err != nil {
		return err
	}
	run.ChangeLoadCPU = self - self0
	for i := range cpu {
		run.ChangeCPU = append(run.ChangeCPU, cpu[i]-cpu0[i])
	}
	var took []time.Duration
	for _, t := range at {
		if !t.IsZero() {
			took = append(took, t.Sub(t0))
		}
	}
	run.Reached = len(took)
	run.Change = Summarize(took)
	return nil
}

// g11Rows are the masters' CPU (goal), their resident memory per collector
// (goal) and in all, the leader's share of the CPU, and the license
// change's arrival on the last stream (goal) and the 99th percentile one.
func g11Rows(r FleetRun) []Result {
	n := r.Collectors
	cores := r.MastersCores()
	var perMaster, rssEach []string
	for _, m := range r.Masters {
		role := ""
		if m.Leader {
			role = " (leader)"
		}
		perMaster = append(perMaster, fmt.Sprintf("%s%s %s", m.ID, role, FormatValue(m.CPU.Seconds()/r.Window.Seconds())))
		rssEach = append(rssEach, fmt.Sprintf("%s %.0f→%.0f (peak %.0f, Go heap in use %.0f, stacks %.0f for %d goroutines)",
			m.ID, m.RSSBefore, m.RSS, m.Peak, m.HeapInUse, m.StackInUse, m.Goroutines))
	}
	c := r.Counts
	expect := float64(n) * r.Window.Seconds() / (r.TTL / 3).Seconds()
	cpu := Result{ID: "G11", Name: fmt.Sprintf("masters CPU, %d collectors idle", n), Value: cores, Unit: "cores",
		Goal: fmt.Sprintf("< %g", g11MaxCores), Met: Verdict(cores < g11MaxCores),
		Note: fmt.Sprintf("%s cores over %s after %s warm-up; %d renew calls (%.0f due) of %d leases, %d failed, %d refused; %d hellos; %d documents; %d raft entries; "+
			"load generator (this process, same %d CPUs): %s cores, %.0f MiB RSS (peak %.0f), %d goroutines, %d QUIC connections",
			strings.Join(perMaster, ", "), r.Window.Round(time.Second), r.Warmup.Round(time.Second),
			c.RenewCalls, expect, r.LeasesEach, c.RenewFailed, c.Refused, c.Hellos, c.Docs, r.Use.Entries,
			runtime.NumCPU(), FormatValue(r.LoadCPU.Seconds()/r.Window.Seconds()), r.LoadRSS, r.LoadPeak, r.Goroutines, r.Conns)}

	before, after := r.rss()
	per := r.RSSPerCollector()
	rssPer := Result{ID: "G11", Name: "masters RSS per collector", Value: per, Unit: "KiB",
		Goal: fmt.Sprintf("< %g", g11MaxKiBPer), Met: Verdict(per < g11MaxKiBPer),
		Note: fmt.Sprintf("(%.0f MiB with the fleet − %.0f MiB before it) / %d collectors", after, before, n)}
	rssAll := Result{ID: "G11", Name: fmt.Sprintf("masters RSS, %d collectors", n), Value: after, Unit: "MiB",
		Note: "sum of VmRSS; MiB before→after: " + strings.Join(rssEach, ", ")}

	var streams []string
	for _, m := range r.Masters {
		streams = append(streams, fmt.Sprintf("%s %d", m.ID, m.Streams))
	}
	share := Result{ID: "G11", Name: "leader's share of masters CPU", Value: 100 * r.LeaderShare(), Unit: "%",
		Note: fmt.Sprintf("collectors follow the leader named in hello and renew answers, as collectord does: streams open %s; followers forwarded %.0f calls",
			strings.Join(streams, ", "), r.Use.Forwarded)}

	maxRow := Result{ID: "G11", Name: "license change to every stream, max", Unit: "s",
		Goal: fmt.Sprintf("≤ %g", g11MaxPropagateS)}
	p99Row := Result{ID: "G11", Name: "license change to every stream, p99", Unit: "s"}
	switch {
	case r.Reached == 0:
		maxRow.Met = Verdict(false)
		maxRow.Note = fmt.Sprintf("no stream delivered the new license within %s; last fleet error: %s", r.ChangeTimeout, r.LastError)
		p99Row.Note = maxRow.Note
	default:
		maxRow.Value, p99Row.Value = r.Change.Max.Seconds(), r.Change.P99.Seconds()
		maxRow.Met = Verdict(r.Reached == n && maxRow.Value <= g11MaxPropagateS)
		maxRow.Note = fmt.Sprintf("%d of %d streams within %s; p50 %s s; the AddLicense call took %s ms; started %d collectors in %s; whole run %s",
			r.Reached, n, r.ChangeTimeout, FormatValue(r.Change.P50.Seconds()), FormatValue(Millis(r.ChangeCall)),
			n, r.Started.Round(time.Second), r.Took.Round(time.Second))
		p99Row.Note = fmt.Sprintf("from the admin call to the stream's document naming the new license; %s",
			r.changeCPUNote())
	}
	renew := Result{ID: "G11", Name: "renew call p99 under the fleet", Value: Millis(r.Renew.P99), Unit: "ms",
		Note: fmt.Sprintf("p50 %s ms, max %s ms, %d calls of %d leases each every %s; machine load average %s",
			FormatValue(Millis(r.Renew.P50)), FormatValue(Millis(r.Renew.Max)), r.Renew.N, r.LeasesEach,
			(r.TTL / 3).Round(time.Millisecond), r.LoadAvg)}
	return []Result{cpu, rssPer, rssAll, share, maxRow, p99Row, renew}
}

// changeCPUNote says what the change cost each master beyond its idle rate
// over the change's span, and the load generator.
func (r FleetRun) changeCPUNote() string {
	if len(r.ChangeCPU) != len(r.Masters) || r.ChangeSpan <= 0 {
		return "no CPU reading of the change"
	}
	var parts []string
	for i, m := range r.Masters {
		idle := time.Duration(float64(m.CPU) * r.ChangeSpan.Seconds() / r.Window.Seconds())
		parts = append(parts, fmt.Sprintf("%s %s", m.ID, FormatValue((r.ChangeCPU[i]-idle).Seconds())))
	}
	return fmt.Sprintf("CPU seconds the change took beyond the idle rate in its %s span: %s; the load generator used %s s in it",
		r.ChangeSpan.Round(10*time.Millisecond), strings.Join(parts, ", "), FormatValue(r.ChangeLoadCPU.Seconds()))
}
