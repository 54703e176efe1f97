package sources

import (
	"maps"
	"slices"
	"time"
)

// Kind is how a source measures: a SQL query, an HTTP GET or a command.
type Kind string

// Kinds.
const (
	KindSQL  Kind = "sql"
	KindHTTP Kind = "http"
	KindExec Kind = "exec"
)

// SQL drivers.
const (
	DriverPostgres = "postgres"
	DriverMySQL    = "mysql"
	DriverSQLite   = "sqlite"
)

// Formats for the since parameter of a logons query.
const (
	// SinceText passes "2006-01-02 15:04:05" in the source's time_zone,
	// which every database compares correctly with its DATETIME or TEXT
	// columns.
	SinceText = "text"
	// SinceTime passes a time.Time and lets the driver convert it.
	SinceTime = "time"
	// SinceUnix passes Unix seconds as an integer.
	SinceUnix = "unix"
)

// Defaults and limits.
const (
	DefaultInterval       = 5 * time.Minute
	DefaultTimeout        = 30 * time.Second
	DefaultMaxRows        = 100_000
	DefaultLogonsLookback = 24 * time.Hour
	DefaultMaxBodyBytes   = 1 << 20
	DefaultMaxOutputBytes = 1 << 20

	MinInterval       = time.Second
	MaxInterval       = 24 * time.Hour
	MinTimeout        = 100 * time.Millisecond
	MaxTimeout        = 10 * time.Minute
	MaxRowsLimit      = 10_000_000
	MaxLogonsLookback = 93 * 24 * time.Hour
	MaxBytesLimit     = 64 << 20
	MaxScalars        = 64
	MaxQueryLength    = 64 << 10
)

// Config is one source. Zero fields take the defaults above (DefaultConfig
// shows them); exactly the section named by Kind (sql, http or exec) must be
// set. A source yields named scalar metrics and, optionally, user rows and
// logon rows (see Sample).
type Config struct {
	// Name identifies the source in samples, logs and errors.
	Name string `yaml:"name"`
	// Kind is sql, http or exec.
	Kind Kind `yaml:"kind"`
	// Interval is how often the source is collected.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one collection, connecting included; at most Interval.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRows bounds the rows of each user or logon query (or JSON array).
	// More is an error, never a partial sample and never unbounded memory.
	MaxRows int `yaml:"max_rows"`
	// TimeZone is how times without a zone (DATETIME text, JSON strings)
	// are read, and the zone of the since parameter in text form: an IANA
	// name, "UTC" or "Local".
	TimeZone string `yaml:"time_zone"`
	// Roles maps the product's role values (as the users and logons queries
	// return them) to super, staff, manager or rep. A value that is already
	// one of those four names needs no entry.
	Roles map[string]string `yaml:"roles"`
	// DefaultRole is the role of any value Roles does not map; empty makes
	// such a row a rejected row.
	DefaultRole string `yaml:"default_role"`
	// LogonsLookback is how far back the logons query looks on its first
	// run and at least on every run (sessions that ended after now minus
	// this); after a gap it also reaches back to the last successful run.
	LogonsLookback time.Duration `yaml:"logons_lookback"`

	SQL  *SQLConfig  `yaml:"sql"`
	HTTP *HTTPConfig `yaml:"http"`
	Exec *ExecConfig `yaml:"exec"`
}

// SQLConfig is a source that runs queries against a database, each in a
// read-only transaction on one connection, with a statement timeout.
type SQLConfig struct {
	// Driver is postgres, mysql (MySQL and MariaDB) or sqlite.
	Driver string `yaml:"driver"`
	// DSN is the connection string, in the driver's own syntax (for
	// sqlite: a file path). Prefer DSNFile or DSNEnv: exactly one is set.
	DSN string `yaml:"dsn"`
	// DSNFile is a file holding the DSN (surrounding white space ignored).
	DSNFile string `yaml:"dsn_file"`
	// DSNEnv is the name of an environment variable holding the DSN.
	DSNEnv string `yaml:"dsn_env"`
	// Scalars maps metric names to queries returning one row of one
	// integer column.
	Scalars map[string]string `yaml:"scalars"`
	// Users returns one row per user with the columns id, role, enabled,
	// locked and in_trash (any order, names case-insensitive).
	Users string `yaml:"users"`
	// Logons returns one row per logon session with the columns user_id,
	// role, locked (at logon), started_at and ended_at (NULL while open).
	// It takes one parameter, the since time ($1 for postgres, ? for the
	// others): return the sessions still open or ended after it.
	Logons string `yaml:"logons"`
	// SinceFormat is how the since parameter is passed: text (default),
	// time or unix.
	SinceFormat string `yaml:"since_format"`
}

// HTTPConfig is a source that GETs a JSON document and picks fields from it
// by path ("data.users.count", "items[0].n", "." for the whole document).
type HTTPConfig struct {
	// URL is an http or https URL.
	URL string `yaml:"url"`
	// BearerTokenFile, if set, holds a token sent as "Authorization:
	// Bearer ...". It is read on every collection, so it can be rotated.
	BearerTokenFile string `yaml:"bearer_token_file"`
	// Headers are added to the request.
	Headers map[string]string `yaml:"headers"`
	// CAFile is a PEM bundle to verify an https server with, instead of the
	// system roots.
	CAFile string `yaml:"ca_file"`
	// MaxBodyBytes bounds the response body (after decompression).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// SinceParam, if set, is a query parameter that carries the since time
	// (RFC 3339, UTC).
	SinceParam string `yaml:"since_param"`
	// Scalars maps metric names to paths of integers (or booleans, or
	// strings holding integers).
	Scalars map[string]string `yaml:"scalars"`
	// Users is the path of an array of user objects with the keys id, role,
	// enabled, locked and in_trash (the last three may be absent: false).
	Users string `yaml:"users"`
	// Logons is the path of an array of session objects with the keys
	// user_id, role, locked, started_at and ended_at (locked and ended_at
	// may be absent).
	Logons string `yaml:"logons"`
}

// ExecConfig is a source that runs a command (no shell) and reads its
// standard output: a bare number, or a JSON document picked by paths as for
// HTTP. The command runs in its own process group with a scrubbed
// environment; on timeout the whole group is killed.
type ExecConfig struct {
	// Command is the program and its arguments. A program without a slash
	// is looked up in /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:
	// /sbin:/bin when the source is created.
	Command []string `yaml:"command"`
	// Dir is the working directory; default "/".
	Dir string `yaml:"dir"`
	// Env adds variables to the scrubbed environment (PATH, LANG=C,
	// LICMESH_SOURCE and LICMESH_SINCE, RFC 3339).
	Env map[string]string `yaml:"env"`
	// MaxOutputBytes bounds standard output; more kills the command.
	MaxOutputBytes int64 `yaml:"max_output_bytes"`
	// Scalars maps metric names to paths; "." is the whole output, which is
	// how a command printing a bare number is read.
	Scalars map[string]string `yaml:"scalars"`
	// Users and Logons are paths of arrays, as for HTTP.
	Users  string `yaml:"users"`
	Logons string `yaml:"logons"`
}

// DefaultConfig returns a Config with every default filled in and no name,
// kind or section.
func DefaultConfig() Config {
	return Config{
		Interval:       DefaultInterval,
		Timeout:        DefaultTimeout,
		MaxRows:        DefaultMaxRows,
		TimeZone:       "UTC",
		LogonsLookback: DefaultLogonsLookback,
	}
}

// withDefaults returns c with zero fields set to their defaults. Maps and
// sections are copied so that later changes to c do not reach a source.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Interval == 0 {
		c.Interval = d.Interval
	}
	if c.Timeout == 0 {
		c.Timeout = min(d.Timeout, c.Interval)
	}
	if c.MaxRows == 0 {
		c.MaxRows = d.MaxRows
	}
	if c.TimeZone == "" {
		c.TimeZone = d.TimeZone
	}
	if c.LogonsLookback == 0 {
		c.LogonsLookback = d.LogonsLookback
	}
	c.Roles = maps.Clone(c.Roles)
	if c.SQL != nil {
		s := *c.SQL
		s.Scalars = maps.Clone(s.Scalars)
		if s.SinceFormat == "" {
			s.SinceFormat = SinceText
		}
		c.SQL = &s
	}
	if c.HTTP != nil {
		h := *c.HTTP
		h.Scalars = maps.Clone(h.Scalars)
		h.Headers = maps.Clone(h.Headers)
		if h.MaxBodyBytes == 0 {
			h.MaxBodyBytes = DefaultMaxBodyBytes
		}
		c.HTTP = &h
	}
	if c.Exec != nil {
		x := *c.Exec
		x.Command = slices.Clone(x.Command)
		x.Scalars = maps.Clone(x.Scalars)
		x.Env = maps.Clone(x.Env)
		if x.MaxOutputBytes == 0 {
			x.MaxOutputBytes = DefaultMaxOutputBytes
		}
		if x.Dir == "" {
			x.Dir = "/"
		}
		c.Exec = &x
	}
	return c
}
