package spool

import (
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// diskBytes sums the sizes of dir's segment files.
func diskBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var total int64
	for _, f := range segmentFiles(t, dir) {
		fi, err := os.Stat(f)
		require.NoError(t, err)
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
		_, err := s.Append(t.Context(), payloadFor(i))
		require.NoError(t, err, "Append(%d) on a full spool", i)
		require.LessOrEqual(t, s.Stats().Bytes, cfg.MaxBytes, "after %d appends, bytes over the max", i+1)
	}
	st := s.Stats()
	got := diskBytes(t, dir)
	assert.Equal(t, st.Bytes, got, "segments hold bytes on disk, Stats says")
	assert.LessOrEqual(t, got, cfg.MaxBytes, "segments hold more bytes on disk than the max")
	require.NotZero(t, st.DroppedRecords, "nothing dropped: %+v", st)
	require.NotZero(t, st.DroppedSegments, "nothing dropped: %+v", st)
	// The newest records are all there, the oldest are the ones gone, and
	// the loss is one gap that Stats accounts for exactly.
	recs := pendingAll(t, s, 0)
	require.Equal(t, seqRange(st.DroppedRecords+1, n), seqsOf(recs), "Pending seqs, dropped %d", st.DroppedRecords)
	checkPayloads(t, recs, identity)
	assert.Equal(t, recs[0].Seq, st.LastDropped.Last+1, "LastDropped = %+v; first pending %d", st.LastDropped, recs[0].Seq)
	assert.Equal(t, recs[0].Seq, st.FirstSeq, "FirstSeq; first pending %d", recs[0].Seq)
	mu.Lock()
	if assert.Len(t, alerts, int(st.DroppedSegments), "OnFull calls for %d dropped segments", st.DroppedSegments) {
		assert.Equal(t, st.DroppedRecords, alerts[len(alerts)-1].DroppedRecords, "DroppedRecords in the last OnFull")
	}
	mu.Unlock()
	closeSpool(t, s)

	// The lifetime counts survive a restart.
	s = openSpool(t, dir, cfg)
	after := s.Stats()
	assert.Equal(t, st.DroppedRecords, after.DroppedRecords, "after restart, dropped records")
	assert.Equal(t, st.DroppedSegments, after.DroppedSegments, "after restart, dropped segments")
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
	require.NoError(t, s.Ack(20))
	i := 30
	for s.Stats().DroppedSegments == 0 {
		appendN(t, s, i, 1)
		i++
	}
	st := s.Stats()
	assert.Equal(t, uint64(21), st.LastDropped.First, "Stats = %+v, want a drop from 21", st)
	assert.Equal(t, st.LastDropped.Last-20, st.DroppedRecords, "Stats = %+v, want only unacked records counted", st)
	assert.Equal(t, 1, called, "OnFull calls")
}
