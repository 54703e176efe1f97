package fsm

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.True(t, ok, "installation %s unknown", inst)
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
	e, s := h.f.UsageHighWater("col-1")
	require.Equal(t, [2]uint64{1, 3}, [2]uint64{e, s}, "high-water epoch/seq")
	// The same batch again (a retry after a lost answer) changes nothing.
	before := stateBytes(t, h.f)
	require.NoError(t, h.report(t0, "col-1", 1, recs(t0, 1, 2, 3)...).Err)
	require.Equal(t, before, stateBytes(t, h.f), "a duplicate batch changed the state")
	// An overlapping batch applies only what is new; a gap is allowed.
	h.report(t0+10_000, "col-1", 1, recs(t0+10_000, 2, 3, 4, 7)...)
	// A replay of everything so far, in one batch, adds nothing.
	before = stateBytes(t, h.f)
	h.report(t0+10_000, "col-1", 1, recs(t0, 1, 2, 3, 4, 5, 6, 7)...)
	require.Equal(t, before, stateBytes(t, h.f), "a replay changed the state")
	// Another collector's sequences are its own.
	h.report(t0+20_000, "col-2", 5, recs(t0+20_000, 1, 2)...)
	sum, n := seqStats(t, h.f, testInst)
	require.Equal(t, int64(1+2+3+4+7+1+2), sum, "seq sum over %d samples", n)
	require.Equal(t, uint64(7), n, "samples")
	ov := h.f.UsageOverview()
	require.Len(t, ov.Collectors, 2, "overview %+v", ov.Collectors)
	assert.Equal(t, uint64(7), ov.Collectors[0].Seq, "overview %+v", ov.Collectors)
	assert.Equal(t, uint64(5), ov.Collectors[0].Samples, "overview %+v", ov.Collectors)
	assert.Equal(t, uint64(5), ov.Collectors[1].Epoch, "overview %+v", ov.Collectors)
	assert.Equal(t, uint64(2), ov.Collectors[1].Samples, "overview %+v", ov.Collectors)
	assert.Equal(t, t0+10_000, ov.Collectors[0].LastReportAt, "overview %+v", ov.Collectors)
	assert.Equal(t, "UTC", ov.Zone, "overview zone")
	assert.Equal(t, []usage.MonthKey{{Year: 2026, Month: time.May}}, ov.Months, "overview months")
	// Users u1 and u2 of both collectors are the same users.
	hist, ok := h.f.UsageHistory(testInst)
	require.True(t, ok, "history")
	require.Len(t, hist, 1, "history %+v", hist)
	assert.Equal(t, int64(5), hist[0].Metrics.EnStaff, "history %+v", hist)
	assert.Equal(t, int64(40), hist[0].Metrics.UserCountLatest, "history %+v", hist)
	assert.False(t, hist[0].Closed, "history %+v", hist)
	_, ok = h.f.UsageHistory("elsewhere")
	assert.False(t, ok, "an unknown installation has a history")
}

func TestUsageEpochs(t *testing.T) {
	h := usageHarness(t)
	h.report(t0, "col-1", 3, recs(t0, 1, 2, 3, 4)...)
	// A new spool starts again at 1: nothing of it is a duplicate.
	h.report(t0+1000, "col-1", 4, recs(t0+1000, 1, 2)...)
	e, s := h.f.UsageHighWater("col-1")
	require.Equal(t, [2]uint64{4, 2}, [2]uint64{e, s}, "high-water epoch/seq")
	// A late retry from the old spool is stale: no change at all.
	before := stateBytes(t, h.f)
	require.NoError(t, h.report(t0+1000, "col-1", 3, recs(t0, 5, 6)...).Err)
	require.Equal(t, before, stateBytes(t, h.f), "a stale epoch changed the state")
	sum, n := seqStats(t, h.f, testInst)
	require.Equal(t, int64(1+2+3+4+1+2), sum, "seq sum over %d samples", n)
	require.Equal(t, uint64(6), n, "samples")
	// An empty batch of a newer epoch moves the epoch.
	h.report(t0+2000, "col-1", 9)
	e, s = h.f.UsageHighWater("col-1")
	require.Equal(t, [2]uint64{9, 0}, [2]uint64{e, s}, "high-water epoch/seq")
	e, s = h.f.UsageHighWater("col-9")
	require.Equal(t, [2]uint64{0, 0}, [2]uint64{e, s}, "unknown collector")
}

// usageRaw encodes a batch by hand, past Encode's checks, as a corrupt or
// hostile log entry would be.
func usageRaw(t *testing.T, b UsageBatch, mutate func(m map[string]any)) []byte {
	t.Helper()
	js, err := json.Marshal(b)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(js, &m))
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
		assert.ErrorIs(t, r.Err, c.want, name)
		assert.ErrorContains(t, r.Err, c.detail, name)
		require.Equal(t, before, stateBytes(t, h.f), "%s: refused batch changed the state", name)
	}
	// The unchanged batch applies, both records.
	require.NoError(t, h.applyRaw(usageRaw(t, good, func(map[string]any) {})).Err)
	_, s := h.f.UsageHighWater("col-1")
	require.Equal(t, uint64(3), s, "high-water after the good batch")
	// Encode refuses what Decode would.
	bad := good
	bad.Records = []UsageRecord{rec(4, t0)}
	bad.Records[0].Sample.Users[0].Role = 0
	_, err := Encode(UsageBatchType, bad)
	require.ErrorIs(t, err, ErrMalformed, "Encode of a record with no role")
}

// paris returns an instant given as Paris wall-clock time.
func paris(t *testing.T, y int, m time.Month, d, hh, mm int) int64 {
	t.Helper()
	loc, err := LoadZone("Europe/Paris")
	require.NoError(t, err)
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
		require.Len(t, r, 1, "reports for May")
		return r[0]
	}
	// Any command moves trusted time; June begins in Paris two hours
	// before it does in UTC.
	endMay := paris(t, 2026, time.June, 1, 0, 0)
	h.ok(CollectorSeenType, CollectorSeen{Now: endMay - 1, Entries: []SeenEntry{{CollectorID: "col-1", SeenAt: endMay - 1}}})
	require.False(t, report().Closed, "May closed a millisecond before it ended in Paris")
	h.ok(CollectorSeenType, CollectorSeen{Now: endMay + 5, Entries: []SeenEntry{{CollectorID: "col-1", SeenAt: endMay + 5}}})
	r := report()
	require.True(t, r.Closed, "May after its end: %+v", r)
	require.Equal(t, endMay+5, r.ClosedAt.UnixMilli(), "May after its end: %+v", r)
	require.Equal(t, int64(2), r.Metrics.EnStaff, "May after its end: %+v", r)
	require.Equal(t, endMay, r.End.UnixMilli(), "May ends %v in Paris", r.End)

	// A sample of May arriving now is kept beside it, not in it; so is the
	// May part of a session of a June sample.
	h.report(endMay+10, "col-1", 1, rec(3, endMay-60_000), rec(4, endMay+1000))
	r = report()
	require.Equal(t, int64(2), r.Metrics.EnStaff, "late arrival: %+v", r)
	require.NotNil(t, r.Late, "late arrival: %+v", r)
	assert.Equal(t, 2, r.Late.Users, "late arrival: %+v late %+v", r, r.Late)
	assert.Equal(t, int64(3), r.Late.Combined.EnStaff, "late arrival: %+v late %+v", r, r.Late)
	assert.Equal(t, int64(4), r.Late.Combined.AcStaff, "late arrival: %+v late %+v", r, r.Late)
	june := h.f.UsageMonth(usage.MonthKey{Year: 2026, Month: time.June})
	require.Len(t, june, 1, "June: %+v", june)
	assert.False(t, june[0].Closed, "June: %+v", june)
	assert.Equal(t, int64(1), june[0].Metrics.EnStaff, "June: %+v", june)
	// The day of the late sample still counts it: days are a record of
	// what was acknowledged, not of the months' rules.
	days, _ := h.f.UsageDays(testInst, may)
	require.Len(t, days, 2, "May's days: %+v", days)
	assert.Equal(t, "2026-05-31", days[1].Day.String(), "May's days: %+v", days)
	assert.Equal(t, uint64(1), days[1].Samples, "May's days: %+v", days)
}

func TestUsageDaysRetention(t *testing.T) {
	h := usageHarness(t)
	const day = 24 * 3600 * 1000
	start := t0 - (MaxUsageDays+10)*day
	for i := range int64(MaxUsageDays + 10) {
		h.report(t0, "col-1", 1, rec(uint64(i+1), start+i*day))
	}
	days, _ := h.f.UsageDays(testInst, usage.MonthKey{})
	require.Len(t, days, MaxUsageDays, "days kept")
	require.Equal(t, usage.DayOf(time.UnixMilli(start+10*day), time.UTC), days[0].Day, "oldest day kept")
	// A sample older than every kept day is dropped with its day.
	h.report(t0, "col-1", 1, rec(10_000, start))
	days, _ = h.f.UsageDays(testInst, usage.MonthKey{})
	require.Len(t, days, MaxUsageDays, "an ancient day was kept")
	require.NotZero(t, days[0].Day.Compare(usage.DayOf(time.UnixMilli(start), time.UTC)), "an ancient day was kept")
}

func TestSetSiteZone(t *testing.T) {
	h := usageHarness(t)
	require.Equal(t, "UTC", h.f.SiteZone(), "default zone")
	for _, bad := range []string{"", "Local", "Mars/Olympus_Mons", strings.Repeat("A", 65)} {
		raw, _ := json.Marshal(SetSiteZone{Zone: bad, Now: t0})
		r := h.applyRaw(append([]byte{byte(SetSiteZoneType)}, raw...))
		assert.ErrorIs(t, r.Err, ErrMalformed, "zone %q", bad)
	}
	h.ok(SetSiteZoneType, SetSiteZone{Zone: "Asia/Tokyo", Now: t0})
	h.ok(SetSiteZoneType, SetSiteZone{Zone: "Europe/Paris", Now: t0})
	h.report(t0, "col-1", 1, recs(t0, 1)...)
	before := stateBytes(t, h.f)
	r := h.apply(SetSiteZoneType, SetSiteZone{Zone: "Asia/Tokyo", Now: t0})
	require.ErrorIs(t, r.Err, ErrZoneLocked, "zone change after usage")
	require.ErrorContains(t, r.Err, "Europe/Paris", "zone change after usage")
	require.Equal(t, before, stateBytes(t, h.f), "a refused zone change changed the state")
	// Saying the zone in force again is fine.
	h.ok(SetSiteZoneType, SetSiteZone{Zone: "Europe/Paris", Now: t0})
	assert.Equal(t, "Europe/Paris", h.f.SiteZone(), "zone")
	assert.True(t, h.f.UsageRecorded(), "recorded")
}

// A zone change before any usage keeps how far months were closed, cut in
// the new zone.
func TestSetSiteZoneKeepsClosedAsOf(t *testing.T) {
	h := usageHarness(t)
	h.report(t0, "col-1", 1) // an empty batch: months are now closed up to t0
	h.ok(SetSiteZoneType, SetSiteZone{Zone: "Pacific/Kiritimati", Now: t0})
	h.report(t0, "col-1", 1, rec(1, t0-40*24*3600*1000))
	hist, _ := h.f.UsageHistory(testInst)
	require.Len(t, hist, 1, "a sample of an earlier month after the zone change: %+v", hist)
	assert.True(t, hist[0].Closed, "a sample of an earlier month after the zone change: %+v", hist)
	assert.NotNil(t, hist[0].Late, "a sample of an earlier month after the zone change: %+v", hist)
}
