package fsm

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/lease"
)

// TestUtilizationIntegratesAcrossMonths: seat-time, time at the limit and
// peaks per pool and department, split at the month's end, and the open
// interval up to trusted time counted at read.
func TestUtilizationIntegratesAcrossMonths(t *testing.T) {
	at := func(day, hour int) int64 { return time.Date(2026, 5, day, hour, 0, 0, 0, time.UTC).UnixMilli() }
	h := bootstrapped(t)
	h.pool("p", 2, lease.Hard)
	h.ok(SetDepartmentType, SetDepartment{Department: Department{Name: "eng", Holders: []string{"a"}}, By: "admin", Now: t0})
	hour := time.Hour.Milliseconds()
	h.batch(at(31, 20), acq("p", "a", "c1"))      // 1 held from May 31 20:00
	r := h.batch(at(31, 22), acq("p", "b", "c1")) // 2 held (the limit) from 22:00
	h.batch(at(32, 1), rel(r[0].Lease.ID, "c1"))  // Jun 1 01:00: back to 1
	h.batch(at(32, 3), acq("other", "x", "c1"))   // moves trusted time to 03:00

	rows := h.f.Utilization(UtilizationFilter{Pool: "p", Departments: true})
	byKey := map[string]Utilization{}
	for _, u := range rows {
		byKey[u.Month+"/"+u.Department] = u
	}
	jan, feb := byKey["2026-05/"], byKey["2026-05/eng"]
	assert.Equal(t, at(32, 0)-t0, jan.ObservedMs, "from the department's creation (when the pool was first looked at) to midnight")
	assert.Equal(t, (2*1+2*2)*hour, jan.SeatMs, "1 seat for 2h, 2 seats for 2h")
	assert.Equal(t, 2*hour, jan.LimitMs)
	assert.Equal(t, 2, jan.Peak)
	assert.Equal(t, 2, jan.Seats)
	assert.Equal(t, 4*hour, feb.SeatMs, "eng held its one seat all May 31 evening")
	assert.Equal(t, 1, feb.Peak)
	febPool := byKey["2026-06/"]
	assert.Equal(t, 3*hour, febPool.ObservedMs, "to trusted time, Jun 1 03:00")
	assert.Equal(t, (2*1+1*2)*hour, febPool.SeatMs, "2 seats to 01:00, then 1 (open interval counted)")
	assert.Equal(t, hour, febPool.LimitMs)
	assert.Equal(t, 2, febPool.Peak, "2 were held when June began, though no lease changed until 01:00")
	assert.Equal(t, "2026-06", rows[0].Month, "newest month first")
	assert.Empty(t, h.f.Utilization(UtilizationFilter{Month: "2026-04"}))

	snap := snapshotBytes(t, h.f)
	f := New()
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(snap))))
	assert.Equal(t, h.f.Utilization(UtilizationFilter{Departments: true}), f.Utilization(UtilizationFilter{Departments: true}))
	assert.Equal(t, snap, snapshotBytes(t, f))
}
