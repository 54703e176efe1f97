package spool

import (
	"os"
	"slices"
	"sync"
	"testing"
)

// diskBytes sums the sizes of dir's segment files.
func diskBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var total int64
	for _, f := range segmentFiles(t, dir) {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	return total
}

func TestFullDropsOldest(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	cfg.Sync = false // the policy, not durability, is under test
	var mu sync.Mutex
	var alerts []Stats
	cfg.OnFull = func(st Stats) {
		mu.Lock()
		defer mu.Unlock()
		alerts = append(alerts, st)
	}
	s := openSpool(t, dir, cfg)
	const n = 1000 // ~57 KiB of records into a 16 KiB spool
	for i := range n {
		if _, err := s.Append(t.Context(), payloadFor(i)); err != nil {
			t.Fatalf("Append(%d) on a full spool: %v", i, err)
		}
		if st := s.Stats(); st.Bytes > cfg.MaxBytes {
			t.Fatalf("after %d appends, %d bytes > max %d", i+1, st.Bytes, cfg.MaxBytes)
		}
	}
	st := s.Stats()
	if got := diskBytes(t, dir); got != st.Bytes || got > cfg.MaxBytes {
		t.Errorf("segments hold %d bytes on disk, Stats says %d, max %d", got, st.Bytes, cfg.MaxBytes)
	}
	if st.DroppedRecords == 0 || st.DroppedSegments == 0 {
		t.Fatalf("nothing dropped: %+v", st)
	}
	// The newest records are all there, the oldest are the ones gone, and
	// the loss is one gap that Stats accounts for exactly.
	recs := pendingAll(t, s, 0)
	if !slices.Equal(seqsOf(recs), seqRange(st.DroppedRecords+1, n)) {
		t.Fatalf("Pending seqs = %v..., dropped %d", seqsOf(recs)[:3], st.DroppedRecords)
	}
	checkPayloads(t, recs, identity)
	if st.LastDropped.Last+1 != recs[0].Seq || st.FirstSeq != recs[0].Seq {
		t.Errorf("LastDropped = %+v, FirstSeq %d; first pending %d", st.LastDropped, st.FirstSeq, recs[0].Seq)
	}
	mu.Lock()
	if uint64(len(alerts)) != st.DroppedSegments || alerts[len(alerts)-1].DroppedRecords != st.DroppedRecords {
		t.Errorf("OnFull called %d times for %d dropped segments", len(alerts), st.DroppedSegments)
	}
	mu.Unlock()
	closeSpool(t, s)

	// The lifetime counts survive a restart.
	s = openSpool(t, dir, cfg)
	if got := s.Stats(); got.DroppedRecords != st.DroppedRecords || got.DroppedSegments != st.DroppedSegments {
		t.Errorf("after restart, dropped %d/%d, want %d/%d", got.DroppedRecords, got.DroppedSegments, st.DroppedRecords, st.DroppedSegments)
	}
}

// TestFullCountsOnlyUnacked: dropping a segment whose records a master
// already has is housekeeping, not loss.
func TestFullCountsOnlyUnacked(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	cfg.Sync = false
	called := 0
	cfg.OnFull = func(Stats) { called++ }
	s := openSpool(t, dir, cfg)
	appendN(t, s, 0, 30)
	// Ack part of the first segment, then fill: the first drop loses only
	// the unacknowledged rest of it.
	if err := s.Ack(20); err != nil {
		t.Fatal(err)
	}
	i := 30
	for s.Stats().DroppedSegments == 0 {
		appendN(t, s, i, 1)
		i++
	}
	st := s.Stats()
	if st.LastDropped.First != 21 || st.DroppedRecords != st.LastDropped.Last-20 || called != 1 {
		t.Errorf("Stats = %+v, OnFull calls %d; want a drop from 21 counting only unacked records", st, called)
	}
}
