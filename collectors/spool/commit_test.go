package spool

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
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
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				if seq <= last {
					t.Errorf("worker %d: seq %d after %d", w, seq, last)
				}
				last = seq
				if d := s.Stats().DurableSeq; d < seq {
					t.Errorf("Append returned seq %d with DurableSeq %d", seq, d)
				}
				mu.Lock()
				if _, dup := bySeq[seq]; dup {
					t.Errorf("seq %d handed out twice", seq)
				}
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
	if !slices.Equal(seqs, seqRange(1, n)) {
		t.Fatalf("seqs are not 1..%d: %v", n, seqs)
	}
	st := s.Stats()
	t.Logf("%d appends, %d syncs", n, st.Syncs)
	if st.Syncs >= n {
		t.Errorf("%d syncs for %d concurrent appends: no group commit", st.Syncs, n)
	}
	closeSpool(t, s)

	s = openSpool(t, dir, cfg)
	recs := pendingAll(t, s, 0)
	if !slices.Equal(seqsOf(recs), seqRange(1, n)) {
		t.Fatalf("after restart, %d records", len(recs))
	}
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
				if _, err := s.Append(t.Context(), payloadFor(w*each+i)); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
			}
		})
	}
	var got []uint64
	deadline := time.Now().Add(30 * time.Second)
	for uint64(len(got)) < n && time.Now().Before(deadline) {
		recs, err := s.Pending(0, 7, 1<<20) // from the ack mark on
		if err != nil {
			t.Fatalf("Pending: %v", err)
		}
		if len(recs) == 0 {
			time.Sleep(time.Millisecond) // waiting for appends
			continue
		}
		got = append(got, seqsOf(recs)...)
		if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	wg.Wait()
	if !slices.Equal(got, seqRange(1, n)) {
		t.Fatalf("consumer saw %d records, not 1..%d once each", len(got), n)
	}
	if st := s.Stats(); st.Records != 0 || st.Segments != 1 {
		t.Errorf("after acking all, Stats = %+v", st)
	}
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
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			if par == 0 {
				for range b.N {
					if _, err := s.Append(b.Context(), payload); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(par)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := s.Append(b.Context(), payload); err != nil {
							b.Error(err)
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
