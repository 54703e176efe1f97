package sources

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validSQL() Config {
	return Config{
		Name: "pm",
		Kind: KindSQL,
		SQL: &SQLConfig{
			Driver:  DriverMySQL,
			DSNEnv:  "PM_DSN",
			Scalars: map[string]string{"users": "SELECT COUNT(*) FROM USERS"},
			Logons:  "SELECT 1 FROM x WHERE t > ?",
		},
	}
}

func TestConfigDefaults(t *testing.T) {
	require.NoError(t, validSQL().Validate(), "valid config")
	d := validSQL().withDefaults()
	assert.Equal(t, DefaultInterval, d.Interval, "defaults not applied: %+v", d)
	assert.Equal(t, DefaultTimeout, d.Timeout, "defaults not applied: %+v", d)
	assert.Equal(t, DefaultMaxRows, d.MaxRows, "defaults not applied: %+v", d)
	assert.Equal(t, "UTC", d.TimeZone, "defaults not applied: %+v", d)
	assert.Equal(t, DefaultLogonsLookback, d.LogonsLookback, "defaults not applied: %+v", d)
	assert.Equal(t, SinceText, d.SQL.SinceFormat, "defaults not applied: %+v", d)
	// A short interval pulls the default timeout down with it.
	c := validSQL()
	c.Interval = 10 * time.Second
	assert.Equal(t, 10*time.Second, c.withDefaults().Timeout, "timeout, want the interval")
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		parts  []string
	}{
		{"name", func(c *Config) { c.Name = "bad name!" }, []string{"name:", "letters, digits"}},
		{"kind", func(c *Config) { c.Kind = "ldap" }, []string{"kind:", `"ldap" must be sql, http or exec`}},
		{"section missing", func(c *Config) { c.SQL = nil }, []string{"sql: kind is sql but the sql section is missing"}},
		{"extra section", func(c *Config) { c.HTTP = &HTTPConfig{} }, []string{"http: kind is sql: remove the http section"}},
		{"interval", func(c *Config) { c.Interval = time.Millisecond }, []string{"interval:", "between 1s and 24h"}},
		{"timeout over interval", func(c *Config) { c.Interval, c.Timeout = time.Minute, 2*time.Minute }, []string{"timeout:", "longer than interval"}},
		{"max rows", func(c *Config) { c.MaxRows = -1 }, []string{"max_rows:"}},
		{"zone", func(c *Config) { c.TimeZone = "Mars/Olympus" }, []string{"time_zone:", "Mars/Olympus"}},
		{"roles", func(c *Config) { c.Roles = map[string]string{"ADMIN": "boss"} }, []string{"roles.ADMIN:", `"boss" must be super, staff, manager or rep`}},
		{"default role", func(c *Config) { c.DefaultRole = "x" }, []string{"default_role:"}},
		{"driver", func(c *Config) { c.SQL.Driver = "oracle" }, []string{"sql.driver:", `"oracle"`}},
		{"two dsns", func(c *Config) { c.SQL.DSN = "x" }, []string{"sql.dsn:", "exactly one of dsn, dsn_file and dsn_env (2 set)"}},
		{"no dsn", func(c *Config) { c.SQL.DSNEnv = "" }, []string{"(0 set)"}},
		{"env name", func(c *Config) { c.SQL.DSNEnv = "1-x" }, []string{"sql.dsn_env:"}},
		{"nothing", func(c *Config) { c.SQL.Scalars, c.SQL.Logons = nil, "" }, []string{"sql: yields nothing"}},
		{"scalar name", func(c *Config) { c.SQL.Scalars["Users"] = "SELECT 1" }, []string{"sql.scalars.Users:", "lower-case"}},
		{"empty query", func(c *Config) { c.SQL.Scalars["cases"] = "  " }, []string{"sql.scalars.cases: is empty"}},
		{"no since", func(c *Config) { c.SQL.Logons = "SELECT a FROM b WHERE c = '?'" }, []string{"sql.logons: must take the since time as its parameter (?)"}},
		{"since format", func(c *Config) { c.SQL.SinceFormat = "iso" }, []string{"sql.since_format:"}},
		{"long name", func(c *Config) { c.Name = strings.Repeat("n", 65) }, []string{"name:"}},
		{"long scalar name", func(c *Config) { c.SQL.Scalars[strings.Repeat("s", 65)] = "SELECT 1" }, []string{"sql.scalars.sss"}},
		{"long env name", func(c *Config) { c.SQL.DSNEnv = strings.Repeat("E", 129) }, []string{"sql.dsn_env:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validSQL()
			tc.mutate(&c)
			err := c.Validate()
			wantErr(t, err, ErrConfig, append([]string{`sources: "`}, tc.parts...)...)
			var se *Error
			if assert.ErrorAs(t, err, &se, "not an *Error: %T", err) {
				assert.Same(t, ErrConfig, se.Kind, "Kind")
			}
		})
	}
}

// TestConfigNameBounds: names at their length bounds are accepted.
func TestConfigNameBounds(t *testing.T) {
	c := validSQL()
	c.Name = strings.Repeat("n", 64)
	c.SQL.Scalars[strings.Repeat("s", 64)] = "SELECT 1"
	c.SQL.DSNEnv = strings.Repeat("E", 128)
	require.NoError(t, c.Validate())
}

func TestConfigValidateHTTPAndExec(t *testing.T) {
	h := Config{Name: "api", Kind: KindHTTP, HTTP: &HTTPConfig{URL: "ftp://x", Scalars: map[string]string{"users": "a..b"},
		Headers: map[string]string{"Authorization": "Bearer x"}, Users: "[x]"}}
	err := h.Validate()
	wantErr(t, err, ErrConfig, "http.url: scheme must be http or https", `http.scalars.users: path "a..b": empty key in segment 2`,
		"http.headers.Authorization: put credentials in bearer_token_file", `http.users: path "[x]"`)
	noSecret(t, err.Error(), "Bearer x")

	h.HTTP = &HTTPConfig{URL: "http://u:pw@127.0.0.1/x", Scalars: map[string]string{"users": "."}}
	wantErr(t, h.Validate(), ErrConfig, "must not hold credentials")

	x := Config{Name: "cmd", Kind: KindExec, Exec: &ExecConfig{Scalars: map[string]string{"n": "."}, Env: map[string]string{"A=B": "1"}}}
	wantErr(t, x.Validate(), ErrConfig, "exec.command: is required", "exec.env.A=B")
}

func TestParseFile(t *testing.T) {
	good := `
sources:
  - name: pm
    kind: sql
    interval: 2m
    timeout: 10s
    sql:
      driver: postgres
      dsn_env: PM_DSN
      scalars: {users: "SELECT 1"}
`
	cfgs, err := ParseFile("good.yaml", []byte(good))
	require.NoError(t, err, "ParseFile")
	require.Len(t, cfgs, 1, "ParseFile: %+v", cfgs)
	require.Equal(t, 2*time.Minute, cfgs[0].Interval, "ParseFile: %+v", cfgs)
	require.Equal(t, 10*time.Second, cfgs[0].Timeout, "ParseFile: %+v", cfgs)
	_, err = ParseFile("typo.yaml", []byte(strings.Replace(good, "dsn_env", "dsn_enviroment", 1)))
	wantErr(t, err, ErrConfig, "typo.yaml", "dsn_enviroment")
	_, err = ParseFile("dup.yaml", []byte(good+strings.Replace(good, "sources:\n", "", 1)))
	wantErr(t, err, ErrConfig, `"pm": name: two sources have this name`)
	_, err = ParseFile("bad.yaml", []byte(strings.Replace(good, "postgres", "db2", 1)))
	wantErr(t, err, ErrConfig, `sources: "pm": sql.driver: "db2"`)
}

func TestExampleParses(t *testing.T) {
	cfgs, err := LoadFile("example-processmaker.yaml")
	require.NoError(t, err)
	c := cfgs[0]
	assert.Equal(t, KindSQL, c.Kind, "example: %+v", c)
	assert.Equal(t, DriverMySQL, c.SQL.Driver, "example: %+v", c)
	assert.Equal(t, "super", c.Roles["PROCESSMAKER_ADMIN"], "example: %+v", c)
	assert.NotEmpty(t, c.SQL.Users, "example: %+v", c)
	assert.NotEmpty(t, c.SQL.Logons, "example: %+v", c)
	// New needs the DSN file; everything else in the example is checked.
	_, err = New(c, testOptions())
	wantErr(t, err, ErrConfig, "sql.dsn_file", "/etc/collectord/processmaker.dsn")
}

func TestHashKeyRequired(t *testing.T) {
	c := validSQL()
	_, err := New(c, Options{HashKey: []byte("short"), LookupEnv: func(string) (string, bool) { return "u:p@tcp(127.0.0.1:1)/db", true }})
	wantErr(t, err, ErrConfig, "hash_key", "at least 16 bytes")
	// Without users or logons no key is needed.
	c.SQL.Logons = ""
	src, err := New(c, Options{LookupEnv: func(string) (string, bool) { return "u:p@tcp(127.0.0.1:1)/db", true }})
	require.NoError(t, err)
	src.Close()
}

func TestHasSinceParam(t *testing.T) {
	for _, tc := range []struct {
		driver, q string
		want      bool
	}{
		{DriverMySQL, "SELECT a FROM b WHERE t > ?", true},
		{DriverMySQL, "SELECT '?' FROM b", false},
		{DriverSQLite, "SELECT \"?\" FROM b WHERE t > datetime(?)", true},
		{DriverPostgres, "SELECT a FROM b WHERE t > $1", true},
		{DriverPostgres, "SELECT a FROM b WHERE t > $12", false},
		{DriverPostgres, "SELECT '$1' FROM b", false},
	} {
		assert.Equal(t, tc.want, hasSinceParam(tc.driver, tc.q), "hasSinceParam(%s, %q)", tc.driver, tc.q)
	}
}
