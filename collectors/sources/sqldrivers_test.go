package sources

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSQLDrivers: SQLDrivers names exactly the drivers this build has, and
// every driver a config may name is known to every build.
func TestSQLDrivers(t *testing.T) {
	var built []string
	for _, name := range []string{DriverPostgres, DriverMySQL, DriverSQLite} {
		d, ok := lookupDriver(name)
		require.True(t, ok, "%s unknown to this build", name)
		assert.NotEmpty(t, d.offTag, "%s has no build tag", name)
		assert.Equal(t, d.built(), d.classify != nil, "%s: open and classify come together", name)
		if d.built() {
			built = append(built, name)
		}
	}
	assert.Equal(t, built, SQLDrivers())
	t.Logf("built in: %v", built)
}

// TestSQLDriverNotBuilt: a source naming a driver this build left out
// fails at New, before reading its DSN, with an error that names the
// driver, the drivers the binary has and the build tag that left it out.
// A build with every driver has nothing to check: make test runs this
// package again with the tags of the Makefile's collectord.
func TestSQLDriverNotBuilt(t *testing.T) {
	missing := 0
	for _, d := range sqlDrivers() {
		if d.built() {
			continue
		}
		missing++
		cfg := Config{Name: "pm", Kind: KindSQL, SQL: &SQLConfig{Driver: d.name, DSNFile: "/nonexistent/dsn",
			Scalars: map[string]string{"users": "SELECT 1"}}}
		_, err := New(cfg, testOptions())
		wantErr(t, err, ErrConfig, `sources: "pm": sql.driver: the `+d.name+` driver is not built into this collectord`,
			`"`+d.offTag+`"`, "collectord-full")
		for _, other := range SQLDrivers() {
			assert.ErrorContains(t, err, other, "the error does not say the binary has %s", other)
		}
	}
	if missing == 0 {
		t.Skip("every SQL driver is built in")
	}
}
