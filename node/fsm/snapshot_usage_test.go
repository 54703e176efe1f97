package fsm

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// usageScenario builds a Paris site with a closed month, a late arrival, an
// open month, two collectors and, with big, a ledger larger than one
// snapshot record.
func usageScenario(t *testing.T, big bool) *harness {
	t.Helper()
	h := usageHarness(t)
	h.ok(SetSiteZoneType, SetSiteZone{Zone: "Europe/Paris", Now: t0})
	h.report(t0, "col-1", 1, recs(t0, 1, 2, 3)...)
	endMay := paris(t, 2026, time.June, 1, 0, 0)
	h.report(endMay+1000, "col-2", 7, rec(1, endMay-5000), rec(2, endMay+500))
	if big {
		r := rec(4, endMay+700)
		for i := range 12_000 {
			r.Sample.Users = append(r.Sample.Users, UsageUser{ID: usage.UserID(fmt.Sprintf("user-%06d", i)), Role: usage.RoleRep, Enabled: true})
		}
		h.report(endMay+1000, "col-1", 1, r)
	}
	return h
}

func TestUsageSnapshotRoundTrip(t *testing.T) {
	for _, big := range []bool{false, true} {
		h := usageScenario(t, big)
		snap := snapshotBytes(t, h.f)
		if big {
			require.NotZero(t, bytes.Count(snap, []byte{recUsageLedger}), "no ledger record")
		}
		got := restored(t, snap)
		require.Equal(t, snap, snapshotBytes(t, got), "big=%v: restored usage snapshots differently", big)
		require.Equal(t, usageViews(h.f), usageViews(got), "big=%v: restored usage reads differ", big)
		// Both close June at the same command, a lease batch that has
		// nothing to do with usage, and stay equal.
		endJune := paris(t, 2026, time.July, 1, 0, 0)
		next := encode(t, CollectorSeenType, CollectorSeen{Now: endJune, Entries: []SeenEntry{{CollectorID: "col-2", SeenAt: endJune}}})
		idx := h.f.AppliedIndex() + 1
		h.f.Apply(rlog(idx, next))
		got.Apply(rlog(idx, next))
		june := got.UsageMonth(usage.MonthKey{Year: 2026, Month: time.June})
		require.Len(t, june, 1, "big=%v: June after restore: %+v", big, june)
		require.True(t, june[0].Closed, "big=%v: June after restore: %+v", big, june)
		require.Equal(t, endJune, june[0].ClosedAt.UnixMilli(), "big=%v: June after restore: %+v", big, june)
		require.Equal(t, snapshotBytes(t, h.f), snapshotBytes(t, got), "big=%v: diverged after restore", big)
	}
	// A state that never saw usage writes no usage record.
	for _, k := range []byte{recUsageZone, recUsageLedger, recUsageSpool, recUsageDay} {
		require.False(t, hasRecord(t, snapshotBytes(t, usageHarness(t).f), k), "usage record kind %d without usage", k)
	}
}

// hasRecord walks a snapshot's records looking for kind.
func hasRecord(t *testing.T, snap []byte, kind byte) bool {
	t.Helper()
	sr := &snapReader{r: newBufReader(bytes.NewReader(snap[len(snapshotMagic)+1:]))}
	for {
		k, _, err := sr.next()
		require.NoError(t, err)
		if k == kind {
			return true
		}
		if k == recEnd {
			return false
		}
	}
}

// TestRestoreChecksUsage writes well-framed, checksummed snapshots whose
// usage records break a rule, and expects each refused.
func TestRestoreChecksUsage(t *testing.T) {
	h := usageScenario(t, false)
	target := restored(t, snapshotBytes(t, h.f))
	before := snapshotBytes(t, target)
	write := func(name string, mutate func(rs []snapRecord) []snapRecord) {
		t.Helper()
		s, err := h.f.Snapshot()
		require.NoError(t, err)
		snap := s.(*fsmSnapshot)
		defer snap.Release()
		snap.usage = mutate(snap.usage)
		var buf bytes.Buffer
		require.NoError(t, snap.writeTo(&buf))
		err = target.Restore(io.NopCloser(&buf))
		assert.ErrorIs(t, err, ErrBadSnapshot, "%s: Restore", name)
		require.Equal(t, before, snapshotBytes(t, target), "%s: refused restore changed the state", name)
	}
	find := func(rs []snapRecord, kind byte) int {
		for i, r := range rs {
			if r.kind == kind {
				return i
			}
		}
		require.FailNow(t, fmt.Sprintf("no record of kind %d", kind))
		return -1
	}
	replace := func(kind byte, old, new string) func([]snapRecord) []snapRecord {
		return func(rs []snapRecord) []snapRecord {
			i := find(rs, kind)
			require.Contains(t, string(rs[i].body), old, "record %d does not hold %q", kind, old)
			rs[i].body = []byte(strings.Replace(string(rs[i].body), old, new, 1))
			return rs
		}
	}
	drop := func(kind byte) func([]snapRecord) []snapRecord {
		return func(rs []snapRecord) []snapRecord {
			i := find(rs, kind)
			return append(rs[:i:i], rs[i+1:]...)
		}
	}
	dup := func(kind byte) func([]snapRecord) []snapRecord {
		return func(rs []snapRecord) []snapRecord {
			i := find(rs, kind)
			return append(rs[:i+1:i+1], rs[i:]...)
		}
	}
	write("local zone", replace(recUsageZone, "Europe/Paris", "Local"))
	write("unknown zone", replace(recUsageZone, "Europe/Paris", "Europe/Atlantis"))
	write("default zone record", replace(recUsageZone, "Europe/Paris", "UTC"))
	write("zone twice", dup(recUsageZone))
	write("no zone", drop(recUsageZone)) // the ledger was cut in Paris
	write("no ledger", drop(recUsageLedger))
	write("ledger garbage", replace(recUsageLedger, `"installations"`, `"installationz"`))
	write("spool twice", dup(recUsageSpool))
	write("spool of a stranger", replace(recUsageSpool, `"col-1"`, `"col-9"`))
	write("spool from the future", replace(recUsageSpool, fmt.Sprintf(`"LastAt":%d`, t0), fmt.Sprintf(`"LastAt":%d`, t0+100*24*3600*1000)))
	write("spool extra field", replace(recUsageSpool, `{"Collector"`, `{"X":1,"Collector"`))
	write("day twice", dup(recUsageDay))
	write("day with no samples", replace(recUsageDay, `"samples":3`, `"samples":0`))
	write("day of another day", replace(recUsageDay, `"day":"2026-05-28"`, `"day":"2026-05-29"`))
}
