package bench

import (
	"strings"
	"testing"
	"time"
)

// tinyMeshConfig shrinks the G measurements to test size; the masters are
// real meshd processes from harness.Binaries.
func tinyMeshConfig(t *testing.T) Config {
	t.Helper()
	cfg := tinyConfig(t)
	cfg.Duration = 300 * time.Millisecond
	cfg.Mesh.Concurrency = []int{4}
	cfg.Mesh.Collectors = 3
	cfg.Mesh.RenewWorkers = 4
	cfg.Mesh.LeasesPerWorker = 3
	cfg.Mesh.FailoverTrials = 1
	cfg.Mesh.Log = t.Output()
	return cfg
}

// TestG1 runs G1 and the B1 baseline it divides by through a session, as
// benchtable does, against three real masters.
func TestG1(t *testing.T) {
	cfg := tinyMeshConfig(t)
	s, err := NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := DefaultRegistry().Select([]string{"G1"})
	if err != nil {
		t.Fatal(err)
	}
	table, err := s.Run(t.Context(), ms, nil)
	if err != nil {
		t.Fatalf("Run: %v\n%+v", err, table)
	}
	runs, rows, err := s.G1(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(table) {
		t.Errorf("G1 was measured twice: %d memoized rows, %d in the table", len(rows), len(table))
	}
	r, ok := runs[4]
	if !ok {
		t.Fatalf("no run at concurrency 4: %+v", runs)
	}
	// Every op is one acquire or one release, and each needs a Raft entry
	// that carries at least it.
	if r.Ops == 0 || r.Use.Ops < int64(r.Ops) || r.Use.Entries == 0 || r.Use.Batches == 0 {
		t.Errorf("implausible run %+v", r)
	}
	if r.Use.OpsPerEntry() > float64(r.Concurrency) {
		t.Errorf("%.1f ops per entry with only %d workers", r.Use.OpsPerEntry(), r.Concurrency)
	}
	names := map[string]Result{}
	for _, row := range table {
		if row.ID != "G1" {
			t.Errorf("row from %s in a G1-only run", row.ID)
		}
		names[row.Name] = row
	}
	for _, want := range []string{"lease ops c=4", "lease ops c=4 ÷ B1", "lease op c=4 p99", "lease ops per raft entry c=4"} {
		if _, ok := names[want]; !ok {
			t.Errorf("no row %q in %+v", want, table)
		}
	}
	if row := names["lease ops c=4 ÷ B1"]; row.Met == nil || row.Value <= 0 || !strings.Contains(row.Note, "B1") {
		t.Errorf("ratio row %+v", row)
	}
	if row := names["lease op c=4 p99"]; row.Met == nil || row.Value <= 0 {
		t.Errorf("p99 row %+v", row)
	}
}

func TestG3(t *testing.T) {
	cfg := tinyMeshConfig(t)
	r, err := MeasureG3(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops == 0 || r.LeasesPerCall != 3 || r.Use.Ops < int64(r.Ops*3) {
		t.Errorf("implausible run %+v", r)
	}
	// Renewals are answered from memory: nothing but the odd unrelated
	// entry may reach the log.
	if r.Use.Entries > 2 {
		t.Errorf("%d raft entries for %d renewals", r.Use.Entries, r.Use.Ops)
	}
	rows := g3Rows(r, 100, 4, nil)
	if len(rows) < 4 || rows[1].Met == nil || rows[2].Met == nil || !*rows[2].Met {
		t.Errorf("rows %+v", rows)
	}
	if rows := g3Rows(r, 0, 4, ErrMesh); rows[1].Met == nil || *rows[1].Met || !strings.Contains(rows[1].Note, "no G1") {
		t.Errorf("without G1: %+v", rows[1])
	}
}

func TestG4(t *testing.T) {
	cfg := tinyMeshConfig(t)
	r, err := MeasureG4(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Trials) != 1 || r.Attempts < 1 || r.Latency.P50 <= 0 {
		t.Fatalf("implausible run %+v", r)
	}
	// No survivor can grant before a new leader is elected, which takes at
	// least a heartbeat timeout.
	if r.Trials[0] < cfg.Raft.HeartbeatTimeout/2 {
		t.Errorf("failover in %v, under half the %v heartbeat timeout", r.Trials[0], cfg.Raft.HeartbeatTimeout)
	}
	rows := g4Rows(r, cfg.Raft.HeartbeatTimeout)
	if len(rows) != 2 || rows[0].Met == nil || rows[0].Unit != "s" {
		t.Errorf("rows %+v", rows)
	}
}

func TestG10(t *testing.T) {
	cfg := tinyMeshConfig(t)
	r, err := MeasureG10(t.Context(), cfg, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.RSSMiB <= 1 || r.PeakMiB < r.RSSMiB || r.Window < time.Second {
		t.Fatalf("implausible run %+v", r)
	}
	if rows := g10Rows(r); len(rows) != 2 || rows[0].Met == nil || rows[1].Unit != "% core" {
		t.Errorf("rows %+v", rows)
	}
}
