package fsm

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/alert"
)

// Alerts (promise P6): which alerts fired, once each, and the site's own
// rules. The leader evaluates the rules (licensing/alert) on trusted time
// and commits FireAlerts with what holds now; the FSM fires each key that
// is not already firing, so a new leader, which sees the same records,
// neither repeats an alert nor skips one, and resolves the keys whose
// condition cleared. A resolved key fires again if its condition comes
// back: a new episode, counted.
const (
	// maxAlertRecords bounds the records kept; past it the oldest resolved
	// ones go first.
	maxAlertRecords = 10_000
	// alertRetention is how long a resolved alert is kept.
	alertRetention = 90 * 24 * time.Hour
	// maxAlertRules bounds the site's rules (kinds and licenses).
	maxAlertRules       = 1_000
	maxAlertsPerCommand = 1_000
	maxAlertKeyLen      = 300
	maxAlertSummaryLen  = 1_000
)

// AlertRecord is one alert as the cluster keeps it.
type AlertRecord struct {
	alert.Alert
	// FiredAt is when it last fired (Unix ms of trusted time); Episodes
	// counts the times it fired.
	FiredAt  int64
	Episodes int
	// AckedBy and AckedAt say who acknowledged it, and when; an alert
	// firing again is unacknowledged.
	AckedBy string `json:",omitempty"`
	AckedAt int64  `json:",omitempty"`
	// ResolvedAt is when its condition cleared, 0 while it holds.
	ResolvedAt int64 `json:",omitempty"`
}

// Active reports whether the alert's condition still holds.
func (r AlertRecord) Active() bool { return r.ResolvedAt == 0 }

type alertsState struct {
	// rules are the site's own rules by kind/subject; the kinds' defaults
	// (alert.Default) apply where there is none.
	rules   map[string]alert.Rule
	records map[string]AlertRecord
}

func newAlertsState() *alertsState {
	return &alertsState{rules: map[string]alert.Rule{}, records: map[string]AlertRecord{}}
}

func ruleKey(r alert.Rule) string { return string(r.Kind) + "/" + r.Subject }

// SetAlertRule sets the site's rule for a kind (or one license), or with
// Reset puts the default back.
type SetAlertRule struct {
	Rule  alert.Rule
	Reset bool `json:",omitempty"`
	By    string
	Now   int64
}

// FireAlerts fires the alerts that hold and are not firing yet, and
// resolves those of Resolve that are.
type FireAlerts struct {
	Fire    []alert.Alert `json:",omitempty"`
	Resolve []string      `json:",omitempty"`
	Now     int64
}

// AckAlert records that someone saw an alert.
type AckAlert struct {
	Key string
	By  string
	Now int64
}

func (SetAlertRule) msgType() MsgType { return SetAlertRuleType }
func (FireAlerts) msgType() MsgType   { return FireAlertsType }
func (AckAlert) msgType() MsgType     { return AckAlertType }

func (c SetAlertRule) now() int64 { return c.Now }
func (c FireAlerts) now() int64   { return c.Now }
func (c AckAlert) now() int64     { return c.Now }

func (c SetAlertRule) validate() error {
	r := c.Rule
	if c.Reset {
		// A reset names the rule only.
		r = alert.Rule{Kind: r.Kind, Subject: r.Subject, Disabled: true}
	}
	if _, err := r.Normalize(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return firstErr(checkNow(c.Now), checkText("by", c.By, 128))
}

func (c FireAlerts) validate() error {
	if len(c.Fire)+len(c.Resolve) > maxAlertsPerCommand {
		return fmt.Errorf("%w: %d alerts in one command, at most %d", ErrMalformed, len(c.Fire)+len(c.Resolve), maxAlertsPerCommand)
	}
	for _, a := range c.Fire {
		if err := checkAlert(a); err != nil {
			return err
		}
	}
	for _, k := range c.Resolve {
		if err := checkText("alert key", k, maxAlertKeyLen); err != nil {
			return err
		}
	}
	return checkNow(c.Now)
}

func (c AckAlert) validate() error {
	return firstErr(checkNow(c.Now), checkText("alert key", c.Key, maxAlertKeyLen), checkText("by", c.By, 128))
}

func checkAlert(a alert.Alert) error {
	switch {
	case !a.Kind.Known():
		return fmt.Errorf("%w: alert %q: unknown kind %q", ErrMalformed, clip(a.Key), clip(string(a.Kind)))
	case !strings.HasPrefix(a.Key, string(a.Kind)+"/"):
		return fmt.Errorf("%w: alert %q does not start with its kind", ErrMalformed, clip(a.Key))
	case a.Severity != alert.Info && a.Severity != alert.Warning && a.Severity != alert.Critical:
		return fmt.Errorf("%w: alert %q: severity %q", ErrMalformed, clip(a.Key), clip(string(a.Severity)))
	}
	return firstErr(checkText("alert key", a.Key, maxAlertKeyLen), checkText("alert summary", a.Summary, maxAlertSummaryLen))
}

func applySetAlertRule(s *state, ac *applyCtx, c *SetAlertRule) Response {
	if c.Reset {
		delete(s.alerts.rules, ruleKey(c.Rule))
		return Response{}
	}
	r, _ := c.Rule.Normalize() // validated
	k := ruleKey(r)
	if _, ok := s.alerts.rules[k]; !ok && len(s.alerts.rules) >= maxAlertRules {
		return Response{Err: fmt.Errorf("%w: the site has %d alert rules already", ErrMalformed, maxAlertRules)}
	}
	s.alerts.rules[k] = r
	return Response{}
}

func applyFireAlerts(s *state, ac *applyCtx, c *FireAlerts) Response {
	a := s.alerts
	var fired []string
	for _, x := range c.Fire {
		r, ok := a.records[x.Key]
		if ok && r.Active() {
			continue // firing already: once per key
		}
		r.Alert = x
		r.FiredAt, r.Episodes, r.AckedBy, r.AckedAt, r.ResolvedAt = ac.at, r.Episodes+1, "", 0, 0
		a.records[x.Key] = r
		fired = append(fired, x.Key)
	}
	for _, k := range c.Resolve {
		if r, ok := a.records[k]; ok && r.Active() {
			r.ResolvedAt = ac.at
			a.records[k] = r
		}
	}
	a.prune(ac.at)
	return Response{Alerts: fired}
}

// prune drops resolved alerts past the retention, then the oldest
// resolved ones while there are too many.
func (a *alertsState) prune(now int64) {
	for k, r := range a.records {
		if !r.Active() && now-r.ResolvedAt > alertRetention.Milliseconds() {
			delete(a.records, k)
		}
	}
	if len(a.records) <= maxAlertRecords {
		return
	}
	var resolved []AlertRecord
	for _, r := range a.records {
		if !r.Active() {
			resolved = append(resolved, r)
		}
	}
	slices.SortFunc(resolved, func(x, y AlertRecord) int {
		return cmp.Or(cmp.Compare(x.ResolvedAt, y.ResolvedAt), cmp.Compare(x.Key, y.Key))
	})
	for _, r := range resolved {
		if len(a.records) <= maxAlertRecords {
			break
		}
		delete(a.records, r.Key)
	}
}

func applyAckAlert(s *state, ac *applyCtx, c *AckAlert) Response {
	r, ok := s.alerts.records[c.Key]
	if !ok {
		return Response{Err: fmt.Errorf("%w: %q", ErrUnknownAlert, clip(c.Key))}
	}
	if r.AckedAt == 0 {
		r.AckedBy, r.AckedAt = c.By, ac.at
		s.alerts.records[c.Key] = r
	}
	return Response{}
}

// AlertFilter selects alerts.
type AlertFilter struct {
	// Active keeps the alerts whose condition holds; Unacked those no one
	// acknowledged.
	Active, Unacked bool
	Kind            alert.Kind
	Limit           int
}

// Alerts returns the alerts f selects, the latest fired first.
func (f *FSM) Alerts(filter AlertFilter) []AlertRecord {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []AlertRecord
	for _, r := range f.st.alerts.records {
		if (filter.Active && !r.Active()) || (filter.Unacked && r.AckedAt != 0) || (filter.Kind != "" && r.Kind != filter.Kind) {
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(x, y AlertRecord) int {
		return cmp.Or(cmp.Compare(y.FiredAt, x.FiredAt), cmp.Compare(x.Key, y.Key))
	})
	if filter.Limit > 0 && len(out) > filter.Limit {
		out = out[:filter.Limit]
	}
	return out
}

// AlertRules returns the site's own rules, sorted by kind and subject.
func (f *FSM) AlertRules() []alert.Rule {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []alert.Rule
	for _, k := range slices.Sorted(maps.Keys(f.st.alerts.rules)) {
		out = append(out, f.st.alerts.rules[k])
	}
	return out
}

// Alerts' snapshot records (format 3), after upstream's, counted with
// usage metering's in the end record:
//
//	19 alert rule    one of the site's rules, by kind/subject
//	20 alert record  one alert, by key
const (
	recAlertRule   byte = 19
	recAlertRecord byte = 20
)

func (a *alertsState) snapshot() ([]snapRecord, error) {
	var out []snapRecord
	for _, k := range slices.Sorted(maps.Keys(a.rules)) {
		b, err := json.Marshal(a.rules[k])
		if err != nil {
			return nil, fmt.Errorf("fsm: snapshot: alert rule: %w", err)
		}
		out = append(out, snapRecord{recAlertRule, b})
	}
	for _, k := range slices.Sorted(maps.Keys(a.records)) {
		b, err := json.Marshal(a.records[k])
		if err != nil {
			return nil, fmt.Errorf("fsm: snapshot: alert: %w", err)
		}
		out = append(out, snapRecord{recAlertRecord, b})
	}
	return out, nil
}

func (rs *restorer) alertRecord(kind byte, body []byte) error {
	a := rs.st.alerts
	switch kind {
	case recAlertRule:
		var r alert.Rule
		if err := strictJSON(body, &r); err != nil {
			return badSnap("alert rule: %v", err)
		}
		n, err := r.Normalize()
		if err != nil {
			return badSnap("alert rule: %v", err)
		}
		if err := rs.ordered("alert rule", ruleKey(n)); err != nil {
			return err
		}
		if len(a.rules) >= maxAlertRules {
			return badSnap("more than %d alert rules", maxAlertRules)
		}
		a.rules[ruleKey(n)] = n
	case recAlertRecord:
		var r AlertRecord
		if err := strictJSON(body, &r); err != nil {
			return badSnap("alert: %v", err)
		}
		if err := checkAlert(r.Alert); err != nil {
			return badSnap("alert: %v", err)
		}
		if r.FiredAt <= 0 || r.Episodes < 1 || r.ResolvedAt < 0 || r.AckedAt < 0 {
			return badSnap("alert %q: times or episodes out of range", clip(r.Key))
		}
		if err := rs.ordered("alert", r.Key); err != nil {
			return err
		}
		if len(a.records) >= maxAlertRecords {
			return badSnap("more than %d alerts", maxAlertRecords)
		}
		a.records[r.Key] = r
	}
	rs.counts[7]++
	return nil
}
