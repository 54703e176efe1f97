package license

import (
	"errors"
	"testing"
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
		if rem != s.remaining || alert != s.alert || !errors.Is(err, s.err) || (s.err == nil) != (err == nil) {
			t.Fatalf("step %d, consume %d: %d, %v, %v; want %d, %v, %v", i, s.n, rem, alert, err, s.remaining, s.alert, s.err)
		}
		if c.Balance != s.remaining {
			t.Fatalf("step %d: balance %d, want %d (a refused consumption changes nothing)", i, c.Balance, s.remaining)
		}
	}
	if !c.Exhausted() {
		t.Error("not exhausted at 0")
	}
	_, _, err := (&Credits{Unit: "case", Balance: 2}).Consume(5)
	if err == nil || err.Error() != "license: usage credits exhausted: 5 case needed, 2 left" {
		t.Errorf("message: %v", err)
	}
}

func TestCreditsFromLicense(t *testing.T) {
	t.Parallel()
	l := mustVerify(t, mustSeal(t, examplePayload(t), vendorKey, testKeyID), tAfter)
	running := *l.Credits // the masters keep their own copy
	if _, _, err := running.Consume(9500); err != nil {
		t.Fatal(err)
	}
	if !running.Low() || l.Credits.Balance != 10000 {
		t.Errorf("running %+v, license %+v", running, l.Credits)
	}
}
