package spool

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentAppendsGroupCommit: many goroutines append with Sync on;
// every seq is unique, together they are 1..N, every record that Append
// returned is durable, and the syncs were shared.
func TestConcurrentAppendsGroupCommit(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	cfg.MaxBytes = 4 << 20 // no drops: every record must survive
	s := openSpool(t, dir, cfg)
	const workers, each = 16, 40
	var mu sync.Mutex
	bySeq := map[uint64]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var last uint64
			for i := range each {
				key := w*each + i
				seq, err := s.Append(t.Context(), payloadFor(key))
				if !assert.NoError(t, err, "Append") {
					return
				}
				assert.Greater(t, seq, last, "worker %d: seq after the last", w)
				last = seq
				assert.GreaterOrEqual(t, s.Stats().DurableSeq, seq, "Append returned seq %d with a lower DurableSeq", seq)
				mu.Lock()
				assert.NotContains(t, bySeq, seq, "seq %d handed out twice", seq)
				bySeq[seq] = key
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	const n = workers * each
	seqs := make([]uint64, 0, n)
	for seq := range bySeq {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	require.Equal(t, seqRange(1, n), seqs, "seqs are not 1..%d", n)
	st := s.Stats()
	t.Logf("%d appends, %d syncs", n, st.Syncs)
	assert.Less(t, st.Syncs, uint64(n), "%d syncs for %d concurrent appends: no group commit", st.Syncs, n)
	closeSpool(t, s)

	s = openSpool(t, dir, cfg)
	recs := pendingAll(t, s, 0)
	require.Equal(t, seqRange(1, n), seqsOf(recs), "after restart, %d records", len(recs))
	checkPayloads(t, recs, func(seq uint64) int { return bySeq[seq] })
}

// TestConsumerWhileAppending runs an uploader (Pending, then Ack) against
// concurrent appends: it sees every seq exactly once, in order.
func TestConsumerWhileAppending(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	cfg.MaxBytes = 4 << 20
	s := openSpool(t, dir, cfg)
	const workers, each = 8, 50
	const n = workers * each
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := s.Append(t.Context(), payloadFor(w*each+i)); !assert.NoError(t, err, "Append") {
					return
				}
			}
		})
	}
	var got []uint64
	deadline := time.Now().Add(30 * time.Second)
	for uint64(len(got)) < n && time.Now().Before(deadline) {
		recs, err := s.Pending(0, 7, 1<<20) // from the ack mark on
		require.NoError(t, err, "Pending")
		if len(recs) == 0 {
			time.Sleep(time.Millisecond) // waiting for appends
			continue
		}
		got = append(got, seqsOf(recs)...)
		require.NoError(t, s.Ack(recs[len(recs)-1].Seq), "Ack")
	}
	wg.Wait()
	require.Equal(t, seqRange(1, n), got, "consumer saw %d records, not 1..%d once each", len(got), n)
	st := s.Stats()
	assert.Zero(t, st.Records, "after acking all, Stats = %+v", st)
	assert.Equal(t, 1, st.Segments, "after acking all, Stats = %+v", st)
}

// BenchmarkAppend measures durable appends per second: serial (one sync per
// record) and parallel (group commit).
func BenchmarkAppend(b *testing.B) {
	payload := make([]byte, 200)
	for _, par := range []int{0, 32} {
		name := "serial"
		if par > 0 {
			name = fmt.Sprintf("parallel-%d", par)
		}
		b.Run(name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.MaxBytes = 1 << 30
			s, err := Open(b.TempDir(), cfg)
			require.NoError(b, err)
			defer s.Close()
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			if par == 0 {
				for range b.N {
					_, err := s.Append(b.Context(), payload)
					require.NoError(b, err)
				}
			} else {
				b.SetParallelism(par)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := s.Append(b.Context(), payload); !assert.NoError(b, err) {
							return
						}
					}
				})
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.N)/float64(max(s.Stats().Syncs, 1)), "records/sync")
		})
	}
}
