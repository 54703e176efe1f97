package sources

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newFakeClock() *clocktest.Fake { return clocktest.New(testNow) }

// fakeSource answers from a script of results; a result with a gate blocks
// until the gate is closed, ignoring its context like a misbehaving source.
type fakeSource struct {
	name    string
	clock   *clocktest.Fake
	mu      sync.Mutex
	results []fakeResult
	calls   int
	active  int
	maxSeen int
	entered chan struct{} // if set, receives one value per Collect begun
}

type fakeResult struct {
	err  error
	gate chan struct{}
}

func (f *fakeSource) Name() string { return f.name }
func (f *fakeSource) Close() error { return nil }

func (f *fakeSource) Collect(ctx context.Context) (Sample, error) {
	f.mu.Lock()
	var r fakeResult
	if f.calls < len(f.results) {
		r = f.results[f.calls]
	}
	f.calls++
	f.active++
	f.maxSeen = max(f.maxSeen, f.active)
	f.mu.Unlock()
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if r.gate != nil {
		<-r.gate
	}
	f.mu.Lock()
	f.active--
	f.mu.Unlock()
	if r.err != nil {
		return Sample{}, r.err
	}
	return Sample{Source: f.name, At: f.clock.Now(), Scalars: map[string]int64{"n": 1}}, nil
}

// runRunner starts r and stops it at the end of the test.
func runRunner(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "Run")
		case <-time.After(10 * time.Second):
			assert.Fail(t, "Run did not stop")
		}
	})
}

// samples collects what OnSample receives.
type samples struct {
	mu sync.Mutex
	at []time.Time
}

func (s *samples) on(_ context.Context, x Sample) {
	s.mu.Lock()
	s.at = append(s.at, x.At)
	s.mu.Unlock()
}

func (s *samples) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.at...)
}

const tick = time.Minute

func TestRunnerInterval(t *testing.T) {
	clock := newFakeClock()
	src := &fakeSource{name: "a", clock: clock}
	var got samples
	r, err := NewRunner([]Job{{Source: src, Interval: tick, Timeout: time.Hour}},
		RunnerOptions{Clock: clock, Jitter: -1, Rand: func() float64 { return 0 }, OnSample: got.on})
	require.NoError(t, err)
	runRunner(t, r)
	clock.WaitAfters(t, 2) // the first run (at once), then the wait for the second
	for i := 3; i <= 5; i++ {
		clock.Advance(tick)
		waits := clock.WaitAfters(t, i)
		assert.Equal(t, tick, waits[i-1], "wait %d", i)
	}
	at := got.times()
	require.Len(t, at, 4, "samples")
	for i, a := range at {
		assert.True(t, a.Equal(testNow.Add(time.Duration(i)*tick)), "sample %d at %v", i, a)
	}
	st := r.Stats()[0]
	assert.Equal(t, 4, st.Runs, "stats %+v", st)
	assert.Zero(t, st.Failures, "stats %+v", st)
	assert.Zero(t, st.Skipped, "stats %+v", st)
	assert.True(t, st.LastSuccess.Equal(at[3]), "stats %+v", st)
}

func TestRunnerJitter(t *testing.T) {
	clock := newFakeClock()
	src := &fakeSource{name: "a", clock: clock}
	var got samples
	r, _ := NewRunner([]Job{{Source: src, Interval: tick, Timeout: time.Hour}},
		RunnerOptions{Clock: clock, Jitter: 0.2, Rand: func() float64 { return 0.75 }, OnSample: got.on})
	runRunner(t, r)
	clock.WaitAfters(t, 1)
	clock.Advance(9 * time.Second)
	waits := clock.WaitAfters(t, 2)
	// First: 0.75 of the 20% spread; then the interval times 1 + 0.2*(2*0.75-1).
	assert.Equal(t, []time.Duration{9 * time.Second, 66 * time.Second}, waits[:2], "waits")
	assert.Len(t, got.times(), 1, "samples")
}

func TestRunnerNoOverlap(t *testing.T) {
	clock := newFakeClock()
	gate := make(chan struct{})
	src := &fakeSource{name: "slow", clock: clock, results: []fakeResult{{gate: gate}}, entered: make(chan struct{}, 10)}
	var got samples
	r, _ := NewRunner([]Job{{Source: src, Interval: tick, Timeout: time.Hour}},
		RunnerOptions{Clock: clock, Jitter: -1, Rand: func() float64 { return 0 }, OnSample: got.on})
	runRunner(t, r)
	<-src.entered
	// The first run hangs for 3.5 intervals; ticks 1, 2 and 3 pass meanwhile.
	clock.Advance(3*tick + tick/2)
	close(gate)
	waits := clock.WaitAfters(t, 2)
	assert.Equal(t, tick/2, waits[1], "next wait (to tick 4)")
	clock.Advance(tick / 2)
	clock.WaitAfters(t, 3)
	st := r.Stats()[0]
	assert.Equal(t, 2, st.Runs, "stats %+v: want 2 runs and 3 skipped ticks", st)
	assert.Equal(t, 3, st.Skipped, "stats %+v: want 2 runs and 3 skipped ticks", st)
	src.mu.Lock()
	defer src.mu.Unlock()
	assert.Equal(t, 1, src.maxSeen, "collections that ran at once")
}

func TestRunnerBackoff(t *testing.T) {
	clock := newFakeClock()
	boom := errors.New("boom")
	src := &fakeSource{name: "down", clock: clock, results: []fakeResult{{err: boom}, {err: boom}, {err: boom}, {err: boom}, {err: boom}}}
	var got samples
	var mu sync.Mutex
	var failures []int
	r, _ := NewRunner([]Job{{Source: src, Interval: tick, Timeout: time.Hour}}, RunnerOptions{
		Clock: clock, Jitter: -1, Rand: func() float64 { return 0 }, MaxBackoff: 4 * tick, OnSample: got.on,
		OnError: func(name string, err error, n int) {
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, "down", name, "OnError(%q, %v)", name, err)
			assert.ErrorIs(t, err, boom, "OnError(%q, %v)", name, err)
			failures = append(failures, n)
		},
	})
	runRunner(t, r)
	want := []time.Duration{0, tick, 2 * tick, 4 * tick, 4 * tick, 4 * tick, tick}
	for i := 2; i <= len(want); i++ {
		waits := clock.WaitAfters(t, i)
		require.Equal(t, want[i-1], waits[i-1], "waits %v, want %v", waits, want[:i])
		clock.Advance(waits[i-1])
	}
	mu.Lock()
	defer mu.Unlock()
	if assert.Len(t, failures, 5, "OnError failures %v", failures) {
		assert.Equal(t, 1, failures[0], "OnError failures %v", failures)
		assert.Equal(t, 5, failures[4], "OnError failures %v", failures)
	}
	clock.WaitAfters(t, len(want)+1)
	st := r.Stats()[0]
	assert.Equal(t, 5, st.Failures, "after recovery: %+v", st)
	assert.Zero(t, st.FailuresInRow, "after recovery: %+v", st)
	assert.Empty(t, st.LastError, "after recovery: %+v", st)
	assert.NotEmpty(t, got.times(), "after recovery: samples")
}

func TestRunnerStopsAndChecks(t *testing.T) {
	clock := newFakeClock()
	src := &fakeSource{name: "a", clock: clock}
	_, err := NewRunner([]Job{{Source: src, Interval: tick, Timeout: tick}}, RunnerOptions{})
	assert.ErrorIs(t, err, ErrConfig, "no OnSample")
	_, err = NewRunner([]Job{{Source: src, Interval: tick, Timeout: tick}, {Source: src, Interval: tick, Timeout: tick}},
		RunnerOptions{OnSample: func(context.Context, Sample) {}})
	assert.ErrorIs(t, err, ErrConfig, "duplicate names")
	// Run returns when ctx ends, while waiting.
	r, _ := NewRunner([]Job{{Source: src, Interval: tick, Timeout: tick}},
		RunnerOptions{Clock: clock, OnSample: func(context.Context, Sample) {}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	clock.WaitAfters(t, 1)
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err, "Run")
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Run did not stop")
	}
}

// TestRunnerJobs runs a real source through the runner on the real clock.
func TestRunnerJobs(t *testing.T) {
	srv := newStatsServer(t, serve(`{"n": 3}`))
	cfg := Config{Name: "api", Kind: KindHTTP, Interval: time.Second, Timeout: time.Second,
		HTTP: &HTTPConfig{URL: srv.URL, Scalars: map[string]string{"n": "n"}}}
	jobs, err := Jobs([]Config{cfg}, Options{})
	require.NoError(t, err)
	defer jobs[0].Source.Close()
	got := make(chan Sample, 1)
	r, _ := NewRunner(jobs, RunnerOptions{OnSample: func(_ context.Context, s Sample) {
		select {
		case got <- s:
		default:
		}
	}})
	runRunner(t, r)
	select {
	case s := <-got:
		assert.Equal(t, "api", s.Source, "sample %+v", s)
		assert.Equal(t, int64(3), s.Scalars["n"], "sample %+v", s)
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no sample")
	}
	bad := cfg
	bad.HTTP = &HTTPConfig{URL: "gopher://x", Scalars: map[string]string{"n": "n"}}
	_, err = Jobs([]Config{cfg, bad}, Options{})
	assert.ErrorIs(t, err, ErrConfig, "Jobs with a bad and a duplicate config")
}
