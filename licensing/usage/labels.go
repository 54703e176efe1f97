package usage

import (
	"strconv"
	"time"
)

// Metric names one metric column. The values are the JSON names in Metrics.
type Metric string

// Metric keys, in the order seed 004 lists its labels, then seed 000's.
const (
	MetricSuper           Metric = "super"
	MetricEnStaff         Metric = "en_staff"
	MetricAcStaff         Metric = "ac_staff"
	MetricEnMgrs          Metric = "en_mgrs"
	MetricAcMgrs          Metric = "ac_mgrs"
	MetricEnReps          Metric = "en_reps"
	MetricAcReps          Metric = "ac_reps"
	MetricConcMax         Metric = "conc_max"
	MetricConcWhen        Metric = "conc_when"
	MetricLogonMinutes    Metric = "logon_minutes"
	MetricFileLimit       Metric = "file_limit"
	MetricCommItems       Metric = "comm_items"
	MetricProcessFields   Metric = "process_fields"
	MetricUserCountLatest Metric = "user_count_latest"
	MetricUserCountMax    Metric = "user_count_max"
	MetricCaseCountLatest Metric = "case_count_latest"
	MetricCaseCountMax    Metric = "case_count_max"
)

// Label is how views name a metric: Long in info boxes, Short as a grid
// column header.
type Label struct {
	Metric Metric `json:"metric"`
	Long   string `json:"long"`
	Short  string `json:"short"`
	// Seed is the source document the metric comes from ("004" or "000").
	Seed string `json:"seed"`
}

// Labels returns every metric's labels in display order: seed 004's list
// word for word, then seed 000's user and case counts (whose labels seed 000
// does not give; these are ours). It returns a fresh slice each call.
func Labels() []Label {
	return []Label{
		{MetricSuper, "Super users", "Super", "004"},
		{MetricEnStaff, "Enabled staff", "En. staff", "004"},
		{MetricAcStaff, "Active staff", "Ac. staff", "004"},
		{MetricEnMgrs, "Enabled managers", "En. mgrs", "004"},
		{MetricAcMgrs, "Active managers", "Ac. mgrs", "004"},
		{MetricEnReps, "Enabled reps", "En. reps", "004"},
		{MetricAcReps, "Active reps", "Ac. reps", "004"},
		{MetricConcMax, "Concurrent max", "Conc. max", "004"},
		{MetricConcWhen, "When", "When", "004"},
		{MetricLogonMinutes, "Logon time", "Minutes", "004"},
		{MetricFileLimit, "File limit", "File limit", "004"},
		{MetricCommItems, "Comm. items", "Items", "004"},
		{MetricProcessFields, "Process fields", "Fields", "004"},
		{MetricUserCountLatest, "User count", "Users", "000"},
		{MetricUserCountMax, "Most users", "Max users", "000"},
		{MetricCaseCountLatest, "Case count", "Cases", "000"},
		{MetricCaseCountMax, "Most cases", "Max cases", "000"},
	}
}

// WhenLayout is how Value formats the concurrent maximum's time.
const WhenLayout = "2006-01-02 15:04"

// Value formats one metric for display, times in loc (nil means UTC). An
// unknown metric, or a When with no logon, gives "".
func (m Metrics) Value(id Metric, loc *time.Location) string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	switch id {
	case MetricSuper:
		return n(m.Super)
	case MetricEnStaff:
		return n(m.EnStaff)
	case MetricAcStaff:
		return n(m.AcStaff)
	case MetricEnMgrs:
		return n(m.EnMgrs)
	case MetricAcMgrs:
		return n(m.AcMgrs)
	case MetricEnReps:
		return n(m.EnReps)
	case MetricAcReps:
		return n(m.AcReps)
	case MetricConcMax:
		return n(m.ConcMax)
	case MetricConcWhen:
		if m.ConcWhen.IsZero() {
			return ""
		}
		if loc == nil {
			loc = time.UTC
		}
		return m.ConcWhen.In(loc).Format(WhenLayout)
	case MetricLogonMinutes:
		return n(m.LogonMinutes)
	case MetricFileLimit:
		return n(m.FileLimitMB)
	case MetricCommItems:
		return n(m.CommItems)
	case MetricProcessFields:
		return n(m.ProcessFields)
	case MetricUserCountLatest:
		return n(m.UserCountLatest)
	case MetricUserCountMax:
		return n(m.UserCountMax)
	case MetricCaseCountLatest:
		return n(m.CaseCountLatest)
	case MetricCaseCountMax:
		return n(m.CaseCountMax)
	}
	return ""
}

// Cells formats every metric in Labels order: one grid row.
func (m Metrics) Cells(loc *time.Location) []string {
	ls := Labels()
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = m.Value(l.Metric, loc)
	}
	return out
}
