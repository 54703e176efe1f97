package usage

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFactsFromScalars(t *testing.T) {
	at := d(3, 10, 0)
	_, ok := FactsFromScalars(at, map[string]int64{"tickets": 4}, nil)
	require.False(t, ok, "facts from no well-known scalar")
	f, ok := FactsFromScalars(at,
		map[string]int64{ScalarUsers: 10, ScalarCommissionModuleOn: 1, ScalarProcessFields: 50},
		map[string]int64{ScalarUsers: 12, ScalarProcessFieldsInTrash: 5, ScalarProcessModuleOn: 0})
	want := Facts{At: at, UserCount: 12, CommissionModuleOn: true, ProcessFields: 50, ProcessFieldsInTrash: 5}
	require.True(t, ok, "FactsFromScalars = %+v", f)
	require.Equal(t, want, f, "FactsFromScalars")
	f, _ = FactsFromScalars(at, map[string]int64{ScalarCases: -1})
	require.Error(t, f.Validate(), "a negative count validates")
}

func TestCheckScalarName(t *testing.T) {
	for _, ok := range []string{"users", "a", "file_limit_mb", "x9_", strings.Repeat("a", MaxScalarName)} {
		assert.NoError(t, CheckScalarName(ok), "%q refused", ok)
	}
	for _, bad := range []string{"", "9a", "_a", "Users", "a-b", "a.b", "a b", "é", strings.Repeat("a", MaxScalarName+1)} {
		assert.ErrorIs(t, CheckScalarName(bad), ErrInvalidObservation, "%q", bad)
	}
}
