package sources

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/clock/clocktest"
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
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not stop")
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
	if err != nil {
		t.Fatal(err)
	}
	runRunner(t, r)
	clock.WaitAfters(t, 2) // the first run (at once), then the wait for the second
	for i := 3; i <= 5; i++ {
		clock.Advance(tick)
		waits := clock.WaitAfters(t, i)
		if w := waits[i-1]; w != tick {
			t.Errorf("wait %d = %v, want %v", i, w, tick)
		}
	}
	at := got.times()
	if len(at) != 4 {
		t.Fatalf("%d samples, want 4", len(at))
	}
	for i, a := range at {
		if !a.Equal(testNow.Add(time.Duration(i) * tick)) {
			t.Errorf("sample %d at %v", i, a)
		}
	}
	if st := r.Stats()[0]; st.Runs != 4 || st.Failures != 0 || st.Skipped != 0 || !st.LastSuccess.Equal(at[3]) {
		t.Errorf("stats %+v", st)
	}
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
	if waits[0] != 9*time.Second || waits[1] != 66*time.Second || len(got.times()) != 1 {
		t.Errorf("waits %v, want [9s 1m6s]", waits[:2])
	}
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
	if waits[1] != tick/2 {
		t.Errorf("next wait %v, want %v (to tick 4)", waits[1], tick/2)
	}
	clock.Advance(tick / 2)
	clock.WaitAfters(t, 3)
	st := r.Stats()[0]
	if st.Runs != 2 || st.Skipped != 3 {
		t.Errorf("stats %+v: want 2 runs and 3 skipped ticks", st)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.maxSeen != 1 {
		t.Errorf("%d collections ran at once", src.maxSeen)
	}
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
			if name != "down" || !errors.Is(err, boom) {
				t.Errorf("OnError(%q, %v)", name, err)
			}
			failures = append(failures, n)
		},
	})
	runRunner(t, r)
	want := []time.Duration{0, tick, 2 * tick, 4 * tick, 4 * tick, 4 * tick, tick}
	for i := 2; i <= len(want); i++ {
		waits := clock.WaitAfters(t, i)
		if waits[i-1] != want[i-1] {
			t.Fatalf("waits %v, want %v", waits, want[:i])
		}
		clock.Advance(waits[i-1])
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failures) != 5 || failures[0] != 1 || failures[4] != 5 {
		t.Errorf("OnError failures %v", failures)
	}
	clock.WaitAfters(t, len(want)+1)
	st := r.Stats()[0]
	if st.Failures != 5 || st.FailuresInRow != 0 || st.LastError != "" || len(got.times()) < 1 {
		t.Errorf("after recovery: %+v, %d samples", st, len(got.times()))
	}
}

func TestRunnerStopsAndChecks(t *testing.T) {
	clock := newFakeClock()
	src := &fakeSource{name: "a", clock: clock}
	if _, err := NewRunner([]Job{{Source: src, Interval: tick, Timeout: tick}}, RunnerOptions{}); !errors.Is(err, ErrConfig) {
		t.Errorf("no OnSample: %v", err)
	}
	if _, err := NewRunner([]Job{{Source: src, Interval: tick, Timeout: tick}, {Source: src, Interval: tick, Timeout: tick}},
		RunnerOptions{OnSample: func(context.Context, Sample) {}}); !errors.Is(err, ErrConfig) {
		t.Errorf("duplicate names: %v", err)
	}
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
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}

// TestRunnerJobs runs a real source through the runner on the real clock.
func TestRunnerJobs(t *testing.T) {
	srv := newStatsServer(t, serve(`{"n": 3}`))
	cfg := Config{Name: "api", Kind: KindHTTP, Interval: time.Second, Timeout: time.Second,
		HTTP: &HTTPConfig{URL: srv.URL, Scalars: map[string]string{"n": "n"}}}
	jobs, err := Jobs([]Config{cfg}, Options{})
	if err != nil {
		t.Fatal(err)
	}
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
		if s.Source != "api" || s.Scalars["n"] != 3 {
			t.Errorf("sample %+v", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no sample")
	}
	bad := cfg
	bad.HTTP = &HTTPConfig{URL: "gopher://x", Scalars: map[string]string{"n": "n"}}
	if _, err := Jobs([]Config{cfg, bad}, Options{}); !errors.Is(err, ErrConfig) {
		t.Errorf("Jobs with a bad and a duplicate config: %v", err)
	}
}
