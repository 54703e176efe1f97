package fsm

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.NotNil(t, r, "first consumption")
	require.Equal(t, license.LicenseID("lic-soon"), r.License, "first consumption = %+v", r)
	require.Equal(t, int64(4), r.Remaining, "first consumption = %+v", r)
	require.False(t, r.Low, "first consumption = %+v, want not low", r)
	r = h.ok(ConsumeCreditsType, consume(2, "case", 1, t0+2)).Credit
	require.Equal(t, license.LicenseID("lic-soon"), r.License, "second consumption = %+v", r)
	require.Equal(t, int64(3), r.Remaining, "second consumption = %+v", r)
	require.True(t, r.Low, "second consumption = %+v, want lic-soon at its alert level", r)
	// 5 more: lic-soon has 3, so the whole 5 goes to lic-late; never split.
	r = h.ok(ConsumeCreditsType, consume(3, "case", 5, t0+3)).Credit
	require.Equal(t, license.LicenseID("lic-late"), r.License, "third consumption = %+v", r)
	require.Equal(t, int64(95), r.Remaining, "third consumption = %+v", r)
	before := stateBytes(t, h.f)
	resp := h.apply(ConsumeCreditsType, consume(4, "case", 96, t0+4))
	require.ErrorIs(t, resp.Err, ErrCreditsExhausted, "consuming 96 with 95+3 left")
	require.ErrorIs(t, resp.Err, license.ErrCreditsExhausted, "consuming 96 with 95+3 left")
	require.Equal(t, before, stateBytes(t, h.f), "a refused consumption changed the state")
	resp = h.apply(ConsumeCreditsType, consume(5, "api_call", 1, t0+5))
	require.ErrorIs(t, resp.Err, ErrUnknownCreditUnit, "unknown unit")
	got := h.f.Credits()
	require.Len(t, got, 2, "Credits() = %+v", got)
	assert.Equal(t, license.LicenseID("lic-late"), got[0].License, "Credits() = %+v", got)
	assert.Equal(t, int64(95), got[0].Remaining, "Credits() = %+v", got)
	assert.Equal(t, int64(3), got[1].Remaining, "Credits() = %+v", got)
	assert.True(t, got[1].Low, "Credits() = %+v", got)
}

func TestConsumeCreditsRetryIsAnsweredNotApplied(t *testing.T) {
	h := creditHarness(t)
	first := h.ok(ConsumeCreditsType, consume(7, "case", 2, t0+1)).Credit
	again := h.ok(ConsumeCreditsType, consume(7, "case", 2, t0+2)).Credit
	require.Equal(t, *first, *again, "retry answered a different receipt")
	require.Equal(t, int64(8), h.f.Credits()[1].Remaining, "lic-soon after a retried consumption of 2")
	r, ok := h.f.CreditReceipt("c1", reqID(7))
	require.True(t, ok, "CreditReceipt")
	require.Equal(t, *first, r, "CreditReceipt")
	// Past the receipt window the request ID is forgotten at the
	// collector's next consumption.
	h.ok(ConsumeCreditsType, consume(8, "case", 1, t0+receiptTTLms+10))
	_, ok = h.f.CreditReceipt("c1", reqID(7))
	require.False(t, ok, "receipt kept past its window")
}

func TestConsumeCreditsRefusals(t *testing.T) {
	h := creditHarness(t)
	before := stateBytes(t, h.f)
	ghost := ConsumeCredits{Collector: "ghost", RequestID: reqID(1), Unit: "case", Amount: 1, Now: t0}
	require.ErrorIs(t, h.apply(ConsumeCreditsType, ghost).Err, ErrUnknownCollector, "unknown collector")
	require.Equal(t, before, stateBytes(t, h.f), "refused command changed the state")
	for name, c := range map[string]ConsumeCredits{
		"short request id": {Collector: "c1", RequestID: "abcd", Unit: "case", Amount: 1, Now: t0},
		"zero amount":      consume(1, "case", 0, t0),
		"negative amount":  consume(1, "case", -5, t0),
		"huge amount":      consume(1, "case", license.MaxCredits+1, t0),
		"empty unit":       consume(1, "", 1, t0),
		"no time":          consume(1, "case", 1, 0),
	} {
		assert.ErrorIs(t, c.validate(), ErrMalformed, "%s: validate", name)
	}
}

func TestConsumeCreditsStopsAtGraceEnd(t *testing.T) {
	h := creditHarness(t)
	soon := testPayload("x").ExpiresAt // lic-late's end
	h.tick(soon.UnixMilli() + 15*dayMs)
	err := h.apply(ConsumeCreditsType, consume(1, "case", 1, soon.UnixMilli()+15*dayMs)).Err
	require.ErrorIs(t, err, ErrUnknownCreditUnit, "consuming after every license's grace")
}

func TestCreditsSurviveSnapshotAndGoWithTheirLicense(t *testing.T) {
	h := creditHarness(t)
	for i := range 5 {
		h.ok(ConsumeCreditsType, consume(i, "case", 1, t0+int64(i)))
	}
	snap := snapshotBytes(t, h.f)
	dst := New()
	require.NoError(t, dst.Restore(io.NopCloser(bytes.NewReader(snap))), "Restore")
	require.Equal(t, snap, snapshotBytes(t, dst), "restored state snapshots differently")
	got := dst.Credits()
	require.Len(t, got, 2, "restored credits = %+v", got)
	require.Equal(t, int64(5), got[1].Remaining, "restored credits = %+v", got)
	_, ok := dst.CreditReceipt("c1", reqID(3))
	require.True(t, ok, "restored FSM forgot a receipt: a retry would consume twice")
	h.ok(RemoveLicenseType, RemoveLicense{ID: "lic-soon", Now: t0 + 10})
	require.NotContains(t, h.f.st.credits.consumed, license.LicenseID("lic-soon"), "a removed license's balance lingers")
}

func TestRestoreRefusesBadCredits(t *testing.T) {
	h := creditHarness(t)
	h.ok(ConsumeCreditsType, consume(1, "case", 4, t0+1))
	write := func(change func(s *fsmSnapshot)) []byte {
		snap, err := h.f.Snapshot()
		require.NoError(t, err)
		defer snap.Release()
		fs := snap.(*fsmSnapshot)
		change(fs)
		var buf bytes.Buffer
		require.NoError(t, fs.writeTo(&buf))
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
		assert.ErrorIs(t, New().Restore(io.NopCloser(bytes.NewReader(write(change)))), ErrBadSnapshot, "%s: Restore", name)
	}
	require.NoError(t, New().Restore(io.NopCloser(bytes.NewReader(write(func(*fsmSnapshot) {})))), "unchanged snapshot")
}

func mustParse(t *testing.T, text []byte) *license.License {
	t.Helper()
	l, err := parseLicense(text)
	require.NoError(t, err)
	return l
}

// TestCreditsReSignOnlyAtThresholds: a consumption marks entitlements
// changed only when a balance turns low or runs out, not at every unit.
func TestCreditsReSignOnlyAtThresholds(t *testing.T) {
	h := creditHarness(t)
	before := h.f.EntitlementsChanged()
	h.ok(ConsumeCreditsType, consume(1, "case", 1, t0+1)) // lic-soon 10 → 9
	require.Equal(t, before, h.f.EntitlementsChanged(), "an ordinary consumption marked entitlements changed")
	h.ok(ConsumeCreditsType, consume(2, "case", 6, t0+2)) // 9 → 3: low
	require.NotEqual(t, before, h.f.EntitlementsChanged(), "a balance turning low did not mark entitlements changed")
}
