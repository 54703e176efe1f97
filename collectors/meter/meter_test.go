package meter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// segmentFiles counts the spool's segment files on disk.
func segmentFiles(t *testing.T, dir string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	require.NoError(t, err)
	return len(m)
}

func TestSamplesSpooledSentAndAcked(t *testing.T) {
	e := newEnv(t)
	e.smallSpool()
	m := e.open()
	e.master.set(func(f *fakeMaster) { f.down = true })
	e.run(m)
	ctx := t.Context()
	const n = 30
	for i := range n {
		m.record(ctx, sampleN(i, 3))
	}
	e.clock.WaitAfters(t, 1) // the first report failed: backing off
	sst := spoolStats(m)
	require.Equal(t, uint64(n), sst.Records, "with the masters away, spool = %+v; want %d durable records", sst, n)
	require.Equal(t, uint64(n), sst.DurableSeq, "with the masters away, spool = %+v; want %d durable records", sst, n)
	require.GreaterOrEqual(t, segmentFiles(t, e.cfg.SpoolDir), 2, "segment files; the test wants several")

	e.master.set(func(f *fakeMaster) { f.down = false })
	e.clock.Advance(e.cfg.RetryMax)
	epoch := m.Stats().Epoch
	// RecordsAcked moves after the spool's mark: once it is there, both are.
	require.Eventually(t, func() bool { return m.Stats().RecordsAcked == n }, 10*time.Second, poll, "every record acknowledged")

	got := e.master.committed(epoch)
	require.Equal(t, seqRange(1, n), seqs(got), "master committed seqs, want 1..%d", n)
	for i, r := range got {
		want := toWire(sampleN(i, 3))
		require.True(t, proto.Equal(r.GetSample(), want), "seq %d: master got %v, want %v", r.GetSeq(), r.GetSample(), want)
	}
	e.master.checkOnce(t)
	st := m.Stats()
	assert.Equal(t, uint64(n), st.Samples, "Stats = %+v", st)
	assert.Equal(t, uint64(n), st.Spooled, "Stats = %+v", st)
	assert.Equal(t, uint64(n), st.RecordsAcked, "Stats = %+v", st)
	assert.GreaterOrEqual(t, st.RecordsSent, uint64(n), "Stats = %+v", st)
	assert.Equal(t, uint64(n), st.Spool.AckedSeq, "Stats = %+v", st)
	assert.Empty(t, st.LastError, "Stats = %+v", st)
	assert.Zero(t, st.FailuresInRow, "Stats = %+v", st)
	assert.True(t, st.LastAck.Equal(e.clock.Now()), "Stats = %+v", st)
	assert.Equal(t, "acme-prod", st.Installation, "Stats installation")
	assert.NotZero(t, st.Epoch, "Stats epoch")
	// The acknowledgement deleted the segments: only the active one is left.
	assert.Equal(t, 1, segmentFiles(t, e.cfg.SpoolDir), "segment files after everything was acknowledged")
}

// TestSendsPromptly: with the masters up, each sample is delivered without
// the clock moving: no timer stands between a sample and its report.
func TestSendsPromptly(t *testing.T) {
	e := newEnv(t)
	m := e.open()
	e.run(m)
	for i := range 3 {
		m.record(t.Context(), sampleN(i, 2))
		require.Eventually(t, func() bool { return spoolStats(m).AckedSeq == uint64(i+1) }, 10*time.Second, poll, "the sample delivered")
	}
	assert.Equal(t, 3, e.master.callCount(), "reports for 3 samples spooled one by one")
}

func TestDuplicates(t *testing.T) {
	t.Run("answer lost after commit", func(t *testing.T) {
		e := newEnv(t)
		m := e.open()
		for i := range 5 {
			m.record(t.Context(), sampleN(i, 2))
		}
		e.master.set(func(f *fakeMaster) { f.loseAnswers = 1 })
		e.run(m)
		e.clock.WaitAfters(t, 1)
		sst := spoolStats(m)
		require.Zero(t, sst.AckedSeq, "after a lost answer, spool = %+v; want nothing acknowledged", sst)
		require.Equal(t, uint64(5), sst.Records, "after a lost answer, spool = %+v; want nothing acknowledged", sst)
		e.clock.Advance(e.cfg.RetryMax)
		require.Eventually(t, func() bool { return m.Stats().RecordsAcked == 5 }, 10*time.Second, poll, "the resend acknowledged")
		e.master.checkOnce(t)
		assert.Equal(t, seqRange(1, 5), seqs(e.master.committed(m.Stats().Epoch)), "committed")
		e.master.set(func(f *fakeMaster) {
			assert.Equal(t, 5, f.dups, "the resend carried duplicates")
		})
		st := m.Stats()
		assert.Equal(t, uint64(10), st.RecordsSent, "Stats = %+v", st)
		assert.Equal(t, uint64(5), st.RecordsAcked, "Stats = %+v", st)
		assert.Zero(t, st.FailuresInRow, "Stats = %+v", st)
	})

	t.Run("answer acknowledges nothing new", func(t *testing.T) {
		e := newEnv(t)
		m := e.open()
		for i := range 3 {
			m.record(t.Context(), sampleN(i, 2))
		}
		e.master.set(func(f *fakeMaster) { f.answer = func(r *licmeshv1.ReportUsageResponse) { r.AckedSeq = 0 } })
		e.run(m)
		e.clock.WaitAfters(t, 1)
		st := m.Stats()
		require.Zero(t, st.Spool.AckedSeq, "after an answer acknowledging nothing: %+v", st)
		require.Contains(t, st.LastError, "acknowledged nothing new", "after an answer acknowledging nothing: %+v", st)
		require.Equal(t, 1, st.FailuresInRow, "after an answer acknowledging nothing: %+v", st)
		e.master.set(func(f *fakeMaster) { f.answer = nil })
		e.clock.Advance(e.cfg.RetryMax)
		require.Eventually(t, func() bool { return spoolStats(m).AckedSeq == 3 }, 10*time.Second, poll, "acknowledged")
	})
}

// TestEpochMismatchDoesNotAck: an answer for an older epoch than the one
// sent (a master that has not applied the report) acknowledges nothing and
// is retried.
func TestEpochMismatchDoesNotAck(t *testing.T) {
	e := newEnv(t)
	m := e.open()
	for i := range 3 {
		m.record(t.Context(), sampleN(i, 2))
	}
	e.master.set(func(f *fakeMaster) {
		f.answer = func(r *licmeshv1.ReportUsageResponse) { r.SpoolEpoch-- }
	})
	e.run(m)
	waits := e.clock.WaitAfters(t, 1)
	st := m.Stats()
	require.Zero(t, st.Spool.AckedSeq, "an answer for another epoch acknowledged records: %+v", st.Spool)
	require.Equal(t, uint64(3), st.Spool.Records, "an answer for another epoch acknowledged records: %+v", st.Spool)
	require.Contains(t, st.LastError, "another spool epoch", "Stats = %+v", st)
	require.Equal(t, 1, st.FailuresInRow, "Stats = %+v", st)
	require.True(t, st.NextTry.Equal(e.clock.Now().Add(waits[0])), "Stats = %+v", st)
	e.master.set(func(f *fakeMaster) { f.answer = nil })
	e.clock.Advance(waits[0])
	require.Eventually(t, func() bool { return spoolStats(m).AckedSeq == 3 }, 10*time.Second, poll, "acknowledged in the right epoch")
}

// TestRetryBackoff: failed reports are retried after exponential waits
// (full jitter; the test's jitter picks the top of each window) capped at
// RetryMax, only when the clock has moved that far, and logged at the 1st,
// 2nd, 4th... failure.
func TestRetryBackoff(t *testing.T) {
	e := newEnv(t)
	m := e.open()
	m.record(t.Context(), sampleN(0, 2))
	e.master.set(func(f *fakeMaster) { f.down = true })
	e.run(m)
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	for k, w := range want {
		waits := e.clock.WaitAfters(t, k+1)
		require.Equal(t, w-1, waits[k], "wait after failure %d", k+1)
		require.Equal(t, k+1, e.master.callCount(), "reports before the clock reached the retry")
		st := m.Stats()
		require.Equal(t, k+1, st.FailuresInRow, "after failure %d, Stats = %+v", k+1, st)
		require.Contains(t, st.LastError, "connection refused", "after failure %d, Stats = %+v", k+1, st)
		e.clock.Advance(w - time.Nanosecond - 1)
		require.Equal(t, k+1, e.master.callCount(), "retried %v early", time.Nanosecond)
		if k == len(want)-1 {
			e.master.set(func(f *fakeMaster) { f.down = false })
		}
		e.clock.Advance(1)
		require.Eventually(t, func() bool { return e.master.callCount() == k+2 }, 10*time.Second, poll, "the retry")
	}
	require.Eventually(t, func() bool { return m.Stats().RecordsAcked == 1 }, 10*time.Second, poll, "delivered")
	logs := e.logs.String()
	assert.Equal(t, 3, strings.Count(logs, "usage report failed"), "failure log lines for 6 failures, want 3 (1st, 2nd, 4th)")
	require.Eventually(t, func() bool { return strings.Contains(e.logs.String(), "delivered again") }, 10*time.Second, poll, "the recovery logged")
	st := m.Stats()
	assert.Zero(t, st.FailuresInRow, "after recovering, Stats = %+v", st)
	assert.Empty(t, st.LastError, "after recovering, Stats = %+v", st)
	assert.True(t, st.NextTry.IsZero(), "after recovering, Stats = %+v", st)
}

// TestSendInterval: with send_interval set, samples arriving within it
// after a report wait for it and go together.
func TestSendInterval(t *testing.T) {
	e := newEnv(t)
	e.cfg.SendInterval = 30 * time.Second
	m := e.open()
	e.run(m)
	m.record(t.Context(), sampleN(0, 1))
	require.Eventually(t, func() bool { return spoolStats(m).AckedSeq == 1 }, 10*time.Second, poll, "the first report")
	m.record(t.Context(), sampleN(1, 1))
	require.Equal(t, 30*time.Second, e.clock.WaitAfters(t, 1)[0], "pacing wait")
	m.record(t.Context(), sampleN(2, 1))
	e.clock.Advance(30 * time.Second)
	require.Eventually(t, func() bool { return spoolStats(m).AckedSeq == 3 }, 10*time.Second, poll, "the second report")
	assert.Equal(t, 2, e.master.callCount(), "reports, want 2 (the later samples together)")
}

// TestRestartResumesFromSpool: records a stopped meter could not deliver
// are delivered by the next one, in the same epoch; delivered ones are not
// sent again.
func TestRestartResumesFromSpool(t *testing.T) {
	e := newEnv(t)
	m := e.open()
	stop := e.run(m)
	for i := range 3 {
		m.record(t.Context(), sampleN(i, 2))
	}
	require.Eventually(t, func() bool { return spoolStats(m).AckedSeq == 3 }, 10*time.Second, poll, "the first samples delivered")
	epoch := m.Stats().Epoch
	e.master.set(func(f *fakeMaster) { f.down = true })
	m.record(t.Context(), sampleN(3, 2))
	m.record(t.Context(), sampleN(4, 2))
	e.clock.WaitAfters(t, 1)
	stop()

	e.master.set(func(f *fakeMaster) { f.down = false })
	m = e.open()
	st := m.Stats()
	require.Equal(t, epoch, st.Epoch, "reopened: %+v; want epoch %d with seqs 4 and 5 waiting", st, epoch)
	require.Equal(t, uint64(2), st.Spool.Records, "reopened: %+v; want epoch %d with seqs 4 and 5 waiting", st, epoch)
	require.Equal(t, uint64(3), st.Spool.AckedSeq, "reopened: %+v; want epoch %d with seqs 4 and 5 waiting", st, epoch)
	e.run(m)
	require.Eventually(t, func() bool { return spoolStats(m).AckedSeq == 5 }, 10*time.Second, poll, "the rest delivered")
	got := e.master.committed(epoch)
	require.Equal(t, seqRange(1, 5), seqs(got), "committed")
	for i, r := range got {
		assert.True(t, proto.Equal(r.GetSample(), toWire(sampleN(i, 2))), "seq %d: wrong sample after the restart", r.GetSeq())
	}
	e.master.checkOnce(t)
	e.master.set(func(f *fakeMaster) {
		assert.Zero(t, f.dups, "acknowledged records were sent again")
	})
}

// TestFullSpoolDropsOldest: with the masters away, the spool keeps the
// newest samples, counts and logs the loss, and the masters later get the
// rest after a gap.
func TestFullSpoolDropsOldest(t *testing.T) {
	e := newEnv(t)
	e.smallSpool()
	e.master.set(func(f *fakeMaster) { f.down = true })
	m := e.open()
	e.run(m)
	const n = 200
	for i := range n {
		m.record(t.Context(), sampleN(i, 3))
	}
	st := m.Stats()
	require.Equal(t, uint64(n), st.Samples, "Stats = %+v; every sample should have been stored", st)
	require.Equal(t, uint64(n), st.Spooled, "Stats = %+v; every sample should have been stored", st)
	require.Zero(t, st.DroppedSamples, "Stats = %+v; every sample should have been stored", st)
	require.NotZero(t, st.DroppedFull, "DroppedFull, spool %+v", st.Spool)
	require.Equal(t, st.Spool.DroppedRecords, st.DroppedFull, "DroppedFull, spool %+v", st.Spool)
	require.LessOrEqual(t, st.Spool.Bytes, e.cfg.Spool.MaxBytes, "spool %+v", st.Spool)
	assert.Contains(t, e.logs.String(), "spool: full; dropped the oldest", "no warning logged for the drop")

	e.master.set(func(f *fakeMaster) { f.down = false })
	e.clock.Advance(e.cfg.RetryMax)
	require.Eventually(t, func() bool { return spoolStats(m).Records == 0 }, 10*time.Second, poll, "the rest delivered")
	require.Equal(t, seqRange(st.DroppedFull+1, n), seqs(e.master.committed(st.Epoch)), "committed")
}

// TestLargeSampleSplit: a sample larger than a spool record goes as several
// records that together hold every user and logon once, the scalars in the
// first.
func TestLargeSampleSplit(t *testing.T) {
	e := newEnv(t)
	e.smallSpool()
	m := e.open()
	e.run(m)
	s := sampleN(0, 100)
	m.record(t.Context(), s)
	require.Eventually(t, func() bool { st := spoolStats(m); return st.LastSeq > 0 && st.Records == 0 }, 10*time.Second, poll, "delivered")
	recs := e.master.committed(m.Stats().Epoch)
	require.GreaterOrEqual(t, len(recs), 2, "records for a sample of ~6 KiB in 1 KiB records")
	users := map[string]int{}
	logons := 0
	for i, r := range recs {
		smp := r.GetSample()
		assert.Equal(t, s.Source, smp.GetSource(), "record %d: source", i)
		assert.Equal(t, s.At.UnixMilli(), smp.GetAtMs(), "record %d: at", i)
		assert.Equal(t, i == 0, len(smp.GetScalars()) > 0, "record %d has %d scalars; want them in the first record only", i, len(smp.GetScalars()))
		for _, u := range smp.GetUsers() {
			users[u.GetUserId()]++
		}
		logons += len(smp.GetLogons())
	}
	assert.Len(t, users, 100, "distinct users across the records")
	assert.Equal(t, 2, logons, "logons across the records")
	for id, k := range users {
		assert.Equal(t, 1, k, "user %s in several records", id)
	}
}

// TestUnstorableSampleCounted: a sample the spool cannot take is counted
// and logged, and the meter carries on.
func TestUnstorableSampleCounted(t *testing.T) {
	e := newEnv(t)
	e.smallSpool()
	m := e.open()
	e.run(m)
	s := sampleN(0, 1)
	for i := range 100 { // scalars alone over a 1 KiB record
		s.Scalars[strings.Repeat("x", 20)+string(rune('a'+i%26))+string(rune('a'+i/26))] = int64(i)
	}
	m.record(t.Context(), s)
	m.record(t.Context(), sampleN(1, 1))
	require.Eventually(t, func() bool { return spoolStats(m).AckedSeq >= 1 }, 10*time.Second, poll, "the good sample delivered")
	st := m.Stats()
	assert.Equal(t, uint64(2), st.Samples, "Stats = %+v; want the oversized sample counted as dropped", st)
	assert.NotZero(t, st.DroppedSamples, "Stats = %+v; want the oversized sample counted as dropped", st)
	assert.Contains(t, e.logs.String(), "could not be stored", "no warning logged for the lost sample")
}

// TestUndecodableRecordSkipped: a spooled record that is not a sample is
// skipped and counted; the masters get the rest.
func TestUndecodableRecordSkipped(t *testing.T) {
	e := newEnv(t)
	m := e.open()
	m.record(t.Context(), sampleN(0, 1))
	_, err := m.sp.Append(t.Context(), []byte{0xff, 0xff, 0xff})
	require.NoError(t, err)
	m.record(t.Context(), sampleN(1, 1))
	_, err = m.sp.Append(t.Context(), []byte{0xff}) // at the tail: acknowledged locally
	require.NoError(t, err)
	e.run(m)
	require.Eventually(t, func() bool { return spoolStats(m).AckedSeq == 4 }, 10*time.Second, poll, "everything acknowledged")
	assert.Equal(t, []uint64{1, 3}, seqs(e.master.committed(m.Stats().Epoch)), "committed, want 1 and 3")
	assert.Equal(t, uint64(2), m.Stats().Undecodable, "Undecodable")
}

func TestOpenRefusesBadConfig(t *testing.T) {
	e := newEnv(t)
	for name, tc := range map[string]struct {
		mutate func(*Config)
		want   string
	}{
		"no installation": {func(c *Config) { c.Installation = "" }, "installation"},
		"control char":    {func(c *Config) { c.Installation = "a\nb" }, "installation"},
		"no spool dir":    {func(c *Config) { c.SpoolDir = "" }, "spool_dir"},
		"spool":           {func(c *Config) { c.Spool.MaxBytes = 1 }, "spool"},
		"record > batch":  {func(c *Config) { c.Spool.MaxRecordBytes = MaxBatchBytes + 1; c.Spool.SegmentBytes = 4 << 20 }, "max_record_bytes"},
		"batch records":   {func(c *Config) { c.BatchMaxRecords = 0 }, "batch_max_records"},
		"batch bytes":     {func(c *Config) { c.BatchMaxBytes = MaxBatchBytes + 1 }, "batch_max_bytes"},
		"interval":        {func(c *Config) { c.SendInterval = -time.Second }, "send_interval"},
		"retry":           {func(c *Config) { c.RetryMax = c.RetryBase / 2 }, "retry_max"},
	} {
		cfg := e.cfg
		cfg.SpoolDir = filepath.Join(t.TempDir(), "spool")
		tc.mutate(&cfg)
		_, err := Open(cfg, nil, e.master, e.options())
		assert.ErrorContains(t, err, tc.want, "%s: Open, want an error naming %s", name, tc.want)
		if cfg.SpoolDir != "" {
			_, serr := os.Stat(cfg.SpoolDir)
			assert.ErrorIs(t, serr, os.ErrNotExist, "%s: a refused config created the spool", name)
		}
	}
	_, err := Open(e.cfg, nil, nil, e.options())
	assert.Error(t, err, "Open without a reporter succeeded")
}

// TestAppendSurvivesStop: a sample handed over as the meter stops is still
// stored.
func TestAppendSurvivesStop(t *testing.T) {
	e := newEnv(t)
	m := e.open()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	m.record(ctx, sampleN(0, 1))
	st := m.Stats()
	assert.Equal(t, uint64(1), st.Spooled, "a sample delivered with a cancelled context was not stored: %+v", st)
	assert.Equal(t, uint64(1), st.Spool.DurableSeq, "a sample delivered with a cancelled context was not stored: %+v", st)
	require.NoError(t, m.Close())
}
