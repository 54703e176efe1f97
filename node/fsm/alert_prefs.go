package fsm

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/alert"
)

// Each person's alerts (issue 16): where their own alert mail goes, which
// kinds and severities they want, their quiet hours, and which alerts they
// have read. Like the channels' deliveries, a person's are queued in the
// FSM when an alert fires, so a new leader carries them on; one that falls
// in the person's quiet hours is due when the quiet hours end, judged in
// their own time zone from the zones built into every master, so masters
// agree on it.

// AlertPrefs are one person's alert preferences.
type AlertPrefs struct {
	// Email is where the person's alert mail goes; empty sends none.
	Email string `json:",omitempty"`
	// Kinds, when set, are the only kinds the person is mailed;
	// MinSeverity the least severe ("" takes all).
	Kinds       []alert.Kind   `json:",omitempty"`
	MinSeverity alert.Severity `json:",omitempty"`
	// QuietFrom and QuietTo ("HH:MM", in Zone) bound the quiet hours, when
	// mail waits; equal or empty means none. A quiet span may cross
	// midnight (22:00 to 07:00).
	QuietFrom string `json:",omitempty"`
	QuietTo   string `json:",omitempty"`
	Zone      string `json:",omitempty"`
	// QuietCritical holds critical alerts in the quiet hours too; by
	// default they come through.
	QuietCritical bool `json:",omitempty"`
}

// Takes reports whether the person wants mail about a.
func (p AlertPrefs) Takes(a alert.Alert) bool {
	ch := AlertChannel{Kinds: p.Kinds, MinSeverity: p.MinSeverity}
	return p.Email != "" && ch.Takes(a)
}

func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time of day like 07:30", clip(s))
	}
	return t.Hour()*60 + t.Minute(), nil
}

func (p AlertPrefs) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: alert preferences: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if p.Email != "" {
		if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email || len(p.Email) > 254 {
			return bad("email %q is not an address like ops@example.com", clip(p.Email))
		}
	}
	for _, k := range p.Kinds {
		if !k.Known() {
			return bad("kinds: %q is not a kind of alert", clip(string(k)))
		}
	}
	if len(p.Kinds) > 64 {
		return bad("%d kinds", len(p.Kinds))
	}
	if _, ok := severityRank[p.MinSeverity]; p.MinSeverity != "" && !ok {
		return bad("min severity %q: info, warning or critical", clip(string(p.MinSeverity)))
	}
	if (p.QuietFrom == "") != (p.QuietTo == "") {
		return bad("quiet hours need both ends, like 22:00 to 07:00")
	}
	if p.QuietFrom != "" {
		if _, err := parseClock(p.QuietFrom); err != nil {
			return bad("quiet from: %v", err)
		}
		if _, err := parseClock(p.QuietTo); err != nil {
			return bad("quiet to: %v", err)
		}
		if p.Zone == "" {
			return bad("quiet hours need a time zone, like Europe/Paris")
		}
	}
	if p.Zone != "" {
		if _, err := loadBuiltinZone(p.Zone); err != nil {
			return bad("zone %q: %v", clip(p.Zone), err)
		}
	}
	return nil
}

// quietUntil returns when mail about a, due at now (Unix ms), may go: now,
// or the end of the quiet hours it falls in.
func (p AlertPrefs) quietUntil(a alert.Alert, now int64) int64 {
	if p.QuietFrom == "" || p.QuietFrom == p.QuietTo || (a.Severity == alert.Critical && !p.QuietCritical) {
		return now
	}
	loc, err := loadBuiltinZone(p.Zone)
	if err != nil {
		return now
	}
	from, _ := parseClock(p.QuietFrom)
	to, _ := parseClock(p.QuietTo)
	t := time.UnixMilli(now).In(loc)
	minute := t.Hour()*60 + t.Minute()
	quiet := from < to && minute >= from && minute < to || from > to && (minute >= from || minute < to)
	if !quiet {
		return now
	}
	end := time.Date(t.Year(), t.Month(), t.Day(), to/60, to%60, 0, 0, loc)
	if !end.After(t) {
		end = time.Date(t.Year(), t.Month(), t.Day()+1, to/60, to%60, 0, 0, loc)
	}
	return end.UnixMilli()
}

// UserChannel is the delivery channel of a person's own alert mail.
func UserChannel(name string) string { return "user:" + name }

// SetAlertPrefs sets one person's alert preferences.
type SetAlertPrefs struct {
	User  string
	Prefs AlertPrefs
	By    string
	Now   int64
}

// MarkAlertsRead records that a person read alerts: Keys, or every alert
// when Keys is empty.
type MarkAlertsRead struct {
	User string
	Keys []string `json:",omitempty"`
	Now  int64
}

func (SetAlertPrefs) msgType() MsgType  { return SetAlertPrefsType }
func (MarkAlertsRead) msgType() MsgType { return MarkAlertsReadType }

func (c SetAlertPrefs) now() int64  { return c.Now }
func (c MarkAlertsRead) now() int64 { return c.Now }

func (c SetAlertPrefs) validate() error {
	if err := CheckUserName(c.User); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return firstErr(c.Prefs.validate(), checkNow(c.Now), checkText("by", c.By, 128))
}

func (c MarkAlertsRead) validate() error {
	if err := CheckUserName(c.User); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(c.Keys) > maxAlertsPerCommand {
		return fmt.Errorf("%w: %d alerts in one command, at most %d", ErrMalformed, len(c.Keys), maxAlertsPerCommand)
	}
	for _, k := range c.Keys {
		if err := checkText("alert key", k, maxAlertKeyLen); err != nil {
			return err
		}
	}
	return checkNow(c.Now)
}

func applySetAlertPrefs(s *state, ac *applyCtx, c *SetAlertPrefs) Response {
	u, ok := s.accounts.users[c.User]
	if !ok {
		return Response{Err: fmt.Errorf("%w: %s", ErrUnknownUser, c.User)}
	}
	p := c.Prefs
	u.Alerts, u.UpdatedAt = &p, ac.at
	if p.Email == "" && len(p.Kinds) == 0 && p.MinSeverity == "" && p.QuietFrom == "" && p.Zone == "" {
		u.Alerts = nil
	}
	s.accounts.users[c.User] = u
	return Response{}
}

func applyMarkAlertsRead(s *state, ac *applyCtx, c *MarkAlertsRead) Response {
	u, ok := s.accounts.users[c.User]
	if !ok {
		return Response{Err: fmt.Errorf("%w: %s", ErrUnknownUser, c.User)}
	}
	a := s.alerts
	reads := a.reads[u.Name]
	if reads == nil {
		reads = map[string]int{}
		a.reads[u.Name] = reads
	}
	keys := c.Keys
	if len(keys) == 0 {
		keys = slices.Collect(maps.Keys(a.records))
	}
	for _, k := range keys {
		if r, ok := a.records[k]; ok {
			reads[k] = r.Episodes
		}
	}
	// What was read of alerts since pruned goes too.
	for k := range reads {
		if _, ok := a.records[k]; !ok {
			delete(reads, k)
		}
	}
	return Response{}
}

// queueUserDeliveries adds, for an alert just fired, a delivery to each
// enabled person whose preferences take it, due when their quiet hours
// allow.
func queueUserDeliveries(s *state, r AlertRecord, now int64) {
	for _, name := range slices.Sorted(maps.Keys(s.accounts.users)) {
		u := s.accounts.users[name]
		if u.Disabled || u.Alerts == nil || !u.Alerts.Takes(r.Alert) {
			continue
		}
		ch := UserChannel(name)
		did := fmt.Sprintf("%s/%s#%d", ch, r.Key, r.Episodes)
		s.alerts.deliveries[did] = Delivery{ID: did, Channel: ch, Alert: r.Alert, FiredAt: r.FiredAt, NextAt: u.Alerts.quietUntil(r.Alert, now)}
	}
}

// Unread reports, for a person, which of the alerts they have not read
// since the alerts last fired.
func (f *FSM) Unread(user string) map[string]bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	a := f.st.alerts
	out := map[string]bool{}
	for k, r := range a.records {
		if a.reads[user][k] < r.Episodes {
			out[k] = true
		}
	}
	return out
}

// Snapshot record kind 27, after the audit log's and counted with the
// alerts' in the end record: one person's read alerts.
const recAlertReads byte = 27

type alertReadsRecord struct {
	User  string
	Reads map[string]int
}

func (a *alertsState) snapshotReads() ([]snapRecord, error) {
	var out []snapRecord
	for _, u := range slices.Sorted(maps.Keys(a.reads)) {
		if len(a.reads[u]) == 0 {
			continue
		}
		b, err := json.Marshal(alertReadsRecord{User: u, Reads: a.reads[u]})
		if err != nil {
			return nil, fmt.Errorf("fsm: snapshot: alert reads: %w", err)
		}
		out = append(out, snapRecord{recAlertReads, b})
	}
	return out, nil
}

func (rs *restorer) alertReads(body []byte) error {
	var r alertReadsRecord
	if err := strictJSON(body, &r); err != nil {
		return badSnap("alert reads: %v", err)
	}
	if err := CheckUserName(r.User); err != nil || len(r.Reads) > maxAlertRecords {
		return badSnap("alert reads of %q: bad user or too many", clip(r.User))
	}
	if err := rs.ordered("alert reads", r.User); err != nil {
		return err
	}
	for k, ep := range r.Reads {
		if k == "" || len(k) > maxAlertKeyLen || ep < 1 || strings.ContainsRune(k, 0) {
			return badSnap("alert reads of %q: bad entry", clip(r.User))
		}
	}
	rs.st.alerts.reads[r.User] = r.Reads
	rs.counts[7]++
	return nil
}
