package meter

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// segmentFiles counts the spool's segment files on disk.
func segmentFiles(t *testing.T, dir string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		t.Fatal(err)
	}
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
	if st := spoolStats(m); st.Records != n || st.DurableSeq != n {
		t.Fatalf("with the masters away, spool = %+v; want %d durable records", st, n)
	}
	if files := segmentFiles(t, e.cfg.SpoolDir); files < 2 {
		t.Fatalf("%d segment files; the test wants several", files)
	}

	e.master.set(func(f *fakeMaster) { f.down = false })
	e.clock.Advance(e.cfg.RetryMax)
	epoch := m.Stats().Epoch
	// RecordsAcked moves after the spool's mark: once it is there, both are.
	waitFor(t, "every record acknowledged", func() bool { return m.Stats().RecordsAcked == n })

	got := e.master.committed(epoch)
	if !slices.Equal(seqs(got), seqRange(1, n)) {
		t.Fatalf("master committed seqs %v, want 1..%d", seqs(got), n)
	}
	for i, r := range got {
		if want := toWire(sampleN(i, 3)); !proto.Equal(r.GetSample(), want) {
			t.Fatalf("seq %d: master got %v, want %v", r.GetSeq(), r.GetSample(), want)
		}
	}
	e.master.checkOnce(t)
	st := m.Stats()
	if st.Samples != n || st.Spooled != n || st.RecordsAcked != n || st.RecordsSent < n ||
		st.Spool.AckedSeq != n || st.LastError != "" || st.FailuresInRow != 0 || !st.LastAck.Equal(e.clock.Now()) {
		t.Errorf("Stats = %+v", st)
	}
	if st.Installation != "acme-prod" || st.Epoch == 0 {
		t.Errorf("Stats installation %q epoch %d", st.Installation, st.Epoch)
	}
	// The acknowledgement deleted the segments: only the active one is left.
	if files := segmentFiles(t, e.cfg.SpoolDir); files != 1 {
		t.Errorf("%d segment files after everything was acknowledged, want 1", files)
	}
}

// TestSendsPromptly: with the masters up, each sample is delivered without
// the clock moving: no timer stands between a sample and its report.
func TestSendsPromptly(t *testing.T) {
	e := newEnv(t)
	m := e.open()
	e.run(m)
	for i := range 3 {
		m.record(t.Context(), sampleN(i, 2))
		waitFor(t, "the sample delivered", func() bool { return spoolStats(m).AckedSeq == uint64(i+1) })
	}
	if n := e.master.callCount(); n != 3 {
		t.Errorf("%d reports for 3 samples spooled one by one", n)
	}
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
		if st := spoolStats(m); st.AckedSeq != 0 || st.Records != 5 {
			t.Fatalf("after a lost answer, spool = %+v; want nothing acknowledged", st)
		}
		e.clock.Advance(e.cfg.RetryMax)
		waitFor(t, "the resend acknowledged", func() bool { return m.Stats().RecordsAcked == 5 })
		e.master.checkOnce(t)
		if got := seqs(e.master.committed(m.Stats().Epoch)); !slices.Equal(got, seqRange(1, 5)) {
			t.Errorf("committed %v", got)
		}
		e.master.set(func(f *fakeMaster) {
			if f.dups != 5 {
				t.Errorf("the resend carried %d duplicates, want 5", f.dups)
			}
		})
		if st := m.Stats(); st.RecordsSent != 10 || st.RecordsAcked != 5 || st.FailuresInRow != 0 {
			t.Errorf("Stats = %+v", st)
		}
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
		if st.Spool.AckedSeq != 0 || !strings.Contains(st.LastError, "acknowledged nothing new") || st.FailuresInRow != 1 {
			t.Fatalf("after an answer acknowledging nothing: %+v", st)
		}
		e.master.set(func(f *fakeMaster) { f.answer = nil })
		e.clock.Advance(e.cfg.RetryMax)
		waitFor(t, "acknowledged", func() bool { return spoolStats(m).AckedSeq == 3 })
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
	if st.Spool.AckedSeq != 0 || st.Spool.Records != 3 {
		t.Fatalf("an answer for another epoch acknowledged records: %+v", st.Spool)
	}
	if !strings.Contains(st.LastError, "another spool epoch") || st.FailuresInRow != 1 ||
		!st.NextTry.Equal(e.clock.Now().Add(waits[0])) {
		t.Fatalf("Stats = %+v", st)
	}
	e.master.set(func(f *fakeMaster) { f.answer = nil })
	e.clock.Advance(waits[0])
	waitFor(t, "acknowledged in the right epoch", func() bool { return spoolStats(m).AckedSeq == 3 })
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
		if got := waits[k]; got != w-1 {
			t.Fatalf("wait after failure %d = %v, want %v", k+1, got, w-1)
		}
		if n := e.master.callCount(); n != k+1 {
			t.Fatalf("%d reports before the clock reached the retry, want %d", n, k+1)
		}
		if st := m.Stats(); st.FailuresInRow != k+1 || !strings.Contains(st.LastError, "connection refused") {
			t.Fatalf("after failure %d, Stats = %+v", k+1, st)
		}
		e.clock.Advance(w - time.Nanosecond - 1)
		if n := e.master.callCount(); n != k+1 {
			t.Fatalf("retried %v early", time.Nanosecond)
		}
		if k == len(want)-1 {
			e.master.set(func(f *fakeMaster) { f.down = false })
		}
		e.clock.Advance(1)
		waitFor(t, "the retry", func() bool { return e.master.callCount() == k+2 })
	}
	waitFor(t, "delivered", func() bool { return m.Stats().RecordsAcked == 1 })
	logs := e.logs.String()
	if n := strings.Count(logs, "usage report failed"); n != 3 {
		t.Errorf("%d failure log lines for 6 failures, want 3 (1st, 2nd, 4th)", n)
	}
	waitFor(t, "the recovery logged", func() bool { return strings.Contains(e.logs.String(), "delivered again") })
	if st := m.Stats(); st.FailuresInRow != 0 || st.LastError != "" || !st.NextTry.IsZero() {
		t.Errorf("after recovering, Stats = %+v", st)
	}
}

// TestSendInterval: with send_interval set, samples arriving within it
// after a report wait for it and go together.
func TestSendInterval(t *testing.T) {
	e := newEnv(t)
	e.cfg.SendInterval = 30 * time.Second
	m := e.open()
	e.run(m)
	m.record(t.Context(), sampleN(0, 1))
	waitFor(t, "the first report", func() bool { return spoolStats(m).AckedSeq == 1 })
	m.record(t.Context(), sampleN(1, 1))
	if waits := e.clock.WaitAfters(t, 1); waits[0] != 30*time.Second {
		t.Fatalf("pacing wait %v, want 30s", waits[0])
	}
	m.record(t.Context(), sampleN(2, 1))
	e.clock.Advance(30 * time.Second)
	waitFor(t, "the second report", func() bool { return spoolStats(m).AckedSeq == 3 })
	if n := e.master.callCount(); n != 2 {
		t.Errorf("%d reports, want 2 (the later samples together)", n)
	}
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
	waitFor(t, "the first samples delivered", func() bool { return spoolStats(m).AckedSeq == 3 })
	epoch := m.Stats().Epoch
	e.master.set(func(f *fakeMaster) { f.down = true })
	m.record(t.Context(), sampleN(3, 2))
	m.record(t.Context(), sampleN(4, 2))
	e.clock.WaitAfters(t, 1)
	stop()

	e.master.set(func(f *fakeMaster) { f.down = false })
	m = e.open()
	if st := m.Stats(); st.Epoch != epoch || st.Spool.Records != 2 || st.Spool.AckedSeq != 3 {
		t.Fatalf("reopened: %+v; want epoch %d with seqs 4 and 5 waiting", st, epoch)
	}
	e.run(m)
	waitFor(t, "the rest delivered", func() bool { return spoolStats(m).AckedSeq == 5 })
	got := e.master.committed(epoch)
	if !slices.Equal(seqs(got), seqRange(1, 5)) {
		t.Fatalf("committed %v", seqs(got))
	}
	for i, r := range got {
		if !proto.Equal(r.GetSample(), toWire(sampleN(i, 2))) {
			t.Errorf("seq %d: wrong sample after the restart", r.GetSeq())
		}
	}
	e.master.checkOnce(t)
	e.master.set(func(f *fakeMaster) {
		if f.dups != 0 {
			t.Errorf("%d acknowledged records were sent again", f.dups)
		}
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
	if st.Samples != n || st.Spooled != n || st.DroppedSamples != 0 {
		t.Fatalf("Stats = %+v; every sample should have been stored", st)
	}
	if st.DroppedFull == 0 || st.DroppedFull != st.Spool.DroppedRecords || st.Spool.Bytes > e.cfg.Spool.MaxBytes {
		t.Fatalf("DroppedFull %d, spool %+v", st.DroppedFull, st.Spool)
	}
	if !strings.Contains(e.logs.String(), "spool: full; dropped the oldest") {
		t.Errorf("no warning logged for the drop")
	}

	e.master.set(func(f *fakeMaster) { f.down = false })
	e.clock.Advance(e.cfg.RetryMax)
	waitFor(t, "the rest delivered", func() bool { return spoolStats(m).Records == 0 })
	got := seqs(e.master.committed(st.Epoch))
	if !slices.Equal(got, seqRange(st.DroppedFull+1, n)) {
		t.Fatalf("committed %d..%d (%d), want %d..%d", got[0], got[len(got)-1], len(got), st.DroppedFull+1, n)
	}
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
	waitFor(t, "delivered", func() bool { st := spoolStats(m); return st.LastSeq > 0 && st.Records == 0 })
	recs := e.master.committed(m.Stats().Epoch)
	if len(recs) < 2 {
		t.Fatalf("%d records for a sample of ~6 KiB in 1 KiB records", len(recs))
	}
	users := map[string]int{}
	logons := 0
	for i, r := range recs {
		smp := r.GetSample()
		if smp.GetSource() != s.Source || smp.GetAtMs() != s.At.UnixMilli() {
			t.Errorf("record %d: source %q at %d", i, smp.GetSource(), smp.GetAtMs())
		}
		if (i == 0) != (len(smp.GetScalars()) > 0) {
			t.Errorf("record %d has %d scalars; want them in the first record only", i, len(smp.GetScalars()))
		}
		for _, u := range smp.GetUsers() {
			users[u.GetUserId()]++
		}
		logons += len(smp.GetLogons())
	}
	if len(users) != 100 || logons != 2 {
		t.Errorf("%d distinct users and %d logons across the records, want 100 and 2", len(users), logons)
	}
	for id, k := range users {
		if k != 1 {
			t.Errorf("user %s in %d records", id, k)
		}
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
	waitFor(t, "the good sample delivered", func() bool { return spoolStats(m).AckedSeq >= 1 })
	st := m.Stats()
	if st.Samples != 2 || st.DroppedSamples == 0 {
		t.Errorf("Stats = %+v; want the oversized sample counted as dropped", st)
	}
	if !strings.Contains(e.logs.String(), "could not be stored") {
		t.Error("no warning logged for the lost sample")
	}
}

// TestUndecodableRecordSkipped: a spooled record that is not a sample is
// skipped and counted; the masters get the rest.
func TestUndecodableRecordSkipped(t *testing.T) {
	e := newEnv(t)
	m := e.open()
	m.record(t.Context(), sampleN(0, 1))
	if _, err := m.sp.Append(t.Context(), []byte{0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	m.record(t.Context(), sampleN(1, 1))
	if _, err := m.sp.Append(t.Context(), []byte{0xff}); err != nil { // at the tail: acknowledged locally
		t.Fatal(err)
	}
	e.run(m)
	waitFor(t, "everything acknowledged", func() bool { return spoolStats(m).AckedSeq == 4 })
	if got := seqs(e.master.committed(m.Stats().Epoch)); !slices.Equal(got, []uint64{1, 3}) {
		t.Errorf("committed %v, want 1 and 3", got)
	}
	if st := m.Stats(); st.Undecodable != 2 {
		t.Errorf("Undecodable = %d, want 2", st.Undecodable)
	}
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
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Open = %v, want an error naming %s", name, err, tc.want)
		}
		if cfg.SpoolDir != "" {
			if _, serr := os.Stat(cfg.SpoolDir); !os.IsNotExist(serr) {
				t.Errorf("%s: a refused config created the spool", name)
			}
		}
	}
	if _, err := Open(e.cfg, nil, nil, e.options()); err == nil {
		t.Error("Open without a reporter succeeded")
	}
}

// TestAppendSurvivesStop: a sample handed over as the meter stops is still
// stored.
func TestAppendSurvivesStop(t *testing.T) {
	e := newEnv(t)
	m := e.open()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	m.record(ctx, sampleN(0, 1))
	if st := m.Stats(); st.Spooled != 1 || st.Spool.DurableSeq != 1 {
		t.Errorf("a sample delivered with a cancelled context was not stored: %+v", st)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}
