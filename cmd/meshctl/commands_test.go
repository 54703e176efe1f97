package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func TestCommandsSendTheRightRequest(t *testing.T) {
	t.Parallel()
	const svc = "/licmesh.v1.AdminService/"
	tests := []struct {
		args []string
		proc string
		want proto.Message
		out  []string // substrings of stdout
	}{
		{[]string{"status"}, "GetStatus", &v1.GetStatusRequest{},
			[]string{"CLUSTER ID", "c-42", "TRUSTED TIME", "2026-03-01T12:00:00Z", "COMMIT INDEX", "120"}},
		{[]string{"members"}, "ListMembers", &v1.ListMembersRequest{},
			[]string{"ID", "ADDRESS", "RAFT", "STATE", "VOTER", "LEADER", "VERSION", "10.0.0.2:7400", "10.0.0.1:7401"}},
		{[]string{"pool", "create", "modeler", "--seats", "25", "--enforce", "soft"}, "CreatePool",
			&v1.CreatePoolRequest{Name: "modeler", Seats: 25, Enforce: "soft"},
			[]string{"NAME", "modeler", "SEATS", "25"}},
		{[]string{"pool", "create", "free", "--seats", "0"}, "CreatePool",
			&v1.CreatePoolRequest{Name: "free", Seats: 0, Enforce: "hard"}, nil},
		{[]string{"pool", "list"}, "ListPools", &v1.ListPoolsRequest{},
			[]string{"NAME", "SEATS", "ENFORCE", "designer"}},
		{[]string{"lease", "list"}, "ListLeases", &v1.ListLeasesRequest{},
			[]string{"ID", "POOL", "HOLDER", "COLLECTOR", "FENCE", "GRANTED", "EXPIRES", "alice", "2026-03-02T11:59:00Z"}},
		{[]string{"lease", "list", "--pool", "designer", "--holder", "alice", "--collector", "col-1", "--limit", "5"}, "ListLeases",
			&v1.ListLeasesRequest{Pool: "designer", Holder: "alice", CollectorId: "col-1", Limit: 5}, nil},
		{[]string{"alert", "list", "--active", "--kind", "pool_usage"}, "ListAlerts", &v1.ListAlertsRequest{Active: true, Kind: "pool_usage"},
			[]string{"KEY", "SEVERITY", "pool_usage/designer/80%", "2026-03-01T12:00:00Z", "active"}},
		{[]string{"alert", "ack", "pool_usage/designer/80%"}, "AckAlert", &v1.AckAlertRequest{Key: "pool_usage/designer/80%"},
			[]string{"token:admin"}},
		{[]string{"alert", "rule", "set", "license_expiry", "--thresholds", "60,30,7", "--license", "lic-1"}, "SetAlertRule",
			&v1.SetAlertRuleRequest{Rule: &v1.AlertRule{Kind: "license_expiry", Subject: "lic-1", Thresholds: []int32{60, 30, 7}}},
			[]string{"license_expiry", "lic-1", "60,30,7", "site"}},
		{[]string{"alert", "rule", "set", "collector_silent", "--reset"}, "SetAlertRule",
			&v1.SetAlertRuleRequest{Rule: &v1.AlertRule{Kind: "collector_silent"}, Reset_: true}, nil},
		{[]string{"alert", "channel", "set", "ops", "--email", "ops@acme.example, it@acme.example", "--kinds", "license_expiry,pool_usage", "--min-severity", "warning"}, "SetAlertChannel",
			&v1.SetAlertChannelRequest{Channel: &v1.AlertChannel{Id: "ops", Kind: "email", Emails: []string{"ops@acme.example", "it@acme.example"},
				Kinds: []string{"license_expiry", "pool_usage"}, MinSeverity: "warning"}},
			[]string{"ops@acme.example,it@acme.example", "license_expiry,pool_usage"}},
		{[]string{"token", "create"}, "CreateToken",
			&v1.CreateTokenRequest{Role: "collector", TtlSeconds: 86400}, nil},
		{[]string{"token", "create", "--role", "collector", "--ttl", "7d", "--uses", "3"}, "CreateToken",
			&v1.CreateTokenRequest{Role: "collector", TtlSeconds: 7 * 86400, MaxUses: 3}, nil},
		{[]string{"token", "create", "--ttl", "90m"}, "CreateToken",
			&v1.CreateTokenRequest{Role: "collector", TtlSeconds: 5400}, nil},
		{[]string{"token", "list"}, "ListTokens", &v1.ListTokensRequest{},
			[]string{"abcdefghij", "unlimited", "klmnopqrst", "yes"}},
		{[]string{"token", "revoke", "abcdefghij"}, "RevokeToken", &v1.RevokeTokenRequest{Id: "abcdefghij"},
			[]string{"revoked token abcdefghij"}},
		{[]string{"token", "create", "--role", "viewer", "--user", "alice"}, "CreateToken",
			&v1.CreateTokenRequest{Role: "viewer", User: "alice", TtlSeconds: 86400}, nil},
		{[]string{"user", "create", "alice", "--role", "license_manager", "--password-file", "testdata/password.txt"}, "CreateUser",
			&v1.CreateUserRequest{Name: "alice", Role: "license_manager", Password: "correct horse battery"},
			[]string{"NAME", "alice", "license_manager", "token:admin"}},
		{[]string{"user", "list"}, "ListUsers", &v1.ListUsersRequest{},
			[]string{"API TOKENS", "alice", "license_manager", "2026-03-01T12:00:00Z", "bob", "viewer", "no"}},
		{[]string{"user", "set", "bob", "--role", "auditor", "--end-sessions"}, "UpdateUser",
			&v1.UpdateUserRequest{Name: "bob", Role: "auditor", EndSessions: true}, []string{"bob", "auditor"}},
		{[]string{"user", "set", "bob", "--disable"}, "UpdateUser", &v1.UpdateUserRequest{Name: "bob", Disable: true}, nil},
		{[]string{"audit", "list", "--actor", "user:alice", "--action", "CreatePool", "--since", "2026-03-01", "--until", "2026-03-02T00:00:00Z", "--limit", "5"}, "ListAuditLog",
			&v1.ListAuditLogRequest{Actor: "user:alice", Action: "CreatePool", SinceMs: 1772323200000, UntilMs: 1772409600000, Limit: 5},
			[]string{"SEQ", "FROM", "user:alice", "10.0.0.9:5123", "CreatePool", "2026-03-01T12:00:00Z"}},
		{[]string{"alert", "test", "ops"}, "TestAlertChannel", &v1.TestAlertChannelRequest{Id: "ops"}, []string{"test alert queued to ops"}},
		{[]string{"alert", "read", "--all"}, "MarkAlertsRead", &v1.MarkAlertsReadRequest{All: true}, []string{"2 alerts left unread"}},
		{[]string{"alert", "read", "k1", "k2"}, "MarkAlertsRead", &v1.MarkAlertsReadRequest{Keys: []string{"k1", "k2"}}, nil},
		{[]string{"alert", "prefs", "show", "--user", "bob"}, "GetAlertPrefs", &v1.GetAlertPrefsRequest{User: "bob"},
			[]string{"old@acme.example", "license_expiry", "22:00-07:00 Europe/Paris (critical comes through)"}},
		{[]string{"alert", "list", "--unread"}, "ListAlerts", &v1.ListAlertsRequest{Unread: true}, nil},
		{[]string{"compliance"}, "GetReconciliation", &v1.GetReconciliationRequest{},
			[]string{"NOT compliant", "PRODUCTS", "ts holds 2 of 1", "MISMATCHES", "pool_over_seats", "INVENTORY", "bpm-1"}},
		{[]string{"compliance", "--month", "2026-11"}, "GetReconciliation", &v1.GetReconciliationRequest{Month: "2026-11"},
			[]string{"in 2026-11 (by that month's use"}},
		{[]string{"compliance", "--section", "mismatches", "-o", "csv"}, "GetReconciliation", &v1.GetReconciliationRequest{},
			[]string{"KIND,SUBJECT,DETAIL", "pool_over_seats,ts,pool ts holds 2 seats of 1"}},
		{[]string{"report", "utilization", "--month", "2026-11", "--departments"}, "GetUtilization", &v1.GetUtilizationRequest{Month: "2026-11", Departments: true},
			[]string{"AVERAGE HELD", "14.46", "12.5%", "eng", "9.50"}},
		{[]string{"report", "utilization", "-o", "csv"}, "GetUtilization", &v1.GetUtilizationRequest{},
			[]string{"MONTH,POOL,DEPARTMENT,SEATS,PEAK,AVERAGE HELD,AT LIMIT,IDLE SEATS,COST", "2026-11,designer,,25,22,14.46,12.5%,3,1200.50 EUR"}},
		{[]string{"license", "cost", "set", "lic-1", "--amount", "1200.5", "--currency", "eur", "--per", "month", "--owner", "cc-4711", "--purchased", "2026-01-15"}, "SetLicenseCost",
			&v1.SetLicenseCostRequest{Cost: &v1.LicenseCost{LicenseId: "lic-1", AmountMinor: 120050, Currency: "EUR", Period: "month", Owner: "cc-4711", PurchasedAtMs: 1768435200000}},
			[]string{"1200.50 EUR", "cc-4711"}},
		{[]string{"purchase", "request", "--sku", "bpm", "--pool", "designer", "--quantity", "5", "--reason", "new team"}, "RequestPurchase",
			&v1.RequestPurchaseRequest{Sku: "bpm", Pool: "designer", Quantity: 5, Reason: "new team"}, []string{"pr-1", "5 seats of designer", "requested"}},
		{[]string{"whoami"}, "GetCaller", &v1.GetCallerRequest{}, []string{"user:alice", "license_manager", "ack,licenses,read,self"}},
		{[]string{"collector", "list"}, "ListCollectors", &v1.ListCollectorsRequest{},
			[]string{"HOSTNAME", "col-1", "LAST SEEN"}},
		{[]string{"operator", "remove-peer", "m3"}, "RemovePeer", &v1.RemovePeerRequest{Id: "m3"},
			[]string{"removed peer m3"}},
		{[]string{"license", "list"}, "ListLicenses", &v1.ListLicensesRequest{},
			[]string{"PRODUCT", "Timesheet Admin User", "designer 2/5", "DAYS LEFT", "42"}},
		{[]string{"license", "show", "lic-1"}, "GetLicense", &v1.GetLicenseRequest{Id: "lic-1"},
			[]string{"orektic__timesheet", "subscription"}},
		{[]string{"license", "show", "lic-1", "--text"}, "GetLicense", &v1.GetLicenseRequest{Id: "lic-1"},
			[]string{"BEGIN LICMESH LICENSE"}},
		{[]string{"license", "remove", "lic-1"}, "RemoveLicense", &v1.RemoveLicenseRequest{Id: "lic-1"},
			[]string{"removed license lic-1"}},
		{[]string{"usage", "history", "--installation", "acme-prod"}, "UsageHistory", &v1.UsageHistoryRequest{Installation: "acme-prod"},
			[]string{"Month", "En. staff", "Feb 2026", "Jan 2026", "2026-01-20 13:00", "closed", "2 users late"}},
		{[]string{"usage", "month", "2026-01"}, "UsageMonth", &v1.UsageMonthRequest{Month: "2026-01"},
			[]string{"Installation", "Conc. max", "acme-prod", "1440"}},
		{[]string{"usage", "months"}, "UsageOverview", &v1.UsageOverviewRequest{},
			[]string{"MONTH", "LABEL", "2026-02", "Feb 2026", "Jan 2026"}},
		{[]string{"usage", "installations"}, "UsageOverview", &v1.UsageOverviewRequest{},
			[]string{"INSTALLATION", "acme-prod", "col-1", "5400", "2026-03-01T12:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			stdout, stderr, code := h.run(tt.args...)
			require.Equal(t, exitOK, code, "exit code; stderr %q", stderr)
			calls := h.fake.recordedCalls()
			require.Len(t, calls, 1, "calls the master got")
			c := calls[0]
			assert.Equal(t, svc+tt.proc, c.procedure, "procedure")
			assert.Equal(t, "Bearer "+testToken, c.auth, "Authorization, want the bearer admin token")
			assert.True(t, proto.Equal(c.msg, tt.want), "request %v, want %v", c.msg, tt.want)
			for _, s := range tt.out {
				assert.Contains(t, stdout, s, "stdout")
			}
		})
	}
}

func TestTableShowsTimesAndBlanks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, _, code := h.run("pool", "list")
	require.Equal(t, exitOK, code, "exit code")
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	require.Len(t, lines, 3, "want header and 2 rows")
	want := []string{"NAME", "SEATS", "ENFORCE", "HELD", "PEAK", "OVERAGES", "SOURCE", "LAST", "OVERAGE", "GRACE", "MAX", "BORROW", "BORROWED", "OFFLINE"}
	assert.Equal(t, strings.Join(want, " "), strings.Join(strings.Fields(lines[0]), " "), "header")
	// A pool that never went over shows "-" where the time would be.
	f := strings.Fields(lines[1])
	assert.Equal(t, "-", f[len(f)-5], "row %q: never-set time should show as -", lines[1])
	f2 := strings.Fields(lines[2])
	assert.Equal(t, "2026-03-01T12:00:00Z", f2[len(f2)-5], "row %q: want the overage time in RFC 3339 UTC", lines[2])
	assert.Equal(t, "closed", f[len(f)-1], "row %q: a pool fails closed unless its license says", lines[1])
	// Columns line up: every row's second column starts where the header's does.
	col := strings.Index(lines[0], "SEATS")
	for _, l := range lines[1:] {
		assert.Equal(t, byte(' '), l[col-1], "row %q is not aligned with the header", l)
		assert.NotEqual(t, byte(' '), l[col], "row %q is not aligned with the header", l)
	}
}

func TestTableEscapesControlCharacters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, _, code := h.run("collector", "list")
	require.Equal(t, exitOK, code, "exit code")
	assert.NotContains(t, stdout, "\x1b", "a hostname's escape sequence reached the terminal")
	assert.Contains(t, stdout, `bpm-01\x1b[31m`, "escaped hostname missing")
}

func TestJSONIsTheWholeResponseWithProtoNames(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, _, code := h.run("pool", "list", "-o", "json")
	require.Equal(t, exitOK, code, "exit code")
	var got struct {
		Pools []map[string]any `json:"pools"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), "not JSON")
	require.Len(t, got.Pools, 2, "pools")
	p := got.Pools[0]
	// Unpopulated fields are present, named as in the .proto.
	for _, k := range []string{"name", "seats", "enforce", "held", "overage_grants", "peak_held", "last_overage_ms"} {
		assert.Contains(t, p, k, "pool lacks %q", k)
	}
	assert.Contains(t, stdout, "\n  ", "JSON is not indented")

	stdout, _, code = h.run("status", "-o", "json")
	require.Equal(t, exitOK, code, "exit code")
	var status map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &status), "not JSON")
	assert.Equal(t, "c-42", status["cluster_id"], "status JSON %v", status)
	assert.Equal(t, "10.0.0.1:7400", status["leader_api_addr"], "status JSON %v", status)
}

func TestCSVHasHeaderRowsAndGuardsFormulas(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, _, code := h.run("pool", "list", "-o", "csv")
	require.Equal(t, exitOK, code, "exit code")
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	require.NoError(t, err, "not CSV")
	require.Len(t, recs, 3, "want header and 2 rows")
	assert.Equal(t, "NAME", recs[0][0], "header %q", recs[0])
	assert.Equal(t, "LAST OVERAGE", recs[0][7], "header %q", recs[0])
	assert.Equal(t, "'=cmd|' /C calc'!A0", recs[2][0], "formula cell was not guarded")
	assert.Empty(t, recs[1][7], "time cell of a pool that never went over")
	assert.Equal(t, "2026-03-01T12:00:00Z", recs[2][7], "time cell")

	stdout, _, code = h.run("status", "-o", "csv")
	require.Equal(t, exitOK, code, "exit code")
	recs, err = csv.NewReader(strings.NewReader(stdout)).ReadAll()
	require.NoError(t, err, "status CSV")
	require.Len(t, recs, 2, "status CSV %q", recs)
	assert.Equal(t, "CLUSTER ID", recs[0][0], "status CSV %q", recs)
	assert.Equal(t, "c-42", recs[1][0], "status CSV %q", recs)
}

func TestTokenCreatePrintsTheTokenAloneOnStdout(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	secret := h.fake.createdTok.GetSecretToken()

	stdout, stderr, code := h.run("token", "create", "--uses", "3")
	require.Equal(t, exitOK, code, "exit code")
	assert.Equal(t, secret+"\n", stdout, "stdout, want only the token line")
	assert.NotContains(t, stderr, secret, "the token was printed twice")
	for _, s := range []string{"uvwxyz2345", "2026-03-02T12:00:00Z", "24h0m", "3 uses"} {
		assert.Contains(t, stderr, s, "stderr")
	}

	stdout, _, code = h.run("token", "create", "-o", "json")
	require.Equal(t, exitOK, code, "exit code")
	var res struct {
		Token       map[string]any `json:"token"`
		SecretToken string         `json:"secret_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), "not JSON")
	assert.Equal(t, secret, res.SecretToken, "JSON response secret_token")
	assert.Equal(t, "uvwxyz2345", res.Token["id"], "JSON response %+v", res)
}

func TestEmptyListPrintsHeaderOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.update(func(f *fakeAdmin) { f.leases = &v1.ListLeasesResponse{} })
	stdout, _, code := h.run("lease", "list")
	require.Equal(t, exitOK, code, "exit code")
	// Want the header alone.
	assert.Equal(t, 1, strings.Count(stdout, "\n"), "stdout %q", stdout)
	assert.True(t, strings.HasPrefix(stdout, "ID"), "stdout %q", stdout)
}

func TestLicenseAddSendsTheFileAsIs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	text := "pasted from an e-mail:\r\n  -----BEGIN LICMESH LICENSE-----\r\n  ...\r\n"
	path := filepath.Join(t.TempDir(), "acme.lic")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	stdout, stderr, code := h.run("license", "add", path)
	require.Equal(t, exitOK, code, "exit code; stderr %s", stderr)
	calls := h.fake.recordedCalls()
	require.Len(t, calls, 1, "calls %v", calls)
	require.Equal(t, text, calls[0].msg.(*v1.AddLicenseRequest).GetText(), "the license text sent")
	require.Contains(t, stdout, "lic-1")
	_, stderr, code = h.run("license", "add", filepath.Join(t.TempDir(), "missing.lic"))
	require.Equal(t, exitUsage, code, "missing file: exit code; stderr %q", stderr)
	require.Contains(t, stderr, "missing.lic", "missing file")
}

// TestAlertPrefsSetKeepsWhatIsNotGiven: set changes only the flags given,
// on top of the preferences read first.
func TestAlertPrefsSetKeepsWhatIsNotGiven(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want *v1.AlertPrefs
	}{
		{[]string{"--min-severity", "warning"}, &v1.AlertPrefs{Email: "old@acme.example", Kinds: []string{"license_expiry"},
			MinSeverity: "warning", QuietFrom: "22:00", QuietTo: "07:00", Zone: "Europe/Paris"}},
		{[]string{"--no-quiet", "--kinds", "all", "--email", "new@acme.example"}, &v1.AlertPrefs{Email: "new@acme.example", Zone: "Europe/Paris"}},
		{[]string{"--no-email", "--quiet", "23:00-06:30", "--zone", "UTC", "--quiet-critical"}, &v1.AlertPrefs{Kinds: []string{"license_expiry"},
			QuietFrom: "23:00", QuietTo: "06:30", Zone: "UTC", QuietCritical: true}},
	} {
		h := newHarness(t)
		_, stderr, code := h.run(append([]string{"alert", "prefs", "set", "--user", "bob"}, tt.args...)...)
		require.Equal(t, exitOK, code, stderr)
		calls := h.fake.recordedCalls()
		require.Len(t, calls, 2)
		assert.Equal(t, "/licmesh.v1.AdminService/GetAlertPrefs", calls[0].procedure)
		assert.True(t, proto.Equal(&v1.SetAlertPrefsRequest{User: "bob", Prefs: tt.want}, calls[1].msg), "%v: sent %v", tt.args, calls[1].msg)
	}
}
