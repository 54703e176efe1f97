package sources

import (
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
)

// Well-known scalar names: the ones Facts reads. A source may yield any
// other names too (seed 000's sales view can show them).
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

// Sample is what one collection of one source saw. User IDs in Users and
// Logons are already pseudonyms (see Pseudonym): raw IDs never leave the
// package.
type Sample struct {
	// Source is the source's name.
	Source string
	// At is when the collection started; every observation carries it.
	At time.Time
	// Scalars are the named metrics.
	Scalars map[string]int64
	// Users are the user snapshots, if the source has a users query.
	Users []usage.UserState
	// Logons are the sessions open at At or ended since the since time,
	// if the source has a logons query.
	Logons []usage.Logon
	// Rejected counts user and logon rows left out because a value could
	// not be used (an unmapped role, a malformed time); RejectedReason says
	// why the first one was, without its user ID.
	Rejected       int
	RejectedReason string
}

// Facts builds seed 004's installation facts from the well-known scalars of
// one or more samples taken together (later maps win on a name both have).
// ok is false when none of the well-known names is present. Module flags
// are on when their scalar is non-zero; a missing number is 0.
func Facts(at time.Time, scalars ...map[string]int64) (f usage.Facts, ok bool) {
	get := func(name string) int64 {
		var v int64
		for _, m := range scalars {
			if n, found := m[name]; found {
				v, ok = n, true
			}
		}
		return v
	}
	f = usage.Facts{
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
