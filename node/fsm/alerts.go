package fsm

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/mail"
	"net/url"
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
	rules      map[string]alert.Rule
	records    map[string]AlertRecord
	channels   map[string]AlertChannel
	deliveries map[string]Delivery
	// tests numbers the test deliveries.
	tests uint64
	// reads are, per person, the episode of each alert they last read.
	reads map[string]map[string]int
}

func newAlertsState() *alertsState {
	return &alertsState{rules: map[string]alert.Rule{}, records: map[string]AlertRecord{},
		channels: map[string]AlertChannel{}, deliveries: map[string]Delivery{}, reads: map[string]map[string]int{}}
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
	if c.Rule.Kind.Notice() {
		// The products' notices follow the site's rules: collectors get
		// them with their entitlements.
		s.entChanged = s.index
	}
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
		a.queueDeliveries(r, ac.at)
		queueUserDeliveries(s, r, ac.at)
		fired = append(fired, x.Key)
	}
	for _, k := range c.Resolve {
		if r, ok := a.records[k]; ok && r.Active() {
			r.ResolvedAt = ac.at
			a.records[k] = r
		}
	}
	a.prune(ac.at)
	a.pruneDeliveries(ac.at)
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
//	19 alert rule      one of the site's rules, by kind/subject
//	20 alert record    one alert, by key
//	21 alerts head     the test deliveries' counter; absent while 0
//	22 alert channel   one channel, by ID
//	23 alert delivery  one delivery, by ID
const (
	recAlertRule     byte = 19
	recAlertRecord   byte = 20
	recAlertsHead    byte = 21
	recAlertChannel  byte = 22
	recAlertDelivery byte = 23
)

type alertsHeadRecord struct {
	Tests uint64
}

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
	if a.tests != 0 {
		b, err := json.Marshal(alertsHeadRecord{Tests: a.tests})
		if err != nil {
			return nil, fmt.Errorf("fsm: snapshot: alerts head: %w", err)
		}
		out = append(out, snapRecord{recAlertsHead, b})
	}
	for _, k := range slices.Sorted(maps.Keys(a.channels)) {
		b, err := json.Marshal(a.channels[k])
		if err != nil {
			return nil, fmt.Errorf("fsm: snapshot: alert channel: %w", err)
		}
		out = append(out, snapRecord{recAlertChannel, b})
	}
	for _, k := range slices.Sorted(maps.Keys(a.deliveries)) {
		b, err := json.Marshal(a.deliveries[k])
		if err != nil {
			return nil, fmt.Errorf("fsm: snapshot: alert delivery: %w", err)
		}
		out = append(out, snapRecord{recAlertDelivery, b})
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
	case recAlertsHead:
		var h alertsHeadRecord
		if err := strictJSON(body, &h); err != nil {
			return badSnap("alerts head: %v", err)
		}
		a.tests = h.Tests
	case recAlertChannel:
		var c AlertChannel
		if err := strictJSON(body, &c); err != nil {
			return badSnap("alert channel: %v", err)
		}
		if err := c.validate(); err != nil {
			return badSnap("alert channel: %v", err)
		}
		if err := rs.ordered("alert channel", c.ID); err != nil {
			return err
		}
		if len(a.channels) >= maxAlertChannels {
			return badSnap("more than %d alert channels", maxAlertChannels)
		}
		a.channels[c.ID] = c
	case recAlertDelivery:
		var d Delivery
		if err := strictJSON(body, &d); err != nil {
			return badSnap("alert delivery: %v", err)
		}
		if d.ID == "" || d.Channel == "" || d.Attempts < 0 || len(d.LastError) > maxDeliveryError {
			return badSnap("alert delivery %q: fields out of range", clip(d.ID))
		}
		if err := rs.ordered("alert delivery", d.ID); err != nil {
			return err
		}
		if len(a.deliveries) >= maxDeliveries {
			return badSnap("more than %d alert deliveries", maxDeliveries)
		}
		a.deliveries[d.ID] = d
	}
	rs.counts[7]++
	return nil
}

// Channels and deliveries: where fired alerts go besides the dashboard
// (e-mail, webhooks), and each alert's delivery to each channel, made by
// the leader and recorded here so that a new leader carries on where the
// old one stopped. A delivery is sent at least once; its ID travels with
// it (the webhook's X-Licmesh-Delivery header, the mail's Message-ID), so
// a receiver drops the repeat a leader change may cause.
const (
	maxAlertChannels    = 32
	maxChannelEmails    = 20
	maxDeliveries       = 10_000
	deliveryRetention   = 7 * 24 * time.Hour
	maxDeliveryError    = 500
	maxWebhookURLLen    = 512
	minWebhookSecret    = 16
	maxWebhookSecret    = 256
	maxDeliveryAttempts = 12
)

// AlertChannel is where alerts go besides the dashboard.
type AlertChannel struct {
	// ID names the channel: 1 to 32 of [a-z0-9-].
	ID string
	// Kind is "email" or "webhook".
	Kind string
	// Emails are an e-mail channel's recipients.
	Emails []string `json:",omitempty"`
	// URL and Secret are a webhook's: where to POST, and the key of the
	// HMAC-SHA256 signature each request carries.
	URL    string `json:",omitempty"`
	Secret string `json:",omitempty"`
	// Kinds, when set, are the only kinds the channel takes; MinSeverity
	// the least severe ("" takes all).
	Kinds       []alert.Kind   `json:",omitempty"`
	MinSeverity alert.Severity `json:",omitempty"`
	Disabled    bool           `json:",omitempty"`
	// Audit sends a webhook every audit record as well (each change asked
	// of the masters), for an IT system to follow: webhooks only.
	Audit     bool `json:",omitempty"`
	UpdatedAt int64
	UpdatedBy string
}

// Channel kinds.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

var severityRank = map[alert.Severity]int{alert.Info: 0, alert.Warning: 1, alert.Critical: 2}

// Takes reports whether the channel takes alert a.
func (c AlertChannel) Takes(a alert.Alert) bool {
	if c.Disabled || (len(c.Kinds) > 0 && !slices.Contains(c.Kinds, a.Kind)) {
		return false
	}
	return c.MinSeverity == "" || severityRank[a.Severity] >= severityRank[c.MinSeverity]
}

func (c AlertChannel) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: alert channel %q: %s", ErrMalformed, clip(c.ID), fmt.Sprintf(format, args...))
	}
	if c.ID == "" || len(c.ID) > 32 || strings.Trim(c.ID, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return bad("id: 1 to 32 of a-z, 0-9 and -")
	}
	switch c.Kind {
	case ChannelEmail:
		if len(c.Emails) == 0 || len(c.Emails) > maxChannelEmails {
			return bad("emails: 1 to %d recipients", maxChannelEmails)
		}
		for _, e := range c.Emails {
			if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
				return bad("emails: %q is not an address like ops@example.com", clip(e))
			}
		}
		if c.URL != "" || c.Secret != "" {
			return bad("an e-mail channel has no url or secret")
		}
	case ChannelWebhook:
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(c.URL) > maxWebhookURLLen {
			return bad("url: an http(s) URL of at most %d bytes, without credentials", maxWebhookURLLen)
		}
		if len(c.Secret) < minWebhookSecret || len(c.Secret) > maxWebhookSecret {
			return bad("secret: %d to %d bytes", minWebhookSecret, maxWebhookSecret)
		}
		if len(c.Emails) > 0 {
			return bad("a webhook has no emails")
		}
	default:
		return bad("kind %q: email or webhook", clip(c.Kind))
	}
	if c.Audit && c.Kind != ChannelWebhook {
		return bad("audit records go to webhooks only")
	}
	for _, k := range c.Kinds {
		if !k.Known() {
			return bad("kinds: %q is not a kind of alert", clip(string(k)))
		}
	}
	if _, ok := severityRank[c.MinSeverity]; c.MinSeverity != "" && !ok {
		return bad("min severity %q: info, warning or critical", clip(string(c.MinSeverity)))
	}
	return nil
}

// Delivery is one alert's delivery to one channel.
type Delivery struct {
	// ID is channel/alert-key#episode (channel/test#n for a test).
	ID      string
	Channel string
	Alert   alert.Alert
	FiredAt int64
	Test    bool `json:",omitempty"`
	// Attempts counts the tries; NextAt is when the next is due.
	Attempts int
	NextAt   int64
	// Done says it was delivered; Failed that it was given up after
	// maxDeliveryAttempts.
	Done, Failed bool   `json:",omitempty"`
	LastError    string `json:",omitempty"`
	LastAt       int64  `json:",omitempty"`
}

// Pending reports whether the delivery is still to be made.
func (d Delivery) Pending() bool { return !d.Done && !d.Failed }

// SetAlertChannel adds or replaces a channel, or with Remove deletes it
// (its deliveries still pending are dropped).
type SetAlertChannel struct {
	Channel AlertChannel
	Remove  bool `json:",omitempty"`
	Now     int64
}

// TestAlertChannel queues a test delivery to a channel.
type TestAlertChannel struct {
	Channel string
	By      string
	Now     int64
}

// AlertDelivered records one attempt at a delivery: delivered, or failed
// with Error and the next attempt due at NextAt.
type AlertDelivered struct {
	ID     string
	OK     bool
	Error  string `json:",omitempty"`
	NextAt int64  `json:",omitempty"`
	Now    int64
}

func (SetAlertChannel) msgType() MsgType  { return SetAlertChannelType }
func (TestAlertChannel) msgType() MsgType { return TestAlertChannelType }
func (AlertDelivered) msgType() MsgType   { return AlertDeliveredType }

func (c SetAlertChannel) now() int64  { return c.Now }
func (c TestAlertChannel) now() int64 { return c.Now }
func (c AlertDelivered) now() int64   { return c.Now }

func (c SetAlertChannel) validate() error {
	if c.Remove {
		return firstErr(checkNow(c.Now), checkText("channel id", c.Channel.ID, 32))
	}
	return firstErr(c.Channel.validate(), checkNow(c.Now), checkOptText("updated by", c.Channel.UpdatedBy, 128))
}

func (c TestAlertChannel) validate() error {
	return firstErr(checkNow(c.Now), checkText("channel id", c.Channel, 32), checkText("by", c.By, 128))
}

func (c AlertDelivered) validate() error {
	if len(c.Error) > maxDeliveryError {
		return fmt.Errorf("%w: delivery error of %d bytes, at most %d", ErrMalformed, len(c.Error), maxDeliveryError)
	}
	if c.NextAt < 0 {
		return fmt.Errorf("%w: delivery next attempt %d", ErrMalformed, c.NextAt)
	}
	return firstErr(checkNow(c.Now), checkText("delivery id", c.ID, maxAlertKeyLen+64))
}

func applySetAlertChannel(s *state, ac *applyCtx, c *SetAlertChannel) Response {
	a := s.alerts
	id := c.Channel.ID
	if c.Remove {
		if _, ok := a.channels[id]; !ok {
			return Response{Err: fmt.Errorf("%w: %q", ErrUnknownChannel, clip(id))}
		}
		delete(a.channels, id)
		for k, d := range a.deliveries {
			if d.Channel == id && d.Pending() {
				delete(a.deliveries, k)
			}
		}
		return Response{}
	}
	if _, ok := a.channels[id]; !ok && len(a.channels) >= maxAlertChannels {
		return Response{Err: fmt.Errorf("%w: %d alert channels at most", ErrMalformed, maxAlertChannels)}
	}
	ch := c.Channel
	ch.UpdatedAt = ac.at
	a.channels[id] = ch
	return Response{}
}

func applyTestAlertChannel(s *state, ac *applyCtx, c *TestAlertChannel) Response {
	a := s.alerts
	ch, ok := a.channels[c.Channel]
	if !ok {
		return Response{Err: fmt.Errorf("%w: %q", ErrUnknownChannel, clip(c.Channel))}
	}
	a.tests++
	x := alert.Alert{Key: "test/" + ch.ID, Kind: "test", Subject: ch.ID, Severity: alert.Info,
		Summary: "a test of alert channel " + ch.ID + ", asked by " + c.By}
	id := fmt.Sprintf("%s/test#%d", ch.ID, a.tests)
	a.deliveries[id] = Delivery{ID: id, Channel: ch.ID, Alert: x, FiredAt: ac.at, Test: true, NextAt: ac.at}
	a.pruneDeliveries(ac.at)
	return Response{Alerts: []string{id}}
}

func applyAlertDelivered(s *state, ac *applyCtx, c *AlertDelivered) Response {
	d, ok := s.alerts.deliveries[c.ID]
	if !ok || !d.Pending() {
		return Response{} // removed with its channel, or done already: nothing to record
	}
	d.Attempts++
	d.LastAt = ac.at
	switch {
	case c.OK:
		d.Done, d.LastError = true, ""
	case d.Attempts >= maxDeliveryAttempts:
		d.Failed, d.LastError = true, c.Error
	default:
		d.LastError, d.NextAt = c.Error, c.NextAt
	}
	s.alerts.deliveries[c.ID] = d
	return Response{}
}

// queueDeliveries adds, for an alert just fired, a delivery to each
// channel that takes it.
func (a *alertsState) queueDeliveries(r AlertRecord, now int64) {
	for _, id := range slices.Sorted(maps.Keys(a.channels)) {
		ch := a.channels[id]
		if !ch.Takes(r.Alert) {
			continue
		}
		did := fmt.Sprintf("%s/%s#%d", ch.ID, r.Key, r.Episodes)
		a.deliveries[did] = Delivery{ID: did, Channel: ch.ID, Alert: r.Alert, FiredAt: r.FiredAt, NextAt: now}
	}
}

// queueAuditDeliveries adds, for an audit record made or changed, a
// delivery to each webhook channel that follows the audit log. Its ID
// carries the record's version: a request that ends in an error after
// changing something is sent again, as it ended.
func (a *alertsState) queueAuditDeliveries(r AuditRecord, version int, now int64) {
	for _, id := range slices.Sorted(maps.Keys(a.channels)) {
		ch := a.channels[id]
		if !ch.Audit || ch.Disabled {
			continue
		}
		summary := fmt.Sprintf("%s %s: %s", r.Actor, r.Action, r.Outcome)
		if len(summary) > maxAlertSummaryLen {
			summary = summary[:maxAlertSummaryLen]
		}
		x := alert.Alert{Key: fmt.Sprintf("audit/%d", r.Seq), Kind: "audit", Subject: r.RequestID, Severity: alert.Info, Summary: summary}
		did := fmt.Sprintf("%s/audit/%d#%d", ch.ID, r.Seq, version)
		a.deliveries[did] = Delivery{ID: did, Channel: ch.ID, Alert: x, FiredAt: now, NextAt: now}
	}
	a.pruneDeliveries(now)
}

// pruneDeliveries drops finished deliveries past the retention, then the
// oldest finished ones, then the oldest pending ones, while there are too
// many.
func (a *alertsState) pruneDeliveries(now int64) {
	for k, d := range a.deliveries {
		if !d.Pending() && now-d.LastAt > deliveryRetention.Milliseconds() {
			delete(a.deliveries, k)
		}
	}
	if len(a.deliveries) <= maxDeliveries {
		return
	}
	all := slices.Collect(maps.Values(a.deliveries))
	slices.SortFunc(all, func(x, y Delivery) int {
		if x.Pending() != y.Pending() {
			if x.Pending() {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(x.FiredAt, y.FiredAt), cmp.Compare(x.ID, y.ID))
	})
	for _, d := range all[:len(all)-maxDeliveries] {
		delete(a.deliveries, d.ID)
	}
}

// AlertChannels returns the channels, by ID.
func (f *FSM) AlertChannels() []AlertChannel {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []AlertChannel
	for _, k := range slices.Sorted(maps.Keys(f.st.alerts.channels)) {
		ch := f.st.alerts.channels[k]
		ch.Emails, ch.Kinds = slices.Clone(ch.Emails), slices.Clone(ch.Kinds)
		out = append(out, ch)
	}
	return out
}

// DeliveryFilter selects deliveries.
type DeliveryFilter struct {
	Channel string
	// DueBy keeps pending deliveries due at or before it (Unix ms); 0
	// keeps every delivery.
	DueBy int64
	Limit int
}

// Deliveries returns the deliveries f selects, the latest fired first
// (the earliest due first with DueBy).
func (f *FSM) Deliveries(filter DeliveryFilter) []Delivery {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []Delivery
	for _, d := range f.st.alerts.deliveries {
		if (filter.Channel != "" && d.Channel != filter.Channel) || (filter.DueBy != 0 && (!d.Pending() || d.NextAt > filter.DueBy)) {
			continue
		}
		out = append(out, d)
	}
	if filter.DueBy != 0 {
		slices.SortFunc(out, func(x, y Delivery) int { return cmp.Or(cmp.Compare(x.NextAt, y.NextAt), cmp.Compare(x.ID, y.ID)) })
	} else {
		slices.SortFunc(out, func(x, y Delivery) int { return cmp.Or(cmp.Compare(y.FiredAt, x.FiredAt), cmp.Compare(x.ID, y.ID)) })
	}
	if filter.Limit > 0 && len(out) > filter.Limit {
		out = out[:filter.Limit]
	}
	return out
}
