package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/licmesh/licmesh/e2e/harness"
)

// U2 goals: metering a product's database every few seconds must not make
// a collector any more noticeable on its host than an idle one (G10).
const (
	u2MaxRSSMiB = 20.0
	u2MaxCPUPct = 0.5
	// u2Settle lets start-up garbage go before the window, as G10 does.
	u2Settle = 5 * time.Second
	// u2MaxPending is how many samples may wait in the spool at the end:
	// one taken but not yet acknowledged.
	u2MaxPending = 1
	u2Inst       = "u2-processmaker"
)

// U2Site is a site U2 measures: a product's database and the collectord
// build that meters it.
type U2Site string

// The sites U2 measures.
const (
	// U2Typical is the typical site the goals are for: a ProcessMaker on
	// MySQL/MariaDB (seed 000), metered as collectors/sources/
	// example-processmaker.yaml says by the default collectord, which make
	// build builds with the MySQL driver only.
	U2Typical U2Site = "mysql"
	// U2SQLite is make run's demo product: its SQLite database, metered by
	// collectord-full (every SQL driver), which the SQLite engine runs
	// inside.
	U2SQLite U2Site = "sqlite"
)

// binary is the collectord build that meters the site.
func (s U2Site) binary() string {
	if s == U2Typical {
		return "collectord"
	}
	return "collectord-full"
}

// MeteredRun is what U2 saw of a real collectord process metering a SQL
// source.
type MeteredRun struct {
	// Site is the site measured.
	Site U2Site
	// Interval is the source's; Window the measured span.
	Interval time.Duration
	Window   time.Duration
	CPU      time.Duration // CPU time used in the window
	RSSMiB   float64       // resident set at the end of the window
	PeakMiB  float64       // peak resident set (VmHWM) since the start
	// AnonMiB and FileMiB split the resident set at the end: the heap and
	// stacks, and pages of files (mostly the binary's own code).
	AnonMiB, FileMiB float64
	// DB is the database the source read.
	DB productDB
	// Acked is the samples the masters acknowledged in the window; Usage
	// is the collector's usage status at its end.
	Acked uint64
	Usage usageStatus
	// Users and Cases are the masters' last values of those scalars.
	Users, Cases int64
}

// CPUPercent is the share of one core used in the window.
func (r MeteredRun) CPUPercent() float64 { return 100 * r.CPU.Seconds() / r.Window.Seconds() }

// usageStatus is the usage block of collectord's /v1/status.
type usageStatus struct {
	SpoolEpoch   uint64 `json:"spool_epoch"`
	Pending      uint64 `json:"pending"`
	AckedSeq     uint64 `json:"acked_seq"`
	Samples      uint64 `json:"samples"`
	RecordsAcked uint64 `json:"records_acked"`
	DroppedFull  uint64 `json:"dropped_full"`
	LastError    string `json:"last_error"`
}

// MeasureU2 starts a cluster, has demoproduct create its ProcessMaker-like
// SQLite database and the sources file for it, and starts one collectord
// whose usage section meters it with that SQL source every
// cfg.Usage.Interval. For U2Typical the database's ProcessMaker tables are
// copied into MariaDB first (harness.MariaDB), and the collector meters
// them there with the ProcessMaker example's source instead. Once a sample
// has been acknowledged and start-up garbage has had time to go, it
// measures the process's CPU time over cfg.Usage.Window and its peak
// resident memory, then checks that the masters acknowledged the window's
// samples and hold the database's counts.
func MeasureU2(ctx context.Context, cfg Config, site U2Site) (_ MeteredRun, err error) {
	if err := cfg.Validate(); err != nil {
		return MeteredRun{}, err
	}
	uc := cfg.Usage
	m, err := StartMesh(ctx, cfg)
	if err != nil {
		return MeteredRun{}, err
	}
	defer func() { m.CloseAfter(err) }()
	dir := m.tb.TempDir()
	db, srcFile, err := createProduct(ctx, dir, uc)
	if err != nil {
		return MeteredRun{}, err
	}
	if site == U2Typical {
		var server string
		if err := m.tb.Do(func() { server = harness.MariaDB(m.tb) }); err != nil {
			return MeteredRun{}, fmt.Errorf("%w: MariaDB for the typical site: %w", ErrProduct, err)
		}
		if srcFile, err = mysqlProduct(ctx, m.tb, db, dir, server, uc); err != nil {
			return MeteredRun{}, err
		}
	}
	bins, err := harness.Binaries()
	if err != nil {
		return MeteredRun{}, fmt.Errorf("%w: %w", ErrMesh, err)
	}
	exe := filepath.Join(bins, site.binary())
	if _, err := os.Stat(exe); err != nil {
		return MeteredRun{}, fmt.Errorf("%w: %w (make build builds it)", ErrMesh, err)
	}
	extra := fmt.Sprintf("usage:\n  sources_file: %s\n  installation: %s\n", srcFile, u2Inst)
	var col *harness.Collector
	err = m.tb.Do(func() {
		tok := m.c.Masters[0].JoinToken(1)
		col = newCollector(m.tb, "metered", m.c.CollectorAddrs(), tok, extra)
		col.Bin = exe
		col.Start()
		col.WaitReady(30 * time.Second)
	})
	if err != nil {
		return MeteredRun{}, fmt.Errorf("%w: start %s: %w", ErrMesh, site.binary(), err)
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.Mesh.StartTimeout)
	err = poll(wctx, func() error {
		u, err := meteredStatus(col)
		if err == nil && u.RecordsAcked == 0 {
			err = fmt.Errorf("no sample acknowledged yet (%d taken, last error %q)", u.Samples, u.LastError)
		}
		return err
	})
	cancel()
	if err != nil {
		return MeteredRun{}, fmt.Errorf("%w: first usage sample: %w", ErrNotAcked, err)
	}
	if err := sleepCtx(ctx, u2Settle); err != nil {
		return MeteredRun{}, err
	}

	pid := col.Proc.Pid()
	first, err := meteredStatus(col)
	if err != nil {
		return MeteredRun{}, err
	}
	before, err := processCPU(pid)
	if err != nil {
		return MeteredRun{}, err
	}
	start := time.Now()
	if err := sleepCtx(ctx, uc.Window); err != nil {
		return MeteredRun{}, err
	}
	after, err := processCPU(pid)
	if err != nil {
		return MeteredRun{}, err
	}
	run := MeteredRun{Site: site, Interval: uc.Interval, Window: time.Since(start), CPU: after - before, DB: db}
	if run.RSSMiB, run.PeakMiB, err = processRSS(pid); err != nil {
		return MeteredRun{}, err
	}
	if run.AnonMiB, run.FileMiB, err = processRSSParts(pid); err != nil {
		return MeteredRun{}, err
	}
	if run.Usage, err = meteredStatus(col); err != nil {
		return MeteredRun{}, err
	}
	run.Acked = run.Usage.RecordsAcked - first.RecordsAcked
	if err := run.check(uc); err != nil {
		return MeteredRun{}, err
	}
	if run.Users, run.Cases, err = lastCounts(ctx, m, u2Inst); err != nil {
		return MeteredRun{}, err
	}
	if run.Users != int64(db.Active) || run.Cases != int64(db.Cases) {
		return MeteredRun{}, fmt.Errorf("%w: masters hold users %d, cases %d; the database has %d and %d",
			ErrNotAcked, run.Users, run.Cases, db.Active, db.Cases)
	}
	return run, nil
}

// check fails a window in which the source did not run at its interval or
// its samples did not reach the masters: its CPU figure would flatter.
func (r MeteredRun) check(uc UsageConfig) error {
	// Runs are jittered by up to a tenth of the interval either way.
	want := uint64(uc.Window/uc.Interval) - 1
	u := r.Usage
	switch {
	case r.Acked < max(want, 1):
		return fmt.Errorf("%w: %d samples acknowledged in %v at one per %v", ErrNotAcked, r.Acked, r.Window, uc.Interval)
	case u.Pending > u2MaxPending || u.DroppedFull > 0:
		return fmt.Errorf("%w: %d samples pending, %d dropped", ErrNotAcked, u.Pending, u.DroppedFull)
	case u.LastError != "":
		return fmt.Errorf("%w: the last report failed: %s", ErrNotAcked, u.LastError)
	}
	return nil
}

// processRSSParts reads RssAnon and RssFile of pid, in MiB.
func processRSSParts(pid int) (anon, file float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		var dst *float64
		switch k {
		case "RssAnon":
			dst = &anon
		case "RssFile":
			dst = &file
		default:
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: /proc status %s: %w", k, err)
		}
		*dst = kb / 1024
	}
	return anon, file, nil
}

func meteredStatus(col *harness.Collector) (usageStatus, error) {
	var st struct {
		Usage *usageStatus `json:"usage"`
	}
	if err := col.Get("/v1/status", &st); err != nil {
		return usageStatus{}, fmt.Errorf("%w: collector status: %w", ErrMesh, err)
	}
	if st.Usage == nil {
		return usageStatus{}, errors.New("bench: collector status has no usage block: metering is off")
	}
	return *st.Usage, nil
}

// lastCounts returns the users and cases scalars of inst's latest day on
// the leader.
func lastCounts(ctx context.Context, m *MeshCluster, inst string) (users, cases int64, err error) {
	leader, _, err := m.Leader(ctx)
	if err != nil {
		return 0, 0, err
	}
	days, err := m.UsageDays(ctx, leader, inst)
	if err != nil {
		return 0, 0, err
	}
	if len(days) == 0 {
		return 0, 0, fmt.Errorf("%w: the leader has no usage days of %s", ErrNotAcked, inst)
	}
	for _, s := range days[len(days)-1].Scalars {
		switch s.Name {
		case "users":
			users = s.Last
		case "cases":
			cases = s.Last
		}
	}
	return users, cases, nil
}

// u2Rows are a run's rows. The goals are the typical site's: the SQLite
// site's rows are a record of what a collector with every driver and the
// SQLite engine inside it uses (docs/usage.md).
func u2Rows(r MeteredRun) []Result {
	name, src := "typical site (MariaDB, collectord)", "ProcessMaker example source on MariaDB"
	if r.Site == U2SQLite {
		name, src = "demo product (SQLite, collectord-full)", "demoproduct's SQLite source"
	}
	src = fmt.Sprintf("%s every %v: %d users (%d counted), %d cases, %d logons",
		src, r.Interval, r.DB.Users, r.DB.Active, r.DB.Cases, r.DB.Logons)
	rss := Result{ID: "U2", Name: name + " peak RSS", Value: r.PeakMiB, Unit: "MiB",
		Note: fmt.Sprintf("VmHWM; RSS %.1f MiB at the end (%.1f anonymous, %.1f file pages); %s", r.RSSMiB, r.AnonMiB, r.FileMiB, src)}
	cpu := Result{ID: "U2", Name: name + " CPU", Value: r.CPUPercent(), Unit: "% core",
		Note: fmt.Sprintf("%s of CPU in %s; masters acknowledged %d samples in it (records_acked %d, pending %d); they hold users %d, cases %d",
			r.CPU, r.Window.Round(time.Second), r.Acked, r.Usage.RecordsAcked, r.Usage.Pending, r.Users, r.Cases)}
	if r.Site == U2Typical {
		rss.Goal, rss.Met = fmt.Sprintf("≤ %.0f", u2MaxRSSMiB), Verdict(r.PeakMiB <= u2MaxRSSMiB)
		cpu.Goal, cpu.Met = fmt.Sprintf("≤ %.1f", u2MaxCPUPct), Verdict(r.CPUPercent() <= u2MaxCPUPct)
	}
	return []Result{rss, cpu}
}
