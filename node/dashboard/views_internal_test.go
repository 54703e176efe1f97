package dashboard

import (
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/stretchr/testify/require"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRelative(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    time.Duration // t = now + d
		want string
	}{
		{0, "just now"},
		{-999 * time.Millisecond, "just now"},
		{-12 * time.Second, "12s ago"},
		{-59 * time.Second, "59s ago"},
		{-60 * time.Second, "1m ago"},
		{-90 * time.Minute, "1h ago"},
		{-47 * time.Hour, "47h ago"},
		{-72 * time.Hour, "3d ago"},
		{25 * time.Second, "in 25s"},
		{3 * time.Minute, "in 3m"},
	} {
		assert.Equal(t, tc.want, relative(now, now.Add(tc.d)), "relative(now%+v)", tc.d)
	}
}

func TestSeatBar(t *testing.T) {
	for _, tc := range []struct {
		held, seats uint32
		width       int
		class       string
	}{
		{0, 10, 0, "ok"},
		{5, 10, 60, "ok"},
		{9, 10, 108, "full"},
		{10, 10, 120, "full"},
		{11, 10, 120, "over"},
		{1, 1000, 2, "ok"}, // still visible
		{0, 0, 0, "ok"},
		{3, 0, 120, "over"},
		{4_000_000_000, 4_100_000_000, 117, "full"}, // no overflow
	} {
		b := newSeatBar(tc.held, tc.seats)
		assert.Equal(t, tc.width, b.Width, "newSeatBar(%d, %d) width", tc.held, tc.seats)
		assert.Equal(t, tc.class, b.Class, "newSeatBar(%d, %d) class", tc.held, tc.seats)
	}
}

func TestTrendsDrawEachPoolOldestFirst(t *testing.T) {
	rows := []*licmeshv1.UtilizationRow{
		{Month: "2026-11", Pool: "a", Seats: 10, AverageHeld: 10},
		{Month: "2026-09", Pool: "a", Seats: 10, AverageHeld: 0},
		{Month: "2026-10", Pool: "a", Seats: 10, AverageHeld: 5},
		{Month: "2026-10", Pool: "a", Department: "eng", AverageHeld: 3},
		{Month: "2026-11", Pool: "b", Seats: 4, Peak: 8, AverageHeld: 8},
	}
	ts := trends(rows)
	require.Len(t, ts, 2)
	assert.Equal(t, "0,40 120,20 240,0", ts[0].Points, "empty, half, full: left to right, bottom to top")
	assert.Equal(t, "2026-09", ts[0].First)
	assert.Equal(t, "2026-11", ts[0].Last)
	assert.Equal(t, 3, ts[0].Months)
	assert.Equal(t, "0,0", ts[1].Points, "a pool past its seats tops at its peak")
}
