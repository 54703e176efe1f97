package sources

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
)

// What names in a config may look like.
var (
	nameRE   = boundedRE{regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`), 64}
	scalarRE = boundedRE{regexp.MustCompile(`^[a-z][a-z0-9_]*$`), 64}
	envRE    = boundedRE{regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`), 128}
)

// boundedRE is a pattern with its length bound checked apart. Written into
// the expression as a counted repetition ({0,127}), the bound compiles to
// that many copies of the character class: 0.2 MB of heap that every
// collector held from start to exit.
type boundedRE struct {
	re     *regexp.Regexp
	maxLen int
}

// MatchString reports whether s is at most maxLen bytes and matches re.
func (b boundedRE) MatchString(s string) bool { return len(s) <= b.maxLen && b.re.MatchString(s) }

// problems collects a source's configuration errors.
type problems struct {
	source string
	errs   []error
}

func (p *problems) add(field, format string, args ...any) {
	p.errs = append(p.errs, &Error{Source: p.source, Field: field, Kind: ErrConfig, Detail: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error { return errors.Join(p.errs...) }

// Validate checks every field without touching the network, and returns all
// problems joined, each an *Error wrapping ErrConfig that names the field.
// It reads nothing but the time zone database; New also reads the files and
// variables the config names.
func (c Config) Validate() error {
	c = c.withDefaults()
	p := &problems{source: c.Name}
	if !nameRE.MatchString(c.Name) {
		p.add("name", "%q must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", clip(c.Name))
	}
	if c.Interval < MinInterval || c.Interval > MaxInterval {
		p.add("interval", "%v must be between %v and %v", c.Interval, MinInterval, MaxInterval)
	}
	switch {
	case c.Timeout < MinTimeout || c.Timeout > MaxTimeout:
		p.add("timeout", "%v must be between %v and %v", c.Timeout, MinTimeout, MaxTimeout)
	case c.Timeout > c.Interval:
		p.add("timeout", "%v is longer than interval %v: runs would overlap", c.Timeout, c.Interval)
	}
	if c.MaxRows < 1 || c.MaxRows > MaxRowsLimit {
		p.add("max_rows", "%d must be between 1 and %d", c.MaxRows, MaxRowsLimit)
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		p.add("time_zone", "%q is not a known time zone", clip(c.TimeZone))
	}
	if c.LogonsLookback < time.Minute || c.LogonsLookback > MaxLogonsLookback {
		p.add("logons_lookback", "%v must be between 1m and %v", c.LogonsLookback, MaxLogonsLookback)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Roles)) {
		if _, err := usage.ParseRole(c.Roles[k]); err != nil {
			p.add("roles."+clip(k), "%q must be super, staff, manager or rep", clip(c.Roles[k]))
		}
	}
	if c.DefaultRole != "" {
		if _, err := usage.ParseRole(c.DefaultRole); err != nil {
			p.add("default_role", "%q must be super, staff, manager or rep", clip(c.DefaultRole))
		}
	}

	sections := map[Kind]bool{KindSQL: c.SQL != nil, KindHTTP: c.HTTP != nil, KindExec: c.Exec != nil}
	switch c.Kind {
	case KindSQL, KindHTTP, KindExec:
		if !sections[c.Kind] {
			p.add(string(c.Kind), "kind is %s but the %s section is missing", c.Kind, c.Kind)
		}
		for _, k := range []Kind{KindSQL, KindHTTP, KindExec} {
			if k != c.Kind && sections[k] {
				p.add(string(k), "kind is %s: remove the %s section", c.Kind, k)
			}
		}
	default:
		p.add("kind", "%q must be sql, http or exec", clip(string(c.Kind)))
	}
	switch {
	case c.Kind == KindSQL && c.SQL != nil:
		c.SQL.validate(p)
	case c.Kind == KindHTTP && c.HTTP != nil:
		c.HTTP.validate(p)
	case c.Kind == KindExec && c.Exec != nil:
		c.Exec.validate(p)
	}
	return p.err()
}

// validateOutputs checks what every kind yields: scalar names, and that it
// yields something at all.
func validateOutputs(p *problems, section string, scalars map[string]string, users, logons string) {
	if len(scalars) == 0 && users == "" && logons == "" {
		p.add(section, "yields nothing: set scalars, users or logons")
	}
	if len(scalars) > MaxScalars {
		p.add(section+".scalars", "has %d entries, at most %d allowed", len(scalars), MaxScalars)
	}
	for _, name := range slices.Sorted(maps.Keys(scalars)) {
		if !scalarRE.MatchString(name) {
			p.add(section+".scalars."+clip(name), "metric names are 1-64 lower-case letters, digits and '_', starting with a letter")
		}
		if strings.TrimSpace(scalars[name]) == "" {
			p.add(section+".scalars."+clip(name), "is empty")
		}
	}
}

func (s *SQLConfig) validate(p *problems) {
	switch s.Driver {
	case DriverPostgres, DriverMySQL, DriverSQLite:
	default:
		p.add("sql.driver", "%q must be postgres, mysql or sqlite", clip(s.Driver))
	}
	n := 0
	for _, v := range []string{s.DSN, s.DSNFile, s.DSNEnv} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		p.add("sql.dsn", "set exactly one of dsn, dsn_file and dsn_env (%d set)", n)
	}
	if s.DSNEnv != "" && !envRE.MatchString(s.DSNEnv) {
		p.add("sql.dsn_env", "%q is not an environment variable name", clip(s.DSNEnv))
	}
	validateOutputs(p, "sql", s.Scalars, s.Users, s.Logons)
	for _, name := range slices.Sorted(maps.Keys(s.Scalars)) {
		checkQuery(p, "sql.scalars."+name, s.Scalars[name])
	}
	if s.Users != "" {
		checkQuery(p, "sql.users", s.Users)
	}
	if s.Logons != "" {
		checkQuery(p, "sql.logons", s.Logons)
		if !hasSinceParam(s.Driver, s.Logons) {
			p.add("sql.logons", "must take the since time as its parameter (%s)", placeholder(s.Driver))
		}
	}
	switch s.SinceFormat {
	case SinceText, SinceTime, SinceUnix:
	default:
		p.add("sql.since_format", "%q must be text, time or unix", clip(s.SinceFormat))
	}
}

func checkQuery(p *problems, field, q string) {
	if len(q) > MaxQueryLength {
		p.add(field, "query has %d bytes, at most %d allowed", len(q), MaxQueryLength)
	}
	if strings.TrimSpace(q) == "" {
		p.add(field, "query is empty")
	}
}

// placeholder is how the driver spells the one query parameter.
func placeholder(driver string) string {
	if driver == DriverPostgres {
		return "$1"
	}
	return "?"
}

// hasSinceParam reports whether q has the parameter placeholder outside
// quoted text (a heuristic that is enough to catch a forgotten parameter).
func hasSinceParam(driver, q string) bool {
	ph := placeholder(driver)
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case strings.HasPrefix(q[i:], ph):
			if ph == "$1" && i+2 < len(q) && q[i+2] >= '0' && q[i+2] <= '9' {
				continue // $10 and up are not $1
			}
			return true
		}
	}
	return false
}

func validatePath(p *problems, field, path string) {
	if path == "" {
		return
	}
	if _, err := parsePath(path); err != nil {
		p.add(field, "%v", err)
	}
}

func (h *HTTPConfig) validate(p *problems) {
	u, err := url.Parse(h.URL)
	switch {
	case h.URL == "":
		p.add("http.url", "is required")
	case err != nil:
		p.add("http.url", "does not parse")
	case u.Scheme != "http" && u.Scheme != "https":
		p.add("http.url", "scheme must be http or https")
	case u.Host == "":
		p.add("http.url", "has no host")
	case u.User != nil:
		p.add("http.url", "must not hold credentials: use bearer_token_file")
	}
	if h.MaxBodyBytes < 1 || h.MaxBodyBytes > MaxBytesLimit {
		p.add("http.max_body_bytes", "%d must be between 1 and %d", h.MaxBodyBytes, MaxBytesLimit)
	}
	for _, k := range slices.Sorted(maps.Keys(h.Headers)) {
		if k == "" || strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(h.Headers[k], "\r\n") {
			p.add("http.headers."+clip(k), "is not a valid header")
		}
		if http.CanonicalHeaderKey(k) == "Authorization" {
			p.add("http.headers."+clip(k), "put credentials in bearer_token_file, not in the config")
		}
	}
	if h.SinceParam != "" && strings.ContainsAny(h.SinceParam, "&=?# ") {
		p.add("http.since_param", "%q is not a plain parameter name", clip(h.SinceParam))
	}
	validateOutputs(p, "http", h.Scalars, h.Users, h.Logons)
	for _, name := range slices.Sorted(maps.Keys(h.Scalars)) {
		validatePath(p, "http.scalars."+name, h.Scalars[name])
	}
	validatePath(p, "http.users", h.Users)
	validatePath(p, "http.logons", h.Logons)
}

func (x *ExecConfig) validate(p *problems) {
	if len(x.Command) == 0 || x.Command[0] == "" {
		p.add("exec.command", "is required (the program and its arguments, no shell)")
	}
	for i, a := range x.Command {
		if strings.IndexByte(a, 0) >= 0 {
			p.add(fmt.Sprintf("exec.command[%d]", i), "holds a NUL byte")
		}
	}
	if x.MaxOutputBytes < 1 || x.MaxOutputBytes > MaxBytesLimit {
		p.add("exec.max_output_bytes", "%d must be between 1 and %d", x.MaxOutputBytes, MaxBytesLimit)
	}
	for _, k := range slices.Sorted(maps.Keys(x.Env)) {
		if !envRE.MatchString(k) {
			p.add("exec.env."+clip(k), "is not an environment variable name")
		}
	}
	validateOutputs(p, "exec", x.Scalars, x.Users, x.Logons)
	for _, name := range slices.Sorted(maps.Keys(x.Scalars)) {
		validatePath(p, "exec.scalars."+name, x.Scalars[name])
	}
	validatePath(p, "exec.users", x.Users)
	validatePath(p, "exec.logons", x.Logons)
}

// clip shortens s for an error message.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
