package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// G6 goals.
const (
	g6Leases          = 10_000_000
	g6MaxHeapPerLease = 200.0 // bytes of live heap per lease with g6Leases leases
	g6MaxSnapshot     = 10 * time.Second
	g6MaxRestore      = 10 * time.Second
)

// The FSM package's benchmarks G6 runs, and the package they live in.
const (
	benchHeap     = "BenchmarkHeapPerLease"
	benchSnapshot = "BenchmarkSnapshotLeases"
	benchRestore  = "BenchmarkRestoreLeases"
	fsmPackage    = "./node/fsm"
)

// FSMBenchRun is what G6 read from the FSM benchmarks' output.
type FSMBenchRun struct {
	// Leases is how many leases the state held.
	Leases float64
	// HeapPerLease is the live heap per lease with Leases in state.
	HeapPerLease float64
	// Snapshot is one Snapshot plus Persist of the leases.
	Snapshot time.Duration
	// SnapshotBytesPerLease is the snapshot's size on disk per lease.
	SnapshotBytesPerLease float64
	// Restore is one Restore of that snapshot.
	Restore time.Duration
}

// MeasureG6 runs the FSM package's 1M-lease benchmarks once each in a `go
// test` process of their own and reads their results.
func MeasureG6(ctx context.Context, cfg Config) (FSMBenchRun, error) {
	if err := cfg.Validate(); err != nil {
		return FSMBenchRun{}, err
	}
	pattern := fmt.Sprintf("^(%s|%s|%s)$", benchHeap, benchSnapshot, benchRestore)
	metrics, out, err := runGoBench(ctx, cfg.FSM, fsmPackage, pattern, "1x")
	if err != nil {
		return FSMBenchRun{}, err
	}
	return parseFSMBench(metrics, out)
}

// runGoBench runs the Go benchmarks of pkg that pattern selects in a `go
// test` process of its own, and returns their values by benchmark name
// (without the GOMAXPROCS suffix) and unit, and the raw output.
func runGoBench(ctx context.Context, c FSMBenchConfig, pkg, pattern, benchtime string) (map[string]map[string]float64, []byte, error) {
	dir, err := moduleDir(c.ModuleDir)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.GoTool, "test", "-run", "^$", "-bench", pattern, "-benchtime", benchtime, "-count", "1", pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("LICMESH_BENCH_LEASES=%d", g6Leases))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, out, fmt.Errorf("%w: %s test %s: %w\n%s", ErrFSMBench, c.GoTool, pkg, err, tail(out, 4000))
	}
	return parseGoBench(out), out, nil
}

// parseGoBench reads every benchmark line of `go test -bench` output.
func parseGoBench(out []byte) map[string]map[string]float64 {
	metrics := map[string]map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if name, values, ok := parseBenchLine(sc.Text()); ok {
			metrics[name] = values
		}
	}
	return metrics
}

// moduleDir returns dir, or the module root found from this file's path.
func moduleDir(dir string) (string, error) {
	if dir == "" {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			return "", fmt.Errorf("%w: cannot locate the module; set the module dir", ErrFSMBench)
		}
		dir = filepath.Join(filepath.Dir(file), "..", "..")
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", fmt.Errorf("%w: %s is not the module root: %w", ErrFSMBench, dir, err)
	}
	return dir, nil
}

// parseFSMBench reads the three benchmarks' values.
func parseFSMBench(metrics map[string]map[string]float64, out []byte) (FSMBenchRun, error) {
	var run FSMBenchRun
	var missing []string
	get := func(bench, unit string) float64 {
		v, ok := metrics[bench][unit]
		if !ok {
			missing = append(missing, bench+" "+unit)
		}
		return v
	}
	run.HeapPerLease = get(benchHeap, "B/lease")
	run.Snapshot = time.Duration(get(benchSnapshot, "ns/op"))
	run.SnapshotBytesPerLease = get(benchSnapshot, "B/lease-on-disk")
	run.Leases = metrics[benchSnapshot]["leases"]
	run.Restore = time.Duration(get(benchRestore, "ns/op"))
	if len(missing) > 0 {
		return FSMBenchRun{}, fmt.Errorf("%w: output lacks %s\n%s", ErrFSMBench, strings.Join(missing, ", "), tail(out, 4000))
	}
	return run, nil
}

// parseBenchLine splits "BenchmarkX-8  1  123 ns/op  4.5 B/lease" into the
// benchmark's name without the GOMAXPROCS suffix and its values by unit.
func parseBenchLine(line string) (string, map[string]float64, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return "", nil, false
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return "", nil, false
	}
	name := f[0]
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	values := map[string]float64{}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", nil, false
		}
		values[f[i+1]] = v
	}
	return name, values, true
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}

// g6Rows are the three measures against their absolute goals.
func g6Rows(r FSMBenchRun) []Result {
	n := leaseCount(r.Leases)
	return []Result{
		{ID: "G6", Name: "heap per lease, " + n + " leases", Value: r.HeapPerLease, Unit: "B/lease",
			Goal: fmt.Sprintf("≤ %g", g6MaxHeapPerLease), Met: Verdict(r.HeapPerLease <= g6MaxHeapPerLease),
			Note: fmt.Sprintf("%s (go test -bench, 1 run)", benchHeap)},
		{ID: "G6", Name: "snapshot " + n + " leases", Value: r.Snapshot.Seconds(), Unit: "s",
			Goal: fmt.Sprintf("≤ %v", g6MaxSnapshot), Met: Verdict(r.Snapshot <= g6MaxSnapshot),
			Note: fmt.Sprintf("%s B/lease on disk", FormatValue(r.SnapshotBytesPerLease))},
		{ID: "G6", Name: "restore " + n + " leases", Value: r.Restore.Seconds(), Unit: "s",
			Goal: fmt.Sprintf("≤ %v", g6MaxRestore), Met: Verdict(r.Restore <= g6MaxRestore),
			Note: benchRestore},
	}
}

// leaseCount names a lease count the way the table does: 1M, 10M.
func leaseCount(n float64) string {
	if n >= 1e6 && float64(int64(n/1e6))*1e6 == n {
		return fmt.Sprintf("%dM", int64(n/1e6))
	}
	return FormatValue(n)
}
