package sources

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const statsJSON = `{
  "data": {"users": {"count": 42}, "cases": "17", "module": true},
  "items": [{"n": 5}],
  "people": [
    {"id": "a-1", "role": "ROLE_ADMIN", "enabled": true},
    {"id": 7, "role": "staff", "enabled": 0, "locked": "yes", "in_trash": false},
    "not an object"
  ],
  "sessions": [
    {"user_id": "a-1", "role": "super", "started_at": "2026-03-15T10:00:00Z", "ended_at": null},
    {"user_id": 7, "role": "staff", "started_at": 1773561600, "ended_at": "2026-03-15 09:30:00"}
  ]
}`

// statsServer serves body and records the last request.
type statsServer struct {
	*httptest.Server
	mu   sync.Mutex
	last *http.Request
}

func newStatsServer(t *testing.T, h http.HandlerFunc) *statsServer {
	t.Helper()
	s := &statsServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.last = r.Clone(context.Background())
		s.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *statsServer) lastRequest() *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func serve(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}
}

func httpConfig(url string) Config {
	return Config{
		Name:     "pm-api",
		Kind:     KindHTTP,
		Interval: time.Minute,
		Timeout:  2 * time.Second,
		Roles:    map[string]string{"ROLE_ADMIN": "super"},
		HTTP: &HTTPConfig{
			URL:        url,
			SinceParam: "since",
			Scalars: map[string]string{
				"users":  "data.users.count",
				"cases":  "data.cases",
				"first":  "items[0].n",
				"module": "data.module",
			},
			Users:  "people",
			Logons: "sessions",
		},
	}
}

func TestHTTPCollect(t *testing.T) {
	srv := newStatsServer(t, serve(statsJSON))
	tokenFile := filepath.Join(t.TempDir(), "token")
	const token = "tok-3e9b1c-secret"
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	cfg := httpConfig(srv.URL + "/api/stats?x=1")
	cfg.HTTP.BearerTokenFile = tokenFile
	cfg.HTTP.Headers = map[string]string{"X-Tenant": "acme"}
	s, err := mustNew(t, cfg, testOptions()).Collect(context.Background())
	require.NoError(t, err, "Collect")
	want := map[string]int64{"users": 42, "cases": 17, "first": 5, "module": 1}
	for k, v := range want {
		assert.Equal(t, v, s.Scalars[k], "scalar %s", k)
	}
	assert.Len(t, s.Users, 2, "users")
	assert.Equal(t, 1, s.Rejected, "rejected (%q)", s.RejectedReason)
	assert.Contains(t, s.RejectedReason, "users row 3: is a string, not an object", "rejected reason")
	u := userByRaw(t, s.Users, "a-1")
	assert.Equal(t, usage.RoleSuper, u.Role, "a-1 = %+v", u)
	assert.True(t, u.Enabled, "a-1 = %+v", u)
	assert.False(t, u.Locked, "a-1 = %+v", u)
	assert.False(t, u.InTrash, "a-1 = %+v", u)
	u = userByRaw(t, s.Users, "7")
	assert.Equal(t, usage.RoleStaff, u.Role, "7 = %+v", u)
	assert.False(t, u.Enabled, "7 = %+v", u)
	assert.True(t, u.Locked, "7 = %+v", u)
	l := logonByRaw(t, s.Logons, "a-1")
	assert.True(t, l.Start.Equal(time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)), "a-1's logon = %+v", l)
	assert.True(t, l.End.IsZero(), "a-1's logon = %+v", l)
	l = logonByRaw(t, s.Logons, "7")
	assert.True(t, l.Start.Equal(time.Unix(1773561600, 0)), "7's logon = %+v", l)
	assert.True(t, l.End.Equal(time.Date(2026, 3, 15, 9, 30, 0, 0, time.UTC)), "7's logon = %+v", l)
	noRawIDs(t, s, "a-1")
	r := srv.lastRequest()
	assert.Equal(t, "Bearer "+token, r.Header.Get("Authorization"), "Authorization")
	assert.Equal(t, "acme", r.Header.Get("X-Tenant"), "request lost its header: %v", r.Header)
	assert.Equal(t, "1", r.URL.Query().Get("x"), "request lost its query: %v", r.URL)
	assert.Equal(t, testNow.Add(-DefaultLogonsLookback).Format(time.RFC3339), r.URL.Query().Get("since"), "since")
}

func TestHTTPErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		status int
		mutate func(*Config)
		kind   error
		parts  []string
	}{
		{name: "missing field", body: statsJSON, mutate: func(c *Config) { c.HTTP.Scalars["users"] = "data.users.total" },
			kind: ErrMissingField, parts: []string{"http.scalars.users", `no field "total" in "data.users"`}},
		{name: "missing top", body: statsJSON, mutate: func(c *Config) { c.HTTP.Scalars["users"] = "stats.users" },
			kind: ErrMissingField, parts: []string{`no field "stats" in the top level`}},
		{name: "index out of range", body: statsJSON, mutate: func(c *Config) { c.HTTP.Scalars["first"] = "items[3].n" },
			kind: ErrMissingField, parts: []string{`index 3 out of range in "items" (length 1)`}},
		{name: "through a number", body: statsJSON, mutate: func(c *Config) { c.HTTP.Scalars["first"] = "items[0].n.x" },
			kind: ErrMissingField, parts: []string{`"items[0].n" is a number, so it has no x`}},
		{name: "not an integer", body: `{"data":{"users":{"count":4.5}}}`, mutate: func(c *Config) {
			c.HTTP.Scalars = map[string]string{"users": "data.users.count"}
			c.HTTP.Users, c.HTTP.Logons = "", ""
		},
			kind: ErrBadResult, parts: []string{"4.5 is not an integer"}},
		{name: "users not an array", body: statsJSON, mutate: func(c *Config) { c.HTTP.Users = "data" },
			kind: ErrBadResult, parts: []string{"http.users", "an object; want an array"}},
		{name: "not json", body: "<html>oops</html>", kind: ErrBadResult, parts: []string{"not JSON"}},
		{name: "two values", body: "{} {}", kind: ErrBadResult, parts: []string{"more than one JSON value"}},
		{name: "status", body: "down", status: http.StatusServiceUnavailable, kind: ErrQuery, parts: []string{"503"}},
		{name: "oversized", body: `{"pad":"` + strings.Repeat("x", 5000) + `"}`, mutate: func(c *Config) { c.HTTP.MaxBodyBytes = 1000 },
			kind: ErrTooLarge, parts: []string{"http.max_body_bytes", "larger than 1000 bytes"}},
		{name: "too many rows", body: statsJSON, mutate: func(c *Config) { c.MaxRows = 2 },
			kind: ErrTooManyRows, parts: []string{"http.users", "3 rows, more than max_rows (2)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newStatsServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				w.Write([]byte(tc.body))
			})
			cfg := httpConfig(srv.URL)
			if tc.mutate != nil {
				tc.mutate(&cfg)
			}
			_, err := mustNew(t, cfg, testOptions()).Collect(context.Background())
			wantErr(t, err, tc.kind, append([]string{`sources: "pm-api": `}, tc.parts...)...)
		})
	}
}

func TestHTTPTimeout(t *testing.T) {
	srv := newStatsServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	})
	cfg := httpConfig(srv.URL)
	cfg.Timeout = 200 * time.Millisecond
	start := time.Now()
	_, err := mustNew(t, cfg, testOptions()).Collect(context.Background())
	wantErr(t, err, ErrTimeout, "http.url", "200ms")
	took := time.Since(start)
	assert.LessOrEqual(t, took, 2*time.Second, "took %v with a 200ms timeout", took)
}

func TestHTTPSecretsAndConnect(t *testing.T) {
	const token = "tok-never-shown-5521"
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(token), 0o600)
	// A server that echoes the token back in a failure.
	srv := newStatsServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("bad token " + r.Header.Get("Authorization")))
	})
	cfg := httpConfig(srv.URL)
	cfg.HTTP.BearerTokenFile = tokenFile
	_, err := mustNew(t, cfg, testOptions()).Collect(context.Background())
	wantErr(t, err, ErrBadResult)
	noSecret(t, err.Error(), token)

	// Nothing listens: a connect error.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, err = mustNew(t, httpConfig("http://"+addr+"/x"), testOptions()).Collect(context.Background())
	wantErr(t, err, ErrConnect, "http.url")

	// A token file that is missing is found at start.
	cfg.HTTP.BearerTokenFile = filepath.Join(t.TempDir(), "nope")
	_, err = New(cfg, testOptions())
	wantErr(t, err, ErrConfig, "http.bearer_token_file", "does not exist")
}
