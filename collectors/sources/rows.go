package sources

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
)

// Column names of the user and logon rows, for SQL columns and JSON keys
// alike.
var (
	userColumns  = []string{"id", "role", "enabled", "locked", "in_trash"}
	logonColumns = []string{"user_id", "role", "locked", "started_at", "ended_at"}
)

// MinHashKeyLength is the shortest Options.HashKey accepted.
const MinHashKeyLength = 16

// pseudonymDomain separates this use of the key from any other.
const pseudonymDomain = "licmesh/user-id/v1\x00"

// Pseudonym returns the user ID that leaves the host for the product's raw
// user ID: the first 128 bits of HMAC-SHA256(key, raw) in hex. The same key
// and raw ID always give the same pseudonym, so users can be counted
// distinctly without being named; without the key a pseudonym cannot be
// turned back into an ID, even by trying every likely one.
func Pseudonym(key []byte, raw string) usage.UserID {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(pseudonymDomain))
	m.Write([]byte(raw))
	return usage.UserID(hex.EncodeToString(m.Sum(nil)[:16]))
}

// record is one row, by column name; ok is false when the column (JSON key)
// is absent.
type record interface {
	get(name string) (v any, ok bool)
}

// rowMaker turns rows into observations stamped with one sample time. Raw
// user IDs are hashed here and go no further.
type rowMaker struct {
	at          time.Time
	loc         *time.Location
	roles       map[string]usage.Role
	defaultRole usage.Role
	key         []byte

	rejected    int
	firstReason string
}

// reject counts a row that could not be used. The reason never holds the
// row's user ID.
func (m *rowMaker) reject(where string, row int, err error) {
	if m.rejected == 0 {
		m.firstReason = fmt.Sprintf("%s row %d: %v", where, row, err)
	}
	m.rejected++
}

func (m *rowMaker) role(v any) (usage.Role, error) {
	s, ok := asText(v)
	switch {
	case v == nil:
		if m.defaultRole != 0 {
			return m.defaultRole, nil
		}
		return 0, fmt.Errorf("role %w and default_role is not set", errNull)
	case !ok:
		n, err := toInt64(v)
		if err != nil {
			return 0, fmt.Errorf("role is a %T", v)
		}
		s = fmt.Sprint(n)
	}
	if r, ok := m.roles[s]; ok {
		return r, nil
	}
	if r, err := usage.ParseRole(s); err == nil {
		return r, nil
	}
	if m.defaultRole != 0 {
		return m.defaultRole, nil
	}
	return 0, fmt.Errorf("role %q is not in roles and default_role is not set", clip(s))
}

func (m *rowMaker) userID(r record, col string) (usage.UserID, error) {
	v, ok := r.get(col)
	if !ok {
		return "", fmt.Errorf("%s is missing", col)
	}
	raw, err := toRawID(v)
	if err != nil {
		return "", fmt.Errorf("%s %w", col, err)
	}
	return Pseudonym(m.key, raw), nil
}

func (m *rowMaker) flag(r record, col string) (bool, error) {
	v, _ := r.get(col)
	b, err := toBool(v)
	if err != nil {
		return false, fmt.Errorf("%s %w", col, err)
	}
	return b, nil
}

func (m *rowMaker) when(r record, col string) (time.Time, error) {
	v, _ := r.get(col)
	t, err := toTime(v, m.loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %w", col, err)
	}
	return t, nil
}

// user builds a user snapshot from a row with userColumns.
func (m *rowMaker) user(r record) (usage.UserState, error) {
	s := usage.UserState{At: m.at}
	var err error
	if s.UserID, err = m.userID(r, "id"); err != nil {
		return s, err
	}
	v, _ := r.get("role")
	if s.Role, err = m.role(v); err != nil {
		return s, err
	}
	if s.Enabled, err = m.flag(r, "enabled"); err != nil {
		return s, err
	}
	if s.Locked, err = m.flag(r, "locked"); err != nil {
		return s, err
	}
	if s.InTrash, err = m.flag(r, "in_trash"); err != nil {
		return s, err
	}
	return s, s.Validate()
}

// logon builds a session report from a row with logonColumns.
func (m *rowMaker) logon(r record) (usage.Logon, error) {
	l := usage.Logon{At: m.at}
	var err error
	if l.UserID, err = m.userID(r, "user_id"); err != nil {
		return l, err
	}
	v, _ := r.get("role")
	if l.Role, err = m.role(v); err != nil {
		return l, err
	}
	if l.Locked, err = m.flag(r, "locked"); err != nil {
		return l, err
	}
	if l.Start, err = m.when(r, "started_at"); err != nil {
		return l, err
	}
	if l.Start.IsZero() {
		return l, fmt.Errorf("started_at %w", errNull)
	}
	if l.End, err = m.when(r, "ended_at"); err != nil {
		return l, err
	}
	return l, l.Validate()
}

// columnIndex maps the wanted column names to their positions in got, or
// says which are missing or extra.
func columnIndex(want, got []string) (map[string]int, error) {
	idx := make(map[string]int, len(got))
	for i, c := range got {
		idx[strings.ToLower(c)] = i
	}
	ok := len(got) == len(want) && len(idx) == len(want)
	for _, w := range want {
		if _, found := idx[w]; !found {
			ok = false
		}
	}
	if !ok {
		return nil, fmt.Errorf("want columns %s; got %d columns (%s)",
			strings.Join(want, ", "), len(got), clip(strings.Join(got, ", ")))
	}
	return idx, nil
}
