// Package usagewire converts the usage domain's types (licensing/usage) to
// and from their licmeshv1 messages, so that the masters' API, the
// collector's meter, meshctl and the dashboard agree on one mapping. It sits
// at the edge, outside mesh/wire, which depends on nothing of the project.
package usagewire

import (
	"fmt"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func timeOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// MetricsToWire converts one month's metrics.
func MetricsToWire(m usage.Metrics) *licmeshv1.UsageMetrics {
	return &licmeshv1.UsageMetrics{
		Super: m.Super, EnStaff: m.EnStaff, AcStaff: m.AcStaff, EnMgrs: m.EnMgrs, AcMgrs: m.AcMgrs,
		EnReps: m.EnReps, AcReps: m.AcReps, ConcMax: m.ConcMax, ConcWhenMs: msOrZero(m.ConcWhen),
		LogonMinutes: m.LogonMinutes, FileLimit: m.FileLimitMB, CommItems: m.CommItems,
		ProcessFields: m.ProcessFields, UserCountLatest: m.UserCountLatest, UserCountMax: m.UserCountMax,
		CaseCountLatest: m.CaseCountLatest, CaseCountMax: m.CaseCountMax,
	}
}

// MetricsFromWire is the inverse of MetricsToWire; nil gives zero metrics.
func MetricsFromWire(m *licmeshv1.UsageMetrics) usage.Metrics {
	return usage.Metrics{
		Super: m.GetSuper(), EnStaff: m.GetEnStaff(), AcStaff: m.GetAcStaff(), EnMgrs: m.GetEnMgrs(),
		AcMgrs: m.GetAcMgrs(), EnReps: m.GetEnReps(), AcReps: m.GetAcReps(), ConcMax: m.GetConcMax(),
		ConcWhen: timeOrZero(m.GetConcWhenMs()), LogonMinutes: m.GetLogonMinutes(), FileLimitMB: m.GetFileLimit(),
		CommItems: m.GetCommItems(), ProcessFields: m.GetProcessFields(), UserCountLatest: m.GetUserCountLatest(),
		UserCountMax: m.GetUserCountMax(), CaseCountLatest: m.GetCaseCountLatest(), CaseCountMax: m.GetCaseCountMax(),
	}
}

// ReportToWire converts one installation's month.
func ReportToWire(r usage.Report) *licmeshv1.UsageReport {
	out := &licmeshv1.UsageReport{
		Installation: string(r.Installation), Month: r.Key.String(), Label: r.Label,
		StartMs: msOrZero(r.Start), EndMs: msOrZero(r.End), Closed: r.Closed, ClosedAtMs: msOrZero(r.ClosedAt),
		Metrics: MetricsToWire(r.Metrics),
	}
	if r.Late != nil {
		out.Late = &licmeshv1.UsageLate{Users: int64(r.Late.Users), Facts: r.Late.Facts,
			Metrics: MetricsToWire(r.Late.Metrics), Combined: MetricsToWire(r.Late.Combined)}
	}
	return out
}

// ReportFromWire is the inverse of ReportToWire. It refuses a report whose
// month is not "YYYY-MM", so views never show a row they cannot place.
func ReportFromWire(r *licmeshv1.UsageReport) (usage.Report, error) {
	k, err := ParseMonth(r.GetMonth())
	if err != nil {
		return usage.Report{}, err
	}
	out := usage.Report{
		Installation: usage.InstallationID(r.GetInstallation()), Key: k, Label: r.GetLabel(),
		Start: timeOrZero(r.GetStartMs()), End: timeOrZero(r.GetEndMs()), Closed: r.GetClosed(),
		ClosedAt: timeOrZero(r.GetClosedAtMs()), Metrics: MetricsFromWire(r.GetMetrics()),
	}
	if l := r.GetLate(); l != nil {
		out.Late = &usage.LateArrivals{Users: int(l.GetUsers()), Facts: l.GetFacts(),
			Metrics: MetricsFromWire(l.GetMetrics()), Combined: MetricsFromWire(l.GetCombined())}
	}
	return out, nil
}

// ParseMonth parses "YYYY-MM" (the form of MonthKey.String) and refuses
// anything else, including a month out of 1970..2199.
func ParseMonth(s string) (usage.MonthKey, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil || len(s) != 7 {
		return usage.MonthKey{}, fmt.Errorf("month %q is not YYYY-MM", s)
	}
	k := usage.MonthKey{Year: t.Year(), Month: t.Month()}
	if !k.Valid() {
		return usage.MonthKey{}, fmt.Errorf("month %q is out of range 1970-01..2199-12", s)
	}
	return k, nil
}
