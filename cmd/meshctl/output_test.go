package main

import (
	"strings"
	"testing"
	"time"
)

func TestTableCell(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":              "-",
		"plain":         "plain",
		"tab\there":     `tab\x09here`,
		"new\nline":     `new\x0aline`,
		"\x1b[2J":       `\x1b[2J`,
		"rtl\u202eevil": `rtl\u202eevil`,
		"bad\xffutf8":   `bad\ufffdutf8`,
		"ünïcödé ok":    "ünïcödé ok",
	} {
		if got := tableCell(in); got != want {
			t.Errorf("tableCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                              "0s",
		45 * time.Second:               "45s",
		5*time.Minute + 30*time.Second: "5m",
		23*time.Hour + 59*time.Minute:  "23h59m",
		24 * time.Hour:                 "24h0m",
		7 * 24 * time.Hour:             "168h0m",
		-(90 * time.Minute):            "-1h30m",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestMsTime(t *testing.T) {
	t.Parallel()
	if got := msTime(0); got != "" {
		t.Errorf("msTime(0) = %q, want empty", got)
	}
	loc := time.FixedZone("X", 5*3600)
	ms := time.Date(2026, 1, 2, 8, 4, 5, 0, loc).UnixMilli()
	if got := msTime(ms); got != "2026-01-02T03:04:05Z" {
		t.Errorf("msTime = %q, want UTC", got)
	}
}

func TestKeyValueTable(t *testing.T) {
	t.Parallel()
	type kv struct{ a, b string }
	cols := []column[kv]{
		{"FIRST", func(r kv) string { return r.a }},
		{"SECOND VALUE", func(r kv) string { return r.b }},
	}
	var b strings.Builder
	if err := printOne(&b, formatTable, nil, cols, kv{"x", ""}); err != nil {
		t.Fatal(err)
	}
	want := "FIRST         x\nSECOND VALUE  -\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestNormalizeAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://m1:7400":      "https://m1:7400",
		"https://m1:7400/":     "https://m1:7400",
		"m1:7400":              "https://m1:7400",
		"10.0.0.1:7400":        "https://10.0.0.1:7400",
		"https://m1/admin/":    "https://m1/admin",
		" https://[::1]:7400 ": "https://[::1]:7400",
	} {
		got, err := normalizeAddr(in)
		if err != nil || got != want {
			t.Errorf("normalizeAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "http://m1", "ftp://m1", "https://user:pw@m1", "https://m1?x=1"} {
		_, err := normalizeAddr(bad)
		if err == nil {
			t.Errorf("normalizeAddr(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("normalizeAddr(%q) echoed the password: %v", bad, err)
		}
	}
}
