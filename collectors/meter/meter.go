package meter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/licmesh/licmesh/collectors/sources"
	"github.com/licmesh/licmesh/collectors/spool"
	"github.com/licmesh/licmesh/licensing/clock"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// Reporter delivers usage records to the masters and returns their answer
// once the records are committed. *agent.Agent is the real one; it fails
// over between masters.
type Reporter interface {
	ReportUsage(ctx context.Context, req *licmeshv1.ReportUsageRequest) (*licmeshv1.ReportUsageResponse, error)
}

// ReporterFunc adapts a function to Reporter.
type ReporterFunc func(ctx context.Context, req *licmeshv1.ReportUsageRequest) (*licmeshv1.ReportUsageResponse, error)

// ReportUsage calls f.
func (f ReporterFunc) ReportUsage(ctx context.Context, req *licmeshv1.ReportUsageRequest) (*licmeshv1.ReportUsageResponse, error) {
	return f(ctx, req)
}

// Meter runs the usage sources and delivers their samples through the
// spool. Open it, Run it, and Close it once Run has returned; Stats is safe
// from any goroutine at any time.
type Meter struct {
	cfg    Config
	opts   Options
	clock  clock.Clock
	log    *slog.Logger
	rep    Reporter
	sp     *spool.Spool
	runner *sources.Runner
	// maxRecord is the spool's record limit, which large samples are split
	// to fit.
	maxRecord int
	// kickc wakes the sender when a sample was spooled.
	kickc chan struct{}
	// epochPath is the report epoch's file (see moveEpoch).
	epochPath string

	mu sync.Mutex
	st counters
}

// counters are the meter's own figures; see Stats.
type counters struct {
	samples, spooled, slowAppends, droppedSamples, dropsInRow uint64
	droppedBase, droppedFull                                  uint64
	undecodable, reports, recordsSent, recordsAcked           uint64
	lastReport, lastAck, lastErrorAt, nextTry                 time.Time
	lastError                                                 string
	failuresInRow                                             int
	// epoch is the epoch reports go under: the spool's, or one above the
	// masters' (moveEpoch).
	epoch, epochMoves, rejected uint64
	// moveUnconfirmed: the epoch moved and no report went through since.
	moveUnconfirmed bool
}

// Stats are the meter's figures for status.
type Stats struct {
	Installation string
	// Epoch is the epoch sent with every report: the spool's own
	// (Spool.Epoch), or the one the meter moved to when the masters knew a
	// newer spool of this collector; EpochMoves counts such moves since
	// start.
	Epoch      uint64
	EpochMoves uint64
	// Spool is the spool's state: records waiting, bytes, the ack mark and
	// its lifetime drop counts.
	Spool spool.Stats
	// Sources are the sources' run counters.
	Sources []sources.JobStats
	// Samples counts samples the sources delivered since start; Spooled
	// the records stored for them (a large sample takes several).
	// SlowAppends counts records stored whose sync outlasted
	// AppendTimeout; they are kept. DroppedSamples counts samples (or parts)
	// that could not be stored at all.
	Samples, Spooled, SlowAppends, DroppedSamples uint64
	// DroppedFull counts records the full spool dropped since start,
	// unsent; Spool.DroppedRecords counts them over the spool's life.
	DroppedFull uint64
	// Undecodable counts spooled records that did not decode and were
	// skipped. RejectedRecords counts records the masters refused as
	// invalid (or too large) on their own, which were skipped too.
	Undecodable, RejectedRecords uint64
	// Reports counts reports attempted, RecordsSent the records in them
	// (a resent record counts again), RecordsAcked the records the masters
	// acknowledged.
	Reports, RecordsSent, RecordsAcked uint64
	// LastReport is when a report was last attempted, LastAck when the
	// masters last acknowledged one.
	LastReport, LastAck time.Time
	// LastError is the last failed report's error, cleared by a success;
	// FailuresInRow counts failures since the last success, and NextTry is
	// when the sender retries (zero unless it is backing off).
	LastError     string
	LastErrorAt   time.Time
	FailuresInRow int
	NextTry       time.Time
}

// Open opens the spool in cfg.SpoolDir and prepares the sources runner for
// jobs (whose sources the caller closes after Run). rep delivers reports.
func Open(cfg Config, jobs []sources.Job, rep Reporter, opts Options) (*Meter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rep == nil {
		return nil, fmt.Errorf("%w: a reporter is required", ErrInvalidConfig)
	}
	opts = opts.withDefaults()
	m := &Meter{
		cfg:       cfg,
		opts:      opts,
		clock:     opts.Clock,
		log:       opts.Logger,
		rep:       rep,
		maxRecord: cfg.Spool.MaxRecordBytes,
		kickc:     make(chan struct{}, 1),
	}
	runner, err := sources.NewRunner(jobs, sources.RunnerOptions{
		Clock:    opts.Clock,
		Rand:     opts.SourceRand,
		Logger:   opts.Logger,
		OnSample: m.record,
	})
	if err != nil {
		return nil, err
	}
	m.runner = runner
	scfg := cfg.Spool
	scfg.Clock = opts.Clock
	scfg.Logger = opts.Logger
	scfg.OnFull = m.onFull
	sp, err := spool.Open(cfg.SpoolDir, scfg)
	if err != nil {
		return nil, err
	}
	m.sp = sp
	m.st.droppedBase = sp.Stats().DroppedRecords
	m.epochPath = epochPath(cfg.SpoolDir)
	m.st.epoch = m.loadEpoch(m.epochPath, sp.Epoch())
	return m, nil
}

// Run runs the sources and the sender until ctx ends, then returns nil once
// both have stopped. A sample being stored when ctx ends is still stored,
// within AppendTimeout.
func (m *Meter) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { m.runner.Run(ctx) })
	m.sendLoop(ctx)
	wg.Wait()
	return nil
}

// Close closes the spool. Call it after Run has returned.
func (m *Meter) Close() error { return m.sp.Close() }

// Stats returns the meter's figures.
func (m *Meter) Stats() Stats {
	sp := m.sp.Stats()
	m.mu.Lock()
	c := m.st
	m.mu.Unlock()
	return Stats{
		Installation:    m.cfg.Installation,
		Epoch:           c.epoch,
		EpochMoves:      c.epochMoves,
		Spool:           sp,
		Sources:         m.runner.Stats(),
		Samples:         c.samples,
		Spooled:         c.spooled,
		SlowAppends:     c.slowAppends,
		DroppedSamples:  c.droppedSamples,
		DroppedFull:     c.droppedFull,
		Undecodable:     c.undecodable,
		RejectedRecords: c.rejected,
		Reports:         c.reports,
		RecordsSent:     c.recordsSent,
		RecordsAcked:    c.recordsAcked,
		LastReport:      c.lastReport,
		LastAck:         c.lastAck,
		LastError:       c.lastError,
		LastErrorAt:     c.lastErrorAt,
		FailuresInRow:   c.failuresInRow,
		NextTry:         c.nextTry,
	}
}

// record stores one sample; it is the runner's OnSample. It never blocks
// longer than AppendTimeout per record, and stores the sample even when
// the meter is stopping (ctx ended), so that a sample taken is not lost.
func (m *Meter) record(ctx context.Context, s sources.Sample) {
	m.update(func(c *counters) { c.samples++ })
	payloads, err := encodeSample(s, m.maxRecord)
	if err != nil {
		m.dropped(s.Source, len(s.Users)+len(s.Logons), err)
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.AppendTimeout)
	defer cancel()
	stored := false
	for _, p := range payloads {
		seq, err := m.sp.Append(actx, p)
		switch {
		case err == nil:
			m.update(func(c *counters) { c.spooled++; c.dropsInRow = 0 })
			stored = true
		case seq != 0 && errors.Is(err, context.DeadlineExceeded):
			// Written, and synced by the next Pending at the latest.
			m.update(func(c *counters) { c.spooled++; c.slowAppends++; c.dropsInRow = 0 })
			m.log.Warn("meter: the spool's disk is slow; a usage record waited longer than append_timeout for its sync",
				"source", s.Source, "seq", seq, "append_timeout", m.cfg.AppendTimeout)
			stored = true
		default:
			m.dropped(s.Source, 1, err)
		}
	}
	if stored {
		m.kick()
	}
}

// dropped counts a sample part that could not be stored, and logs the 1st,
// 2nd, 4th, 8th... in a row, so that a full disk does not flood the log.
func (m *Meter) dropped(source string, rows int, err error) {
	var n uint64
	m.update(func(c *counters) { c.droppedSamples++; c.dropsInRow++; n = c.dropsInRow })
	if n&(n-1) == 0 {
		m.log.Warn("meter: a usage sample could not be stored and is lost", "source", source,
			"rows", rows, "drops_in_row", n, "error", err)
	}
}

// onFull is the spool's OnFull: it counts what the spool dropped (the
// spool logs it).
func (m *Meter) onFull(st spool.Stats) {
	m.update(func(c *counters) { c.droppedFull = st.DroppedRecords - c.droppedBase })
}

// kick wakes the sender.
func (m *Meter) kick() {
	select {
	case m.kickc <- struct{}{}:
	default:
	}
}

func (m *Meter) update(f func(*counters)) {
	m.mu.Lock()
	f(&m.st)
	m.mu.Unlock()
}
