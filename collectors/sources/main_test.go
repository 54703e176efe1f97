package sources

import (
	"os"
	"testing"

	"github.com/licmesh/licmesh/mesh/dbtest"
)

// TestMain stops the database servers the tests started.
func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.Stop()
	os.Exit(code)
}
