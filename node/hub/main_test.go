package hub

import (
	"os"
	"testing"

	"github.com/licmesh/licmesh/mesh/dbtest"
)

// TestMain stops the PostgreSQL server the tests and benchmarks started.
func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.Stop()
	os.Exit(code)
}
