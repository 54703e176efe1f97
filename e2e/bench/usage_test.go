package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
)

// tinyUsageConfig shrinks U1 and U2 to test size.
func tinyUsageConfig(t *testing.T) Config {
	t.Helper()
	cfg := tinyMeshConfig(t)
	cfg.Usage.Samples = 30
	cfg.Usage.BatchRecords = 10
	cfg.Usage.Interval = time.Second
	cfg.Usage.Window = 3 * time.Second
	cfg.Usage.DBUsers = 40
	cfg.Usage.DBCases = 300
	cfg.Usage.DBLogons = 200
	return cfg
}

func TestU1(t *testing.T) {
	cfg := tinyUsageConfig(t)
	runs, err := MeasureU1(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 4 {
		t.Fatalf("%d runs, want 4: %+v", len(runs), runs)
	}
	for _, r := range runs {
		calls := (30/r.Collectors + r.PerCall - 1) / r.PerCall * r.Collectors
		if r.Samples != 30 || r.Calls != calls || r.PerSecond <= 0 || r.Users != 10 {
			t.Errorf("implausible run %+v, want %d calls", r, calls)
		}
		// One entry per call, give or take an unrelated one; never fewer.
		if r.Use.Entries < uint64(r.Calls) || r.Use.Entries > uint64(r.Calls)+2 {
			t.Errorf("%d/call c=%d: %d raft entries for %d calls", r.PerCall, r.Collectors, r.Use.Entries, r.Calls)
		}
	}
	rows := u1Rows(runs)
	names := map[string]Result{}
	for _, row := range rows {
		names[row.Name] = row
	}
	for _, c := range []int{1, 3} {
		row, ok := names[fmt.Sprintf("usage 10/call ÷ 1/call c=%d", c)]
		if !ok || row.Met == nil || row.Value <= 0 || !strings.Contains(row.Note, "1/call") {
			t.Errorf("ratio row at c=%d: %+v", c, row)
		}
	}
	if row := names["usage raft entries per sample 1/call c=1"]; row.Value < 1 {
		t.Errorf("one sample per call took %v entries per sample", row.Value)
	}
	if rows := u1Rows(runs[2:3]); len(rows) != 3 || rows[2].Met == nil || *rows[2].Met {
		t.Errorf("a batched run without its 1/call run: %+v", rows)
	}
}

// TestUsageSenderRefused shows that a report the masters refuse fails the
// sender, and one they do not acknowledge in full does too.
func TestUsageSenderRefused(t *testing.T) {
	cfg := tinyUsageConfig(t)
	m, err := StartMesh(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	cols, err := m.EnrollCollectors(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeCollectors(cols) })
	s := newUsageSender(cols[0].Client(m.CollectorAddr(0)), "refused", 2)
	if err := s.report(t.Context(), 2, cfg.Mesh.CallTimeout); err != nil {
		t.Fatal(err)
	}
	s.users[0].Role = "wizard"
	if err := s.report(t.Context(), 1, cfg.Mesh.CallTimeout); !errors.Is(err, ErrMesh) || connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("a record with an unknown role: %v", err)
	}
	s.users[0].Role = "staff"
	// An older epoch is ignored whole: answered, but not acknowledged.
	s.epoch--
	if err := s.report(t.Context(), 1, cfg.Mesh.CallTimeout); !errors.Is(err, ErrNotAcked) {
		t.Errorf("a report from an older spool: %v", err)
	}
}

func TestU2(t *testing.T) {
	cfg := tinyUsageConfig(t)
	r, err := MeasureU2(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.RSSMiB <= 1 || r.PeakMiB < r.RSSMiB || r.Window < 3*time.Second || r.CPU <= 0 {
		t.Fatalf("implausible run %+v", r)
	}
	if r.Acked < 2 || r.Users != int64(r.DB.Active) || r.Cases != 300 {
		t.Errorf("samples did not reach the masters: %+v", r)
	}
	rows := u2Rows(r)
	if len(rows) != 2 || rows[0].Met == nil || rows[0].Unit != "MiB" || rows[1].Unit != "% core" ||
		!strings.Contains(rows[1].Note, "acknowledged") {
		t.Errorf("rows %+v", rows)
	}
}

// TestPMDBMatchesExample runs the source's queries on the database U2
// writes: the example's scalars, every user, and some logons in the window.
func TestPMDBMatchesExample(t *testing.T) {
	uc := DefaultUsageConfig()
	uc.DBUsers, uc.DBCases, uc.DBLogons = 50, 100, 2000
	now := time.Now()
	d, err := writePMDB(t.Context(), filepath.Join(t.TempDir(), "pm.db"), uc, now)
	if err != nil {
		t.Fatal(err)
	}
	if d.Active == 0 || d.Active >= d.Users {
		t.Errorf("%d of %d users counted: want some but not all closed", d.Active, d.Users)
	}
	db, err := sql.Open("sqlite", d.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM ("+q+")", args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	if n := count("SELECT 1 FROM USERS WHERE USR_STATUS <> 'CLOSED'"); n != d.Active {
		t.Errorf("users scalar %d, want %d", n, d.Active)
	}
	if n := count("SELECT 1 FROM APPLICATION"); n != 100 {
		t.Errorf("cases %d", n)
	}
	if n := count(pmUsersQuery); n != 50 {
		t.Errorf("users query: %d rows", n)
	}
	since := now.Add(-24 * time.Hour).UTC().Format(time.DateTime)
	open := count(pmLogonsQuery+" AND ended_at IS NULL", since)
	all := count(pmLogonsQuery, since)
	// 2000 logons over 30 days: about 100 begun in the last 36 h, a few
	// in the last two, still open.
	if all < 30 || all > 300 || open == 0 || open >= all {
		t.Errorf("logons query: %d rows, %d open", all, open)
	}
}

func TestUsageConfigValidate(t *testing.T) {
	for name, edit := range map[string]func(*UsageConfig){
		"no samples":         func(c *UsageConfig) { c.Samples = 0 },
		"empty batch":        func(c *UsageConfig) { c.BatchRecords = 0 },
		"batch over limit":   func(c *UsageConfig) { c.BatchRecords = maxUsageRecords + 1 },
		"negative users":     func(c *UsageConfig) { c.Users = -1 },
		"sub-second source":  func(c *UsageConfig) { c.Interval = time.Millisecond },
		"window < interval":  func(c *UsageConfig) { c.Window = c.Interval / 2 },
		"database, no users": func(c *UsageConfig) { c.DBUsers = 0 },
	} {
		cfg := DefaultConfig()
		edit(&cfg.Usage)
		if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: got %v, want ErrInvalidConfig", name, err)
		}
	}
}
