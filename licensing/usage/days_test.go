package usage

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestDayKey(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, time.January, 31, 16, 0, 0, 0, time.UTC)
	if got := DayOf(at, tokyo); got != (DayKey{2024, time.February, 1}) {
		t.Fatalf("DayOf in Tokyo = %v", got)
	}
	if got := DayOf(at, time.UTC); got.String() != "2024-01-31" || got.MonthKey() != january {
		t.Fatalf("DayOf in UTC = %v", got)
	}
	for _, s := range []string{"2024-02-29", "1970-01-01", "2199-12-31"} {
		k, err := ParseDayKey(s)
		if err != nil || k.String() != s {
			t.Errorf("ParseDayKey(%q) = %v, %v", s, k, err)
		}
		b, err := k.MarshalText()
		var back DayKey
		if err != nil || back.UnmarshalText(b) != nil || back != k {
			t.Errorf("%q: text round trip gave %v (%v)", s, back, err)
		}
	}
	for _, s := range []string{"", "2023-02-29", "2024-1-01", "2024-01-01x", "1969-12-31", "2200-01-01", "2024-13-01"} {
		if _, err := ParseDayKey(s); !errors.Is(err, ErrInvalidDay) {
			t.Errorf("ParseDayKey(%q) = %v", s, err)
		}
	}
	if _, err := (DayKey{2024, time.February, 30}).MarshalText(); !errors.Is(err, ErrInvalidDay) {
		t.Errorf("invalid day marshals: %v", err)
	}
	a, b := DayKey{2024, time.January, 31}, DayKey{2024, time.February, 1}
	if a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(a) != 0 {
		t.Error("Compare is not chronological")
	}
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
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("order %v:\n got %+v\nwant %+v", order, got, want)
		}
		if err := got.Validate(time.UTC); err != nil {
			t.Fatalf("built stats do not validate: %v", err)
		}
	}

	sat := DayStats{Day: day}
	sat.Add(d(3, 1, 0), map[string]int64{"big": math.MaxInt64, "neg": math.MinInt64})
	sat.Add(d(3, 2, 0), map[string]int64{"big": 5, "neg": -5})
	if sat.Scalars[0].Sum != math.MaxInt64 || sat.Scalars[1].Sum != math.MinInt64 {
		t.Fatalf("sums wrapped: %+v", sat.Scalars)
	}

	// A full day keeps the names it has and the first new ones in name
	// order, whatever order the map yields them in.
	full := DayStats{Day: day}
	many := map[string]int64{}
	for i := range MaxDayScalars + 10 {
		many[fmt.Sprintf("n%03d", i)] = int64(i)
	}
	full.Add(d(3, 1, 0), many)
	if len(full.Scalars) != MaxDayScalars || full.Scalars[MaxDayScalars-1].Name != fmt.Sprintf("n%03d", MaxDayScalars-1) {
		t.Fatalf("full day kept %d names, last %q", len(full.Scalars), full.Scalars[len(full.Scalars)-1].Name)
	}
	c := full.Clone()
	c.Scalars[0].Sum = -1
	if full.Scalars[0].Sum == -1 {
		t.Fatal("Clone shares scalars")
	}
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
		if err := d.Validate(time.UTC); !errors.Is(err, ErrInvalidObservation) {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
}
