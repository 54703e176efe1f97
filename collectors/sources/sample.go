package sources

import (
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
)

// Well-known scalar names: the ones Facts reads, as licensing/usage names
// them. A source may yield any other names too (seed 000's sales view can
// show them).
const (
	ScalarUsers                = usage.ScalarUsers
	ScalarCases                = usage.ScalarCases
	ScalarFileLimitMB          = usage.ScalarFileLimitMB
	ScalarCommissionModuleOn   = usage.ScalarCommissionModuleOn
	ScalarCommissionItems      = usage.ScalarCommissionItems
	ScalarProcessModuleOn      = usage.ScalarProcessModuleOn
	ScalarProcessFields        = usage.ScalarProcessFields
	ScalarProcessFieldsInTrash = usage.ScalarProcessFieldsInTrash
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
// one or more samples taken together; see usage.FactsFromScalars, which the
// masters apply to the same scalars.
func Facts(at time.Time, scalars ...map[string]int64) (usage.Facts, bool) {
	return usage.FactsFromScalars(at, scalars...)
}
