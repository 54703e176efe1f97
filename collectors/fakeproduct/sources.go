package fakeproduct

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
)

// The source's queries: collectors/sources/example-processmaker.yaml's, in
// SQLite's dialect, with every scalar seed 004's installation facts use.
const (
	usersQuery = `SELECT USR_UID AS id, USR_ROLE AS role,
       CASE WHEN USR_STATUS IN ('ACTIVE', 'VACATION') THEN 1 ELSE 0 END AS enabled,
       USR_LOCKED AS locked,
       CASE WHEN USR_STATUS = 'CLOSED' THEN 1 ELSE 0 END AS in_trash
FROM USERS`
	logonsQuery = `SELECT L.USR_UID AS user_id, U.USR_ROLE AS role, U.USR_LOCKED AS locked,
       L.LOG_INIT_DATE AS started_at, L.LOG_END_DATE AS ended_at
FROM LOGIN_LOG L JOIN USERS U ON U.USR_UID = L.USR_UID
WHERE L.LOG_STATUS <> 'FAIL' AND (L.LOG_END_DATE IS NULL OR L.LOG_END_DATE > ?)`
)

var scalars = [][2]string{
	{usage.ScalarUsers, "SELECT COUNT(*) FROM USERS WHERE USR_STATUS <> 'CLOSED'"},
	{usage.ScalarCases, "SELECT COUNT(*) FROM APPLICATION"},
	{usage.ScalarFileLimitMB, "SELECT CFG_VALUE FROM CONFIGURATION WHERE CFG_NAME = 'file_limit_mb'"},
	{usage.ScalarProcessModuleOn, "SELECT CFG_VALUE FROM CONFIGURATION WHERE CFG_NAME = 'process_module'"},
	{usage.ScalarProcessFields, "SELECT COUNT(*) FROM DYNAFORM_FIELD"},
	{usage.ScalarProcessFieldsInTrash, "SELECT COUNT(*) FROM DYNAFORM_FIELD WHERE FLD_TRASHED = 1"},
	{usage.ScalarCommissionModuleOn, "SELECT CFG_VALUE FROM CONFIGURATION WHERE CFG_NAME = 'commission_module'"},
	{usage.ScalarCommissionItems, "SELECT COUNT(*) FROM COMMISSION_ITEM WHERE RUN_ID = (SELECT MAX(RUN_ID) FROM COMMISSION_ITEM WHERE RUN_CLOSED = 1)"},
}

// SourcesYAML is a collector's sources file (usage.sources_file) that
// measures the product database at dbPath every interval.
func SourcesYAML(dbPath string, interval time.Duration) string {
	block := func(indent, q string) string {
		return "|\n" + indent + strings.ReplaceAll(q, "\n", "\n"+indent)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `sources:
  - name: processmaker
    kind: sql
    interval: %v
    timeout: %v
    max_rows: 200000
    time_zone: UTC
    default_role: staff
    roles:
`, interval, min(interval, 30*time.Second))
	roles := make([]string, 0, len(Roles))
	for r := range Roles {
		roles = append(roles, r)
	}
	slices.Sort(roles)
	for _, r := range roles {
		fmt.Fprintf(&b, "      %s: %s\n", r, Roles[r])
	}
	fmt.Fprintf(&b, "    sql:\n      driver: sqlite\n      dsn: %q\n      since_format: text\n      scalars:\n", dbPath)
	for _, s := range scalars {
		fmt.Fprintf(&b, "        %s: %q\n", s[0], s[1])
	}
	fmt.Fprintf(&b, "      users: %s\n      logons: %s\n", block("        ", usersQuery), block("        ", logonsQuery))
	return b.String()
}
