package license

import (
	"errors"
	"reflect"
	"testing"
	"time"
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
		if got := Tampered(now, c.mark); got != c.tampered {
			t.Errorf("%s: Tampered = %v, want %v", c.name, got, c.tampered)
		}
		if got := TrustedNow(now, c.mark); !got.Equal(c.mark) {
			t.Errorf("%s: TrustedNow = %v, want the mark %v", c.name, got, c.mark)
		}
		// What the clock says must not matter: the result is the mark's.
		atMark, errMark := Verify(text, keys, VerifyOptions{ClusterID: testCluster, Now: c.mark})
		atBack, errBack := Verify(text, keys, VerifyOptions{ClusterID: testCluster, Now: now, TrustedTime: c.mark})
		if !errors.Is(errBack, sentinelOrNil(errMark)) || (errMark == nil) != (errBack == nil) {
			t.Errorf("%s: verify at the mark: %v; with the clock set back: %v", c.name, errMark, errBack)
		}
		sMark := Status(atMark, c.mark, c.mark)
		sBack := Status(atBack, now, c.mark)
		if sBack.Tampered != c.tampered {
			t.Errorf("%s: Status.Tampered = %v", c.name, sBack.Tampered)
		}
		sBack.Tampered = sMark.Tampered
		if !reflect.DeepEqual(sMark, sBack) {
			t.Errorf("%s: the clock set back changed the status:\n at mark %+v\nset back %+v", c.name, sMark, sBack)
		}
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
		if s := observe(tInTrial); !s.InTrial || s.Phase != Active {
			t.Fatalf("%s day 10: %+v", l.Type, s)
		}
		observe(tStart.Add(45 * day)) // forward past the trial
		s := observe(tInTrial)        // and back
		if s.InTrial || !s.Tampered || !s.At.Equal(tStart.Add(45*day)) {
			t.Errorf("%s after forward and back: %+v; the trial must stay over", l.Type, s)
		}
		pools, _ := l.PoolsAt(s.At)
		if l.Type == Trial {
			if s.Phase != Expired {
				t.Errorf("trial license after forward and back: phase %s, want expired", s.Phase)
			}
			if _, err := Verify(l.Text, testKeyring(t), VerifyOptions{ClusterID: testCluster, Now: tInTrial, TrustedTime: mark}); !errors.Is(err, ErrExpired) {
				t.Errorf("trial license verified after forward and back: %v", err)
			}
		} else if pools[0].Seats != 1 {
			t.Errorf("subscription after forward and back: pools %+v, want the license template's", pools)
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
		if s.Phase != c.phase || s.DaysLeft != c.daysLeft || s.GraceDaysLeft != c.graceLeft ||
			!reflect.DeepEqual(s.Alerts, c.alerts) || s.InTrial != c.inTrial || s.Tampered || !s.Expires {
			t.Errorf("at %s: %+v; want %s, %d days left, %d of grace, alerts %v, in trial %v",
				c.at.Format(time.RFC3339), s, c.phase, c.daysLeft, c.graceLeft, c.alerts, c.inTrial)
		}
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
		if got := AlertsDue(exp, exp.Add(-c.left)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s left: %v, want %v", c.left, got, c.want)
		}
	}
	if AlertsDue(time.Time{}, tAfter) != nil {
		t.Error("a license that never expires has no alerts")
	}
}
