package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/licmesh/licmesh/collectors/meter"
	"github.com/licmesh/licmesh/collectors/sources"
	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

var devT0 = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// TestDevProductMeasured: the demo product's database, read by the real
// SQL source with the dev source's queries, gives every well-known scalar,
// users in all four roles (two super users, some disabled, locked or in the
// trash) and logons, some open; and the numbers move as the product runs,
// while the source reads.
func TestDevProductMeasured(t *testing.T) {
	now := devT0
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	path := filepath.Join(t.TempDir(), "product.db")
	p, err := openDevProduct(path, 40, clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	jobs, err := sources.Jobs([]sources.Config{devSource(path)}, sources.Options{Now: clock, HashKey: []byte("dev-test-key-0123456789abcdefgh")})
	if err != nil {
		t.Fatal(err)
	}
	src := jobs[0].Source
	t.Cleanup(func() { src.Close() })

	s, err := src.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{sources.ScalarUsers, sources.ScalarCases, sources.ScalarFileLimitMB, sources.ScalarProcessModuleOn,
		sources.ScalarProcessFields, sources.ScalarProcessFieldsInTrash, sources.ScalarCommissionModuleOn, sources.ScalarCommissionItems} {
		if _, ok := s.Scalars[name]; !ok {
			t.Errorf("scalar %s missing: %v", name, s.Scalars)
		}
	}
	if s.Scalars[sources.ScalarUsers] < 30 || s.Scalars[sources.ScalarCases] < 50 || s.Rejected != 0 {
		t.Errorf("scalars %v, %d rows rejected (%s)", s.Scalars, s.Rejected, s.RejectedReason)
	}
	roles := map[usage.Role]int{}
	var disabled, locked, trashed int
	for _, u := range s.Users {
		roles[u.Role]++
		disabled += btoi(!u.Enabled)
		locked += btoi(u.Locked)
		trashed += btoi(u.InTrash)
	}
	if len(s.Users) != 40 || roles[usage.RoleSuper] != 2 || roles[usage.RoleStaff] == 0 || roles[usage.RoleManager] == 0 ||
		roles[usage.RoleRep] == 0 || disabled == 0 || locked == 0 || trashed == 0 {
		t.Errorf("%d users: roles %v, %d disabled, %d locked, %d in the trash", len(s.Users), roles, disabled, locked, trashed)
	}
	open := 0
	for _, l := range s.Logons {
		open += btoi(l.End.IsZero())
	}
	if len(s.Logons) == 0 || open == 0 {
		t.Errorf("%d logons, %d open; want some of each", len(s.Logons), open)
	}

	// A day at the office, read while it is written.
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := src.Collect(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("collect while the product writes: %v", err)
				return
			}
		}
	})
	for range 300 {
		mu.Lock()
		now = now.Add(3 * time.Second)
		mu.Unlock()
		if err := p.step(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	after, err := src.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if after.Scalars[sources.ScalarCases] <= s.Scalars[sources.ScalarCases] || len(after.Logons) <= len(s.Logons) {
		t.Errorf("nothing moved: cases %d -> %d, logons %d -> %d", s.Scalars[sources.ScalarCases], after.Scalars[sources.ScalarCases],
			len(s.Logons), len(after.Logons))
	}

	// A kept dev directory: the product goes on where it was.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if p, err = openDevProduct(path, 40, clock); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	for range 100 {
		if err := p.step(); err != nil {
			t.Fatalf("a step after reopening: %v", err)
		}
	}
	again, err := src.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if again.Scalars[sources.ScalarCases] < after.Scalars[sources.ScalarCases] || len(again.Users) < len(after.Users) {
		t.Errorf("reopened: cases %d -> %d, users %d -> %d", after.Scalars[sources.ScalarCases], again.Scalars[sources.ScalarCases],
			len(after.Users), len(again.Users))
	}
}

// TestRunDevUsage: the dev meter reports the installation's samples
// through its reporter promptly once ready, and on stop closes everything,
// leaving a directory that can be removed.
func TestRunDevUsage(t *testing.T) {
	dir := t.TempDir()
	got := make(chan *licmeshv1.ReportUsageRequest, 100)
	rep := meter.ReporterFunc(func(ctx context.Context, req *licmeshv1.ReportUsageRequest) (*licmeshv1.ReportUsageResponse, error) {
		got <- req
		return &licmeshv1.ReportUsageResponse{SpoolEpoch: req.GetSpoolEpoch(), AckedSeq: req.GetRecords()[len(req.GetRecords())-1].GetSeq()}, nil
	})
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runDevUsage(ctx, 2, dir, rep, ready, slog.New(slog.DiscardHandler)) }()
	select {
	case req := <-got:
		t.Fatalf("reported before ready: %v", req)
	case <-time.After(200 * time.Millisecond): // a report would come at once: the first sample is due within 1 s
	}
	close(ready)
	select {
	case req := <-got:
		s := req.GetRecords()[0].GetSample()
		if req.GetInstallation() != "globex" || s.GetSource() != "processmaker" || len(s.GetUsers()) != 22 {
			t.Errorf("first report: installation %q, source %q, %d users", req.GetInstallation(), s.GetSource(), len(s.GetUsers()))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no report within 10 s of ready")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("runDevUsage did not stop within 5 s")
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
}
