package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/licmesh/licmesh/e2e/harness"
)

// G10 goals: a collector holding leases and otherwise idle must not be
// noticed on its host.
const (
	g10Leases    = 10
	g10MaxRSSMiB = 20.0
	g10MaxCPUPct = 0.5
)

// IdleRun is what G10 saw of a real collectord process.
type IdleRun struct {
	Window  time.Duration
	CPU     time.Duration // CPU time used in the window
	RSSMiB  float64       // resident set at the end of the window
	PeakMiB float64       // peak resident set (VmHWM)
}

// CPUPercent is the share of one core used in the window.
func (r IdleRun) CPUPercent() float64 { return 100 * r.CPU.Seconds() / r.Window.Seconds() }

// MeasureG10 starts a cluster and one collectord process, acquires
// g10Leases leases through its local API, lets it settle, then measures its
// CPU time and resident memory over window while it only renews.
func MeasureG10(ctx context.Context, cfg Config, window time.Duration) (_ IdleRun, err error) {
	m, err := StartMesh(ctx, cfg)
	if err != nil {
		return IdleRun{}, err
	}
	defer func() { m.CloseAfter(err) }()
	if err := m.CreatePool(ctx, "idle", g10Leases); err != nil {
		return IdleRun{}, err
	}
	var col *harness.Collector
	err = m.tb.Do(func() {
		tok := m.c.Masters[0].JoinToken(1)
		col = newCollector(m.tb, "idle", m.c.CollectorAddrs(), tok, "")
		col.Start()
		col.WaitReady(30 * time.Second)
	})
	if err != nil {
		return IdleRun{}, fmt.Errorf("%w: start collectord: %w", ErrMesh, err)
	}
	for i := range g10Leases {
		if _, err := col.Acquire("idle", fmt.Sprintf("session-%d", i)); err != nil {
			return IdleRun{}, fmt.Errorf("%w: acquire: %w", ErrMesh, err)
		}
	}
	pid := col.Proc.Pid()
	if err := sleepCtx(ctx, 5*time.Second); err != nil { // let start-up garbage go
		return IdleRun{}, err
	}
	before, err := processCPU(pid)
	if err != nil {
		return IdleRun{}, err
	}
	start := time.Now()
	if err := sleepCtx(ctx, window); err != nil {
		return IdleRun{}, err
	}
	after, err := processCPU(pid)
	if err != nil {
		return IdleRun{}, err
	}
	run := IdleRun{Window: time.Since(start), CPU: after - before}
	run.RSSMiB, run.PeakMiB, err = processRSS(pid)
	if err != nil {
		return IdleRun{}, err
	}
	ls, err := col.Leases()
	if err != nil {
		return IdleRun{}, err
	}
	valid := 0
	for _, l := range ls {
		if l.Valid {
			valid++
		}
	}
	if valid != g10Leases {
		return IdleRun{}, fmt.Errorf("%w: %d of %d leases valid after the idle window", ErrMesh, valid, g10Leases)
	}
	return run, nil
}

func g10Rows(r IdleRun) []Result {
	return []Result{
		{ID: "G10", Name: "idle collector RSS", Value: r.RSSMiB, Unit: "MiB", Goal: fmt.Sprintf("≤ %.0f", g10MaxRSSMiB),
			Met: Verdict(r.RSSMiB <= g10MaxRSSMiB), Note: fmt.Sprintf("%d leases held and renewed; peak %.1f MiB", g10Leases, r.PeakMiB)},
		{ID: "G10", Name: "idle collector CPU", Value: r.CPUPercent(), Unit: "% core", Goal: fmt.Sprintf("≤ %.1f", g10MaxCPUPct),
			Met: Verdict(r.CPUPercent() <= g10MaxCPUPct), Note: fmt.Sprintf("%s of CPU in %s", r.CPU, r.Window.Round(time.Second))},
	}
}

// processRSS reads VmRSS and VmHWM of pid, in MiB.
func processRSS(pid int) (rss, peak float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: /proc status %s: %w", k, err)
		}
		if k == "VmRSS" {
			rss = kb / 1024
		} else {
			peak = kb / 1024
		}
	}
	return rss, peak, sc.Err()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
