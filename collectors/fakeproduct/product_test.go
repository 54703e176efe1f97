package fakeproduct_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/fakeproduct"
	"github.com/licmesh/licmesh/collectors/sources"
	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	"github.com/licmesh/licmesh/licensing/usage"
)

var t0 = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// source is the collector's real SQL source, configured from SourcesYAML.
func source(t *testing.T, path string, clk *clocktest.Fake) sources.Source {
	t.Helper()
	cfgs, err := sources.ParseFile("sources.yaml", []byte(fakeproduct.SourcesYAML(path, 10*time.Second)))
	require.NoError(t, err, "the sources file the product gives must load")
	jobs, err := sources.Jobs(cfgs, sources.Options{Clock: clk, HashKey: []byte("dev-test-key-0123456789abcdefgh")})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	t.Cleanup(func() { jobs[0].Source.Close() })
	return jobs[0].Source
}

// TestProductMeasured: the product's database, read by the real SQL source
// with SourcesYAML's queries, gives every well-known scalar, users in all
// four roles (two super users, some disabled, locked or in the trash) and
// logons, some open; and the numbers move as the product runs, while the
// source reads.
func TestProductMeasured(t *testing.T) {
	clk := clocktest.New(t0)
	path := filepath.Join(t.TempDir(), "product.db")
	sum, err := fakeproduct.Create(t.Context(), path, fakeproduct.Sizes{Users: 40, Cases: 120, Logons: 20, Span: 6 * time.Hour, Seed: 7}, t0)
	require.NoError(t, err)
	assert.Equal(t, fakeproduct.Summary{Users: 40, Active: 37, Cases: 120, Logons: 20}, sum)
	p, err := fakeproduct.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	src := source(t, path, clk)

	s, err := src.Collect(t.Context())
	require.NoError(t, err)
	for _, name := range []string{usage.ScalarUsers, usage.ScalarCases, usage.ScalarFileLimitMB, usage.ScalarProcessModuleOn,
		usage.ScalarProcessFields, usage.ScalarProcessFieldsInTrash, usage.ScalarCommissionModuleOn, usage.ScalarCommissionItems} {
		assert.Contains(t, s.Scalars, name)
	}
	assert.EqualValues(t, 37, s.Scalars[usage.ScalarUsers])
	assert.EqualValues(t, 120, s.Scalars[usage.ScalarCases])
	require.Zero(t, s.Rejected, "rows rejected: %s", s.RejectedReason)
	roles := map[usage.Role]int{}
	var disabled, locked, trashed int
	for _, u := range s.Users {
		roles[u.Role]++
		if !u.Enabled {
			disabled++
		}
		if u.Locked {
			locked++
		}
		if u.InTrash {
			trashed++
		}
	}
	assert.Len(t, s.Users, 40)
	assert.Equal(t, 2, roles[usage.RoleSuper])
	for _, r := range []usage.Role{usage.RoleStaff, usage.RoleManager, usage.RoleRep} {
		assert.NotZero(t, roles[r], "no user of role %s", r)
	}
	assert.NotZero(t, disabled, "disabled users")
	assert.NotZero(t, locked, "locked users")
	assert.NotZero(t, trashed, "users in the trash")
	open := 0
	for _, l := range s.Logons {
		if l.End.IsZero() {
			open++
		}
	}
	assert.NotEmpty(t, s.Logons)
	assert.NotZero(t, open, "open logons")

	// A day at the office, read while it is written.
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := src.Collect(ctx); err != nil && ctx.Err() == nil {
				assert.NoError(t, err, "collect while the product writes")
				return
			}
		}
	})
	for range 300 {
		clk.Advance(3 * time.Second)
		require.NoError(t, p.Step(clk.Now()))
	}
	cancel()
	wg.Wait()
	after, err := src.Collect(t.Context())
	require.NoError(t, err)
	assert.Greater(t, after.Scalars[usage.ScalarCases], s.Scalars[usage.ScalarCases], "cases did not move")
	assert.Greater(t, len(after.Logons), len(s.Logons), "logons did not move")

	// A kept dev directory: the product goes on where it was.
	require.NoError(t, p.Close())
	p, err = fakeproduct.Open(path)
	require.NoError(t, err, "reopen")
	for range 100 {
		require.NoError(t, p.Step(clk.Now()), "a step after reopening")
	}
	again, err := src.Collect(t.Context())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, again.Scalars[usage.ScalarCases], after.Scalars[usage.ScalarCases])
	assert.GreaterOrEqual(t, len(again.Users), len(after.Users))
}

// TestCreateIsDeterministicAndRefusesBadInput: the same sizes and seed give
// the same counts; bad sizes, an existing database and a missing one are
// refused, naming the problem, and change nothing.
func TestCreateIsDeterministicAndRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	sizes := fakeproduct.Sizes{Users: 500, Cases: 2000, Logons: 1500, Span: 30 * 24 * time.Hour, Seed: 1}
	a, err := fakeproduct.Create(t.Context(), filepath.Join(dir, "a.db"), sizes, t0)
	require.NoError(t, err)
	b, err := fakeproduct.Create(t.Context(), filepath.Join(dir, "b.db"), sizes, t0)
	require.NoError(t, err)
	assert.Equal(t, a, b)

	_, err = fakeproduct.Create(t.Context(), filepath.Join(dir, "a.db"), sizes, t0)
	require.ErrorIs(t, err, fakeproduct.ErrExists)
	for _, bad := range []fakeproduct.Sizes{{Users: 0, Span: time.Hour}, {Users: 1, Cases: -1, Span: time.Hour}, {Users: 1}} {
		path := filepath.Join(dir, "bad.db")
		_, err := fakeproduct.Create(t.Context(), path, bad, t0)
		require.ErrorIs(t, err, fakeproduct.ErrInvalid, "%+v", bad)
		ok, err := fakeproduct.Exists(path)
		require.NoError(t, err)
		assert.False(t, ok, "a refused create left a schema")
	}
	_, err = fakeproduct.Open(filepath.Join(dir, "missing.db"))
	require.ErrorIs(t, err, fakeproduct.ErrInvalid)
	assert.ErrorContains(t, err, "create it first")
}
