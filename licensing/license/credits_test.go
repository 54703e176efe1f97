package license

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreditsConsume(t *testing.T) {
	t.Parallel()
	c := Credits{Unit: "case", Balance: 10, LowAlertAt: 3}
	steps := []struct {
		n         int64
		remaining int64
		alert     bool
		err       error
	}{
		{0, 10, false, nil},
		{4, 6, false, nil},
		{3, 3, true, nil}, // at the alert level
		{5, 3, true, ErrCreditsExhausted},
		{-1, 3, true, ErrInvalidUsage},
		{3, 0, true, nil}, // the last ones
		{1, 0, true, ErrCreditsExhausted},
	}
	for i, s := range steps {
		rem, alert, err := c.Consume(s.n)
		if s.err == nil {
			require.NoError(t, err, "step %d, consume %d", i, s.n)
		} else {
			require.ErrorIs(t, err, s.err, "step %d, consume %d", i, s.n)
		}
		require.Equal(t, s.remaining, rem, "step %d, consume %d: remaining", i, s.n)
		require.Equal(t, s.alert, alert, "step %d, consume %d: alert", i, s.n)
		require.Equal(t, s.remaining, c.Balance, "step %d: balance (a refused consumption changes nothing)", i)
	}
	assert.True(t, c.Exhausted(), "not exhausted at 0")
	_, _, err := (&Credits{Unit: "case", Balance: 2}).Consume(5)
	assert.EqualError(t, err, "license: usage credits exhausted: 5 case needed, 2 left", "message")
}

func TestCreditsFromLicense(t *testing.T) {
	t.Parallel()
	l := mustVerify(t, mustSeal(t, examplePayload(t), vendorKey, testKeyID), tAfter)
	running := *l.Credits // the masters keep their own copy
	_, _, err := running.Consume(9500)
	require.NoError(t, err)
	assert.True(t, running.Low(), "running %+v", running)
	assert.Equal(t, int64(10000), l.Credits.Balance, "license %+v", l.Credits)
}
