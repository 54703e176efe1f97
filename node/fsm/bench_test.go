package fsm

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/stretchr/testify/require"
)

const benchCollectors = 1000

// benchLeases is how many leases the state benchmarks hold: 1M, or
// LICMESH_BENCH_LEASES (make bench's G6 runs 10M).
var benchLeases = func() int {
	if n, err := strconv.Atoi(os.Getenv("LICMESH_BENCH_LEASES")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}()

// buildLeases returns a bootstrapped FSM holding n leases spread over
// hard pools of 125k and benchCollectors collectors. Batches go straight
// to the apply function (the JSON path is measured by BenchmarkLeaseBatch);
// each holder string is its own allocation, as after decoding.
func buildLeases(tb testing.TB, n int) *FSM {
	tb.Helper()
	// 125k leases a pool (8 pools for 1M), within a pool's seat limit.
	benchPools := max(8, n/125_000)
	h := bootstrapped(tb)
	for p := range benchPools {
		h.pool(fmt.Sprintf("pool-%d", p), n/benchPools+1, lease.Hard)
	}
	const per = 4096
	f := h.f
	f.mu.Lock()
	defer f.mu.Unlock()
	index := h.index
	for done := 0; done < n; {
		k := min(per, n-done)
		ops := make([]LeaseOp, k)
		for i := range ops {
			u := done + i
			ops[i] = LeaseOp{
				Kind:        Acquire,
				Pool:        fmt.Sprintf("pool-%d", u%benchPools),
				Holder:      fmt.Sprintf("user-%07d@example.com", u),
				CollectorID: fmt.Sprintf("col-%04d", u%benchCollectors),
				TTLms:       30_000,
			}
		}
		index++
		r := applyLeaseBatch(f.st, &applyCtx{index: index}, &LeaseBatch{Now: t0 + int64(done), Ops: ops})
		for _, o := range r.Ops {
			require.NoError(tb, o.Err)
		}
		f.st.index = index
		done += k
	}
	require.Equal(tb, n, f.st.nLeases, "built leases")
	return f
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkHeapPerLease reports the live heap each lease costs with
// benchLeases leases in state (G6's goal: at most 200 B/lease at 10M).
func BenchmarkHeapPerLease(b *testing.B) {
	var perLease float64
	for range b.N {
		before := heapAlloc()
		f := buildLeases(b, benchLeases)
		after := heapAlloc()
		perLease = float64(int64(after)-int64(before)) / float64(benchLeases)
		runtime.KeepAlive(f)
	}
	b.ReportMetric(perLease, "B/lease")
}

// BenchmarkSnapshotLeases measures Snapshot plus Persist of benchLeases
// leases.
func BenchmarkSnapshotLeases(b *testing.B) {
	f := buildLeases(b, benchLeases)
	var size int64
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		s, err := f.Snapshot()
		require.NoError(b, err)
		b.ReportMetric(float64(time.Since(start).Microseconds()), "capture-µs")
		cw := &countWriter{}
		require.NoError(b, s.(*fsmSnapshot).writeTo(cw))
		s.Release()
		size = cw.n
	}
	b.ReportMetric(float64(size)/float64(benchLeases), "B/lease-on-disk")
	b.ReportMetric(float64(benchLeases), "leases")
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkRestoreLeases measures restoring benchLeases leases from a
// snapshot in memory.
func BenchmarkRestoreLeases(b *testing.B) {
	snap := snapshotBytes(b, buildLeases(b, benchLeases))
	runtime.GC()
	b.SetBytes(int64(len(snap)))
	b.ResetTimer()
	for range b.N {
		f := New()
		require.NoError(b, f.Restore(io.NopCloser(bytes.NewReader(snap))))
		require.Equal(b, benchLeases, f.Counts().Leases, "lost leases")
	}
}

// BenchmarkLeaseBatch applies encoded batches of 64 acquires through Apply,
// JSON decoding included, against a state that grows as it runs.
func BenchmarkLeaseBatch(b *testing.B) {
	h := bootstrapped(b)
	h.pool("bench", lease.MaxSeats, lease.Soft)
	const per = 64
	batches := make([][]byte, b.N)
	for i := range batches {
		ops := make([]LeaseOp, per)
		for j := range ops {
			ops[j] = acq("bench", fmt.Sprintf("u-%d-%d", i, j), fmt.Sprintf("col-%d", j%16))
		}
		batches[i] = encode(b, LeaseBatchType, LeaseBatch{Now: t0 + int64(i), Ops: ops})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := h.f.Apply(rlog(h.index+uint64(i)+1, batches[i])).(Response)
		require.NoError(b, r.Err)
		require.NoError(b, r.Ops[per-1].Err)
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "grants/s")
}

// BenchmarkDecodeLeaseBatch measures the JSON decoding every master does
// for each lease batch it applies, per operation, in a batch of 32 acquires
// and releases as a busy collector sends them.
func BenchmarkDecodeLeaseBatch(b *testing.B) {
	const per = 32
	c := LeaseBatch{Now: t0}
	for i := range per {
		if i%2 == 0 {
			c.Ops = append(c.Ops, acq("bench", fmt.Sprintf("holder-%d", i), "col-0123456789abcdef"))
		} else {
			c.Ops = append(c.Ops, rel(lease.ID(123456+i), "col-0123456789abcdef"))
		}
	}
	data := encode(b, LeaseBatchType, c)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/lease-op")
}
