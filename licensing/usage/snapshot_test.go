package usage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type instObs struct {
	inst InstallationID
	obs  any
}

// randomHistory makes a reproducible mix of observations for three
// installations between December 2023 and February 2024 in loc.
func randomHistory(seed uint64, n int, loc *time.Location) []instObs {
	r := rand.New(rand.NewPCG(seed, 7))
	from := time.Date(2023, time.December, 1, 0, 0, 0, 0, loc)
	to := time.Date(2024, time.March, 1, 0, 0, 0, 0, loc)
	span := to.Sub(from)
	at := func() time.Time { return from.Add(time.Duration(r.Int64N(int64(span)))).Truncate(time.Second) }
	insts := []InstallationID{"alpha", "beta", "gamma"}
	roles := []Role{RoleSuper, RoleStaff, RoleStaff, RoleManager, RoleRep, RoleRep}
	out := make([]instObs, 0, n)
	for range n {
		in := insts[r.IntN(len(insts))]
		id := UserID(fmt.Sprintf("u%02d", r.IntN(25)))
		role := roles[r.IntN(len(roles))]
		switch r.IntN(3) {
		case 0:
			out = append(out, instObs{in, UserState{UserID: id, Role: role, Enabled: r.IntN(10) < 7,
				Locked: r.IntN(20) == 0, InTrash: r.IntN(10) == 0, At: at()}})
		case 1:
			start := at()
			end := start.Add(time.Duration(r.Int64N(int64(10 * time.Hour)))).Truncate(time.Second)
			l := Logon{UserID: id, Role: role, Locked: r.IntN(20) == 0, Start: start, End: end, At: end}
			if r.IntN(5) == 0 {
				l.End = time.Time{}
			}
			out = append(out, instObs{in, l})
		default:
			out = append(out, instObs{in, Facts{At: at(), FileLimitMB: r.Int64N(1000),
				CommissionModuleOn: r.IntN(2) == 0, CommissionItems: r.Int64N(500),
				ProcessModuleOn: r.IntN(2) == 0, ProcessFields: 100 + r.Int64N(100), ProcessFieldsInTrash: r.Int64N(100),
				UserCount: r.Int64N(300), CaseCount: r.Int64N(10000)}})
		}
	}
	return out
}

func feed(t *testing.T, l *Ledger, obs []instObs) {
	t.Helper()
	for _, o := range obs {
		observeLedger(t, l, o.inst, []any{o.obs})
	}
}

func shuffled(seed uint64, obs []instObs) []instObs {
	c := append([]instObs(nil), obs...)
	rand.New(rand.NewPCG(seed, 11)).Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c
}

// runHistory plays a history in two phases around the close of January:
// what arrived before the close, then what arrived after it (late for
// December and January), then closes February.
func runHistory(t *testing.T, loc *time.Location, before, after []instObs) (*Ledger, []byte) {
	t.Helper()
	l := newLedger(t, loc)
	feed(t, l, before)
	mustCloseDue(t, l, time.Date(2024, time.February, 1, 0, 0, 0, 0, loc))
	feed(t, l, after)
	mustCloseDue(t, l, time.Date(2024, time.March, 1, 0, 0, 0, 0, loc))
	return l, snapshot(t, l)
}

func reportsJSON(t *testing.T, l *Ledger) []byte {
	t.Helper()
	var all []Report
	for _, id := range l.Installations() {
		all = append(all, l.History(id)...)
	}
	b, err := json.Marshal(all)
	require.NoError(t, err)
	return b
}

// The same observations in any order (within each side of a close) give the
// same metrics, the same late data and the same snapshot bytes.
func TestDeterministicWhateverTheOrder(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	before := randomHistory(1, 3000, berlin)
	after := randomHistory(2, 1000, berlin)
	l0, want := runHistory(t, berlin, before, after)
	wantReports := reportsJSON(t, l0)
	require.Contains(t, string(want), `"late"`, "history produced no late data; the test would prove little")
	for seed := range uint64(4) {
		l, got := runHistory(t, berlin, shuffled(seed, before), shuffled(seed+100, after))
		// bytes.Equal, not require.Equal: a diff of two large snapshots says nothing.
		require.True(t, bytes.Equal(got, want), "order %d: snapshot differs", seed)
		require.True(t, bytes.Equal(reportsJSON(t, l), wantReports), "order %d: reports differ", seed)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	l, b1 := runHistory(t, berlin, randomHistory(3, 1500, berlin), randomHistory(4, 300, berlin))
	cfg := DefaultConfig()
	cfg.Location = berlin
	r, err := RestoreLedger(b1, cfg)
	require.NoError(t, err)
	require.True(t, bytes.Equal(b1, snapshot(t, r)), "restore then marshal changed the snapshot")
	require.True(t, bytes.Equal(reportsJSON(t, l), reportsJSON(t, r)), "restored reports differ")
	// The restored ledger carries on exactly like the original.
	more := randomHistory(5, 500, berlin)
	feed(t, l, more)
	feed(t, r, more)
	require.True(t, bytes.Equal(snapshot(t, l), snapshot(t, r)), "restored ledger diverged")
	_, err = RestoreLedger(b1, DefaultConfig())
	require.ErrorIs(t, err, ErrZoneMismatch, "restore in UTC")
	empty := newLedger(t, time.UTC)
	r, err = RestoreLedger(snapshot(t, empty), DefaultConfig())
	require.NoError(t, err, "empty ledger")
	require.Empty(t, r.Installations(), "empty ledger")
}

// A small, known ledger to mutate: January closed with a user, a session
// and facts, a late arrival, February open.
func smallSnapshot(t *testing.T) snapLedger {
	t.Helper()
	l := newLedger(t, time.UTC)
	observeLedger(t, l, inst, []any{
		us("a", RoleStaff, true, false, d(3, 0, 0)),
		us("b", RoleRep, true, false, d(3, 0, 0)),
		lg("a", RoleStaff, false, d(3, 9, 0), d(3, 10, 0)),
		Facts{At: d(4, 0, 0), FileLimitMB: 10, UserCount: 5},
	})
	mustCloseDue(t, l, feb1)
	observeLedger(t, l, inst, []any{
		us("c", RoleRep, true, false, d(20, 0, 0)),
		us("a", RoleStaff, true, false, feb1.Add(time.Hour)),
	})
	var s snapLedger
	require.NoError(t, json.Unmarshal(snapshot(t, l), &s))
	return s
}

func TestRestoreRejectsBrokenSnapshots(t *testing.T) {
	jan := func(s *snapLedger) *snapMonth { return &s.Installations[0].Months[0].Month }
	cases := []struct {
		name   string
		mutate func(s *snapLedger)
	}{
		{"version", func(s *snapLedger) { s.Version = 2 }},
		{"empty installation id", func(s *snapLedger) { s.Installations[0].ID = "" }},
		{"repeated installation", func(s *snapLedger) { s.Installations = append(s.Installations, s.Installations[0]) }},
		{"installation with no months", func(s *snapLedger) { s.Installations[0].Months = nil }},
		{"months out of order", func(s *snapLedger) {
			m := s.Installations[0].Months
			m[0], m[1] = m[1], m[0]
		}},
		{"bounds reversed", func(s *snapLedger) { m := jan(s); m.Start, m.End = m.End, m.Start }},
		{"open month past closed_as_of", func(s *snapLedger) {
			m := jan(s)
			m.ClosedAt, m.Metrics = time.Time{}, nil
			s.Installations[0].Months[0].Late = nil
		}},
		{"closed before its end", func(s *snapLedger) { jan(s).ClosedAt = d(30, 0, 0) }},
		{"closed after closed_as_of", func(s *snapLedger) { jan(s).ClosedAt = feb1.Add(48 * time.Hour) }},
		{"closed without metrics", func(s *snapLedger) { jan(s).Metrics = nil }},
		{"negative metric", func(s *snapLedger) { jan(s).Metrics.Super = -1 }},
		{"conc_when outside", func(s *snapLedger) { jan(s).Metrics.ConcWhen = feb1.Add(time.Hour) }},
		{"users out of order", func(s *snapLedger) {
			u := jan(s).Users
			u[0], u[1] = u[1], u[0]
		}},
		{"bad role", func(s *snapLedger) { jan(s).Users[0].Role = "boss" }},
		{"role time outside", func(s *snapLedger) { jan(s).Users[0].RoleAt = 1 }},
		{"unseen user with flags", func(s *snapLedger) { jan(s).Users[1].Seen = false }},
		{"spans overlap", func(s *snapLedger) {
			u := &jan(s).Users[0]
			u.Spans = append(u.Spans, [2]int64{u.Spans[0][0] + 1, u.Spans[0][1] + 1})
		}},
		{"span outside month", func(s *snapLedger) {
			u := &jan(s).Users[0]
			u.Spans = [][2]int64{{feb1.UnixNano(), feb1.UnixNano() + 10}}
		}},
		{"empty span", func(s *snapLedger) { jan(s).Users[0].Spans[0][1] = jan(s).Users[0].Spans[0][0] }},
		{"facts outside month", func(s *snapLedger) { jan(s).Facts.Latest.At = feb1 }},
		{"facts max below latest", func(s *snapLedger) { jan(s).Facts.FileLimitMax = 1 }},
		{"facts negative", func(s *snapLedger) { jan(s).Facts.Latest.CaseCount = -4 }},
		{"late on open month", func(s *snapLedger) {
			late := *s.Installations[0].Months[0].Late
			s.Installations[0].Months[1].Late = &late
		}},
		{"late data for another month", func(s *snapLedger) { s.Installations[0].Months[0].Late.Key = feb }},
		{"pruned month present", func(s *snapLedger) { f := feb; s.Floor = &f }},
		{"closed_as_of out of range", func(s *snapLedger) { s.ClosedAsOf = time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	base, err := json.Marshal(smallSnapshot(t))
	require.NoError(t, err)
	_, err = RestoreLedger(base, DefaultConfig())
	require.NoError(t, err, "unmutated snapshot")
	for _, tc := range cases {
		s := smallSnapshot(t)
		tc.mutate(&s)
		b, err := json.Marshal(s)
		require.NoError(t, err, "%s", tc.name)
		_, err = RestoreLedger(b, DefaultConfig())
		if assert.ErrorIs(t, err, ErrBadSnapshot, tc.name) {
			t.Logf("%s: %v", tc.name, err)
		}
	}
	for name, b := range map[string][]byte{
		"trailing data": append(bytes.Clone(base), []byte(" {}")...),
		"unknown field": bytes.Replace(base, []byte(`{"version"`), []byte(`{"extra":1,"version"`), 1),
		"not json":      []byte("usage"),
		"empty":         nil,
	} {
		_, err := RestoreLedger(b, DefaultConfig())
		assert.ErrorIs(t, err, ErrBadSnapshot, name)
	}
}

// FuzzRestoreLedger: the decoder never panics, and whatever it accepts
// encodes to a canonical form that restores to itself.
func FuzzRestoreLedger(f *testing.F) {
	l := newLedgerF(f)
	for _, o := range randomHistory(9, 60, time.UTC) {
		switch v := o.obs.(type) {
		case UserState:
			_, _ = l.ObserveUser(o.inst, v)
		case Logon:
			_, _ = l.ObserveLogon(o.inst, v)
		case Facts:
			_, _ = l.ObserveFacts(o.inst, v)
		}
	}
	_, _ = l.CloseDue(time.Date(2024, time.February, 1, 0, 0, 0, 0, time.UTC))
	_, _ = l.ObserveUser("alpha", us("late", RoleStaff, true, false, d(9, 0, 0)))
	b, err := l.MarshalBinary()
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{"version":1,"zone":"UTC","installations":[]}`))
	f.Add([]byte(`{"version":1,"zone":"UTC","closed_as_of":"2024-02-01T00:00:00+01:00","installations":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := RestoreLedger(data, DefaultConfig())
		if err != nil {
			require.True(t, errors.Is(err, ErrBadSnapshot) || errors.Is(err, ErrZoneMismatch), "error without a sentinel: %v", err)
			return
		}
		b1, err := r.MarshalBinary()
		require.NoError(t, err, "accepted snapshot does not marshal")
		r2, err := RestoreLedger(b1, DefaultConfig())
		require.NoError(t, err, "canonical form rejected")
		b2, err := r2.MarshalBinary()
		require.NoError(t, err, "canonical form does not marshal")
		require.Equal(t, b1, b2, "canonical form not stable")
		// Reading every view must not panic either.
		for _, id := range r2.Installations() {
			_ = r2.History(id)
		}
	})
}

func newLedgerF(f *testing.F) *Ledger {
	f.Helper()
	l, err := NewLedger(DefaultConfig())
	require.NoError(f, err)
	return l
}

// FuzzObservationOrder: any history, delivered forwards or backwards, with a
// close in the same place, leaves the same snapshot.
func FuzzObservationOrder(f *testing.F) {
	f.Add(uint64(1), uint16(50), uint16(10))
	f.Add(uint64(42), uint16(400), uint16(300))
	f.Fuzz(func(t *testing.T, seed uint64, n, m uint16) {
		before := randomHistory(seed, int(n%600), time.UTC)
		after := randomHistory(seed+1, int(m%600), time.UTC)
		_, want := runHistory(t, time.UTC, before, after)
		_, got := runHistory(t, time.UTC, shuffled(seed, before), shuffled(seed+2, after))
		require.True(t, bytes.Equal(got, want), "order changed the snapshot")
	})
}
