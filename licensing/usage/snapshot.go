package usage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// snapshotVersion is the snapshot format version; restore refuses others.
const snapshotVersion = 1

// The snapshot is JSON built from slices sorted by ID or month, never from
// maps, so a ledger always encodes to the same bytes whatever order its
// observations came in. Session spans are [start, end) Unix nanoseconds.
type snapLedger struct {
	Version       int                `json:"version"`
	Zone          string             `json:"zone"`
	ClosedAsOf    time.Time          `json:"closed_as_of,omitzero"`
	Floor         *MonthKey          `json:"floor,omitempty"`
	Installations []snapInstallation `json:"installations"`
}

type snapInstallation struct {
	ID     InstallationID `json:"id"`
	Months []snapEntry    `json:"months"`
}

type snapEntry struct {
	Month snapMonth  `json:"month"`
	Late  *snapMonth `json:"late,omitempty"`
}

type snapMonth struct {
	Key   MonthKey  `json:"key"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// ClosedAt is set exactly when the month is closed; Metrics then holds
	// the frozen metrics, restored as they are rather than recomputed.
	ClosedAt time.Time  `json:"closed_at,omitzero"`
	Metrics  *Metrics   `json:"metrics,omitempty"`
	Users    []snapUser `json:"users"`
	Facts    *snapFacts `json:"facts,omitempty"`
}

type snapUser struct {
	ID      UserID     `json:"id"`
	Seen    bool       `json:"seen,omitempty"`
	Super   bool       `json:"super,omitempty"`
	Locked  bool       `json:"locked,omitempty"`
	Enabled bool       `json:"enabled,omitempty"`
	Active  bool       `json:"active,omitempty"`
	Role    string     `json:"role,omitempty"`
	RoleAt  int64      `json:"role_at,omitempty"`
	Pre     *snapPre   `json:"pre,omitempty"`
	Spans   [][2]int64 `json:"spans,omitempty"`
}

type snapPre struct {
	At     int64  `json:"at"`
	Role   string `json:"role"`
	Locked bool   `json:"locked,omitempty"`
}

type snapFacts struct {
	FileLimitMax int64      `json:"file_limit_max"`
	UserCountMax int64      `json:"user_count_max"`
	CaseCountMax int64      `json:"case_count_max"`
	Latest       snapSample `json:"latest"`
}

type snapSample struct {
	At                   time.Time `json:"at"`
	FileLimitMB          int64     `json:"file_limit_mb"`
	CommissionModuleOn   bool      `json:"commission_module_on,omitempty"`
	CommissionItems      int64     `json:"commission_items"`
	ProcessModuleOn      bool      `json:"process_module_on,omitempty"`
	ProcessFields        int64     `json:"process_fields"`
	ProcessFieldsInTrash int64     `json:"process_fields_in_trash"`
	UserCount            int64     `json:"user_count"`
	CaseCount            int64     `json:"case_count"`
}

// MarshalBinary encodes the ledger as a deterministic JSON snapshot.
func (l *Ledger) MarshalBinary() ([]byte, error) {
	s := snapLedger{Version: snapshotVersion, Zone: l.cfg.Location.String(), ClosedAsOf: l.closedAsOf,
		Installations: []snapInstallation{}}
	if l.floor.Valid() {
		f := l.floor
		s.Floor = &f
	}
	for _, id := range l.Installations() {
		months := l.insts[id]
		si := snapInstallation{ID: id}
		for _, k := range sortedKeys(months) {
			e := months[k]
			se := snapEntry{Month: e.month.snap()}
			if e.late != nil {
				lm := e.late.snap()
				se.Late = &lm
			}
			si.Months = append(si.Months, se)
		}
		s.Installations = append(s.Installations, si)
	}
	return json.Marshal(s)
}

func (m *Month) snap() snapMonth {
	s := snapMonth{Key: m.key, Start: m.Start(), End: m.End(), Users: []snapUser{}}
	if m.closed {
		s.ClosedAt = m.closedAt
		fm := m.frozen
		s.Metrics = &fm
	}
	ids := make([]UserID, 0, len(m.users))
	for id := range m.users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		u := m.users[id]
		su := snapUser{ID: id, Seen: u.seen, Super: u.super, Locked: u.locked, Enabled: u.enabled,
			Active: u.active, RoleAt: u.roleAt}
		if u.role != 0 {
			su.Role = u.role.String()
		}
		if u.pre.ok {
			su.Pre = &snapPre{At: u.pre.at, Role: u.pre.role.String(), Locked: u.pre.locked}
		}
		for _, sp := range u.spans {
			su.Spans = append(su.Spans, [2]int64{sp.s, sp.e})
		}
		s.Users = append(s.Users, su)
	}
	if f := m.facts; f.have {
		x := f.latest
		// Field by field on purpose: the snapshot format must not change
		// when Facts gains a field.
		s.Facts = &snapFacts{FileLimitMax: f.fileLimitMax, UserCountMax: f.userCountMax, CaseCountMax: f.caseCountMax,
			//lint:ignore S1016 see above
			Latest: snapSample{At: x.At, FileLimitMB: x.FileLimitMB, CommissionModuleOn: x.CommissionModuleOn,
				CommissionItems: x.CommissionItems, ProcessModuleOn: x.ProcessModuleOn, ProcessFields: x.ProcessFields,
				ProcessFieldsInTrash: x.ProcessFieldsInTrash, UserCount: x.UserCount, CaseCount: x.CaseCount}}
	}
	return s
}

// RestoreLedger decodes a snapshot made by MarshalBinary. cfg must name the
// same time zone the snapshot was taken with. Every invariant is checked, so
// a restored ledger behaves exactly like the one that was saved.
func RestoreLedger(data []byte, cfg Config) (*Ledger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var s snapLedger
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the snapshot", ErrBadSnapshot)
	}
	if s.Version != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d (want %d)", ErrBadSnapshot, s.Version, snapshotVersion)
	}
	if s.Zone != cfg.Location.String() {
		return nil, fmt.Errorf("%w: snapshot %q, configured %q", ErrZoneMismatch, clip(s.Zone), cfg.Location.String())
	}
	l, _ := NewLedger(cfg)
	if !s.ClosedAsOf.IsZero() {
		if !validTime(s.ClosedAsOf) {
			return nil, fmt.Errorf("%w: closed_as_of out of range", ErrBadSnapshot)
		}
		l.closedAsOf = s.ClosedAsOf.UTC()
	}
	if s.Floor != nil {
		l.floor = *s.Floor
	}
	for i, si := range s.Installations {
		if err := si.ID.Validate(); err != nil {
			return nil, fmt.Errorf("%w: installation %d: %w", ErrBadSnapshot, i, err)
		}
		if i > 0 && strings.Compare(string(s.Installations[i-1].ID), string(si.ID)) >= 0 {
			return nil, fmt.Errorf("%w: installations not sorted or repeated at %q", ErrBadSnapshot, si.ID)
		}
		if len(si.Months) == 0 {
			return nil, fmt.Errorf("%w: installation %q has no months", ErrBadSnapshot, si.ID)
		}
		months := make(map[MonthKey]*entry, len(si.Months))
		var prev *Month
		for _, se := range si.Months {
			e, err := l.restoreEntry(si.ID, se, prev)
			if err != nil {
				return nil, fmt.Errorf("%w: installation %q month %s: %w", ErrBadSnapshot, si.ID, se.Month.Key, err)
			}
			months[e.month.key] = e
			prev = e.month
		}
		l.insts[si.ID] = months
	}
	return l, nil
}

func (l *Ledger) restoreEntry(inst InstallationID, se snapEntry, prev *Month) (*entry, error) {
	m, err := restoreMonth(inst, se.Month)
	if err != nil {
		return nil, err
	}
	switch {
	case prev != nil && prev.key.Compare(m.key) >= 0:
		return nil, errors.New("month: months not sorted or repeated")
	case prev != nil && prev.end > m.start:
		return nil, errors.New("month: overlaps the month before")
	case l.pruned(m.key):
		return nil, fmt.Errorf("month: before the pruned floor %s", l.floor)
	case !m.closed && l.due(m):
		return nil, errors.New("month: open but ended by closed_as_of")
	case m.closed && l.closedAsOf.Before(m.closedAt):
		return nil, errors.New("month: closed after closed_as_of")
	}
	e := &entry{month: m}
	if se.Late != nil {
		if !m.closed {
			return nil, errors.New("month: late data for an open month")
		}
		late, err := restoreMonth(inst, *se.Late)
		if err != nil {
			return nil, fmt.Errorf("late: %w", err)
		}
		if late.closed || late.key != m.key || late.start != m.start || late.end != m.end {
			return nil, errors.New("month: late data does not match its month")
		}
		e.late = late
	}
	return e, nil
}

// Months run from 28 days less a DST hour to 31 days plus one; the slack is
// generous because the check only guards against nonsense.
const (
	minMonthLen = 27 * 24 * time.Hour
	maxMonthLen = 32 * 24 * time.Hour
)

func restoreMonth(inst InstallationID, s snapMonth) (*Month, error) {
	if !s.Key.Valid() {
		return nil, errors.New("month: key out of range")
	}
	if !validTime(s.Start) || !validTime(s.End) {
		return nil, errors.New("month: bounds out of range")
	}
	if d := s.End.Sub(s.Start); d < minMonthLen || d > maxMonthLen {
		return nil, fmt.Errorf("month: bounds %v long", d)
	}
	m := newMonth(inst, s.Key, s.Start.UnixNano(), s.End.UnixNano())
	if !s.ClosedAt.IsZero() {
		if !validTime(s.ClosedAt) || s.ClosedAt.UnixNano() < m.end {
			return nil, errors.New("month: closed_at before the month's end")
		}
		if s.Metrics == nil || !s.Metrics.nonNegative() {
			return nil, errors.New("month: closed month without valid metrics")
		}
		if w := s.Metrics.ConcWhen; !w.IsZero() && (w.UnixNano() < m.start || w.UnixNano() >= m.end) {
			return nil, errors.New("month: conc_when outside the month")
		}
		m.closed, m.closedAt, m.frozen = true, s.ClosedAt.UTC(), *s.Metrics
		if !m.frozen.ConcWhen.IsZero() {
			m.frozen.ConcWhen = m.frozen.ConcWhen.UTC()
		}
	} else if s.Metrics != nil {
		return nil, errors.New("month: frozen metrics on an open month")
	}
	for i, su := range s.Users {
		if i > 0 && strings.Compare(string(s.Users[i-1].ID), string(su.ID)) >= 0 {
			return nil, fmt.Errorf("user: users not sorted or repeated at %q", clip(string(su.ID)))
		}
		u, err := restoreUser(su, m.start, m.end)
		if err != nil {
			return nil, fmt.Errorf("%w (user %d)", err, i)
		}
		m.users[su.ID] = u
	}
	if s.Facts != nil {
		f, err := restoreFacts(*s.Facts, m.start, m.end)
		if err != nil {
			return nil, err
		}
		m.facts = f
	}
	return m, nil
}

func restoreUser(s snapUser, start, end int64) (*userRec, error) {
	if err := s.ID.Validate(); err != nil {
		return nil, fmt.Errorf("user: %w", err)
	}
	u := &userRec{seen: s.Seen, super: s.Super, locked: s.Locked, enabled: s.Enabled, active: s.Active}
	if s.Seen {
		r, err := ParseRole(s.Role)
		if err != nil {
			return nil, fmt.Errorf("user: %w", err)
		}
		if s.RoleAt < start || s.RoleAt >= end {
			return nil, errors.New("user: role time outside the month")
		}
		u.role, u.roleAt = r, s.RoleAt
	} else if s.Role != "" || s.RoleAt != 0 || s.Super || s.Locked || s.Enabled {
		// Only evidence from inside the month sets these.
		return nil, errors.New("user: in-month fields on a user not seen in the month")
	}
	if s.Pre != nil {
		r, err := ParseRole(s.Pre.Role)
		if err != nil {
			return nil, fmt.Errorf("user: pre: %w", err)
		}
		if s.Pre.At < 0 || s.Pre.At >= start {
			return nil, errors.New("user: pre-month evidence not before the month")
		}
		u.pre = preEvidence{ok: true, at: s.Pre.At, role: r, locked: s.Pre.Locked}
	} else if !s.Seen {
		return nil, errors.New("user: user with no evidence")
	}
	for _, sp := range s.Spans {
		u.spans = append(u.spans, span{sp[0], sp[1]})
	}
	if !u.spans.canonical() {
		return nil, errors.New("user: spans not sorted and disjoint")
	}
	if n := len(u.spans); n > 0 && (u.spans[0].s < start || u.spans[n-1].e > end || !u.active) {
		return nil, errors.New("user: spans outside the month or user not active")
	}
	return u, nil
}

func restoreFacts(s snapFacts, start, end int64) (factsAgg, error) {
	x := s.Latest
	f := Facts{At: x.At.UTC(), FileLimitMB: x.FileLimitMB, CommissionModuleOn: x.CommissionModuleOn,
		CommissionItems: x.CommissionItems, ProcessModuleOn: x.ProcessModuleOn, ProcessFields: x.ProcessFields,
		ProcessFieldsInTrash: x.ProcessFieldsInTrash, UserCount: x.UserCount, CaseCount: x.CaseCount}
	if err := f.Validate(); err != nil {
		return factsAgg{}, fmt.Errorf("facts: %w", err)
	}
	if t := f.At.UnixNano(); t < start || t >= end {
		return factsAgg{}, errors.New("facts: latest sample outside the month")
	}
	if s.FileLimitMax < f.FileLimitMB || s.UserCountMax < f.UserCount || s.CaseCountMax < f.CaseCount {
		return factsAgg{}, errors.New("facts: a maximum below the latest sample")
	}
	return factsAgg{have: true, fileLimitMax: s.FileLimitMax, userCountMax: s.UserCountMax,
		caseCountMax: s.CaseCountMax, latest: f}, nil
}
