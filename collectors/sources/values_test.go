package sources

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
)

func TestParsePath(t *testing.T) {
	doc, err := decodeJSON([]byte(`{"a":{"b":[10,{"c":[[1,2],[3]]}]},"x.y":1}`))
	if err != nil {
		t.Fatal(err)
	}
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
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		v, err := p.pick(tc.doc)
		if err != nil || v.(json.Number).String() != tc.want {
			t.Errorf("%s = %v, %v; want %s", tc.path, v, err, tc.want)
		}
	}
	for _, bad := range []string{"", "a.", ".a", "a..b", "a[", "a[x]", "a[-1]", "a[01]", "a]b", "a[1]b", "[0][", strings.Repeat("a.", 40) + "a"} {
		if _, err := parsePath(bad); err == nil {
			t.Errorf("parsePath(%q) accepted", bad)
		}
	}
	p, _ := parsePath("a.b[1].c[5]")
	if _, err := p.pick(doc); err == nil || !strings.Contains(err.Error(), `index 5 out of range in "a.b[1].c" (length 2)`) {
		t.Errorf("pick: %v", err)
	}
	p, _ = parsePath("a.b.c")
	if _, err := p.pick(doc); err == nil || !strings.Contains(err.Error(), `"a.b" is an array, not an object (no field "c")`) {
		t.Errorf("pick: %v", err)
	}
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
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("toInt64(%#v) = %d, %v", tc.in, got, err)
		}
	}
}

func TestToBoolAndTime(t *testing.T) {
	for in, want := range map[any]bool{"1": true, "YES": true, "t": true, "0": false, "off": false, int64(2): true, int64(0): false} {
		if got, err := toBool(in); err != nil || got != want {
			t.Errorf("toBool(%#v) = %v, %v", in, got, err)
		}
	}
	if got, err := toBool(nil); err != nil || got {
		t.Errorf("toBool(nil) = %v, %v", got, err)
	}
	if _, err := toBool("maybe"); err == nil {
		t.Error("toBool(maybe) accepted")
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	want := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	for _, in := range []any{
		"2026-03-15T10:00:00Z", "2026-03-15 11:00:00", []byte("2026-03-15 11:00:00.000"), "2026-03-15 12:00:00+02:00",
		json.Number("1773568800"), int64(1773568800), want,
	} {
		got, err := toTime(in, paris)
		if err != nil || !got.Equal(want) {
			t.Errorf("toTime(%#v) = %v, %v", in, got, err)
		}
	}
	for _, in := range []any{nil, "", "0000-00-00 00:00:00", []byte("0000-00-00")} {
		if got, err := toTime(in, time.UTC); err != nil || !got.IsZero() {
			t.Errorf("toTime(%#v) = %v, %v; want none", in, got, err)
		}
	}
	if _, err := toTime("yesterday", time.UTC); err == nil {
		t.Error("toTime(yesterday) accepted")
	}
}

func TestPseudonym(t *testing.T) {
	a := Pseudonym(testKey, "u-1")
	if len(a) != 32 || strings.Trim(string(a), "0123456789abcdef") != "" {
		t.Errorf("pseudonym %q is not 32 hex digits", a)
	}
	if err := a.Validate(); err != nil {
		t.Error(err)
	}
	if Pseudonym(testKey, "u-1") != a {
		t.Error("not deterministic")
	}
	if Pseudonym(testKey, "u-2") == a || Pseudonym([]byte("another-key-0123456"), "u-1") == a {
		t.Error("pseudonyms collide across IDs or keys")
	}
	// The raw ID is hashed whatever its SQL type: 7 and "7" are one user.
	m := &rowMaker{at: testNow, loc: time.UTC, key: testKey}
	u1, err1 := m.user(jsonRecord{"id": int64(7), "role": "staff"})
	u2, err2 := m.user(jsonRecord{"id": []byte("7"), "role": "staff"})
	if err1 != nil || err2 != nil || u1.UserID != u2.UserID || u1.UserID != Pseudonym(testKey, "7") {
		t.Errorf("%v %v %v %v", u1, u2, err1, err2)
	}
	if _, err := m.user(jsonRecord{"id": "", "role": "staff"}); err == nil {
		t.Error("empty id accepted")
	}
	if _, err := m.user(jsonRecord{"id": strings.Repeat("x", 2000), "role": "staff"}); err == nil {
		t.Error("huge id accepted")
	}
}

func TestRowMakerLogon(t *testing.T) {
	m := &rowMaker{at: testNow, loc: time.UTC, key: testKey, roles: map[string]usage.Role{"1": usage.RoleSuper}}
	l, err := m.logon(jsonRecord{"user_id": "a", "role": int64(1), "started_at": "2026-03-15 10:00:00", "locked": "1"})
	if err != nil || l.Role != usage.RoleSuper || !l.Locked || !l.End.IsZero() || !l.At.Equal(testNow) {
		t.Errorf("%+v, %v", l, err)
	}
	_, err = m.logon(jsonRecord{"user_id": "a", "role": "staff", "started_at": "2026-03-15 10:00:00", "ended_at": "2026-03-15 09:00:00"})
	if err == nil || !strings.Contains(err.Error(), "before it starts") {
		t.Errorf("end before start: %v", err)
	}
	_, err = m.logon(jsonRecord{"user_id": "a", "role": "staff"})
	if err == nil || !strings.Contains(err.Error(), "started_at is NULL") {
		t.Errorf("no start: %v", err)
	}
	_, err = m.logon(jsonRecord{"user_id": "a", "role": "clerk", "started_at": "2026-03-15 10:00:00"})
	if err == nil || !strings.Contains(err.Error(), `role "clerk" is not in roles`) {
		t.Errorf("unknown role: %v", err)
	}
}

func TestFacts(t *testing.T) {
	f, ok := Facts(testNow, map[string]int64{"users": 5, "other": 1}, map[string]int64{"cases": 9, "commission_module_on": 1, "commission_items": 3})
	if !ok || f.UserCount != 5 || f.CaseCount != 9 || !f.CommissionModuleOn || f.CommissionItems != 3 || f.ProcessModuleOn || f.Validate() != nil {
		t.Errorf("%+v %v", f, ok)
	}
	if _, ok := Facts(testNow, map[string]int64{"other": 1}); ok {
		t.Error("facts from no well-known scalar")
	}
}
