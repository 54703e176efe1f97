package fsm

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/lease"
)

func TestReservationsShareAPoolWithoutOverAllocation(t *testing.T) {
	h := bootstrapped(t)
	h.pool("p", 5, lease.Hard)
	h.ok(SetDepartmentType, SetDepartment{Department: Department{Name: "eng", Holders: []string{"a1", "a2", "a3", "a4"}}, By: "admin", Now: t0})
	h.ok(SetDepartmentType, SetDepartment{Department: Department{Name: "sales", Collectors: []string{"cs"}}, By: "admin", Now: t0})
	h.ok(SetReservationType, SetReservation{Reservation: Reservation{Pool: "p", Department: "eng", Reserved: 2, Cap: 3}, By: "admin", Now: t0})
	h.ok(SetReservationType, SetReservation{Reservation: Reservation{Pool: "p", Department: "sales", Reserved: 2}, By: "admin", Now: t0})
	r := h.apply(SetReservationType, SetReservation{Reservation: Reservation{Pool: "p", Department: "sales", Reserved: 4}, By: "admin", Now: t0})
	require.ErrorIs(t, r.Err, ErrOverReserved, "2 + 4 reserved in 5 seats")

	grant := func(holder, col string) error {
		t.Helper()
		return h.batch(t0+1, acq("p", holder, col))[0].Err
	}
	require.NoError(t, grant("x1", "c0"), "a free seat for someone in no department")
	err := grant("x2", "c0")
	require.ErrorIs(t, err, ErrPoolFull, "the other 4 seats are reserved")
	assert.Contains(t, err.Error(), "reserved for departments")
	require.NoError(t, grant("a1", "c0"), "eng's own reservation")
	require.NoError(t, grant("a2", "c0"), "eng's own reservation")
	require.ErrorIs(t, grant("a3", "c0"), ErrPoolFull, "eng used its reservation; sales' is not free")
	require.NoError(t, grant("s1", "cs"), "sales, by its collector")
	require.NoError(t, grant("s2", "cs"))
	require.ErrorIs(t, grant("s3", "cs"), ErrPoolFull, "the pool is full")
	ps, _ := h.f.Pool("p")
	assert.Equal(t, 5, ps.Held)

	held := func() map[string]map[string]int {
		out := map[string]map[string]int{}
		for _, d := range h.f.Departments() {
			out[d.Name] = d.Held
		}
		return out
	}
	assert.Equal(t, map[string]map[string]int{"eng": {"p": 2}, "sales": {"p": 2}}, held())

	// a1 moves to sales: its lease counts there now, and the move is kept.
	h.ok(SetDepartmentType, SetDepartment{Department: Department{Name: "sales", Holders: []string{"a1"}, Collectors: []string{"cs"}}, By: "user:ada", Now: t0 + 2})
	assert.Equal(t, map[string]map[string]int{"eng": {"p": 1}, "sales": {"p": 3}}, held())
	moves := h.f.Assignments()
	last := moves[len(moves)-1]
	assert.Equal(t, Assignment{At: t0 + 2, Kind: "holder", Subject: "a1", From: "eng", To: "sales", By: "user:ada"}, last)
	for _, d := range h.f.Departments() {
		if d.Name == "eng" {
			assert.Equal(t, []string{"a2", "a3", "a4"}, d.Holders)
		}
	}

	// A snapshot keeps it, and the counts come back from the leases.
	snap := snapshotBytes(t, h.f)
	f := New()
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(snap))))
	assert.Equal(t, h.f.Departments(), f.Departments())
	assert.Equal(t, h.f.Assignments(), f.Assignments())
	assert.Equal(t, snap, snapshotBytes(t, f))
}

func TestDepartmentCapHoldsInASoftPool(t *testing.T) {
	h := bootstrapped(t)
	h.pool("q", 2, lease.Soft)
	h.ok(SetDepartmentType, SetDepartment{Department: Department{Name: "eng", Collectors: []string{"ce"}}, By: "admin", Now: t0})
	h.ok(SetReservationType, SetReservation{Reservation: Reservation{Pool: "q", Department: "eng", Cap: 1}, By: "admin", Now: t0})
	res := h.batch(t0+1, acq("q", "a1", "ce"), acq("q", "a2", "ce"), acq("q", "x1", "c0"), acq("q", "x2", "c0"), acq("q", "x3", "c0"))
	require.NoError(t, res[0].Err)
	require.ErrorIs(t, res[1].Err, ErrPoolFull, "eng at its cap, soft pool or not")
	assert.Contains(t, res[1].Err.Error(), "its cap")
	for _, r := range res[2:] {
		require.NoError(t, r.Err, "a soft pool lets others over")
	}
	assert.True(t, res[4].Lease.Overage)

	// Removing the department frees its members and its reservations.
	h.ok(SetDepartmentType, SetDepartment{Department: Department{Name: "eng"}, Remove: true, By: "admin", Now: t0 + 2})
	assert.Empty(t, h.f.Departments())
	require.NoError(t, h.batch(t0+3, acq("q", "a2", "ce"))[0].Err)
}

func TestAllocationRefusesBadInput(t *testing.T) {
	for name, cmd := range map[string]command{
		"dept name":        SetDepartment{Department: Department{Name: "Eng Team"}, By: "a", Now: t0},
		"holder twice":     SetDepartment{Department: Department{Name: "eng", Holders: []string{"a", "a"}}, By: "a", Now: t0},
		"bad collector":    SetDepartment{Department: Department{Name: "eng", Collectors: []string{"c 1"}}, By: "a", Now: t0},
		"negative":         SetReservation{Reservation: Reservation{Pool: "p", Department: "eng", Reserved: -1}, By: "a", Now: t0},
		"reserved > cap":   SetReservation{Reservation: Reservation{Pool: "p", Department: "eng", Reserved: 3, Cap: 2}, By: "a", Now: t0},
		"reserves nothing": SetReservation{Reservation: Reservation{Pool: "p", Department: "eng"}, By: "a", Now: t0},
	} {
		_, err := Encode(cmd.msgType(), cmd)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
	h := bootstrapped(t)
	h.pool("p", 5, lease.Hard)
	r := h.apply(SetReservationType, SetReservation{Reservation: Reservation{Pool: "p", Department: "ghost", Reserved: 1}, By: "a", Now: t0})
	require.ErrorIs(t, r.Err, ErrUnknownDepartment)
	h.ok(SetDepartmentType, SetDepartment{Department: Department{Name: "eng"}, By: "a", Now: t0})
	r = h.apply(SetReservationType, SetReservation{Reservation: Reservation{Pool: "nope", Department: "eng", Reserved: 1}, By: "a", Now: t0})
	require.ErrorIs(t, r.Err, ErrUnknownPool)
	r = h.apply(SetReservationType, SetReservation{Reservation: Reservation{Pool: "p", Department: "eng", Reserved: 6}, By: "a", Now: t0})
	require.ErrorIs(t, r.Err, ErrOverReserved)
}
