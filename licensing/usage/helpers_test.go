package usage

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// d is a time in January 2024, UTC: the month most rule tests use.
func d(day, hour, minute int) time.Time {
	return time.Date(2024, time.January, day, hour, minute, 0, 0, time.UTC)
}

const inst InstallationID = "acme-prod"

var january = MonthKey{2024, time.January}

// us, lg and lgOpen build observations tersely.
func us(id UserID, r Role, enabled, locked bool, at time.Time) UserState {
	return UserState{UserID: id, Role: r, Enabled: enabled, Locked: locked, At: at}
}

func lg(id UserID, r Role, locked bool, start, end time.Time) Logon {
	return Logon{UserID: id, Role: r, Locked: locked, Start: start, End: end, At: end}
}

func lgOpen(id UserID, r Role, start, at time.Time) Logon {
	return Logon{UserID: id, Role: r, Start: start, At: at}
}

// observeMonth feeds observations (UserState, Logon or Facts) to m.
func observeMonth(t *testing.T, m *Month, obs []any) {
	t.Helper()
	for i, o := range obs {
		var err error
		switch o := o.(type) {
		case UserState:
			err = m.ObserveUser(o)
		case Logon:
			err = m.ObserveLogon(o)
		case Facts:
			err = m.ObserveFacts(o)
		default:
			t.Fatalf("observation %d: unknown type %T", i, o)
		}
		require.NoError(t, err, "observation %d (%+v)", i, o)
	}
}

// observeLedger feeds observations to l and returns the combined outcome.
func observeLedger(t *testing.T, l *Ledger, id InstallationID, obs []any) Outcome {
	t.Helper()
	var out Outcome
	for i, o := range obs {
		var got Outcome
		var err error
		switch o := o.(type) {
		case UserState:
			got, err = l.ObserveUser(id, o)
		case Logon:
			got, err = l.ObserveLogon(id, o)
		case Facts:
			got, err = l.ObserveFacts(id, o)
		default:
			t.Fatalf("observation %d: unknown type %T", i, o)
		}
		require.NoError(t, err, "observation %d (%+v)", i, o)
		out |= got
	}
	return out
}

// metricsDiff describes how got differs from want, "" if it does not.
func metricsDiff(got, want Metrics) string {
	if !got.ConcWhen.Equal(want.ConcWhen) {
		return fmt.Sprintf("ConcWhen = %v, want %v", got.ConcWhen, want.ConcWhen)
	}
	got.ConcWhen, want.ConcWhen = time.Time{}, time.Time{}
	if got != want {
		return fmt.Sprintf("\n got %+v\nwant %+v", got, want)
	}
	return ""
}

func newJanuary(t *testing.T) *Month {
	t.Helper()
	m, err := NewMonth(inst, 2024, time.January, time.UTC)
	require.NoError(t, err)
	return m
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err, "load %s", name)
	return loc
}

func newLedger(t *testing.T, loc *time.Location) *Ledger {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Location = loc
	l, err := NewLedger(cfg)
	require.NoError(t, err)
	return l
}
