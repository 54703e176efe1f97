package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

func TestUsageHistoryTableIsNewestFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, stderr, code := h.run("usage", "history", "--installation", "acme-prod")
	require.Equal(t, exitOK, code, "exit code; stderr %s", stderr)
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	require.Len(t, lines, 3, "want a header and 2 months:\n%s", stdout)
	for _, want := range []string{"Month", "Super", "En. staff", "Conc. max", "When", "Minutes", "Max cases", "Status", "Late"} {
		assert.Contains(t, lines[0], want, "header")
	}
	assert.True(t, strings.HasPrefix(lines[1], "Feb 2026 "), "months not newest first:\n%s", stdout)
	assert.True(t, strings.HasPrefix(lines[2], "Jan 2026 "), "months not newest first:\n%s", stdout)
	// The open month has no concurrent maximum time and nothing late.
	f := strings.Fields(lines[1])
	assert.Equal(t, "-", f[len(f)-1], "open month row %q", lines[1])
	assert.Equal(t, "open", f[len(f)-2], "open month row %q", lines[1])
	// The closed month has the late marker and When in Paris time.
	assert.True(t, strings.HasSuffix(lines[2], "closed  2 users late"), "closed month row %q: want the late marker", lines[2])
	assert.Contains(t, lines[2], "2026-01-20 13:00", "closed month row: want When in Paris time")
}

func TestUsageMonthCSVIsAlphabeticalAndGuarded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, stderr, code := h.run("usage", "month", "2026-01", "-o", "csv")
	require.Equal(t, exitOK, code, "exit code; stderr %s", stderr)
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	require.NoError(t, err, "CSV:\n%s", stdout)
	require.Len(t, recs, 3, "records %q", recs)
	require.Len(t, recs[0], 20, "header %q", recs[0])
	require.Equal(t, "Installation", recs[0][0], "header %q", recs[0])
	require.Equal(t, "En. staff", recs[0][2], "header %q", recs[0])
	assert.Equal(t, "'=cmd|' /C calc'!A0", recs[1][0], "a formula-like installation is not guarded")
	assert.Equal(t, "acme-prod", recs[2][0], "row %q", recs[2])
	assert.Equal(t, "7", recs[2][1], "row %q", recs[2])
	assert.Equal(t, "closed", recs[2][18], "row %q", recs[2])
	assert.Equal(t, "2 users late", recs[2][19], "row %q", recs[2])
}

func TestUsageJSONIsTheResponse(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, _, code := h.run("usage", "history", "--installation", "acme-prod", "-o", "json")
	require.Equal(t, exitOK, code, "exit code")
	var got struct {
		TimeZone string `json:"time_zone"`
		Reports  []struct {
			Month   string `json:"month"`
			Metrics struct {
				ConcWhenMs string `json:"conc_when_ms"`
			} `json:"metrics"`
			Late *struct {
				Users string `json:"users"`
			} `json:"late"`
		} `json:"reports"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), "JSON:\n%s", stdout)
	// The JSON is the whole response.
	assert.Equal(t, "Europe/Paris", got.TimeZone, "time_zone")
	require.Len(t, got.Reports, 2, "reports: %+v", got)
	assert.Equal(t, "2026-01", got.Reports[1].Month, "reports[1].month")
	assert.NotEmpty(t, got.Reports[1].Metrics.ConcWhenMs, "reports[1].metrics.conc_when_ms")
	if assert.NotNil(t, got.Reports[1].Late, "reports[1].late") {
		assert.Equal(t, "2", got.Reports[1].Late.Users, "reports[1].late.users")
	}
}

// readWorkbook opens an XLSX meshctl wrote and returns its one sheet's rows.
func readWorkbook(t *testing.T, b []byte, sheet string) (*excelize.File, [][]string) {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	require.NoError(t, err, "not a workbook")
	t.Cleanup(func() { f.Close() })
	require.Equal(t, []string{sheet}, f.GetSheetList(), "sheets")
	rows, err := f.GetRows(sheet)
	require.NoError(t, err)
	return f, rows
}

func TestUsageXLSXToFile(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	path := filepath.Join(t.TempDir(), "jan.xlsx")
	stdout, stderr, code := h.run("usage", "month", "2026-01", "-o", "xlsx", "--file", path)
	require.Equal(t, exitOK, code, "exit code; stderr %s", stderr)
	require.Empty(t, stdout, "stdout")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	f, rows := readWorkbook(t, b, "Subscriber metrics")
	require.Len(t, rows, 3, "rows %q", rows)
	require.Equal(t, "=cmd|' /C calc'!A0", rows[1][0], "rows %q", rows)
	require.Equal(t, "acme-prod", rows[2][0], "rows %q", rows)
	ct, _ := f.GetCellType("Subscriber metrics", "B3")
	assert.NotEqual(t, excelize.CellTypeSharedString, ct, "Super is stored as text")
	assert.NotEqual(t, excelize.CellTypeInlineString, ct, "Super is stored as text")
	v, _ := f.GetCellValue("Subscriber metrics", "J3")
	assert.Equal(t, "2026-01-20 13:00", v, "When shows as")
}

func TestUsageXLSXToAPipe(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, stderr, code := h.run("usage", "history", "--installation", "acme-prod", "-o", "xlsx")
	require.Equal(t, exitOK, code, "exit code; stderr %s", stderr)
	_, rows := readWorkbook(t, []byte(stdout), "Metrics history")
	require.Len(t, rows, 3, "rows %q", rows)
	assert.Equal(t, "Feb 2026", rows[1][0], "rows %q", rows)
	assert.Equal(t, "Jan 2026", rows[2][0], "rows %q", rows)
	assert.Equal(t, "2 users late", rows[2][19], "rows %q", rows)
}

// TestUsageXLSXRefusesATerminal gives meshctl a character device for
// standard output, as a terminal is; the null device is not refused.
func TestUsageXLSXRefusesATerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	runTo := func(dev string, args ...string) (string, int) {
		t.Helper()
		out, err := os.OpenFile(dev, os.O_WRONLY, 0)
		if err != nil {
			t.Skipf("no %s: %v", dev, err)
		}
		defer out.Close()
		var stderr strings.Builder
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		code := runEnv(ctx, args, func(k string) string { return h.env[k] }, out, &stderr)
		return stderr.String(), code
	}
	stderr, code := runTo("/dev/zero", "usage", "month", "2026-01", "-o", "xlsx")
	assert.Equal(t, exitUsage, code, "exit code; stderr %q", stderr)
	assert.Contains(t, stderr, "standard output is a terminal: give --file F or redirect the output")
	assert.Empty(t, h.fake.recordedCalls(), "the master got calls for a refused command")
	stderr, code = runTo("/dev/zero", "usage", "month", "2026-01", "-o", "csv")
	assert.Equal(t, exitOK, code, "CSV to a terminal: %s", stderr)
	stderr, code = runTo(os.DevNull, "usage", "month", "2026-01", "-o", "xlsx")
	assert.Equal(t, exitOK, code, "xlsx to %s: %s", os.DevNull, stderr)
}

func TestUsageFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	path := filepath.Join(t.TempDir(), "no", "such", "dir.xlsx")
	_, stderr, code := h.run("usage", "months", "--file", path)
	assert.Equal(t, exitUsage, code, "--file on a list: exit code; stderr %q", stderr)
	assert.Contains(t, stderr, "unknown flag: --file", "--file on a list")
	_, stderr, code = h.run("usage", "history", "--installation", "acme-prod", "--file", path)
	assert.Equal(t, exitFailure, code, "unwritable --file: exit code; stderr %q", stderr)
	assert.Contains(t, stderr, path, "unwritable --file")

	h.fake.update(func(f *fakeAdmin) {
		f.err = connect.NewError(connect.CodeUnimplemented, errors.New("usage views are not built yet"))
	})
	_, stderr, code = h.run("usage", "month", "2026-01")
	assert.Equal(t, exitFailure, code, "unimplemented: exit code; stderr %q", stderr)
	assert.Contains(t, stderr, "does not serve UsageMonth", "unimplemented")

	h.fake.update(func(f *fakeAdmin) {
		f.err = nil
		f.usageHistory = &v1.UsageHistoryResponse{Reports: []*v1.UsageReport{{Installation: "acme-prod", Month: "2026-1"}}}
	})
	_, stderr, code = h.run("usage", "history", "--installation", "acme-prod")
	assert.Equal(t, exitFailure, code, "bad report: exit code; stderr %q", stderr)
	assert.Contains(t, stderr, `a usage report of "acme-prod": month "2026-1" is not YYYY-MM`, "bad report")

	h.fake.update(func(f *fakeAdmin) { f.usageMonth = &v1.UsageMonthResponse{TimeZone: "Mars/Olympus"} })
	_, stderr, code = h.run("usage", "month", "2026-01")
	assert.Equal(t, exitFailure, code, "bad zone: exit code; stderr %q", stderr)
	assert.Contains(t, stderr, `unknown time zone "Mars/Olympus"`, "bad zone")
}
