package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		assert.Equal(t, want, tableCell(in), "tableCell(%q)", in)
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
		assert.Equal(t, want, humanDuration(d), "humanDuration(%s)", d)
	}
}

func TestMsTime(t *testing.T) {
	t.Parallel()
	assert.Empty(t, msTime(0), "msTime(0)")
	loc := time.FixedZone("X", 5*3600)
	ms := time.Date(2026, 1, 2, 8, 4, 5, 0, loc).UnixMilli()
	assert.Equal(t, "2026-01-02T03:04:05Z", msTime(ms), "msTime, want UTC")
}

func TestKeyValueTable(t *testing.T) {
	t.Parallel()
	type kv struct{ a, b string }
	cols := []column[kv]{
		{"FIRST", func(r kv) string { return r.a }},
		{"SECOND VALUE", func(r kv) string { return r.b }},
	}
	var b strings.Builder
	require.NoError(t, printOne(&b, formatTable, nil, cols, kv{"x", ""}))
	assert.Equal(t, "FIRST         x\nSECOND VALUE  -\n", b.String())
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
		if assert.NoError(t, err, "normalizeAddr(%q)", in) {
			assert.Equal(t, want, got, "normalizeAddr(%q)", in)
		}
	}
	for _, bad := range []string{"", "http://m1", "ftp://m1", "https://user:pw@m1", "https://m1?x=1"} {
		_, err := normalizeAddr(bad)
		if assert.Error(t, err, "normalizeAddr(%q) accepted", bad) {
			assert.NotContains(t, err.Error(), "pw", "normalizeAddr(%q) echoed the password", bad)
		}
	}
}
