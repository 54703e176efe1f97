package usage

import (
	"fmt"
	"time"
)

// Well-known scalar names: the ones FactsFromScalars reads. A source may
// yield any other names too (seed 000's sales view can show them).
const (
	ScalarUsers                = "users"
	ScalarCases                = "cases"
	ScalarFileLimitMB          = "file_limit_mb"
	ScalarCommissionModuleOn   = "commission_module_on"
	ScalarCommissionItems      = "commission_items"
	ScalarProcessModuleOn      = "process_module_on"
	ScalarProcessFields        = "process_fields"
	ScalarProcessFieldsInTrash = "process_fields_in_trash"
)

// MaxScalarName is the longest scalar name accepted, in bytes.
const MaxScalarName = 64

// FactsFromScalars builds seed 004's installation facts from the well-known
// scalars of one or more samples taken together (later maps win on a name
// both have). ok is false when none of the well-known names is present.
// Module flags are on when their scalar is non-zero; a missing number is 0.
// The result is not validated: a negative count makes Facts.Validate fail.
func FactsFromScalars(at time.Time, scalars ...map[string]int64) (f Facts, ok bool) {
	get := func(name string) int64 {
		var v int64
		for _, m := range scalars {
			if n, found := m[name]; found {
				v, ok = n, true
			}
		}
		return v
	}
	f = Facts{
		At:                   at,
		UserCount:            get(ScalarUsers),
		CaseCount:            get(ScalarCases),
		FileLimitMB:          get(ScalarFileLimitMB),
		CommissionModuleOn:   get(ScalarCommissionModuleOn) != 0,
		CommissionItems:      get(ScalarCommissionItems),
		ProcessModuleOn:      get(ScalarProcessModuleOn) != 0,
		ProcessFields:        get(ScalarProcessFields),
		ProcessFieldsInTrash: get(ScalarProcessFieldsInTrash),
	}
	return f, ok
}

// CheckScalarName reports whether name is a usable scalar name: 1 to
// MaxScalarName lower-case letters, digits and '_', starting with a letter
// (the names sources may declare).
func CheckScalarName(name string) error {
	if name == "" || len(name) > MaxScalarName {
		return fmt.Errorf("%w: scalar name %q is not 1-%d bytes", ErrInvalidObservation, clip(name), MaxScalarName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || i > 0 && ('0' <= c && c <= '9' || c == '_') {
			continue
		}
		return fmt.Errorf("%w: scalar name %q must be lower-case letters, digits and '_', starting with a letter",
			ErrInvalidObservation, clip(name))
	}
	return nil
}
