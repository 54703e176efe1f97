package meter

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// readEpoch reads the meter's epoch file.
func readEpoch(t *testing.T, e *env) epochFile {
	t.Helper()
	raw, err := os.ReadFile(epochPath(e.cfg.SpoolDir))
	require.NoError(t, err)
	var f epochFile
	require.NoError(t, json.Unmarshal(raw, &f), "epoch file %q", raw)
	return f
}

// TestNewerEpochMovesAbove: when the masters answer for a newer epoch than
// the spool's (they know a newer spool of this collector), the meter moves
// to an epoch above theirs at once, sends its pending records again under
// it, and keeps that epoch across a restart, until the spool itself starts
// over.
func TestNewerEpochMovesAbove(t *testing.T) {
	e := newEnv(t)
	m := e.open()
	spoolN(t, m, 3, 2)
	spoolEpoch := m.Stats().Epoch
	// A spool created an hour later (then lost) reported 42 records.
	theirs := spoolEpoch + uint64(time.Hour)
	e.master.set(func(f *fakeMaster) { f.cur, f.high[theirs] = theirs, 42 })
	stop := e.run(m)
	require.Eventually(t, func() bool { return m.Stats().RecordsAcked == 3 }, 10*time.Second, poll, "the records delivered under a new epoch")

	st := m.Stats()
	moved := theirs + 1 // the clock reads the old spool's creation time
	require.Equal(t, moved, st.Epoch, "Stats = %+v; want the epoch after one move", st)
	require.Equal(t, uint64(1), st.EpochMoves, "Stats = %+v; want one move", st)
	require.Equal(t, spoolEpoch, st.Spool.Epoch, "Stats = %+v", st)
	require.Zero(t, st.FailuresInRow, "Stats = %+v", st)
	assert.Equal(t, seqRange(1, 3), seqs(e.master.committed(moved)), "committed under the new epoch")
	assert.Empty(t, seqs(e.master.committed(spoolEpoch)), "committed under the stale epoch")
	e.master.checkOnce(t)
	assert.Contains(t, logLine(e.logs.String(), "level=ERROR", "newer spool"), "new_epoch="+itoa(moved),
		"the move was not logged as an error naming the new epoch")
	f := readEpoch(t, e)
	assert.Equal(t, spoolEpoch, f.SpoolEpoch, "epoch file = %+v", f)
	assert.Equal(t, moved, f.Epoch, "epoch file = %+v", f)
	// New samples go under it, with no further move.
	m.record(t.Context(), sampleN(3, 2))
	require.Eventually(t, func() bool { return m.Stats().RecordsAcked == 4 }, 10*time.Second, poll, "the next sample")
	stop()

	// A restart keeps reporting under the moved epoch.
	m = e.open()
	st = m.Stats()
	require.Equal(t, moved, st.Epoch, "reopened: epoch")
	require.Zero(t, st.EpochMoves, "reopened: moves")
	stop = e.run(m)
	m.record(t.Context(), sampleN(4, 2))
	require.Eventually(t, func() bool { return m.Stats().RecordsAcked == 1 }, 10*time.Second, poll, "a sample after the restart")
	assert.Equal(t, seqRange(1, 5), seqs(e.master.committed(moved)), "committed under the moved epoch")
	stop()

	// A spool that starts over, later, has a newer epoch of its own: the
	// file is for the old spool and is set aside.
	require.NoError(t, os.RemoveAll(e.cfg.SpoolDir))
	e.clock.Advance(2 * time.Hour)
	m = e.open()
	st = m.Stats()
	require.Equal(t, st.Spool.Epoch, st.Epoch, "a new spool reports under another epoch than its own")
	require.Greater(t, st.Epoch, moved, "a new spool reports under an epoch not above the moved one")
	assert.Contains(t, e.logs.String(), "spool started over", "the stale epoch file was not mentioned")
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestEpochMoveNeedsTheFile: a move that cannot be saved is not made: the
// report fails and is retried after a backoff, and nothing is acknowledged.
func TestEpochMoveNeedsTheFile(t *testing.T) {
	e := newEnv(t)
	// A directory where the file goes: reading it fails (ignored at Open)
	// and so does renaming a file onto it, whoever runs the test.
	require.NoError(t, os.Mkdir(epochPath(e.cfg.SpoolDir), 0o700))
	m := e.open()
	spoolN(t, m, 2, 2)
	theirs := m.Stats().Epoch + 1
	e.master.set(func(f *fakeMaster) { f.cur = theirs })
	e.run(m)
	e.clock.WaitAfters(t, 1)
	st := m.Stats()
	require.Equal(t, st.Spool.Epoch, st.Epoch, "Stats = %+v", st)
	require.Zero(t, st.EpochMoves, "Stats = %+v", st)
	require.Zero(t, st.Spool.AckedSeq, "Stats = %+v", st)
	require.Contains(t, st.LastError, "saving a new one", "Stats = %+v", st)
	assert.Contains(t, e.logs.String(), "ignoring the report epoch file", "the unreadable epoch file was not reported at Open")
}

// TestEpochTurnsBackOff: when the masters know a newer epoch again right
// after a move, before any record went through (two collectors with one
// identity would take turns), the meter still moves but waits the backoff
// first.
func TestEpochTurnsBackOff(t *testing.T) {
	e := newEnv(t)
	m := e.open()
	spoolN(t, m, 1, 2)
	e.master.set(func(f *fakeMaster) {
		f.before = func(f *fakeMaster, req *licmeshv1.ReportUsageRequest) { f.cur = req.GetSpoolEpoch() + 10 }
	})
	e.run(m)
	waits := e.clock.WaitAfters(t, 1)
	st := m.Stats()
	require.Equal(t, uint64(2), st.EpochMoves, "after two answers for newer epochs: Stats = %+v", st)
	require.Equal(t, 2, e.master.callCount(), "after two answers for newer epochs: reports")
	require.Contains(t, st.LastError, "identity", "after two answers for newer epochs: Stats = %+v", st)
	e.master.set(func(f *fakeMaster) { f.before = nil })
	e.clock.Advance(waits[0])
	require.Eventually(t, func() bool { return m.Stats().RecordsAcked == 1 }, 10*time.Second, poll, "delivered under the last epoch")
	got := seqs(e.master.committed(m.Stats().Epoch))
	assert.Len(t, got, 1, "committed %v under the last epoch", got)
}

func TestEpochFileRefusedUnlessAboveSpool(t *testing.T) {
	e := newEnv(t)
	m := e.open()
	spoolEpoch := m.Stats().Epoch
	require.NoError(t, m.Close())
	for name, content := range map[string]string{
		"not json":        "epoch=7",
		"unknown field":   `{"version":1,"spool_epoch":1,"epoch":2,"x":1}`,
		"other version":   `{"version":2,"spool_epoch":1,"epoch":2}`,
		"not above spool": `{"version":1,"spool_epoch":` + itoa(spoolEpoch) + `,"epoch":` + itoa(spoolEpoch) + `}`,
	} {
		require.NoError(t, os.WriteFile(epochPath(e.cfg.SpoolDir), []byte(content), 0o600))
		m := e.open()
		assert.Equal(t, spoolEpoch, m.Stats().Epoch, "%s: reports under another epoch than the spool's", name)
		require.NoError(t, m.Close())
	}
}

func TestNextEpoch(t *testing.T) {
	for _, tc := range []struct {
		masters uint64
		now     int64
		want    uint64
		ok      bool
	}{
		{masters: 100, now: 50, want: 101, ok: true},
		{masters: 100, now: 5000, want: 5000, ok: true},
		{masters: 100, now: -1, want: 101, ok: true},
		{masters: math.MaxUint64 - 1, now: 5, want: math.MaxUint64, ok: true},
		{masters: math.MaxUint64, now: 5},
	} {
		got, ok := nextEpoch(tc.masters, tc.now)
		assert.Equal(t, tc.want, got, "nextEpoch(%d, %d)", tc.masters, tc.now)
		assert.Equal(t, tc.ok, ok, "nextEpoch(%d, %d) ok", tc.masters, tc.now)
	}
}
