package fsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
)

const testInst usage.InstallationID = "acme-prod"

// usageHarness is a bootstrapped FSM with two enrolled collectors.
func usageHarness(t testing.TB) *harness {
	t.Helper()
	h := bootstrapped(t)
	h.ok(CreateTokenType, CreateToken{ID: "join", SecretHash: Hash{7}, Role: RoleCollector, Now: t0})
	for _, id := range []string{"col-1", "col-2"} {
		h.ok(EnrollType, Enroll{TokenID: "join", SecretHash: Hash{7}, CollectorID: id, CertSerial: "1", Now: t0})
	}
	return h
}

// rec is a record whose sample carries a "seq" scalar equal to its seq
// (what the end-to-end check sums), the installation's user count, one
// user and one finished logon.
func rec(seq uint64, at int64) UsageRecord {
	return UsageRecord{Seq: seq, Sample: UsageSample{
		Source:  "pm",
		At:      at,
		Scalars: map[string]int64{"seq": int64(seq), usage.ScalarUsers: 40},
		Users:   []UsageUser{{ID: usage.UserID(fmt.Sprintf("u%d", seq)), Role: usage.RoleStaff, Enabled: true}},
		Logons:  []UsageLogon{{ID: usage.UserID(fmt.Sprintf("u%d", seq)), Role: usage.RoleStaff, Start: at - 600_000, End: at}},
	}}
}

func recs(at int64, seqs ...uint64) []UsageRecord {
	out := make([]UsageRecord, len(seqs))
	for i, s := range seqs {
		out[i] = rec(s, at+int64(i)*1000)
	}
	return out
}

func (h *harness) report(now int64, col string, epoch uint64, records ...UsageRecord) Response {
	h.t.Helper()
	return h.apply(UsageBatchType, UsageBatch{Now: now, Collector: col, Installation: testInst, Epoch: epoch, Records: records})
}

// seqStats returns the days' total of the "seq" scalar and of samples.
func seqStats(t testing.TB, f *FSM, inst usage.InstallationID) (sum int64, samples uint64) {
	t.Helper()
	days, ok := f.UsageDays(inst, usage.MonthKey{})
	if !ok {
		t.Fatalf("installation %s unknown", inst)
	}
	for _, d := range days {
		samples += d.Samples
		for _, s := range d.Scalars {
			if s.Name == "seq" {
				sum += s.Sum
			}
		}
	}
	return sum, samples
}

func TestUsageExactlyOnce(t *testing.T) {
	h := usageHarness(t)
	h.report(t0, "col-1", 1, recs(t0, 1, 2, 3)...)
	if e, s := h.f.UsageHighWater("col-1"); e != 1 || s != 3 {
		t.Fatalf("high-water = %d/%d, want 1/3", e, s)
	}
	// The same batch again (a retry after a lost answer) changes nothing.
	before := stateBytes(t, h.f)
	if r := h.report(t0, "col-1", 1, recs(t0, 1, 2, 3)...); r.Err != nil {
		t.Fatal(r.Err)
	}
	if !bytes.Equal(stateBytes(t, h.f), before) {
		t.Fatal("a duplicate batch changed the state")
	}
	// An overlapping batch applies only what is new; a gap is allowed.
	h.report(t0+10_000, "col-1", 1, recs(t0+10_000, 2, 3, 4, 7)...)
	// A replay of everything so far, in one batch, adds nothing.
	before = stateBytes(t, h.f)
	h.report(t0+10_000, "col-1", 1, recs(t0, 1, 2, 3, 4, 5, 6, 7)...)
	if !bytes.Equal(stateBytes(t, h.f), before) {
		t.Fatal("a replay changed the state")
	}
	// Another collector's sequences are its own.
	h.report(t0+20_000, "col-2", 5, recs(t0+20_000, 1, 2)...)
	if sum, n := seqStats(t, h.f, testInst); sum != 1+2+3+4+7+1+2 || n != 7 {
		t.Fatalf("seq sum %d over %d samples, want 20 over 7", sum, n)
	}
	ov := h.f.UsageOverview()
	if len(ov.Collectors) != 2 || ov.Collectors[0].Seq != 7 || ov.Collectors[0].Samples != 5 ||
		ov.Collectors[1].Epoch != 5 || ov.Collectors[1].Samples != 2 || ov.Collectors[0].LastReportAt != t0+10_000 {
		t.Fatalf("overview %+v", ov.Collectors)
	}
	if ov.Zone != "UTC" || len(ov.Months) != 1 || ov.Months[0] != (usage.MonthKey{Year: 2026, Month: time.May}) {
		t.Fatalf("overview zone %q months %v", ov.Zone, ov.Months)
	}
	// Users u1 and u2 of both collectors are the same users.
	hist, ok := h.f.UsageHistory(testInst)
	if !ok || len(hist) != 1 || hist[0].Metrics.EnStaff != 5 || hist[0].Metrics.UserCountLatest != 40 || hist[0].Closed {
		t.Fatalf("history %+v", hist)
	}
	if _, ok := h.f.UsageHistory("elsewhere"); ok {
		t.Fatal("an unknown installation has a history")
	}
}

func TestUsageEpochs(t *testing.T) {
	h := usageHarness(t)
	h.report(t0, "col-1", 3, recs(t0, 1, 2, 3, 4)...)
	// A new spool starts again at 1: nothing of it is a duplicate.
	h.report(t0+1000, "col-1", 4, recs(t0+1000, 1, 2)...)
	if e, s := h.f.UsageHighWater("col-1"); e != 4 || s != 2 {
		t.Fatalf("high-water = %d/%d, want 4/2", e, s)
	}
	// A late retry from the old spool is stale: no change at all.
	before := stateBytes(t, h.f)
	if r := h.report(t0+1000, "col-1", 3, recs(t0, 5, 6)...); r.Err != nil {
		t.Fatal(r.Err)
	}
	if !bytes.Equal(stateBytes(t, h.f), before) {
		t.Fatal("a stale epoch changed the state")
	}
	if sum, n := seqStats(t, h.f, testInst); sum != 1+2+3+4+1+2 || n != 6 {
		t.Fatalf("seq sum %d over %d samples", sum, n)
	}
	// An empty batch of a newer epoch moves the epoch.
	h.report(t0+2000, "col-1", 9)
	if e, s := h.f.UsageHighWater("col-1"); e != 9 || s != 0 {
		t.Fatalf("high-water = %d/%d, want 9/0", e, s)
	}
	if e, s := h.f.UsageHighWater("col-9"); e != 0 || s != 0 {
		t.Fatalf("unknown collector: %d/%d", e, s)
	}
}

// usageRaw encodes a batch by hand, past Encode's checks, as a corrupt or
// hostile log entry would be.
func usageRaw(t *testing.T, b UsageBatch, mutate func(m map[string]any)) []byte {
	t.Helper()
	js, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	mutate(m)
	js, _ = json.Marshal(m)
	return append([]byte{byte(UsageBatchType)}, js...)
}

func TestUsageBadRecordsRefused(t *testing.T) {
	h := usageHarness(t)
	h.report(t0, "col-1", 1, recs(t0, 1)...)
	good := UsageBatch{Now: t0 + 1000, Collector: "col-1", Installation: testInst, Epoch: 1, Records: recs(t0, 2, 3)}
	sample := func(m map[string]any) map[string]any {
		return m["Records"].([]any)[1].(map[string]any)["Sample"].(map[string]any)
	}
	cases := map[string]struct {
		mutate func(m map[string]any)
		want   error
		detail string
	}{
		"seq not increasing": {func(m map[string]any) { m["Records"].([]any)[1].(map[string]any)["Seq"] = 2 }, ErrMalformed, "does not follow"},
		"seq zero":           {func(m map[string]any) { m["Records"].([]any)[0].(map[string]any)["Seq"] = 0 }, ErrMalformed, "seq 0"},
		"unknown role": {func(m map[string]any) {
			sample(m)["Users"].([]any)[0].(map[string]any)["Role"] = "admin"
		}, ErrMalformed, "invalid role"},
		"empty user": {func(m map[string]any) { sample(m)["Users"].([]any)[0].(map[string]any)["ID"] = "" }, ErrMalformed, "user id is empty"},
		"negative count": {func(m map[string]any) {
			sample(m)["Scalars"].(map[string]any)["cases"] = -4
		}, ErrMalformed, "case count is negative"},
		"bad scalar name": {func(m map[string]any) { sample(m)["Scalars"].(map[string]any)["Bad-Name"] = 1 }, ErrMalformed, "scalar name"},
		"future sample":   {func(m map[string]any) { sample(m)["At"] = t0 + 1000 + 2*MaxUsageSkewMs }, ErrMalformed, "more than a day after"},
		"ancient sample":  {func(m map[string]any) { sample(m)["At"] = 5 }, ErrMalformed, "sample time 5"},
		"logon backwards": {func(m map[string]any) {
			sample(m)["Logons"].([]any)[0].(map[string]any)["End"] = t0 - 3_600_000
		}, ErrMalformed, "ends"},
		"source control": {func(m map[string]any) { sample(m)["Source"] = "a\x01" }, ErrMalformed, "source"},
		"installation":   {func(m map[string]any) { m["Installation"] = "" }, ErrMalformed, "installation id is empty"},
		"too many records": {func(m map[string]any) {
			m["Records"] = make([]any, MaxUsageRecords+1)
		}, ErrMalformed, "records, at most"},
		"unknown collector": {func(m map[string]any) { m["Collector"] = "col-9" }, ErrUnknownCollector, "col-9"},
		"unknown field":     {func(m map[string]any) { sample(m)["Extra"] = 1 }, ErrMalformed, "unknown field"},
	}
	before := stateBytes(t, h.f)
	for name, c := range cases {
		r := h.applyRaw(usageRaw(t, good, c.mutate))
		if !errors.Is(r.Err, c.want) || !strings.Contains(r.Err.Error(), c.detail) {
			t.Errorf("%s: error %v, want %v naming %q", name, r.Err, c.want, c.detail)
		}
		if !bytes.Equal(stateBytes(t, h.f), before) {
			t.Fatalf("%s: refused batch changed the state", name)
		}
	}
	// The unchanged batch applies, both records.
	if r := h.applyRaw(usageRaw(t, good, func(map[string]any) {})); r.Err != nil {
		t.Fatal(r.Err)
	}
	if _, s := h.f.UsageHighWater("col-1"); s != 3 {
		t.Fatalf("high-water %d after the good batch", s)
	}
	// Encode refuses what Decode would.
	bad := good
	bad.Records = []UsageRecord{rec(4, t0)}
	bad.Records[0].Sample.Users[0].Role = 0
	if _, err := Encode(UsageBatchType, bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Encode of a record with no role: %v", err)
	}
}

// paris returns an instant given as Paris wall-clock time.
func paris(t *testing.T, y int, m time.Month, d, hh, mm int) int64 {
	t.Helper()
	loc, err := LoadZone("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(y, m, d, hh, mm, 0, 0, loc).UnixMilli()
}

func TestUsageMonthClosesOnTrustedTime(t *testing.T) {
	h := usageHarness(t)
	h.ok(SetSiteZoneType, SetSiteZone{Zone: "Europe/Paris", Now: t0})
	may := usage.MonthKey{Year: 2026, Month: time.May}
	h.report(t0, "col-1", 1, recs(t0, 1, 2)...)
	report := func() usage.Report {
		t.Helper()
		r := h.f.UsageMonth(may)
		if len(r) != 1 {
			t.Fatalf("%d reports for May", len(r))
		}
		return r[0]
	}
	// Any command moves trusted time; June begins in Paris two hours
	// before it does in UTC.
	endMay := paris(t, 2026, time.June, 1, 0, 0)
	h.ok(CollectorSeenType, CollectorSeen{Now: endMay - 1, Entries: []SeenEntry{{CollectorID: "col-1", SeenAt: endMay - 1}}})
	if report().Closed {
		t.Fatal("May closed a millisecond before it ended in Paris")
	}
	h.ok(CollectorSeenType, CollectorSeen{Now: endMay + 5, Entries: []SeenEntry{{CollectorID: "col-1", SeenAt: endMay + 5}}})
	r := report()
	if !r.Closed || r.ClosedAt.UnixMilli() != endMay+5 || r.Metrics.EnStaff != 2 {
		t.Fatalf("May after its end: %+v", r)
	}
	if r.End.UnixMilli() != endMay {
		t.Fatalf("May ends %v in Paris", r.End)
	}

	// A sample of May arriving now is kept beside it, not in it; so is the
	// May part of a session of a June sample.
	h.report(endMay+10, "col-1", 1, rec(3, endMay-60_000), rec(4, endMay+1000))
	r = report()
	if r.Metrics.EnStaff != 2 || r.Late == nil || r.Late.Users != 2 || r.Late.Combined.EnStaff != 3 || r.Late.Combined.AcStaff != 4 {
		t.Fatalf("late arrival: %+v late %+v", r, r.Late)
	}
	june := h.f.UsageMonth(usage.MonthKey{Year: 2026, Month: time.June})
	if len(june) != 1 || june[0].Closed || june[0].Metrics.EnStaff != 1 {
		t.Fatalf("June: %+v", june)
	}
	// The day of the late sample still counts it: days are a record of
	// what was acknowledged, not of the months' rules.
	days, _ := h.f.UsageDays(testInst, may)
	if n := len(days); n != 2 || days[n-1].Day.String() != "2026-05-31" || days[n-1].Samples != 1 {
		t.Fatalf("May's days: %+v", days)
	}
}

func TestUsageDaysRetention(t *testing.T) {
	h := usageHarness(t)
	const day = 24 * 3600 * 1000
	start := t0 - (MaxUsageDays+10)*day
	for i := range int64(MaxUsageDays + 10) {
		h.report(t0, "col-1", 1, rec(uint64(i+1), start+i*day))
	}
	days, _ := h.f.UsageDays(testInst, usage.MonthKey{})
	if len(days) != MaxUsageDays {
		t.Fatalf("%d days kept, want %d", len(days), MaxUsageDays)
	}
	if first := usage.DayOf(time.UnixMilli(start+10*day), time.UTC); days[0].Day != first {
		t.Fatalf("oldest day kept %v, want %v", days[0].Day, first)
	}
	// A sample older than every kept day is dropped with its day.
	h.report(t0, "col-1", 1, rec(10_000, start))
	if days, _ := h.f.UsageDays(testInst, usage.MonthKey{}); len(days) != MaxUsageDays || days[0].Day.Compare(usage.DayOf(time.UnixMilli(start), time.UTC)) == 0 {
		t.Fatal("an ancient day was kept")
	}
}

func TestSetSiteZone(t *testing.T) {
	h := usageHarness(t)
	if z := h.f.SiteZone(); z != "UTC" {
		t.Fatalf("default zone %q", z)
	}
	for _, bad := range []string{"", "Local", "Mars/Olympus_Mons", strings.Repeat("A", 65)} {
		raw, _ := json.Marshal(SetSiteZone{Zone: bad, Now: t0})
		if r := h.applyRaw(append([]byte{byte(SetSiteZoneType)}, raw...)); !errors.Is(r.Err, ErrMalformed) {
			t.Errorf("zone %q: %v", bad, r.Err)
		}
	}
	h.ok(SetSiteZoneType, SetSiteZone{Zone: "Asia/Tokyo", Now: t0})
	h.ok(SetSiteZoneType, SetSiteZone{Zone: "Europe/Paris", Now: t0})
	h.report(t0, "col-1", 1, recs(t0, 1)...)
	before := stateBytes(t, h.f)
	r := h.apply(SetSiteZoneType, SetSiteZone{Zone: "Asia/Tokyo", Now: t0})
	if !errors.Is(r.Err, ErrZoneLocked) || !strings.Contains(r.Err.Error(), "Europe/Paris") {
		t.Fatalf("zone change after usage: %v", r.Err)
	}
	if !bytes.Equal(stateBytes(t, h.f), before) {
		t.Fatal("a refused zone change changed the state")
	}
	// Saying the zone in force again is fine.
	h.ok(SetSiteZoneType, SetSiteZone{Zone: "Europe/Paris", Now: t0})
	if z := h.f.SiteZone(); z != "Europe/Paris" || !h.f.UsageRecorded() {
		t.Fatalf("zone %q recorded %v", z, h.f.UsageRecorded())
	}
}

// A zone change before any usage keeps how far months were closed, cut in
// the new zone.
func TestSetSiteZoneKeepsClosedAsOf(t *testing.T) {
	h := usageHarness(t)
	h.report(t0, "col-1", 1) // an empty batch: months are now closed up to t0
	h.ok(SetSiteZoneType, SetSiteZone{Zone: "Pacific/Kiritimati", Now: t0})
	h.report(t0, "col-1", 1, rec(1, t0-40*24*3600*1000))
	hist, _ := h.f.UsageHistory(testInst)
	if len(hist) != 1 || !hist[0].Closed || hist[0].Late == nil {
		t.Fatalf("a sample of an earlier month after the zone change: %+v", hist)
	}
}
