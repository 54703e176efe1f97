package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/licmesh/licmesh/licensing/license"
)

func withCredits(unit string, balance, low int64) func(*license.Payload) {
	return func(p *license.Payload) {
		p.Credits = &license.Credits{Unit: unit, Balance: balance, LowAlertAt: low}
	}
}

func reqID(n int) string { return fmt.Sprintf("%032x", n) }

// creditHarness has an enrolled collector c1 and two licenses selling
// "case" credits: lic-late (100, ends later) and lic-soon (10, alert at 3,
// ends first).
func creditHarness(t *testing.T) *harness {
	h := bootstrapped(t)
	h.ok(CreateTokenType, CreateToken{ID: "j", SecretHash: Hash{1}, Role: RoleCollector, Now: t0})
	h.ok(EnrollType, Enroll{TokenID: "j", SecretHash: Hash{1}, CollectorID: "c1", CertSerial: "01", Version: "1.0", Now: t0})
	h.addLicense(testPayload("lic-late", withCredits("case", 100, 0)), t0)
	h.addLicense(testPayload("lic-soon", withCredits("case", 10, 3), func(p *license.Payload) {
		p.ExpiresAt = msTime(t0 + 30*dayMs)
	}), t0)
	return h
}

func consume(n int, unit string, amount int64, now int64) ConsumeCredits {
	return ConsumeCredits{Collector: "c1", RequestID: reqID(n), Unit: unit, Amount: amount, Now: now}
}

func TestConsumeCreditsSoonestFirstAllOrNothing(t *testing.T) {
	h := creditHarness(t)
	r := h.ok(ConsumeCreditsType, consume(1, "case", 6, t0+1)).Credit
	if r == nil || r.License != "lic-soon" || r.Remaining != 4 || r.Low {
		t.Fatalf("first consumption = %+v, want lic-soon with 4 left, not low", r)
	}
	r = h.ok(ConsumeCreditsType, consume(2, "case", 1, t0+2)).Credit
	if r.License != "lic-soon" || r.Remaining != 3 || !r.Low {
		t.Fatalf("second consumption = %+v, want lic-soon at its alert level", r)
	}
	// 5 more: lic-soon has 3, so the whole 5 goes to lic-late; never split.
	r = h.ok(ConsumeCreditsType, consume(3, "case", 5, t0+3)).Credit
	if r.License != "lic-late" || r.Remaining != 95 {
		t.Fatalf("third consumption = %+v, want lic-late with 95 left", r)
	}
	before := stateBytes(t, h.f)
	resp := h.apply(ConsumeCreditsType, consume(4, "case", 96, t0+4))
	if !errors.Is(resp.Err, ErrCreditsExhausted) || !errors.Is(resp.Err, license.ErrCreditsExhausted) {
		t.Fatalf("consuming 96 with 95+3 left: %v, want ErrCreditsExhausted", resp.Err)
	}
	if !bytes.Equal(before, stateBytes(t, h.f)) {
		t.Fatal("a refused consumption changed the state")
	}
	resp = h.apply(ConsumeCreditsType, consume(5, "api_call", 1, t0+5))
	if !errors.Is(resp.Err, ErrUnknownCreditUnit) {
		t.Fatalf("unknown unit: %v, want ErrUnknownCreditUnit", resp.Err)
	}
	got := h.f.Credits()
	if len(got) != 2 || got[0].License != "lic-late" || got[0].Remaining != 95 || got[1].Remaining != 3 || !got[1].Low {
		t.Fatalf("Credits() = %+v", got)
	}
}

func TestConsumeCreditsRetryIsAnsweredNotApplied(t *testing.T) {
	h := creditHarness(t)
	first := h.ok(ConsumeCreditsType, consume(7, "case", 2, t0+1)).Credit
	again := h.ok(ConsumeCreditsType, consume(7, "case", 2, t0+2)).Credit
	if *again != *first {
		t.Fatalf("retry answered %+v, want the first receipt %+v", again, first)
	}
	if b := h.f.Credits()[1]; b.Remaining != 8 {
		t.Fatalf("lic-soon has %d left after a retried consumption of 2, want 8", b.Remaining)
	}
	if r, ok := h.f.CreditReceipt("c1", reqID(7)); !ok || r != *first {
		t.Fatalf("CreditReceipt = %+v, %v", r, ok)
	}
	// Past the receipt window the request ID is forgotten at the
	// collector's next consumption.
	h.ok(ConsumeCreditsType, consume(8, "case", 1, t0+receiptTTLms+10))
	if _, ok := h.f.CreditReceipt("c1", reqID(7)); ok {
		t.Fatal("receipt kept past its window")
	}
}

func TestConsumeCreditsRefusals(t *testing.T) {
	h := creditHarness(t)
	before := stateBytes(t, h.f)
	ghost := ConsumeCredits{Collector: "ghost", RequestID: reqID(1), Unit: "case", Amount: 1, Now: t0}
	if err := h.apply(ConsumeCreditsType, ghost).Err; !errors.Is(err, ErrUnknownCollector) {
		t.Fatalf("unknown collector: %v", err)
	}
	if !bytes.Equal(before, stateBytes(t, h.f)) {
		t.Fatal("refused command changed the state")
	}
	for name, c := range map[string]ConsumeCredits{
		"short request id": {Collector: "c1", RequestID: "abcd", Unit: "case", Amount: 1, Now: t0},
		"zero amount":      consume(1, "case", 0, t0),
		"negative amount":  consume(1, "case", -5, t0),
		"huge amount":      consume(1, "case", license.MaxCredits+1, t0),
		"empty unit":       consume(1, "", 1, t0),
		"no time":          consume(1, "case", 1, 0),
	} {
		if err := c.validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: validate = %v, want ErrMalformed", name, err)
		}
	}
}

func TestConsumeCreditsStopsAtGraceEnd(t *testing.T) {
	h := creditHarness(t)
	soon := testPayload("x").ExpiresAt // lic-late's end
	h.tick(soon.UnixMilli() + 15*dayMs)
	if err := h.apply(ConsumeCreditsType, consume(1, "case", 1, soon.UnixMilli()+15*dayMs)).Err; !errors.Is(err, ErrUnknownCreditUnit) {
		t.Fatalf("consuming after every license's grace: %v, want ErrUnknownCreditUnit", err)
	}
}

func TestCreditsSurviveSnapshotAndGoWithTheirLicense(t *testing.T) {
	h := creditHarness(t)
	for i := range 5 {
		h.ok(ConsumeCreditsType, consume(i, "case", 1, t0+int64(i)))
	}
	snap := snapshotBytes(t, h.f)
	dst := New()
	if err := dst.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if !bytes.Equal(snapshotBytes(t, dst), snap) {
		t.Fatal("restored state snapshots differently")
	}
	if got := dst.Credits(); len(got) != 2 || got[1].Remaining != 5 {
		t.Fatalf("restored credits = %+v", got)
	}
	if _, ok := dst.CreditReceipt("c1", reqID(3)); !ok {
		t.Fatal("restored FSM forgot a receipt: a retry would consume twice")
	}
	h.ok(RemoveLicenseType, RemoveLicense{ID: "lic-soon", Now: t0 + 10})
	if _, ok := h.f.st.credits.consumed["lic-soon"]; ok {
		t.Fatal("a removed license's balance lingers")
	}
}

func TestRestoreRefusesBadCredits(t *testing.T) {
	h := creditHarness(t)
	h.ok(ConsumeCreditsType, consume(1, "case", 4, t0+1))
	write := func(change func(s *fsmSnapshot)) []byte {
		snap, err := h.f.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Release()
		fs := snap.(*fsmSnapshot)
		change(fs)
		var buf bytes.Buffer
		if err := fs.writeTo(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	receipt := func(mod func(*CreditReceipt)) func(s *fsmSnapshot) {
		return func(s *fsmSnapshot) {
			r := s.credits.receipts["c1"][reqID(1)]
			mod(&r)
			s.credits.receipts["c1"][reqID(1)] = r
		}
	}
	for name, change := range map[string]func(s *fsmSnapshot){
		"consumed beyond bought": func(s *fsmSnapshot) { s.credits.consumed["lic-soon"] = 11 },
		"unknown license":        func(s *fsmSnapshot) { s.credits.consumed["lic-zzz"] = 1 },
		"license without credits": func(s *fsmSnapshot) {
			s.credits.consumed["lic-late"] = 0
			delete(s.credits.consumed, "lic-late")
			s.licenses = append(s.licenses, &licenseRec{lic: mustParse(t, sealed(t, testPayload("lic-plain"))), addedAt: t0})
			s.credits.consumed["lic-plain"] = 1
		},
		"receipt bad request id": receipt(func(r *CreditReceipt) { r.RequestID = "zz" }),
		"receipt negative":       receipt(func(r *CreditReceipt) { r.Remaining = -1 }),
	} {
		if err := New().Restore(io.NopCloser(bytes.NewReader(write(change)))); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: Restore = %v, want ErrBadSnapshot", name, err)
		}
	}
	if err := New().Restore(io.NopCloser(bytes.NewReader(write(func(*fsmSnapshot) {})))); err != nil {
		t.Fatalf("unchanged snapshot: %v", err)
	}
}

func mustParse(t *testing.T, text []byte) *license.License {
	t.Helper()
	l, err := parseLicense(text)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestCreditsReSignOnlyAtThresholds: a consumption marks entitlements
// changed only when a balance turns low or runs out, not at every unit.
func TestCreditsReSignOnlyAtThresholds(t *testing.T) {
	h := creditHarness(t)
	before := h.f.EntitlementsChanged()
	h.ok(ConsumeCreditsType, consume(1, "case", 1, t0+1)) // lic-soon 10 → 9
	if h.f.EntitlementsChanged() != before {
		t.Fatal("an ordinary consumption marked entitlements changed")
	}
	h.ok(ConsumeCreditsType, consume(2, "case", 6, t0+2)) // 9 → 3: low
	if h.f.EntitlementsChanged() == before {
		t.Fatal("a balance turning low did not mark entitlements changed")
	}
}
