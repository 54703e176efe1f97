package meter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/agent"
	"github.com/licmesh/licmesh/collectors/sources"
	"github.com/licmesh/licmesh/collectors/spool"
	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// poll is how often require.Eventually checks a condition.
const poll = 2 * time.Millisecond

// t0 is where the tests' fake clock starts.
var t0 = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// testKey keys the tests' pseudonyms.
var testKey = []byte("meter-test-key-0123456789abcdef")

// errDown is what a master that is away gives.
var errDown = errors.New("agent: no master gave a usable answer: connection refused")

// fakeMaster is the masters as the collector sees them: it commits records
// above its high-water seq per epoch and answers with that mark; a record at
// or below it is a duplicate and changes nothing. Like the FSM, it ignores a
// batch whole when its epoch is older than the newest it knows (cur), and
// answers with that one.
type fakeMaster struct {
	mu      sync.Mutex
	cur     uint64
	high    map[uint64]uint64
	records map[uint64][]*licmeshv1.UsageRecord // committed, by epoch
	commits map[[2]uint64]int                   // (epoch, seq): times committed
	calls   int
	dups    int
	// down refuses every call without committing; loseAnswers commits and
	// then fails that many answers, as a connection cut after the commit
	// does; answer, if set, rewrites each answer.
	down        bool
	loseAnswers int
	answer      func(*licmeshv1.ReportUsageResponse)
	// refuse, if set, refuses a whole batch as the masters' validation
	// does, with the agent's *agent.RejectedError, when it returns an error
	// for one of its records; before, if set, runs first on every report.
	refuse func(*licmeshv1.UsageRecord) error
	before func(f *fakeMaster, req *licmeshv1.ReportUsageRequest)
}

func newFakeMaster() *fakeMaster {
	return &fakeMaster{high: map[uint64]uint64{}, records: map[uint64][]*licmeshv1.UsageRecord{}, commits: map[[2]uint64]int{}}
}

func (f *fakeMaster) ReportUsage(ctx context.Context, req *licmeshv1.ReportUsageRequest) (*licmeshv1.ReportUsageResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down {
		return nil, errDown
	}
	if req.GetInstallation() == "" || req.GetSpoolEpoch() == 0 || len(req.GetRecords()) == 0 {
		return nil, fmt.Errorf("bad request: %v", req)
	}
	if f.before != nil {
		f.before(f, req)
	}
	if f.refuse != nil {
		for i, r := range req.GetRecords() {
			if err := f.refuse(r); err != nil {
				return nil, &agent.RejectedError{Master: "127.0.0.1:7443", Code: connect.CodeInvalidArgument,
					Message: fmt.Sprintf("usage record %d (seq %d): %v", i, r.GetSeq(), err)}
			}
		}
	}
	e := req.GetSpoolEpoch()
	if e < f.cur {
		return &licmeshv1.ReportUsageResponse{AckedSeq: f.high[f.cur], SpoolEpoch: f.cur}, nil
	}
	f.cur = e
	var prev uint64
	for _, r := range req.GetRecords() {
		if r.GetSeq() <= prev {
			return nil, fmt.Errorf("records out of order: %d after %d", r.GetSeq(), prev)
		}
		prev = r.GetSeq()
		if r.GetSeq() <= f.high[e] {
			f.dups++
			continue
		}
		f.records[e] = append(f.records[e], r)
		f.commits[[2]uint64{e, r.GetSeq()}]++
		f.high[e] = r.GetSeq()
	}
	if f.loseAnswers > 0 {
		f.loseAnswers--
		return nil, errors.New("connection reset after the commit")
	}
	resp := &licmeshv1.ReportUsageResponse{AckedSeq: f.high[e], SpoolEpoch: e}
	if f.answer != nil {
		f.answer(resp)
	}
	return resp, nil
}

// set changes the master's behaviour under its lock.
func (f *fakeMaster) set(change func(f *fakeMaster)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// committed returns the records committed for epoch, in order.
func (f *fakeMaster) committed(epoch uint64) []*licmeshv1.UsageRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*licmeshv1.UsageRecord(nil), f.records[epoch]...)
}

// callCount returns how many reports arrived.
func (f *fakeMaster) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// checkOnce fails t unless every committed seq was committed exactly once.
func (f *fakeMaster) checkOnce(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, n := range f.commits {
		assert.Equal(t, 1, n, "epoch %d seq %d: times committed", k[0], k[1])
	}
}

// logBuf keeps log output for assertions and passes it to t.Log.
type logBuf struct {
	t  testing.TB
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	l.mu.Unlock()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is one meter's surroundings: a fake clock, a fake master, a spool
// directory, a log.
type env struct {
	t      *testing.T
	clock  *clocktest.Fake
	master *fakeMaster
	cfg    Config
	logs   *logBuf
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Installation = "acme-prod"
	cfg.SpoolDir = t.TempDir()
	cfg.RetryBase, cfg.RetryMax = time.Second, 8*time.Second
	return &env{t: t, clock: clocktest.New(t0), master: newFakeMaster(), cfg: cfg, logs: &logBuf{t: t}}
}

// smallSpool makes the spool 16 KiB in 4 KiB segments of 1 KiB records, so
// that a few samples fill it.
func (e *env) smallSpool() {
	e.cfg.Spool.MaxRecordBytes = 1 << 10
	e.cfg.Spool.SegmentBytes = 4 << 10
	e.cfg.Spool.MaxBytes = 16 << 10
}

func (e *env) options() Options {
	return Options{
		Clock:      e.clock,
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Rand:       func(n int64) int64 { return n - 1 }, // the top of each backoff window
		SourceRand: func() float64 { return 0 },
	}
}

// open opens a meter reporting to the fake master.
func (e *env) open(jobs ...sources.Job) *Meter {
	e.t.Helper()
	m, err := Open(e.cfg, jobs, e.master, e.options())
	require.NoError(e.t, err, "Open")
	return m
}

// run runs m until the returned stop is called (or the test ends); stop
// waits for Run and closes the meter.
func (e *env) run(m *Meter) (stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			assert.NoError(e.t, <-done, "Run")
			assert.NoError(e.t, m.Close(), "Close")
		})
	}
	e.t.Cleanup(stop)
	return stop
}

// sampleN is the i-th test sample: users users (pseudonymised) and one
// logon, ten seconds after the previous sample.
func sampleN(i, users int) sources.Sample {
	at := t0.Add(time.Duration(i) * 10 * time.Second)
	s := sources.Sample{
		Source:  "product",
		At:      at,
		Scalars: map[string]int64{sources.ScalarUsers: int64(users), sources.ScalarCases: int64(i)},
	}
	roles := []usage.Role{usage.RoleSuper, usage.RoleStaff, usage.RoleManager, usage.RoleRep}
	for u := range users {
		s.Users = append(s.Users, usage.UserState{
			UserID: sources.Pseudonym(testKey, fmt.Sprintf("user-%d", u)), Role: roles[u%len(roles)],
			Enabled: u%3 != 0, Locked: u%7 == 0, InTrash: u%11 == 0, At: at,
		})
	}
	s.Logons = []usage.Logon{
		{UserID: sources.Pseudonym(testKey, "user-1"), Role: usage.RoleStaff, Start: at.Add(-time.Hour), End: at.Add(-time.Minute), At: at},
		{UserID: sources.Pseudonym(testKey, "user-2"), Role: usage.RoleManager, Locked: true, Start: at.Add(-time.Minute), At: at},
	}
	return s
}

// seqs returns the records' seqs.
func seqs(recs []*licmeshv1.UsageRecord) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.GetSeq()
	}
	return out
}

// seqRange returns from..to.
func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// spoolStats is a shortcut.
func spoolStats(m *Meter) spool.Stats { return m.Stats().Spool }
