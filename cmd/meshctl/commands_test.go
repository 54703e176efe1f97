package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
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
			if code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			calls := h.fake.recordedCalls()
			if len(calls) != 1 {
				t.Fatalf("master got %d calls, want 1", len(calls))
			}
			c := calls[0]
			if c.procedure != svc+tt.proc {
				t.Errorf("procedure %s, want %s", c.procedure, svc+tt.proc)
			}
			if c.auth != "Bearer "+testToken {
				t.Errorf("Authorization %q, want the bearer admin token", c.auth)
			}
			if !proto.Equal(c.msg, tt.want) {
				t.Errorf("request %v, want %v", c.msg, tt.want)
			}
			for _, s := range tt.out {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q", s)
				}
			}
		})
	}
}

func TestTableShowsTimesAndBlanks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, _, code := h.run("pool", "list")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want header and 2 rows", len(lines))
	}
	want := []string{"NAME", "SEATS", "ENFORCE", "HELD", "PEAK", "OVERAGES", "SOURCE", "LAST", "OVERAGE"}
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("header %q, want %q", got, want)
	}
	// A pool that never went over shows "-" where the time would be.
	if f := strings.Fields(lines[1]); f[len(f)-1] != "-" {
		t.Errorf("row %q: never-set time should show as -", lines[1])
	}
	if !strings.HasSuffix(lines[2], "2026-03-01T12:00:00Z") {
		t.Errorf("row %q: want the overage time in RFC 3339 UTC", lines[2])
	}
	// Columns line up: every row's second column starts where the header's does.
	col := strings.Index(lines[0], "SEATS")
	for _, l := range lines[1:] {
		if l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("row %q is not aligned with the header", l)
		}
	}
}

func TestTableEscapesControlCharacters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, _, code := h.run("collector", "list")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(stdout, "\x1b") {
		t.Errorf("a hostname's escape sequence reached the terminal: %q", stdout)
	}
	if !strings.Contains(stdout, `bpm-01\x1b[31m`) {
		t.Errorf("escaped hostname missing from %q", stdout)
	}
}

func TestJSONIsTheWholeResponseWithProtoNames(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, _, code := h.run("pool", "list", "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var got struct {
		Pools []map[string]any `json:"pools"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if len(got.Pools) != 2 {
		t.Fatalf("got %d pools, want 2", len(got.Pools))
	}
	p := got.Pools[0]
	// Unpopulated fields are present, named as in the .proto.
	for _, k := range []string{"name", "seats", "enforce", "held", "overage_grants", "peak_held", "last_overage_ms"} {
		if _, ok := p[k]; !ok {
			t.Errorf("pool lacks %q: %v", k, p)
		}
	}
	if !strings.Contains(stdout, "\n  ") {
		t.Errorf("JSON is not indented: %q", stdout)
	}

	stdout, _, code = h.run("status", "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var status map[string]any
	if err := json.Unmarshal([]byte(stdout), &status); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if status["cluster_id"] != "c-42" || status["leader_api_addr"] != "10.0.0.1:7400" {
		t.Errorf("status JSON %v", status)
	}
}

func TestCSVHasHeaderRowsAndGuardsFormulas(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdout, _, code := h.run("pool", "list", "-o", "csv")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v", err)
	}
	if len(recs) != 3 {
		t.Fatalf("got %d records, want header and 2 rows", len(recs))
	}
	if recs[0][0] != "NAME" || recs[0][7] != "LAST OVERAGE" {
		t.Errorf("header %q", recs[0])
	}
	if got := recs[2][0]; got != "'=cmd|' /C calc'!A0" {
		t.Errorf("formula cell %q was not guarded", got)
	}
	if recs[1][7] != "" || recs[2][7] != "2026-03-01T12:00:00Z" {
		t.Errorf("time cells %q, %q", recs[1][7], recs[2][7])
	}

	stdout, _, code = h.run("status", "-o", "csv")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	recs, err = csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil || len(recs) != 2 || recs[0][0] != "CLUSTER ID" || recs[1][0] != "c-42" {
		t.Errorf("status CSV %q, %v", recs, err)
	}
}

func TestTokenCreatePrintsTheTokenAloneOnStdout(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	secret := h.fake.createdTok.GetSecretToken()

	stdout, stderr, code := h.run("token", "create", "--uses", "3")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if stdout != secret+"\n" {
		t.Errorf("stdout %q, want only the token line", stdout)
	}
	if strings.Contains(stderr, secret) {
		t.Errorf("the token was printed twice")
	}
	for _, s := range []string{"uvwxyz2345", "2026-03-02T12:00:00Z", "24h0m", "3 uses"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q: %q", s, stderr)
		}
	}

	stdout, _, code = h.run("token", "create", "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var res struct {
		Token       map[string]any `json:"token"`
		SecretToken string         `json:"secret_token"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if res.SecretToken != secret || res.Token["id"] != "uvwxyz2345" {
		t.Errorf("JSON response %+v", res)
	}
}

func TestEmptyListPrintsHeaderOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.update(func(f *fakeAdmin) { f.leases = &v1.ListLeasesResponse{} })
	stdout, _, code := h.run("lease", "list")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(stdout, "ID") {
		t.Errorf("stdout %q, want the header alone", stdout)
	}
}

func TestLicenseAddSendsTheFileAsIs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	text := "pasted from an e-mail:\r\n  -----BEGIN LICMESH LICENSE-----\r\n  ...\r\n"
	path := filepath.Join(t.TempDir(), "acme.lic")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := h.run("license", "add", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	calls := h.fake.recordedCalls()
	if len(calls) != 1 || calls[0].msg.(*v1.AddLicenseRequest).GetText() != text {
		t.Fatalf("calls %v", calls)
	}
	if !strings.Contains(stdout, "lic-1") {
		t.Fatalf("stdout %q", stdout)
	}
	if _, stderr, code := h.run("license", "add", filepath.Join(t.TempDir(), "missing.lic")); code != exitUsage || !strings.Contains(stderr, "missing.lic") {
		t.Fatalf("missing file: exit %d, %q", code, stderr)
	}
}
