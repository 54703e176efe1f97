package main

import (
	"encoding/csv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// TestHubSubscriptionList: a trial taken through extension, conversion
// and a seat pack is one subscription of four licenses, and a license
// issued beside it (then revoked) a second; the list shows both as a
// table, CSV and JSON.
func TestHubSubscriptionList(t *testing.T) {
	h := startTestHub(t)
	h.login()
	h.ok("product", "save", "-f", writeFile(t, "timesheet.yaml", seed002YAML))
	var company v1.CreateCompanyResponse
	require.NoError(t, protojson.Unmarshal([]byte(h.ok("company", "create", "Acme Corp", "--email", "it@acme.example", "-o", "json")), &company))
	co := company.GetCompany().GetId()

	trial := jsonLicense(t, h.ok("license", "trial", "--company", co, "--sku", "timesheet-admin", "-o", "json"))
	extended := jsonLicense(t, h.ok("license", "extend", trial.GetId(), "-o", "json"))
	converted := jsonLicense(t, h.ok("license", "convert", extended.GetId(), "--quantity", "3", "-o", "json"))
	packed := jsonLicense(t, h.ok("license", "add", converted.GetId(), "--quantity", "2", "-o", "json"))
	separate := jsonLicense(t, h.ok("license", "issue", "--company", co, "--sku", "timesheet-admin", "-o", "json"))
	h.ok("license", "revoke", separate.GetId())

	recs, err := csv.NewReader(strings.NewReader(h.ok("subscription", "list", "--company", co, "-o", "csv"))).ReadAll()
	require.NoError(t, err, "subscription list -o csv")
	require.Len(t, recs, 3, "a header and two subscriptions: %q", recs)
	assert.Equal(t, []string{"ID", "SKU", "VERSION", "APP VERSION", "TYPE", "QUANTITY", "STATUS", "STARTED", "EXPIRES", "LICENSES", "TRIAL", "CONVERTED", "CURRENT LICENSE"}, recs[0])
	// Licenses are stamped to the second, so the two may have started in
	// the same one: they are found by ID.
	chain, other := recs[1], recs[2]
	if chain[0] != trial.GetSubscriptionId() {
		chain, other = other, chain
	}
	assert.Equal(t, []string{trial.GetSubscriptionId(), "timesheet-admin", "1", "2.1.0", "subscription", "5", "current"}, chain[:7])
	assert.Equal(t, msTime(trial.GetIssuedAtMs()), chain[7], "started with the trial")
	assert.Equal(t, []string{"4", "true", msTime(converted.GetIssuedAtMs()), packed.GetId()}, chain[9:])
	assert.Equal(t, []string{separate.GetSubscriptionId(), "timesheet-admin", "1", "2.1.0", "subscription", "1", "revoked"}, other[:7])
	assert.Equal(t, []string{"1", "false", "", separate.GetId()}, other[9:])

	var list v1.ListSubscriptionsResponse
	require.NoError(t, protojson.Unmarshal([]byte(h.ok("subscription", "list", "--company", co, "-o", "json")), &list), "subscription list -o json")
	require.Len(t, list.GetSubscriptions(), 2)
	first := list.GetSubscriptions()[0]
	assert.Equal(t, recs[1][0], first.GetId(), "the same order in every format")
	assert.Equal(t, "Timesheet Admin User", first.GetProductName(), "JSON is the whole message")
	assert.Equal(t, first.GetId() == trial.GetSubscriptionId(), first.GetBeganAsTrial())

	table := h.ok("subscription", "list", "--company", co)
	assert.Contains(t, table, "CURRENT LICENSE")
	assert.Contains(t, table, packed.GetId())
	assert.Equal(t, 3, strings.Count(table, "\n"), "a header and two rows:\n%s", table)

	_, stderr, code := h.run("", "hub", "subscription", "list", "--company", co, "--limit", "1")
	assert.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "more may follow: --after "+first.GetId())
	next, err := csv.NewReader(strings.NewReader(h.ok("subscription", "list", "--company", co, "--limit", "1", "--after", first.GetId(), "-o", "csv"))).ReadAll()
	require.NoError(t, err)
	require.Len(t, next, 2, "the second page holds the other one")
	assert.Equal(t, recs[2], next[1])

	_, stderr, code = h.run("", "hub", "subscription", "list")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--company")
	_, stderr, code = h.run("", "hub", "subscription", "list", "--company", "co_aaaaaaaaaaaaaaaaaaaa")
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, stderr, "not found")
}
