package license

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClockSetBack: with the trusted-time mark at some moment, a clock set
// back by an hour is tolerated, by 25 hours or a year it is flagged, and
// in no case does anything get extended: the license, its grace and its
// trial are judged at the mark.
func TestClockSetBack(t *testing.T) {
	t.Parallel()
	text := mustSeal(t, examplePayload(t), vendorKey, testKeyID)
	keys := testKeyring(t)
	for _, c := range []struct {
		name     string
		mark     time.Time
		back     time.Duration
		tampered bool
	}{
		{"1h back, license active", tAfter, time.Hour, false},
		{"25h back, license active", tAfter, 25 * time.Hour, true},
		{"a year back, license active", tAfter, 365 * day, true},
		{"1h back, license expired", tExpiry.Add(20 * day), time.Hour, false},
		{"25h back, license expired", tExpiry.Add(20 * day), 25 * time.Hour, true},
		{"a year back, license expired", tExpiry.Add(20 * day), 365 * day, true},
		{"25h back, trial over", tStart.Add(31 * day), 25 * time.Hour, true},
		{"exactly 24h back", tAfter, 24 * time.Hour, false},
	} {
		now := c.mark.Add(-c.back)
		assert.Equal(t, c.tampered, Tampered(now, c.mark), "%s: Tampered", c.name)
		got := TrustedNow(now, c.mark)
		assert.True(t, got.Equal(c.mark), "%s: TrustedNow = %v, want the mark %v", c.name, got, c.mark)
		// What the clock says must not matter: the result is the mark's.
		atMark, errMark := Verify(text, keys, VerifyOptions{ClusterID: testCluster, Now: c.mark})
		atBack, errBack := Verify(text, keys, VerifyOptions{ClusterID: testCluster, Now: now, TrustedTime: c.mark})
		assert.ErrorIs(t, errBack, sentinelOrNil(errMark), "%s: verify at the mark: %v; with the clock set back: %v", c.name, errMark, errBack)
		assert.Equal(t, errMark == nil, errBack == nil, "%s: verify at the mark: %v; with the clock set back: %v", c.name, errMark, errBack)
		sMark := Status(atMark, c.mark, c.mark)
		sBack := Status(atBack, now, c.mark)
		assert.Equal(t, c.tampered, sBack.Tampered, "%s: Status.Tampered", c.name)
		sBack.Tampered = sMark.Tampered
		assert.Equal(t, sMark, sBack, "%s: the clock set back changed the status", c.name)
	}
}

func sentinelOrNil(err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}

// TestClockForwardAndBackRevivesNoTrial plays a master's mark: each
// reading of the clock moves the mark to TrustedNow. The clock jumps past
// the trial's end and back to the trial's first week; the trial stays
// over.
func TestClockForwardAndBackRevivesNoTrial(t *testing.T) {
	t.Parallel()
	trial := mutate(t, func(m map[string]any) {
		m["type"] = "trial"
		delete(m, "subscription")
		m["expires_at"] = "2026-01-31T00:00:00Z"
		m["grace"] = "0s"
	})
	sub := examplePayload(t)
	for _, payload := range [][]byte{trial, sub} {
		l := mustVerify(t, mustSeal(t, payload, vendorKey, testKeyID), tInTrial)
		var mark time.Time
		observe := func(clock time.Time) State {
			s := Status(l, clock, mark)
			mark = TrustedNow(clock, mark)
			return s
		}
		s := observe(tInTrial)
		require.True(t, s.InTrial, "%s day 10: %+v", l.Type, s)
		require.Equal(t, Active, s.Phase, "%s day 10: %+v", l.Type, s)
		observe(tStart.Add(45 * day)) // forward past the trial
		s = observe(tInTrial)         // and back
		// The trial must stay over.
		assert.False(t, s.InTrial, "%s after forward and back: %+v", l.Type, s)
		assert.True(t, s.Tampered, "%s after forward and back: %+v", l.Type, s)
		assert.True(t, s.At.Equal(tStart.Add(45*day)), "%s after forward and back: %+v", l.Type, s)
		pools, _ := l.PoolsAt(s.At)
		if l.Type == Trial {
			assert.Equal(t, Expired, s.Phase, "trial license after forward and back")
			_, err := Verify(l.Text, testKeyring(t), VerifyOptions{ClusterID: testCluster, Now: tInTrial, TrustedTime: mark})
			assert.ErrorIs(t, err, ErrExpired, "trial license verified after forward and back")
		} else if assert.NotEmpty(t, pools, "subscription after forward and back") {
			assert.Equal(t, 1, pools[0].Seats, "subscription after forward and back: pools %+v, want the license template's", pools)
		}
	}
}

func TestStatusPhases(t *testing.T) {
	t.Parallel()
	l := mustVerify(t, mustSeal(t, examplePayload(t), vendorKey, testKeyID), tAfter)
	for _, c := range []struct {
		at                  time.Time
		phase               Phase
		daysLeft, graceLeft int
		alerts              []int
		inTrial             bool
	}{
		{tStart.Add(-time.Hour), NotYetValid, 366, 380, nil, false},
		{tInTrial, Active, 355, 369, nil, true},
		{tAfter, Active, 214, 228, nil, false},
		{tExpiry.Add(-30 * day), Active, 30, 44, []int{30}, false},
		{tExpiry.Add(-4*day - time.Hour), Active, 5, 19, []int{30, 15, 5}, false},
		{tExpiry.Add(-time.Hour), Active, 1, 15, []int{30, 15, 5, 3, 1}, false},
		{tExpiry, InGrace, 0, 14, nil, false},
		{tExpiry.Add(14*day - time.Second), InGrace, 0, 1, nil, false},
		{tExpiry.Add(14 * day), Expired, 0, 0, nil, false},
	} {
		s := Status(l, c.at, time.Time{})
		at := c.at.Format(time.RFC3339)
		assert.Equal(t, c.phase, s.Phase, "at %s: phase", at)
		assert.Equal(t, c.daysLeft, s.DaysLeft, "at %s: days left", at)
		assert.Equal(t, c.graceLeft, s.GraceDaysLeft, "at %s: grace days left", at)
		assert.Equal(t, c.alerts, s.Alerts, "at %s: alerts", at)
		assert.Equal(t, c.inTrial, s.InTrial, "at %s: in trial", at)
		assert.False(t, s.Tampered, "at %s: tampered", at)
		assert.True(t, s.Expires, "at %s: expires", at)
	}
}

func TestAlertsDue(t *testing.T) {
	t.Parallel()
	exp := tExpiry
	for _, c := range []struct {
		left time.Duration
		want []int
	}{
		{31 * day, nil},
		{30*day + time.Second, nil},
		{30 * day, []int{30}},
		{15 * day, []int{30, 15}},
		{6 * day, []int{30, 15}},
		{5 * day, []int{30, 15, 5}},
		{3 * day, []int{30, 15, 5, 3}},
		{day, []int{30, 15, 5, 3, 1}},
		{time.Second, []int{30, 15, 5, 3, 1}},
		{0, nil},
		{-day, nil},
	} {
		assert.Equal(t, c.want, AlertsDue(exp, exp.Add(-c.left)), "%s left", c.left)
	}
	assert.Nil(t, AlertsDue(time.Time{}, tAfter), "a license that never expires has no alerts")
}
