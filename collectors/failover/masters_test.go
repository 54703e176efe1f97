package failover

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListFailoverAndPreference(t *testing.T) {
	l, err := New([]string{"a", "b:1", "c"}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"a:7443", "b:1", "c:7443"}, l.Snapshot(), "Snapshot")
	l.Failed("a:7443")
	require.Equal(t, "b:1", l.Current(), "after failure, current, want the next one")
	l.Failed("c:7443") // not current: no change
	require.Equal(t, "b:1", l.Current(), "failure of a non-current master moved current")
	l.Succeeded("c:7443")
	require.Equal(t, []string{"c:7443", "a:7443", "b:1"}, l.Snapshot(), "after success of c, want c first, rotation kept")
}

func TestRememberedFirst(t *testing.T) {
	l, err := New([]string{"seed"}, []string{"m1:1", "garbage:x", "m2:2"})
	require.NoError(t, err)
	require.Equal(t, []string{"m1:1", "m2:2", "seed:7443"}, l.Snapshot(), "Snapshot")
	_, err = New(nil, []string{"bad:x"})
	require.ErrorIs(t, err, ErrBadList, "no usable master")
}

func TestLearn(t *testing.T) {
	l, _ := New([]string{"seed:1"}, nil)
	changed, err := l.Learn("seed:1", []string{"m1:1", "m2:2", "M1:1"})
	require.NoError(t, err, "Learn")
	require.True(t, changed, "Learn: changed")
	require.Equal(t, []string{"seed:1", "m1:1", "m2:2"}, l.Snapshot(), "Snapshot, want the answering master first, seeds kept")
	changed, _ = l.Learn("m1:1", []string{"m1:1", "m2:2"})
	require.False(t, changed, "same list reported as changed")
	before := l.Snapshot()
	huge := make([]string, MaxMasters+1)
	for i := range huge {
		huge[i] = fmt.Sprintf("m%d:1", i)
	}
	for _, bad := range [][]string{nil, huge, {"m1:1", "x:y"}, {strings.Repeat("a", 1000)}} {
		_, err := l.Learn("m1:1", bad)
		assert.ErrorIs(t, err, ErrBadList, "Learn(%d entries)", len(bad))
	}
	require.Equal(t, before, l.Snapshot(), "a refused list changed the masters")
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
		require.Equal(t, w*time.Millisecond, time.Duration(ceilings[i]), "wait %d drawn below", i)
	}
	b.Reset()
	b.Next()
	require.Equal(t, 100*time.Millisecond, time.Duration(ceilings[10]), "Reset did not restart from the base")
	real := NewBackoff(0, 0, nil)
	for range 100 {
		d := real.Next()
		require.GreaterOrEqual(t, d, time.Duration(0), "cap below base not clamped")
		require.Less(t, d, DefaultBackoffBase, "cap below base not clamped")
	}
}
