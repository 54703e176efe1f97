package sources

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePath(t *testing.T) {
	doc, err := decodeJSON([]byte(`{"a":{"b":[10,{"c":[[1,2],[3]]}]},"x.y":1}`))
	require.NoError(t, err)
	root, _ := decodeJSON([]byte(`[{"n":4}]`))
	for _, tc := range []struct {
		path string
		doc  any
		want string
	}{
		{"a.b[0]", doc, "10"},
		{"a.b[1].c[0][1]", doc, "2"},
		{"a.b[1].c[1][0]", doc, "3"},
		{"[0].n", root, "4"},
	} {
		p, err := parsePath(tc.path)
		require.NoError(t, err, "%s", tc.path)
		v, err := p.pick(tc.doc)
		if assert.NoError(t, err, "%s", tc.path) {
			assert.Equal(t, tc.want, v.(json.Number).String(), "%s", tc.path)
		}
	}
	for _, bad := range []string{"", "a.", ".a", "a..b", "a[", "a[x]", "a[-1]", "a[01]", "a]b", "a[1]b", "[0][", strings.Repeat("a.", 40) + "a"} {
		_, err := parsePath(bad)
		assert.Error(t, err, "parsePath(%q) accepted", bad)
	}
	p, _ := parsePath("a.b[1].c[5]")
	_, err = p.pick(doc)
	assert.ErrorContains(t, err, `index 5 out of range in "a.b[1].c" (length 2)`, "pick")
	p, _ = parsePath("a.b.c")
	_, err = p.pick(doc)
	assert.ErrorContains(t, err, `"a.b" is an array, not an object (no field "c")`, "pick")
}

func TestToInt64(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want int64
		ok   bool
	}{
		{int64(7), 7, true}, {[]byte("12"), 12, true}, {"  9 ", 9, true}, {json.Number("42"), 42, true},
		{"42.000", 42, true}, {float64(3), 3, true}, {true, 1, true}, {uint64(5), 5, true},
		{nil, 0, false}, {"4.5", 0, false}, {"abc", 0, false}, {uint64(1 << 63), 0, false}, {[]int{1}, 0, false},
		{json.Number("1e30"), 0, false},
	} {
		got, err := toInt64(tc.in)
		assert.Equal(t, tc.ok, err == nil, "toInt64(%#v) = %d, %v", tc.in, got, err)
		assert.Equal(t, tc.want, got, "toInt64(%#v) = %d, %v", tc.in, got, err)
	}
}

func TestToBoolAndTime(t *testing.T) {
	for in, want := range map[any]bool{"1": true, "YES": true, "t": true, "0": false, "off": false, int64(2): true, int64(0): false} {
		got, err := toBool(in)
		assert.NoError(t, err, "toBool(%#v)", in)
		assert.Equal(t, want, got, "toBool(%#v)", in)
	}
	got, err := toBool(nil)
	assert.NoError(t, err, "toBool(nil)")
	assert.False(t, got, "toBool(nil)")
	_, err = toBool("maybe")
	assert.Error(t, err, "toBool(maybe) accepted")
	paris, _ := time.LoadLocation("Europe/Paris")
	want := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	for _, in := range []any{
		"2026-03-15T10:00:00Z", "2026-03-15 11:00:00", []byte("2026-03-15 11:00:00.000"), "2026-03-15 12:00:00+02:00",
		json.Number("1773568800"), int64(1773568800), want,
	} {
		got, err := toTime(in, paris)
		assert.NoError(t, err, "toTime(%#v)", in)
		assert.True(t, got.Equal(want), "toTime(%#v) = %v, want %v", in, got, want)
	}
	for _, in := range []any{nil, "", "0000-00-00 00:00:00", []byte("0000-00-00")} {
		got, err := toTime(in, time.UTC)
		assert.NoError(t, err, "toTime(%#v)", in)
		assert.True(t, got.IsZero(), "toTime(%#v) = %v; want none", in, got)
	}
	_, err = toTime("yesterday", time.UTC)
	assert.Error(t, err, "toTime(yesterday) accepted")
}

func TestPseudonym(t *testing.T) {
	a := Pseudonym(testKey, "u-1")
	assert.Len(t, a, 32, "pseudonym %q is not 32 hex digits", a)
	assert.Empty(t, strings.Trim(string(a), "0123456789abcdef"), "pseudonym %q is not 32 hex digits", a)
	assert.NoError(t, a.Validate())
	assert.Equal(t, a, Pseudonym(testKey, "u-1"), "not deterministic")
	assert.NotEqual(t, a, Pseudonym(testKey, "u-2"), "pseudonyms collide across IDs")
	assert.NotEqual(t, a, Pseudonym([]byte("another-key-0123456"), "u-1"), "pseudonyms collide across keys")
	// The raw ID is hashed whatever its SQL type: 7 and "7" are one user.
	m := &rowMaker{at: testNow, loc: time.UTC, key: testKey}
	u1, err1 := m.user(jsonRecord{"id": int64(7), "role": "staff"})
	u2, err2 := m.user(jsonRecord{"id": []byte("7"), "role": "staff"})
	assert.NoError(t, err1)
	assert.NoError(t, err2)
	assert.Equal(t, u1.UserID, u2.UserID, "%v %v", u1, u2)
	assert.Equal(t, Pseudonym(testKey, "7"), u1.UserID, "%v", u1)
	_, err := m.user(jsonRecord{"id": "", "role": "staff"})
	assert.Error(t, err, "empty id accepted")
	_, err = m.user(jsonRecord{"id": strings.Repeat("x", 2000), "role": "staff"})
	assert.Error(t, err, "huge id accepted")
}

func TestRowMakerLogon(t *testing.T) {
	m := &rowMaker{at: testNow, loc: time.UTC, key: testKey, roles: map[string]usage.Role{"1": usage.RoleSuper}}
	l, err := m.logon(jsonRecord{"user_id": "a", "role": int64(1), "started_at": "2026-03-15 10:00:00", "locked": "1"})
	assert.NoError(t, err)
	assert.Equal(t, usage.RoleSuper, l.Role, "%+v", l)
	assert.True(t, l.Locked, "%+v", l)
	assert.True(t, l.End.IsZero(), "%+v", l)
	assert.True(t, l.At.Equal(testNow), "%+v", l)
	_, err = m.logon(jsonRecord{"user_id": "a", "role": "staff", "started_at": "2026-03-15 10:00:00", "ended_at": "2026-03-15 09:00:00"})
	assert.ErrorContains(t, err, "before it starts", "end before start")
	_, err = m.logon(jsonRecord{"user_id": "a", "role": "staff"})
	assert.ErrorContains(t, err, "started_at is NULL", "no start")
	_, err = m.logon(jsonRecord{"user_id": "a", "role": "clerk", "started_at": "2026-03-15 10:00:00"})
	assert.ErrorContains(t, err, `role "clerk" is not in roles`, "unknown role")
}

func TestFacts(t *testing.T) {
	f, ok := Facts(testNow, map[string]int64{"users": 5, "other": 1}, map[string]int64{"cases": 9, "commission_module_on": 1, "commission_items": 3})
	assert.True(t, ok, "%+v", f)
	assert.Equal(t, int64(5), f.UserCount, "%+v", f)
	assert.Equal(t, int64(9), f.CaseCount, "%+v", f)
	assert.True(t, f.CommissionModuleOn, "%+v", f)
	assert.Equal(t, int64(3), f.CommissionItems, "%+v", f)
	assert.False(t, f.ProcessModuleOn, "%+v", f)
	assert.NoError(t, f.Validate(), "%+v", f)
	_, ok = Facts(testNow, map[string]int64{"other": 1})
	assert.False(t, ok, "facts from no well-known scalar")
}
