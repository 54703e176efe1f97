package store_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/mesh/dbtest"
	"github.com/licmesh/licmesh/node/hub/store"
	"github.com/licmesh/licmesh/node/hub/store/storetest"
)

// TestMain stops the PostgreSQL server the tests started.
func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.Stop()
	os.Exit(code)
}

func openSQLite(t *testing.T) *store.Store {
	s, err := store.Open(t.Context(), store.Config{Engine: store.SQLite, Path: filepath.Join(t.TempDir(), "hub.db")})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t *testing.T) *store.Store {
	s, err := store.Open(t.Context(), store.Config{Engine: store.Postgres, DSN: dbtest.PostgresDatabase(t)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) { storetest.Run(t, openSQLite) }

func TestPostgres(t *testing.T) { storetest.Run(t, openPostgres) }

// TestOpenRefusesBadConfigs: a bad configuration is refused before
// anything is opened or created, naming what is wrong.
func TestOpenRefusesBadConfigs(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		cfg  store.Config
		want string
	}{
		"no path":      {store.Config{Engine: store.SQLite}, "path"},
		"no dsn":       {store.Config{Engine: store.Postgres}, "DSN"},
		"engine":       {store.Config{Engine: "oracle", Path: filepath.Join(dir, "x.db")}, "oracle"},
		"unreachable":  {store.Config{Engine: store.Postgres, DSN: "postgres://u:" + dbtest.Password + "@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"}, "postgres"},
		"not a dir":    {store.Config{Engine: store.SQLite, Path: filepath.Join(dir, "missing", "sub", "hub.db")}, "sqlite"},
		"not a sqlite": {store.Config{Engine: store.SQLite, Path: notSQLite(t, dir)}, "sqlite"},
	} {
		_, err := store.Open(t.Context(), tc.cfg)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
		assert.NotContains(t, err.Error(), dbtest.Password, "%s: the DSN's password in an error", name)
	}
}

func notSQLite(t *testing.T, dir string) string {
	p := filepath.Join(dir, "text.db")
	require.NoError(t, os.WriteFile(p, []byte("this is not a database, just text that is long enough to have a header.................."), 0o600))
	return p
}

// TestMigrationsAreIdempotent: opening a store twice runs no migration the
// second time and keeps the data.
func TestMigrationsAreIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	s, err := store.Open(t.Context(), store.Config{Engine: store.SQLite, Path: path})
	require.NoError(t, err)
	require.NoError(t, s.Tx(t.Context(), func(tx *store.Tx) error {
		_, err := tx.CreateCompany(t.Context(), store.Company{ID: store.NewCompanyID(), Name: "Acme", Email: "a@acme.example", CreatedAt: storetest.T0})
		return err
	}))
	require.NoError(t, s.Close())
	s, err = store.Open(t.Context(), store.Config{Engine: store.SQLite, Path: path})
	require.NoError(t, err)
	defer s.Close()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var versions int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0`).Scan(&versions))
	entries, err := os.ReadDir("migrations")
	require.NoError(t, err)
	assert.Equal(t, len(entries), versions, "each migration applied once")
	require.NoError(t, s.Read(t.Context(), func(tx *store.Tx) error {
		cs, err := tx.ListCompanies(t.Context(), "")
		assert.Len(t, cs, 1)
		return err
	}))
}
