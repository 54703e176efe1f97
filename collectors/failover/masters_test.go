package failover

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestListFailoverAndPreference(t *testing.T) {
	l, err := New([]string{"a", "b:1", "c"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Snapshot(); !slices.Equal(got, []string{"a:7443", "b:1", "c:7443"}) {
		t.Fatalf("Snapshot = %v", got)
	}
	l.Failed("a:7443")
	if l.Current() != "b:1" {
		t.Fatalf("after failure, current = %s, want the next one", l.Current())
	}
	l.Failed("c:7443") // not current: no change
	if l.Current() != "b:1" {
		t.Fatalf("failure of a non-current master moved current to %s", l.Current())
	}
	l.Succeeded("c:7443")
	if got := l.Snapshot(); !slices.Equal(got, []string{"c:7443", "a:7443", "b:1"}) {
		t.Fatalf("after success of c: %v, want c first, rotation kept", got)
	}
}

func TestRememberedFirst(t *testing.T) {
	l, err := New([]string{"seed"}, []string{"m1:1", "garbage:x", "m2:2"})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Snapshot(); !slices.Equal(got, []string{"m1:1", "m2:2", "seed:7443"}) {
		t.Fatalf("Snapshot = %v", got)
	}
	if _, err := New(nil, []string{"bad:x"}); !errors.Is(err, ErrBadList) {
		t.Fatalf("no usable master: err = %v", err)
	}
}

func TestLearn(t *testing.T) {
	l, _ := New([]string{"seed:1"}, nil)
	changed, err := l.Learn("seed:1", []string{"m1:1", "m2:2", "M1:1"})
	if err != nil || !changed {
		t.Fatalf("Learn = %v, %v", changed, err)
	}
	if got := l.Snapshot(); !slices.Equal(got, []string{"seed:1", "m1:1", "m2:2"}) {
		t.Fatalf("Snapshot = %v, want the answering master first, seeds kept", got)
	}
	if changed, _ := l.Learn("m1:1", []string{"m1:1", "m2:2"}); changed {
		t.Fatal("same list reported as changed")
	}
	before := l.Snapshot()
	huge := make([]string, MaxMasters+1)
	for i := range huge {
		huge[i] = fmt.Sprintf("m%d:1", i)
	}
	for _, bad := range [][]string{nil, huge, {"m1:1", "x:y"}, {strings.Repeat("a", 1000)}} {
		if _, err := l.Learn("m1:1", bad); !errors.Is(err, ErrBadList) {
			t.Errorf("Learn(%d entries) err = %v, want ErrBadList", len(bad), err)
		}
	}
	if !slices.Equal(before, l.Snapshot()) {
		t.Fatal("a refused list changed the masters")
	}
}

func TestBackoffFullJitter(t *testing.T) {
	var ceilings []int64
	b := NewBackoff(100*time.Millisecond, 5*time.Second, func(n int64) int64 {
		ceilings = append(ceilings, n)
		return n - 1
	})
	for range 10 {
		b.Next()
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000}
	for i, w := range want {
		if time.Duration(ceilings[i]) != w*time.Millisecond {
			t.Fatalf("wait %d drawn below %v, want %v", i, time.Duration(ceilings[i]), w*time.Millisecond)
		}
	}
	b.Reset()
	b.Next()
	if time.Duration(ceilings[10]) != 100*time.Millisecond {
		t.Fatal("Reset did not restart from the base")
	}
	real := NewBackoff(0, 0, nil)
	for range 100 {
		if d := real.Next(); d < 0 || d >= DefaultBackoffBase {
			t.Fatalf("cap below base not clamped: %v", d)
		}
	}
}
