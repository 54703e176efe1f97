package store_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/node/hub/store"
	"github.com/licmesh/licmesh/node/hub/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *store.Store {
		s, err := store.Open(t.Context(), store.Config{Engine: store.SQLite, Path: filepath.Join(t.TempDir(), "hub.db")})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	})
}
