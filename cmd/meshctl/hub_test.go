package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/licmesh/licmesh/licensing/license"
	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub"
)

// The hub tests are not parallel: login reads its password from
// os.Stdin, which they replace while meshctl runs. Parallel tests of the
// package start only after every sequential one has finished.

// testHub is a real hub serving in this process on loopback, and the
// environment that points meshctl at it with its fingerprint pinned.
type testHub struct {
	t        *testing.T
	init     hub.InitResult
	addr     string
	certFile string
	home     string
	env      map[string]string
}

func startTestHub(t *testing.T) *testHub {
	t.Helper()
	cfg := hub.DefaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "hub")
	cfg.Listen = "127.0.0.1:0"
	ir, err := hub.Init(t.Context(), cfg, "admin@vendor.example", "Ada Admin")
	require.NoError(t, err)
	s, err := hub.New(t.Context(), cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func(a string) { addr <- a }) }()
	h := &testHub{t: t, init: ir, certFile: filepath.Join(cfg.DataDir, "hub-cert.pem"), home: t.TempDir()}
	select {
	case a := <-addr:
		h.addr = "https://" + a
	case err := <-done:
		t.Fatalf("hub did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, s.Close())
	})
	h.env = map[string]string{
		envHubAddr:        h.addr,
		envHubFingerprint: ir.Fingerprint,
		"HOME":            h.home,
	}
	return h
}

// run runs meshctl with standard input holding stdin.
func (h *testHub) run(stdin string, args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	in := filepath.Join(h.t.TempDir(), "stdin")
	require.NoError(h.t, os.WriteFile(in, []byte(stdin), 0o600))
	f, err := os.Open(in)
	require.NoError(h.t, err)
	defer f.Close()
	saved := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = saved }()
	return runMeshctl(h.t, h.env, args...)
}

// ok runs meshctl (hub ...) and requires success.
func (h *testHub) ok(args ...string) string {
	h.t.Helper()
	stdout, stderr, code := h.run("", append([]string{"hub"}, args...)...)
	require.Equal(h.t, exitOK, code, "meshctl hub %v: stderr %q", args, stderr)
	return stdout
}

// login signs the first admin in and returns the key meshctl wrote.
func (h *testHub) login() string {
	h.t.Helper()
	_, stderr, code := h.run(h.init.AdminPassword+"\n", "hub", "login", "--email", h.init.AdminEmail)
	require.Equal(h.t, exitOK, code, "login: stderr %q", stderr)
	b, err := os.ReadFile(filepath.Join(h.home, ".config", "licmesh", "hub-key"))
	require.NoError(h.t, err)
	return strings.TrimSpace(string(b))
}

// jsonLicense decodes the license of an issuing verb's -o json output.
func jsonLicense(t *testing.T, stdout string) *v1.HubLicense {
	t.Helper()
	var res v1.IssueLicenseResponse // every issuing response is {license: ...}
	require.NoError(t, protojson.Unmarshal([]byte(stdout), &res), "not a license response: %q", stdout)
	require.NotEmpty(t, res.GetLicense().GetId())
	return res.GetLicense()
}

// seed002YAML is seed 002's Timesheet Admin User, written as the seed
// writes it (camelCase names, flow lists, quoted and bare strings).
const seed002YAML = `# Seed 002: Timesheet Admin User
sku: timesheet-admin
name: Timesheet Admin User
application: orektic__timesheet
appVersion: 2.1.0
type: subscription
billing: annually
trialPeriodCount: 14
trialPeriodUnit: day
trialTemplate: [{name: "orektic__timehseetAdminUser", users: 5}]
licenseTemplate:
  - {name: "orektic__timehseetAdminUser", users: 1, usersCalculation: 'fixed'}
  - {name: "orektic__timehseetProjects", users: 1, usersCalculation: 'per qty', amount: 5, amountCalculation: 'fixed'}
features:
  - {name: 'orektic__timesheet', type: 'checkbox', scope: 'instance'}
  - {name: 'orektic__reports', type: 'checkbox', scope: 'instance'}
`

// seed002 is the product seed002YAML describes.
func seed002() *v1.Product {
	return &v1.Product{
		Sku: "timesheet-admin", Name: "Timesheet Admin User", Application: "orektic__timesheet", AppVersion: "2.1.0",
		Type: "subscription", Billing: "annually", TrialPeriodCount: 14, TrialPeriodUnit: "day",
		TrialTemplate: []*v1.TemplateEntry{{Name: "orektic__timehseetAdminUser", Users: 5}},
		LicenseTemplate: []*v1.TemplateEntry{
			{Name: "orektic__timehseetAdminUser", Users: 1, UsersCalculation: "fixed"},
			{Name: "orektic__timehseetProjects", Users: 1, UsersCalculation: "per qty", Amount: 5, AmountCalculation: "fixed"},
		},
		Features: []*v1.Feature{{Name: "orektic__timesheet", Type: "checkbox", Scope: "instance"}, {Name: "orektic__reports", Type: "checkbox", Scope: "instance"}},
	}
}

// TestHubLicenseLifecycle: an operator signs in with a password, saves
// seed 002's product from YAML, creates a company and takes its trial
// through extension, conversion and a seat pack, then downloads the
// license; the file verifies with the hub's vendor keys as a master would.
func TestHubLicenseLifecycle(t *testing.T) {
	h := startTestHub(t)

	stdout, stderr, code := h.run(h.init.AdminPassword+"\n", "hub", "login", "--email", h.init.AdminEmail)
	require.Equal(t, exitOK, code, "login: stderr %q", stderr)
	keyPath := filepath.Join(h.home, ".config", "licmesh", "hub-key")
	fi, err := os.Stat(keyPath)
	require.NoError(t, err, "login writes ~/.config/licmesh/hub-key")
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the key file's mode")
	b, err := os.ReadFile(keyPath)
	require.NoError(t, err)
	key := strings.TrimSpace(string(b))
	require.True(t, strings.HasPrefix(key, "lmh1."), "the file holds an API key")
	assert.Contains(t, stderr, keyPath, "login says where the key went")
	assert.Contains(t, stderr, "admin@vendor.example (admin)")
	assert.NotContains(t, stdout+stderr, key, "login never prints the key without --print")
	assert.NotContains(t, stdout+stderr, h.init.AdminPassword, "nor the password")

	// The key found in the default file signs the calls in.
	var who v1.WhoAmIResponse
	require.NoError(t, protojson.Unmarshal([]byte(h.ok("whoami", "-o", "json")), &who))
	assert.Equal(t, "admin@vendor.example", who.GetEmail())
	assert.Equal(t, "admin", who.GetRole())
	keys := h.ok("key", "list")
	assert.Contains(t, keys, "meshctl@", "the key is named for meshctl and this host")

	productFile := writeFile(t, "timesheet.yaml", seed002YAML)
	saved := h.ok("product", "save", "-f", productFile)
	assert.Contains(t, saved, "timesheet-admin")
	shown := h.ok("product", "show", "timesheet-admin", "-o", "json")
	var got v1.GetProductResponse
	require.NoError(t, protojson.Unmarshal([]byte(shown), &got))
	p := got.GetProduct()
	assert.EqualValues(t, 1, p.GetVersion())
	p.Version, p.CreatedAtMs = 0, 0
	assert.True(t, proto.Equal(seed002(), p), "the saved product is seed 002's:\n got %v\nwant %v", p, seed002())

	var company v1.CreateCompanyResponse
	require.NoError(t, protojson.Unmarshal([]byte(h.ok("company", "create", "Acme Corp", "--email", "it@acme.example", "-o", "json")), &company))
	co := company.GetCompany().GetId()
	require.NotEmpty(t, co)

	trial := jsonLicense(t, h.ok("license", "trial", "--company", co, "--sku", "timesheet-admin", "-o", "json"))
	assert.Equal(t, "trial", trial.GetType())
	extended := jsonLicense(t, h.ok("license", "extend", trial.GetId(), "-o", "json"))
	assert.Greater(t, extended.GetExpiresAtMs(), trial.GetExpiresAtMs(), "extension moves the expiry")
	assert.Equal(t, trial.GetSubscriptionId(), extended.GetSubscriptionId())
	converted := jsonLicense(t, h.ok("license", "convert", extended.GetId(), "--quantity", "3", "-o", "json"))
	assert.Equal(t, "subscription", converted.GetType())
	assert.EqualValues(t, 3, converted.GetQuantity())
	packed := jsonLicense(t, h.ok("license", "add", converted.GetId(), "--quantity", "2", "-o", "json"))
	assert.EqualValues(t, 5, packed.GetQuantity(), "a pack of 2 on 3")

	licFile := filepath.Join(t.TempDir(), "acme.lic")
	out := h.ok("license", "download", packed.GetId(), "-f", licFile)
	assert.Contains(t, out, "meshctl license add "+licFile)

	// The vendor-keys lines are what masters trust; with them the file
	// verifies as a master would verify it.
	lines := strings.Fields(h.ok("vendor-keys"))
	require.NotEmpty(t, lines)
	assert.True(t, strings.HasPrefix(lines[0], h.init.KeyID+":"), "key-id:base64 lines, got %q", lines)
	kr, err := license.ParseKeyring(lines...)
	require.NoError(t, err)
	text, err := os.ReadFile(licFile)
	require.NoError(t, err)
	l, err := license.Verify(text, kr, license.VerifyOptions{Now: time.Now(), AnyCluster: true})
	require.NoError(t, err, "the downloaded license verifies with the hub's vendor keys")
	assert.Equal(t, packed.GetId(), string(l.ID))
	assert.Equal(t, license.Subscription, l.Type)
	assert.Equal(t, 5, l.Quantity)
	keysFile := writeFile(t, "vendor-keys", strings.Join(lines, "\n")+"\n")
	_, stderr, code = h.run("", "license", "verify", licFile, "--vendor-keys", keysFile)
	assert.Equal(t, exitOK, code, "meshctl license verify takes the file and the keys: %s", stderr)

	// Lists parse as CSV and JSON.
	recs, err := csv.NewReader(strings.NewReader(h.ok("license", "list", "--company", co, "-o", "csv"))).ReadAll()
	require.NoError(t, err, "license list -o csv")
	require.Len(t, recs, 5, "a header and four licenses: %q", recs)
	assert.Equal(t, []string{"ID", "COMPANY", "SKU", "VERSION", "TYPE", "QUANTITY", "STATUS", "ISSUED", "EXPIRES", "SUPERSEDED BY"}, recs[0])
	status := map[string]string{}
	for _, r := range recs[1:] {
		status[r[0]] = r[6]
	}
	assert.Equal(t, map[string]string{trial.GetId(): "superseded", extended.GetId(): "superseded", converted.GetId(): "superseded", packed.GetId(): "current"}, status)
	var list struct {
		Licenses []map[string]any `json:"licenses"`
	}
	require.NoError(t, json.Unmarshal([]byte(h.ok("license", "list", "--current", "-o", "json")), &list), "license list -o json")
	require.Len(t, list.Licenses, 1, "--current")
	assert.Equal(t, packed.GetId(), list.Licenses[0]["id"])
	assert.Contains(t, list.Licenses[0]["text"], "LICMESH LICENSE", "JSON is the whole message, the signed text included")
	recs, err = csv.NewReader(strings.NewReader(h.ok("company", "list", "-o", "csv"))).ReadAll()
	require.NoError(t, err, "company list -o csv")
	require.Len(t, recs, 2)
	assert.Equal(t, "Acme Corp", recs[1][1])

	// The company's page tells the story.
	page := h.ok("company", "show", co)
	for _, s := range []string{"LICENSES", "HISTORY", "company.created", "trial.created", "license.extended", "trial.converted", "license.added", packed.GetId()} {
		assert.Contains(t, page, s, "company show")
	}
	recs, err = csv.NewReader(strings.NewReader(h.ok("audit", "--limit", "3", "-o", "csv"))).ReadAll()
	require.NoError(t, err, "audit -o csv")
	require.Len(t, recs, 4, "a header and the 3 newest entries")
	assert.Equal(t, "license.added", recs[1][2], "newest first")
}

func TestHubRefusesBadInput(t *testing.T) {
	h := startTestHub(t)
	key := h.login()

	t.Run("unknown YAML field", func(t *testing.T) {
		bad := strings.Replace(seed002YAML, "users: 1, usersCalculation: 'per qty'", "users: 1, userz: 2, usersCalculation: 'per qty'", 1)
		path := writeFile(t, "bad.yaml", bad)
		_, stderr, code := h.run("", "hub", "product", "save", "-f", path)
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, stderr, path+": line 13: unknown field \"userz\" in licenseTemplate[1]")
		assert.Contains(t, stderr, "users_calculation", "the error lists the known fields")
		assert.Equal(t, 1, strings.Count(h.ok("product", "list"), "\n"), "nothing was saved")
	})

	t.Run("missing flags", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"product", "save"}, `"file"`},
			{[]string{"company", "create", "Acme"}, "--email is needed"},
			{[]string{"company", "create", "--email", "it@acme.example"}, "needs the company name"},
			{[]string{"license", "trial", "--sku", "timesheet-admin"}, "--company and --sku are both needed"},
			{[]string{"license", "convert", "lic_x"}, "--quantity N is needed"},
			{[]string{"license", "add", "lic_x"}, "nothing to add"},
			{[]string{"license", "issue", "--company", "co_x", "--sku", "s", "--pool", "designer"}, `--pool "designer"`},
			{[]string{"login"}, "--email is needed"},
			{[]string{"account", "create", "--email", "a@b.example", "--role", "sales"}, "--name is needed"},
			{[]string{"audit", "--limit", "0"}, "--limit must be between 1 and 1000"},
			{[]string{"whoami", "extra"}, `takes no arguments, got "extra"`},
			{[]string{"nonsense"}, `unknown command "nonsense"`},
			{[]string{"whoami", "-o", "xml"}, "must be table, json or csv"},
			{[]string{"company", "erase", "co_x"}, "give --yes"},
		} {
			_, stderr, code := h.run("", append([]string{"hub"}, tc.args...)...)
			assert.Equal(t, exitUsage, code, "%v", tc.args)
			assert.Contains(t, stderr, tc.want, "%v", tc.args)
		}
	})

	t.Run("wrong fingerprint", func(t *testing.T) {
		other := sha256.Sum256([]byte("some other hub"))
		pin := formatFingerprint(other)
		_, stderr, code := h.run("", "hub", "whoami", "--hub-fingerprint", pin)
		assert.Equal(t, exitFailure, code)
		assert.Contains(t, stderr, "fingerprint mismatch")
		assert.Contains(t, stderr, h.init.Fingerprint, "names the fingerprint the hub has")
		assert.Contains(t, stderr, pin, "and the pinned one")

		_, stderr, code = h.run("", "hub", "whoami", "--hub-fingerprint", "AB:CD")
		assert.Equal(t, exitUsage, code, "a malformed fingerprint")
		assert.Contains(t, stderr, "--hub-fingerprint")
	})

	t.Run("no pin and no CA", func(t *testing.T) {
		saved := h.env[envHubFingerprint]
		delete(h.env, envHubFingerprint)
		defer func() { h.env[envHubFingerprint] = saved }()
		_, stderr, code := h.run("", "hub", "whoami")
		assert.Equal(t, exitFailure, code)
		assert.Contains(t, stderr, "cannot verify the hub's TLS certificate")
		assert.Contains(t, stderr, "--hub-fingerprint")
		out := h.ok("whoami", "--hub-ca", h.certFile)
		assert.Contains(t, out, "admin@vendor.example", "the certificate's PEM as --hub-ca")
	})

	t.Run("revoked key", func(t *testing.T) {
		stdout := h.ok("key", "create", "ci")
		ci := strings.TrimSpace(stdout)
		require.True(t, strings.HasPrefix(ci, "lmh1."), "key create prints the key alone: %q", stdout)
		assert.Contains(t, h.ok("whoami", "--hub-key", ci), "admin@vendor.example")
		h.ok("key", "revoke", hubKeyID(ci))
		_, stderr, code := h.run("", "hub", "whoami", "--hub-key", ci)
		assert.Equal(t, exitFailure, code)
		assert.Contains(t, stderr, "the hub refused the credentials")
		assert.Contains(t, stderr, "revoked")
		assert.Contains(t, stderr, "meshctl hub login")
		assert.NotContains(t, stderr, ci, "the key is never printed in an error")
		assert.NotContains(t, stderr, ci[len(ci)-20:], "not even its secret part")

		_, stderr, code = h.run("", "hub", "whoami", "--hub-key", "not-a-key")
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, stderr, "is not a hub API key")
		assert.NotContains(t, stderr, "not-a-key")
	})

	t.Run("wrong password", func(t *testing.T) {
		keyFile := filepath.Join(t.TempDir(), "key")
		_, stderr, code := h.run("guess-guess-guess\n", "hub", "login", "--email", h.init.AdminEmail, "--key-file", keyFile)
		assert.Equal(t, exitFailure, code)
		assert.Contains(t, stderr, "the hub refused the credentials")
		assert.Contains(t, stderr, "wrong email or password")
		assert.NotContains(t, stderr, "API key", "signing in sends no API key to blame")
		assert.NotContains(t, stderr, "guess-guess-guess")
		assert.NoFileExists(t, keyFile)

		_, stderr, code = h.run("", "hub", "login", "--email", h.init.AdminEmail, "--key-file", keyFile)
		assert.Equal(t, exitUsage, code, "no password on stdin")
		assert.Contains(t, stderr, "no password")
	})

	t.Run("print", func(t *testing.T) {
		stdout, stderr, code := h.run(h.init.AdminPassword+"\n", "hub", "login", "--email", h.init.AdminEmail, "--print")
		require.Equal(t, exitOK, code, stderr)
		printed := strings.TrimSpace(stdout)
		assert.True(t, strings.HasPrefix(printed, "lmh1."), "--print puts the key alone on stdout: %q", stdout)
		assert.Contains(t, h.ok("whoami", "--hub-key", printed), "admin@vendor.example")
	})

	t.Run("erase asks unless --yes", func(t *testing.T) {
		var c v1.CreateCompanyResponse
		require.NoError(t, protojson.Unmarshal([]byte(h.ok("company", "create", "Gone Ltd", "--email", "dpo@gone.example", "-o", "json")), &c))
		id := c.GetCompany().GetId()
		_, _, code := h.run("yes\n", "hub", "company", "erase", id)
		assert.Equal(t, exitUsage, code, "a pipe is no confirmation")
		out := h.ok("company", "erase", id, "--yes")
		assert.Contains(t, out, "erased")
		var shown v1.GetCompanyResponse
		require.NoError(t, protojson.Unmarshal([]byte(h.ok("company", "show", id, "-o", "json")), &shown))
		assert.NotZero(t, shown.GetCompany().GetErasedAtMs())
		assert.NotContains(t, shown.GetCompany().GetEmail(), "dpo@gone.example")
	})

	// The default key still works: nothing above spent it.
	assert.Contains(t, h.ok("whoami", "--hub-key", key), "admin@vendor.example")
}

func TestHubPasswordAndLogout(t *testing.T) {
	h := startTestHub(t)
	h.login()
	keyFile := filepath.Join(h.home, ".config", "licmesh", "hub-key")

	const newPassword = "correct horse battery staple"
	_, stderr, code := h.run("wrong-old-password\n"+newPassword+"\n", "hub", "password")
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, stderr, "old_password is wrong")
	assert.NotContains(t, stderr, newPassword)
	_, stderr, code = h.run(h.init.AdminPassword+"\n"+newPassword+"\n", "hub", "password")
	require.Equal(t, exitOK, code, stderr)

	_, _, code = h.run(h.init.AdminPassword+"\n", "hub", "login", "--email", h.init.AdminEmail, "--print")
	assert.Equal(t, exitFailure, code, "the old password no longer signs in")
	stdout, stderr, code := h.run(newPassword+"\n", "hub", "login", "--email", h.init.AdminEmail, "--print")
	require.Equal(t, exitOK, code, stderr)
	other := strings.TrimSpace(stdout)

	_, stderr, code = h.run("", "hub", "logout")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "revoked API key")
	assert.NoFileExists(t, keyFile, "logout deletes the key file")
	_, stderr, code = h.run("", "hub", "whoami")
	assert.Equal(t, exitUsage, code, "no key left")
	assert.Contains(t, stderr, "run meshctl hub login")
	assert.Contains(t, h.ok("whoami", "--hub-key", other), "admin@vendor.example", "other keys stay valid")
}
