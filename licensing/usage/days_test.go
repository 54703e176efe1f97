package usage

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDayKey(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	at := time.Date(2024, time.January, 31, 16, 0, 0, 0, time.UTC)
	require.Equal(t, DayKey{2024, time.February, 1}, DayOf(at, tokyo), "DayOf in Tokyo")
	got := DayOf(at, time.UTC)
	require.Equal(t, "2024-01-31", got.String(), "DayOf in UTC")
	require.Equal(t, january, got.MonthKey(), "DayOf in UTC = %v", got)
	for _, s := range []string{"2024-02-29", "1970-01-01", "2199-12-31"} {
		k, err := ParseDayKey(s)
		if assert.NoError(t, err, "ParseDayKey(%q)", s) {
			assert.Equal(t, s, k.String(), "ParseDayKey(%q)", s)
		}
		b, err := k.MarshalText()
		if assert.NoError(t, err, "%q: MarshalText", s) {
			var back DayKey
			if assert.NoError(t, back.UnmarshalText(b), "%q: UnmarshalText", s) {
				assert.Equal(t, k, back, "%q: text round trip", s)
			}
		}
	}
	for _, s := range []string{"", "2023-02-29", "2024-1-01", "2024-01-01x", "1969-12-31", "2200-01-01", "2024-13-01"} {
		_, err := ParseDayKey(s)
		assert.ErrorIs(t, err, ErrInvalidDay, "ParseDayKey(%q)", s)
	}
	_, err = (DayKey{2024, time.February, 30}).MarshalText()
	assert.ErrorIs(t, err, ErrInvalidDay, "invalid day marshals")
	a, b := DayKey{2024, time.January, 31}, DayKey{2024, time.February, 1}
	assert.Equal(t, -1, a.Compare(b), "Compare is not chronological")
	assert.Equal(t, 1, b.Compare(a), "Compare is not chronological")
	assert.Equal(t, 0, a.Compare(a), "Compare is not chronological")
}

func TestDayStatsAdd(t *testing.T) {
	day := DayKey{2024, time.January, 3}
	samples := []struct {
		at time.Time
		sc map[string]int64
	}{
		{d(3, 9, 0), map[string]int64{"seq": 1, "users": 10}},
		{d(3, 18, 0), map[string]int64{"seq": 7, "users": 8}},
		{d(3, 12, 0), map[string]int64{"seq": 3}},
		{d(3, 18, 0), map[string]int64{"seq": 2, "users": 9}}, // ties with the latest: larger value wins
	}
	want := DayStats{Day: day, Samples: 4, Scalars: []ScalarStats{
		{Name: "seq", Min: 1, Max: 7, Sum: 13, Last: 7, LastAt: d(3, 18, 0)},
		{Name: "users", Min: 8, Max: 10, Sum: 27, Last: 9, LastAt: d(3, 18, 0)},
	}}
	// Every order gives the same result.
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}} {
		got := DayStats{Day: day}
		for _, i := range order {
			got.Add(samples[i].at, samples[i].sc)
		}
		require.Equal(t, want, got, "order %v", order)
		require.NoError(t, got.Validate(time.UTC), "built stats do not validate")
	}

	sat := DayStats{Day: day}
	sat.Add(d(3, 1, 0), map[string]int64{"big": math.MaxInt64, "neg": math.MinInt64})
	sat.Add(d(3, 2, 0), map[string]int64{"big": 5, "neg": -5})
	require.Equal(t, int64(math.MaxInt64), sat.Scalars[0].Sum, "sums wrapped: %+v", sat.Scalars)
	require.Equal(t, int64(math.MinInt64), sat.Scalars[1].Sum, "sums wrapped: %+v", sat.Scalars)

	// A full day keeps the names it has and the first new ones in name
	// order, whatever order the map yields them in.
	full := DayStats{Day: day}
	many := map[string]int64{}
	for i := range MaxDayScalars + 10 {
		many[fmt.Sprintf("n%03d", i)] = int64(i)
	}
	full.Add(d(3, 1, 0), many)
	require.Len(t, full.Scalars, MaxDayScalars, "full day kept %d names, last %q", len(full.Scalars), full.Scalars[len(full.Scalars)-1].Name)
	require.Equal(t, fmt.Sprintf("n%03d", MaxDayScalars-1), full.Scalars[MaxDayScalars-1].Name, "full day's last name")
	c := full.Clone()
	c.Scalars[0].Sum = -1
	require.NotEqual(t, int64(-1), full.Scalars[0].Sum, "Clone shares scalars")
}

func TestDayStatsValidateRefuses(t *testing.T) {
	good := func() DayStats {
		d := DayStats{Day: DayKey{2024, time.January, 3}}
		d.Add(time.Date(2024, time.January, 3, 5, 0, 0, 0, time.UTC), map[string]int64{"a": 1, "b": 2})
		return d
	}
	for name, mut := range map[string]func(*DayStats){
		"bad day":      func(d *DayStats) { d.Day.Day = 32 },
		"no samples":   func(d *DayStats) { d.Samples = 0 },
		"unsorted":     func(d *DayStats) { d.Scalars[0].Name = "c" },
		"bad name":     func(d *DayStats) { d.Scalars[0].Name = "A" },
		"last > max":   func(d *DayStats) { d.Scalars[0].Last = 9 },
		"off the day":  func(d *DayStats) { d.Scalars[1].LastAt = d.Scalars[1].LastAt.Add(24 * time.Hour) },
		"zero last at": func(d *DayStats) { d.Scalars[1].LastAt = time.Time{} },
	} {
		d := good()
		mut(&d)
		assert.ErrorIs(t, d.Validate(time.UTC), ErrInvalidObservation, "%s: Validate", name)
	}
}
