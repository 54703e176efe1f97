package clock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOffset(t *testing.T) {
	const off = -time.Hour
	before := time.Now()
	got := Offset(off).Now()
	after := time.Now()
	require.False(t, got.Before(before.Add(off)), "%v before %v", got, before.Add(off))
	require.False(t, got.After(after.Add(off)), "%v after %v", got, after.Add(off))
	// The monotonic reading stays: durations on the shifted clock are real.
	require.GreaterOrEqual(t, Offset(off).Now().Sub(got), time.Duration(0))
	select {
	case <-Offset(off).After(time.Millisecond):
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Offset.After never fired")
	}
}
