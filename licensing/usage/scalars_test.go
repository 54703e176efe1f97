package usage

import (
	"errors"
	"strings"
	"testing"
)

func TestFactsFromScalars(t *testing.T) {
	at := d(3, 10, 0)
	if _, ok := FactsFromScalars(at, map[string]int64{"tickets": 4}, nil); ok {
		t.Fatal("facts from no well-known scalar")
	}
	f, ok := FactsFromScalars(at,
		map[string]int64{ScalarUsers: 10, ScalarCommissionModuleOn: 1, ScalarProcessFields: 50},
		map[string]int64{ScalarUsers: 12, ScalarProcessFieldsInTrash: 5, ScalarProcessModuleOn: 0})
	want := Facts{At: at, UserCount: 12, CommissionModuleOn: true, ProcessFields: 50, ProcessFieldsInTrash: 5}
	if !ok || f != want {
		t.Fatalf("FactsFromScalars = %+v %v, want %+v", f, ok, want)
	}
	if f, _ := FactsFromScalars(at, map[string]int64{ScalarCases: -1}); f.Validate() == nil {
		t.Fatal("a negative count validates")
	}
}

func TestCheckScalarName(t *testing.T) {
	for _, ok := range []string{"users", "a", "file_limit_mb", "x9_", strings.Repeat("a", MaxScalarName)} {
		if err := CheckScalarName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "9a", "_a", "Users", "a-b", "a.b", "a b", "é", strings.Repeat("a", MaxScalarName+1)} {
		if err := CheckScalarName(bad); !errors.Is(err, ErrInvalidObservation) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
