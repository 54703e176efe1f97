package meter

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// readEpoch reads the meter's epoch file.
func readEpoch(t *testing.T, e *env) epochFile {
	t.Helper()
	raw, err := os.ReadFile(epochPath(e.cfg.SpoolDir))
	if err != nil {
		t.Fatal(err)
	}
	var f epochFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("epoch file %q: %v", raw, err)
	}
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
	waitFor(t, "the records delivered under a new epoch", func() bool { return m.Stats().RecordsAcked == 3 })

	st := m.Stats()
	moved := theirs + 1 // the clock reads the old spool's creation time
	if st.Epoch != moved || st.EpochMoves != 1 || st.Spool.Epoch != spoolEpoch || st.FailuresInRow != 0 {
		t.Fatalf("Stats = %+v; want epoch %d after one move", st, moved)
	}
	if got := seqs(e.master.committed(moved)); !slices.Equal(got, seqRange(1, 3)) {
		t.Errorf("committed under the new epoch: %v", got)
	}
	if got := e.master.committed(spoolEpoch); len(got) != 0 {
		t.Errorf("committed under the stale epoch: %v", seqs(got))
	}
	e.master.checkOnce(t)
	if l := logLine(e.logs.String(), "level=ERROR", "newer spool"); !strings.Contains(l, "new_epoch="+itoa(moved)) {
		t.Errorf("the move was not logged as an error naming the new epoch: %q", l)
	}
	if f := readEpoch(t, e); f.SpoolEpoch != spoolEpoch || f.Epoch != moved {
		t.Errorf("epoch file = %+v", f)
	}
	// New samples go under it, with no further move.
	m.record(t.Context(), sampleN(3, 2))
	waitFor(t, "the next sample", func() bool { return m.Stats().RecordsAcked == 4 })
	stop()

	// A restart keeps reporting under the moved epoch.
	m = e.open()
	if st := m.Stats(); st.Epoch != moved || st.EpochMoves != 0 {
		t.Fatalf("reopened: epoch %d (moves %d), want %d", st.Epoch, st.EpochMoves, moved)
	}
	stop = e.run(m)
	m.record(t.Context(), sampleN(4, 2))
	waitFor(t, "a sample after the restart", func() bool { return m.Stats().RecordsAcked == 1 })
	if got := seqs(e.master.committed(moved)); !slices.Equal(got, seqRange(1, 5)) {
		t.Errorf("committed under the moved epoch: %v", got)
	}
	stop()

	// A spool that starts over, later, has a newer epoch of its own: the
	// file is for the old spool and is set aside.
	if err := os.RemoveAll(e.cfg.SpoolDir); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	m = e.open()
	if st := m.Stats(); st.Epoch != st.Spool.Epoch || st.Epoch <= moved {
		t.Fatalf("a new spool reports under epoch %d (its own %d)", st.Epoch, st.Spool.Epoch)
	}
	if !strings.Contains(e.logs.String(), "spool started over") {
		t.Error("the stale epoch file was not mentioned")
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestEpochMoveNeedsTheFile: a move that cannot be saved is not made: the
// report fails and is retried after a backoff, and nothing is acknowledged.
func TestEpochMoveNeedsTheFile(t *testing.T) {
	e := newEnv(t)
	// A directory where the file goes: reading it fails (ignored at Open)
	// and so does renaming a file onto it, whoever runs the test.
	if err := os.Mkdir(epochPath(e.cfg.SpoolDir), 0o700); err != nil {
		t.Fatal(err)
	}
	m := e.open()
	spoolN(t, m, 2, 2)
	theirs := m.Stats().Epoch + 1
	e.master.set(func(f *fakeMaster) { f.cur = theirs })
	e.run(m)
	e.clock.WaitAfters(t, 1)
	st := m.Stats()
	if st.Epoch != st.Spool.Epoch || st.EpochMoves != 0 || st.Spool.AckedSeq != 0 ||
		!strings.Contains(st.LastError, "saving a new one") {
		t.Fatalf("Stats = %+v", st)
	}
	if !strings.Contains(e.logs.String(), "ignoring the report epoch file") {
		t.Error("the unreadable epoch file was not reported at Open")
	}
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
	if st.EpochMoves != 2 || e.master.callCount() != 2 || !strings.Contains(st.LastError, "identity") {
		t.Fatalf("after two answers for newer epochs: %d reports, Stats = %+v", e.master.callCount(), st)
	}
	e.master.set(func(f *fakeMaster) { f.before = nil })
	e.clock.Advance(waits[0])
	waitFor(t, "delivered under the last epoch", func() bool { return m.Stats().RecordsAcked == 1 })
	if got := e.master.committed(m.Stats().Epoch); len(got) != 1 {
		t.Errorf("committed %v under the last epoch", seqs(got))
	}
}

func TestEpochFileRefusedUnlessAboveSpool(t *testing.T) {
	e := newEnv(t)
	m := e.open()
	spoolEpoch := m.Stats().Epoch
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"not json":        "epoch=7",
		"unknown field":   `{"version":1,"spool_epoch":1,"epoch":2,"x":1}`,
		"other version":   `{"version":2,"spool_epoch":1,"epoch":2}`,
		"not above spool": `{"version":1,"spool_epoch":` + itoa(spoolEpoch) + `,"epoch":` + itoa(spoolEpoch) + `}`,
	} {
		if err := os.WriteFile(epochPath(e.cfg.SpoolDir), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		m := e.open()
		if got := m.Stats().Epoch; got != spoolEpoch {
			t.Errorf("%s: reports under epoch %d, want the spool's %d", name, got, spoolEpoch)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
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
		if got != tc.want || ok != tc.ok {
			t.Errorf("nextEpoch(%d, %d) = %d, %v; want %d, %v", tc.masters, tc.now, got, ok, tc.want, tc.ok)
		}
	}
}
