package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

func TestDecodeStrictReadsYAMLAndJSONAlike(t *testing.T) {
	t.Parallel()
	var fromYAML v1.Product
	require.NoError(t, decodeStrict([]byte(seed002YAML), &fromYAML))
	assert.True(t, proto.Equal(seed002(), &fromYAML), "YAML: %v", &fromYAML)

	// JSON, proto names, tab indentation.
	js := "{\n\t\"sku\": \"timesheet-admin\", \"name\": \"Timesheet Admin User\",\n\t\"application\": \"orektic__timesheet\", \"app_version\": \"2.1.0\",\n" +
		"\t\"type\": \"subscription\", \"billing\": \"annually\", \"trial_period_count\": 14, \"trial_period_unit\": \"day\",\n" +
		"\t\"trial_template\": [{\"name\": \"orektic__timehseetAdminUser\", \"users\": 5}],\n" +
		"\t\"license_template\": [{\"name\": \"orektic__timehseetAdminUser\", \"users\": 1, \"users_calculation\": \"fixed\"},\n" +
		"\t\t{\"name\": \"orektic__timehseetProjects\", \"users\": 1, \"users_calculation\": \"per qty\", \"amount\": 5, \"amount_calculation\": \"fixed\"}],\n" +
		"\t\"features\": [{\"name\": \"orektic__timesheet\", \"type\": \"checkbox\", \"scope\": \"instance\"},\n" +
		"\t\t{\"name\": \"orektic__reports\", \"type\": \"checkbox\", \"scope\": \"instance\"}]\n}\n"
	var fromJSON v1.Product
	require.NoError(t, decodeStrict([]byte(js), &fromJSON))
	assert.True(t, proto.Equal(seed002(), &fromJSON), "JSON: %v", &fromJSON)

	// A bare version stays as written in a string field.
	var p v1.Product
	require.NoError(t, decodeStrict([]byte("app_version: 2.10\nsku: ~\n"), &p))
	assert.Equal(t, "2.10", p.GetAppVersion())
	assert.Empty(t, p.GetSku(), "null leaves a field unset")
}

func TestDecodeStrictNamesEveryProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"unknown top-level field", "sku: x\nprice: 10\n", `line 2: unknown field "price" in the top level (a Product has: sku, version, name`},
		{"unknown nested field", "features:\n  - name: a\n    kind: checkbox\n", `line 3: unknown field "kind" in features[0] (a Feature has: name, type, scope, enabled)`},
		{"repeated field", "sku: a\nname: b\nsku: c\n", "line 3: sku is given twice (first on line 1)"},
		{"same field under both names", "trialPeriodCount: 1\ntrial_period_count: 2\n", "line 2: trial_period_count is given twice (first on line 1)"},
		{"number expected", "trial_period_count: fourteen\n", `line 1: trial_period_count: want a whole number, got "fourteen"`},
		{"bool expected", "features: [{name: a, enabled: yes}]\n", `line 1: features[0].enabled: want true or false, got "yes"`},
		{"list expected", "license_template: {name: a}\n", "line 1: license_template: want a list, got a mapping"},
		{"mapping expected", "features: [a, b]\n", `line 1: features[0]: want a mapping of Feature fields, got "a"`},
		{"not a mapping", "- sku: a\n", "line 1: the top level: want a mapping of Product fields, got a list"},
		{"two documents", "sku: a\n---\nsku: b\n", "a second document"},
		{"empty", "# nothing\n", "the file is empty"},
		{"not YAML", "sku: [a\n", "yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p v1.Product
			err := decodeStrict([]byte(tt.in), &p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestFingerprintsParseAsHubdPrintsThem(t *testing.T) {
	t.Parallel()
	fp := [32]byte{0xab, 0x01, 0xff}
	s := formatFingerprint(fp)
	assert.Equal(t, "AB:01:FF:00", s[:11])
	for _, in := range []string{s, " " + s + "\n", "sha256:" + s, "ab01ff" + "00000000000000000000000000000000000000000000000000000000000000"[:58]} {
		got, err := parseFingerprint(in)
		require.NoError(t, err, "%q", in)
		assert.Equal(t, fp, got, "%q", in)
	}
	for _, in := range []string{"", "AB:CD", s + ":00", "zz" + s[2:]} {
		_, err := parseFingerprint(in)
		assert.Error(t, err, "%q", in)
	}
}

func TestParsePool(t *testing.T) {
	t.Parallel()
	p, err := parsePool("designer:5:soft:2:100")
	require.NoError(t, err)
	assert.True(t, proto.Equal(&v1.TailoredPool{Name: "designer", Seats: 5, Enforce: "soft", Overage: 2, Amount: 100}, p), "%v", p)
	p, err = parsePool("viewer:10")
	require.NoError(t, err)
	assert.True(t, proto.Equal(&v1.TailoredPool{Name: "viewer", Seats: 10}, p), "%v", p)
	for _, in := range []string{"designer", ":5", "designer:five", "designer:5:firm", "a:1:hard:1:1:1", "a:-1"} {
		_, err := parsePool(in)
		assert.Error(t, err, "%q", in)
	}
}
