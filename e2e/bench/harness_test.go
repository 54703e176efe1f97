package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for name, edit := range map[string]func(*Config){
		"zero duration":        func(c *Config) { c.Duration = 0 },
		"negative warmup":      func(c *Config) { c.Warmup = -time.Second },
		"no fsync samples":     func(c *Config) { c.FsyncSamples = 0 },
		"no concurrency":       func(c *Config) { c.Concurrency = nil },
		"zero concurrency":     func(c *Config) { c.Concurrency = []int{1, 0} },
		"repeated level":       func(c *Config) { c.Concurrency = []int{16, 16} },
		"empty payload":        func(c *Config) { c.PayloadBytes = 0 },
		"lease over heartbeat": func(c *Config) { c.Raft.LeaderLeaseTimeout = 2 * c.Raft.HeartbeatTimeout },
		"no nodes":             func(c *Config) { c.Raft.Nodes = 0 },
	} {
		cfg := DefaultConfig()
		edit(&cfg)
		if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: got %v, want ErrInvalidConfig", name, err)
		}
		if _, err := NewSession(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: NewSession got %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestSummarize(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	got := Summarize(s)
	want := Latencies{N: 100, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := Summarize(nil); got != (Latencies{}) {
		t.Errorf("empty: got %+v", got)
	}
	if got := Summarize([]time.Duration{7}); got.P50 != 7 || got.P99 != 7 {
		t.Errorf("single: got %+v", got)
	}
}

func TestClosedLoop(t *testing.T) {
	var calls atomic.Int64
	tp, err := ClosedLoop(t.Context(), Load{Concurrency: 4, Warmup: 10 * time.Millisecond, Duration: 50 * time.Millisecond},
		func(ctx context.Context, worker int) error {
			if worker < 0 || worker >= 4 {
				t.Errorf("worker %d out of range", worker)
			}
			calls.Add(1)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if tp.Ops == 0 || int64(tp.Ops) > calls.Load() || tp.Concurrency != 4 {
		t.Errorf("got %+v after %d calls", tp, calls.Load())
	}

	boom := errors.New("boom")
	_, err = ClosedLoop(t.Context(), Load{Concurrency: 2, Duration: time.Minute}, func(context.Context, int) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("op error: got %v, want boom", err)
	}
	if _, err := ClosedLoop(t.Context(), Load{}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("zero load: got %v, want ErrInvalidConfig", err)
	}
}

// TestClosedLoopKeepsTail checks the window accounting with one worker and
// no warm-up: every operation starts inside the window, and the last one,
// started before the end, necessarily finishes after it. So it is in the
// latency sample but not in the throughput count.
func TestClosedLoopKeepsTail(t *testing.T) {
	tp, err := ClosedLoop(t.Context(), Load{Concurrency: 1, Duration: 200 * time.Millisecond},
		func(context.Context, int) error {
			time.Sleep(2 * time.Millisecond) // the operation being timed
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if tp.Latency.N != tp.Ops+1 {
		t.Errorf("latency samples %d, want ops %d + 1", tp.Latency.N, tp.Ops)
	}
	if tp.Latency.P50 < 2*time.Millisecond {
		t.Errorf("p50 %v below the op's own 2ms", tp.Latency.P50)
	}
}

func TestRegistry(t *testing.T) {
	r := DefaultRegistry()
	all := r.All()
	if len(all) < 2 || all[0].ID != "B0" || all[1].ID != "B1" {
		t.Fatalf("default registry: %+v", all)
	}
	got, err := r.Select([]string{"B1", " b0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "B0" {
		t.Errorf("select keeps registry order: got %v", got)
	}
	if _, err := r.Select([]string{"B0", "G9"}); !errors.Is(err, ErrUnknownMeasurement) || !strings.Contains(err.Error(), "G9") {
		t.Errorf("unknown ID: got %v", err)
	}
	noop := func(context.Context, *Session) ([]Result, error) { return nil, nil }
	if err := r.Register(Measurement{ID: "b1", Run: noop}); !errors.Is(err, ErrDuplicateMeasurement) {
		t.Errorf("duplicate: got %v", err)
	}
	if err := r.Register(Measurement{ID: "X", Run: nil}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("nil Run: got %v", err)
	}
}

func TestSessionRunKeepsGoingAfterFailure(t *testing.T) {
	s, err := NewSession(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	ms := []Measurement{
		{ID: "X1", Name: "fails", Run: func(context.Context, *Session) ([]Result, error) { return nil, boom }},
		{ID: "X2", Name: "works", Run: func(context.Context, *Session) ([]Result, error) {
			return []Result{
				{ID: "X2", Name: "ratio", Value: 2, Unit: "x", Goal: "≥ 1x", Met: Verdict(true)},
				{ID: "X2", Name: "ratio over zero", Value: math.Inf(1), Unit: "x"},
			}, nil
		}},
	}
	var seen []string
	table, err := s.Run(t.Context(), ms, func(m Measurement) { seen = append(seen, m.ID) })
	if !errors.Is(err, boom) {
		t.Errorf("got %v, want boom", err)
	}
	if len(table) != 3 || table[0].VerdictText() != "MISSED" || !strings.Contains(table[0].Note, "boom") ||
		table[1].VerdictText() != "met" {
		t.Errorf("table: %+v", table)
	}
	if len(table) == 3 && (table[2].Value != 0 || table[2].VerdictText() != "MISSED" || !strings.Contains(table[2].Note, "+Inf")) {
		t.Errorf("infinite row not made safe: %+v", table[2])
	}
	if err := table.WriteJSON(io.Discard); err != nil {
		t.Errorf("JSON after a failure: %v", err)
	}
	if strings.Join(seen, ",") != "X1,X2" {
		t.Errorf("progress saw %v", seen)
	}
	if !table.Missed() {
		t.Error("Missed() = false with a failed row")
	}
}

func TestTableOutput(t *testing.T) {
	table := Table{
		{ID: "B0", Name: "fsync p50", Value: 0.1234, Unit: "ms", Note: "n=200"},
		{ID: "G1", Name: "grants vs raw raft", Value: 0.42, Unit: "x", Goal: "≥ 0.5x", Met: Verdict(false)},
		{ID: "G2", Name: "renewals", Value: 123456.7, Unit: "renewals/s", Goal: "≥ 50000", Met: Verdict(true)},
	}
	var text bytes.Buffer
	if err := table.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(text.String(), "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("text table:\n%s", text.String())
	}
	for i, want := range []string{"0.1234", "MISSED", "123457"} {
		if !strings.Contains(lines[i+1], want) {
			t.Errorf("line %d %q lacks %q", i+1, lines[i+1], want)
		}
	}
	// Columns line up: the value column starts at the same offset on every line.
	col := strings.Index(lines[0], "VALUE")
	for _, l := range lines[1:] {
		if l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("misaligned line %q", l)
		}
	}

	var js bytes.Buffer
	if err := table.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Table
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("json: %v\n%s", err, js.String())
	}
	if len(back) != 3 || back[0].Met != nil || back[1].Met == nil || *back[1].Met || back[2].Value != 123456.7 {
		t.Errorf("round trip: %+v", back)
	}
	js.Reset()
	if err := Table(nil).WriteJSON(&js); err != nil || strings.TrimSpace(js.String()) != "[]" {
		t.Errorf("empty table JSON %q, %v", js.String(), err)
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 18277.4: "18277", 759.33: "759.3", 4.694: "4.69", 0.16912: "0.1691", 0.0000123: "1.23e-05",
	} {
		if got := FormatValue(v); got != want {
			t.Errorf("FormatValue(%v) = %q, want %q", v, got, want)
		}
	}
}
