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
	"github.com/xuri/excelize/v2"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

func TestUsageHistoryTableIsNewestFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, stderr, code := h.run("usage", "history", "--installation", "acme-prod")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want a header and 2 months:\n%s", len(lines), stdout)
	}
	for _, want := range []string{"Month", "Super", "En. staff", "Conc. max", "When", "Minutes", "Max cases", "Status", "Late"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %q", lines[0], want)
		}
	}
	if !strings.HasPrefix(lines[1], "Feb 2026 ") || !strings.HasPrefix(lines[2], "Jan 2026 ") {
		t.Errorf("months not newest first:\n%s", stdout)
	}
	// The open month has no concurrent maximum time and nothing late.
	if f := strings.Fields(lines[1]); f[len(f)-1] != "-" || f[len(f)-2] != "open" {
		t.Errorf("open month row %q", lines[1])
	}
	if !strings.HasSuffix(lines[2], "closed  2 users late") || !strings.Contains(lines[2], "2026-01-20 13:00") {
		t.Errorf("closed month row %q: want the late marker and When in Paris time", lines[2])
	}
}

func TestUsageMonthCSVIsAlphabeticalAndGuarded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, stderr, code := h.run("usage", "month", "2026-01", "-o", "csv")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, stdout)
	}
	if len(recs) != 3 || recs[0][0] != "Installation" || recs[0][2] != "En. staff" || len(recs[0]) != 20 {
		t.Fatalf("records %q", recs)
	}
	if recs[1][0] != "'=cmd|' /C calc'!A0" {
		t.Errorf("a formula-like installation is not guarded: %q", recs[1][0])
	}
	if recs[2][0] != "acme-prod" || recs[2][1] != "7" || recs[2][18] != "closed" || recs[2][19] != "2 users late" {
		t.Errorf("row %q", recs[2])
	}
}

func TestUsageJSONIsTheResponse(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, _, code := h.run("usage", "history", "--installation", "acme-prod", "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
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
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("JSON: %v\n%s", err, stdout)
	}
	if got.TimeZone != "Europe/Paris" || len(got.Reports) != 2 || got.Reports[1].Month != "2026-01" ||
		got.Reports[1].Metrics.ConcWhenMs == "" || got.Reports[1].Late == nil || got.Reports[1].Late.Users != "2" {
		t.Errorf("JSON is not the whole response: %+v", got)
	}
}

// readWorkbook opens an XLSX meshctl wrote and returns its one sheet's rows.
func readWorkbook(t *testing.T, b []byte, sheet string) (*excelize.File, [][]string) {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a workbook: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	if got := f.GetSheetList(); len(got) != 1 || got[0] != sheet {
		t.Fatalf("sheets %q, want [%q]", got, sheet)
	}
	rows, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	return f, rows
}

func TestUsageXLSXToFile(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	path := filepath.Join(t.TempDir(), "jan.xlsx")
	stdout, stderr, code := h.run("usage", "month", "2026-01", "-o", "xlsx", "--file", path)
	if code != exitOK || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, rows := readWorkbook(t, b, "Subscriber metrics")
	if len(rows) != 3 || rows[1][0] != "=cmd|' /C calc'!A0" || rows[2][0] != "acme-prod" {
		t.Fatalf("rows %q", rows)
	}
	if ct, _ := f.GetCellType("Subscriber metrics", "B3"); ct == excelize.CellTypeSharedString || ct == excelize.CellTypeInlineString {
		t.Errorf("Super is stored as text")
	}
	if v, _ := f.GetCellValue("Subscriber metrics", "J3"); v != "2026-01-20 13:00" {
		t.Errorf("When shows as %q", v)
	}
}

func TestUsageXLSXToAPipe(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, stderr, code := h.run("usage", "history", "--installation", "acme-prod", "-o", "xlsx")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, rows := readWorkbook(t, []byte(stdout), "Metrics history")
	if len(rows) != 3 || rows[1][0] != "Feb 2026" || rows[2][0] != "Jan 2026" || rows[2][19] != "2 users late" {
		t.Errorf("rows %q", rows)
	}
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
	if code != exitUsage || !strings.Contains(stderr, "standard output is a terminal: give --file F or redirect the output") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if n := len(h.fake.recordedCalls()); n != 0 {
		t.Errorf("the master got %d calls for a refused command", n)
	}
	if stderr, code := runTo("/dev/zero", "usage", "month", "2026-01", "-o", "csv"); code != exitOK {
		t.Errorf("CSV to a terminal: exit %d, %s", code, stderr)
	}
	if stderr, code := runTo(os.DevNull, "usage", "month", "2026-01", "-o", "xlsx"); code != exitOK {
		t.Errorf("xlsx to %s: exit %d, %s", os.DevNull, code, stderr)
	}
}

func TestUsageFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	path := filepath.Join(t.TempDir(), "no", "such", "dir.xlsx")
	_, stderr, code := h.run("usage", "months", "--file", path)
	if code != exitUsage || !strings.Contains(stderr, "unknown flag: --file") {
		t.Errorf("--file on a list: exit %d, %q", code, stderr)
	}
	_, stderr, code = h.run("usage", "history", "--installation", "acme-prod", "--file", path)
	if code != exitFailure || !strings.Contains(stderr, path) {
		t.Errorf("unwritable --file: exit %d, %q", code, stderr)
	}

	h.fake.update(func(f *fakeAdmin) {
		f.err = connect.NewError(connect.CodeUnimplemented, errors.New("usage views are not built yet"))
	})
	_, stderr, code = h.run("usage", "month", "2026-01")
	if code != exitFailure || !strings.Contains(stderr, "does not serve UsageMonth") {
		t.Errorf("unimplemented: exit %d, %q", code, stderr)
	}

	h.fake.update(func(f *fakeAdmin) {
		f.err = nil
		f.usageHistory = &v1.UsageHistoryResponse{Reports: []*v1.UsageReport{{Installation: "acme-prod", Month: "2026-1"}}}
	})
	_, stderr, code = h.run("usage", "history", "--installation", "acme-prod")
	if code != exitFailure || !strings.Contains(stderr, `a usage report of "acme-prod": month "2026-1" is not YYYY-MM`) {
		t.Errorf("bad report: exit %d, %q", code, stderr)
	}

	h.fake.update(func(f *fakeAdmin) { f.usageMonth = &v1.UsageMonthResponse{TimeZone: "Mars/Olympus"} })
	_, stderr, code = h.run("usage", "month", "2026-01")
	if code != exitFailure || !strings.Contains(stderr, `unknown time zone "Mars/Olympus"`) {
		t.Errorf("bad zone: exit %d, %q", code, stderr)
	}
}
