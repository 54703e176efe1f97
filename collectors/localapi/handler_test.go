package localapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/collectors/agent"
	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stub is a Service with canned answers.
type stub struct {
	mu      sync.Mutex
	leases  map[lease.ID]leasebook.Lease
	next    lease.ID
	err     error
	block   chan struct{}
	pending bool
	ready   chan struct{}
	noEnts  bool
}

func newStub() *stub {
	return &stub{leases: map[lease.ID]leasebook.Lease{}, next: 1, ready: make(chan struct{})}
}

// Notifications has none.
func (s *stub) Notifications() (agent.Notifications, error) {
	return agent.Notifications{Notifications: []agent.Notification{}}, nil
}

// Borrow checks its input as the agent does and lends a lease.
func (s *stub) Borrow(ctx context.Context, pool, holder string, d time.Duration) (leasebook.Lease, error) {
	if d < time.Second || d > lease.MaxBorrow {
		return leasebook.Lease{}, fmt.Errorf("%w: borrow for %s: want 1s to %s", agent.ErrInvalidInput, d, lease.MaxBorrow)
	}
	l, err := s.Acquire(ctx, pool, holder)
	if err != nil {
		return l, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l.State, l.Borrowed, l.Remaining = leasebook.StateBorrowed, true, d
	s.leases[l.ID] = l
	return l, nil
}

func (s *stub) Acquire(ctx context.Context, pool, holder string) (leasebook.Lease, error) {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return leasebook.Lease{}, fmt.Errorf("%w: %w", agent.ErrUnavailable, ctx.Err())
		}
	}
	if err := agent.CheckHolder(pool, holder); err != nil {
		return leasebook.Lease{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return leasebook.Lease{}, s.err
	}
	l := leasebook.Lease{ID: s.next, Pool: pool, Holder: holder, Fence: 7, Token: "lml1.x.y", State: leasebook.StateValid,
		Remaining: 30 * time.Second, TTL: 30 * time.Second, ValidUntil: time.Now().Add(30 * time.Second)}
	s.leases[l.ID] = l
	s.next++
	return l, nil
}

func (s *stub) Release(ctx context.Context, id lease.ID) (leasebook.Lease, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leases[id]
	if !ok {
		return leasebook.Lease{}, false, fmt.Errorf("%w: %d", agent.ErrUnknownLease, id)
	}
	delete(s.leases, id)
	return l, s.pending, nil
}

func (s *stub) Leases() []leasebook.Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []leasebook.Lease
	for _, l := range s.leases {
		out = append(out, l)
	}
	return out
}

func (s *stub) Lease(id lease.ID) (leasebook.Lease, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leases[id]
	return l, ok
}

func (s *stub) Verify(token string) agent.Verification {
	if token == "good" {
		return agent.Verification{Valid: true, Document: &lease.Document{ClusterID: "c", LeaseID: 1, Pool: "p", Holder: "h", CollectorID: "col"}}
	}
	return agent.Verification{Reason: agent.VerifyMalformed, Detail: "lease: malformed lease token"}
}

func (s *stub) Status() agent.Status {
	return agent.Status{CollectorID: "col-1", ClusterID: "c", Phase: agent.PhaseConnected, Protocol: "h3", MaxLeases: 10,
		Masters: []string{"m1:7443"}, CertNotAfter: time.Now().Add(time.Hour)}
}

func (s *stub) Ready() <-chan struct{} { return s.ready }

// serve starts the API on a loopback port and a socket.
func serve(t *testing.T, svc Service) (tcp, unix *http.Client, tcpURL string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.sock")
	srv, err := Listen(svc, Config{Listen: "127.0.0.1:0", Socket: sock, RequestTimeout: 500 * time.Millisecond, MaxInFlight: 4}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done, "Run")
		_, err := os.Stat(sock)
		assert.ErrorIs(t, err, os.ErrNotExist, "socket not removed")
	})
	fi, err := os.Stat(sock)
	require.NoError(t, err, "socket")
	require.Equal(t, os.FileMode(0o660), fi.Mode().Perm(), "socket mode")
	unix = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	return http.DefaultClient, unix, "http://" + srv.Addr()
}

func do(t *testing.T, c *http.Client, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "%s %s: body %q is not JSON", method, url, raw)
	return resp.StatusCode, out
}

func TestLeaseRoutesOverSocketAndTCP(t *testing.T) {
	svc := newStub()
	tcp, unix, tcpURL := serve(t, svc)
	for name, c := range map[string]struct {
		client *http.Client
		base   string
	}{"tcp": {tcp, tcpURL}, "unix": {unix, "http://collectord"}} {
		t.Run(name, func(t *testing.T) {
			code, l := do(t, c.client, "POST", c.base+"/v1/leases", `{"pool":"seats","holder":"alice"}`)
			require.Equal(t, 200, code, "acquire: %v", l)
			require.Equal(t, "valid", l["state"], "acquire: %v", l)
			require.Equal(t, true, l["valid"], "acquire: %v", l)
			require.Equal(t, float64(30000), l["remaining_ms"], "acquire: %v", l)
			require.NotEqual(t, "", l["token"], "acquire: %v", l)
			id := int(l["id"].(float64))
			code, list := do(t, c.client, "GET", c.base+"/v1/leases", "")
			require.Equal(t, 200, code, "list: %v", list)
			require.Len(t, list["leases"], 1, "list: %v", list)
			require.Equal(t, float64(1), list["counts"].(map[string]any)["valid"], "list: %v", list)
			code, got := do(t, c.client, "GET", fmt.Sprintf("%s/v1/leases/%d", c.base, id), "")
			require.Equal(t, 200, code, "get: %v", got)
			require.Equal(t, "alice", got["holder"], "get: %v", got)
			code, rel := do(t, c.client, "DELETE", fmt.Sprintf("%s/v1/leases/%d", c.base, id), "")
			require.Equal(t, 200, code, "release: %v", rel)
			require.Equal(t, true, rel["released"], "release: %v", rel)
			code, e := do(t, c.client, "DELETE", fmt.Sprintf("%s/v1/leases/%d", c.base, id), "")
			require.Equal(t, 404, code, "second release: %v", e)
			require.Equal(t, "unknown_lease", e["code"], "second release: %v", e)
			code, v := do(t, c.client, "POST", c.base+"/v1/verify", `{"token":"good"}`)
			require.Equal(t, 200, code, "verify: %v", v)
			require.Equal(t, true, v["valid"], "verify: %v", v)
			require.NotNil(t, v["lease"], "verify: %v", v)
			code, v = do(t, c.client, "POST", c.base+"/v1/verify", `{"token":"bad"}`)
			require.Equal(t, 200, code, "verify bad: %v", v)
			require.Equal(t, false, v["valid"], "verify bad: %v", v)
			require.Equal(t, "malformed", v["reason"], "verify bad: %v", v)
			code, st := do(t, c.client, "GET", c.base+"/v1/status", "")
			require.Equal(t, 200, code, "status: %v", st)
			require.Equal(t, "col-1", st["collector_id"], "status: %v", st)
			require.Equal(t, "h3", st["protocol"], "status: %v", st)
		})
	}
}

func TestBadInput(t *testing.T) {
	svc := newStub()
	_, unix, _ := serve(t, svc)
	base := "http://collectord"
	cases := []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"POST", "/v1/leases", `{"pool":"seats","holder":"a","extra":1}`, 400, `unknown field "extra"`},
		{"POST", "/v1/leases", `{"pool":"seats"`, 400, "invalid JSON body"},
		{"POST", "/v1/leases", ``, 400, "empty body"},
		{"POST", "/v1/leases", `{"pool":1,"holder":"a"}`, 400, `field "pool" must be a string`},
		{"POST", "/v1/leases", `{"pool":"seats"}`, 400, `"pool" and "holder" are required`},
		{"POST", "/v1/leases", `{"pool":"Bad Pool","holder":"a"}`, 400, "pool"},
		{"POST", "/v1/leases", `{"pool":"seats","holder":"a"} {}`, 400, "data after the object"},
		{"POST", "/v1/leases", `[1]`, 400, "want a JSON object"},
		{"POST", "/v1/leases", `{"pool":"seats","holder":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, "larger than"},
		{"GET", "/v1/leases/abc", ``, 400, `lease id "abc" is not a positive integer`},
		{"DELETE", "/v1/leases/0", ``, 400, "not a positive integer"},
		{"POST", "/v1/verify", `{}`, 400, `"token" is required`},
		{"GET", "/v2/nothing", ``, 404, "no route"},
		{"PUT", "/v1/leases", `{}`, 405, "allowed: GET, POST"},
		{"POST", "/v1/leases/borrow", `{"pool":"seats","holder":"a"}`, 400, `"duration" are required`},
		{"POST", "/v1/leases/borrow", `{"pool":"seats","holder":"a","duration":"a week"}`, 400, "duration: "},
		{"POST", "/v1/leases/borrow", `{"pool":"seats","holder":"a","duration":"100d"}`, 400, "want 1s to"},
		{"POST", "/v1/leases/borrow", `{"pool":"seats","holder":"a","duration":"-3h"}`, 400, "duration: "},
	}
	for _, tc := range cases {
		t.Run(tc.method+tc.path+tc.body[:min(len(tc.body), 20)], func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			resp, err := unix.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var e ErrorResponse
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e), "error body is not JSON")
			require.Equal(t, tc.code, resp.StatusCode, "%+v", e)
			require.Contains(t, e.Error, tc.msg, "%+v", e)
			require.NotEmpty(t, e.Code, "%+v", e)
		})
	}
	require.Empty(t, svc.Leases(), "bad input created leases")
}

func TestErrorMapping(t *testing.T) {
	svc := newStub()
	_, unix, _ := serve(t, svc)
	for _, tc := range []struct {
		err  error
		code int
		name string
	}{
		{&agent.RejectedError{Master: "m", Code: connect.CodeResourceExhausted, Message: "pool seats: all 10 seats are taken"}, 409, "no_seats"},
		{&agent.RejectedError{Master: "m", Code: connect.CodeNotFound, Message: "no pool"}, 404, "not_found"},
		{fmt.Errorf("%w: all down", agent.ErrUnavailable), 503, "unavailable"},
		{fmt.Errorf("%w: x", agent.ErrFull), 429, "max_leases"},
		{agent.ErrNotReady, 503, "not_ready"},
	} {
		svc.mu.Lock()
		svc.err = tc.err
		svc.mu.Unlock()
		code, body := do(t, unix, "POST", "http://collectord/v1/leases", `{"pool":"seats","holder":"a"}`)
		assert.Equal(t, tc.code, code, "%v: %v", tc.err, body)
		assert.Equal(t, tc.name, body["code"], "%v: %v", tc.err, body)
	}
}

func TestNeverBlocks(t *testing.T) {
	svc := newStub()
	svc.block = make(chan struct{})
	defer close(svc.block)
	tcp, _, base := serve(t, svc)
	start := time.Now()
	code, body := do(t, tcp, "POST", base+"/v1/leases", `{"pool":"seats","holder":"a"}`)
	took := time.Since(start)
	require.Equal(t, 504, code, "stuck service: %v after %v, want 504 within the request timeout", body, took)
	require.LessOrEqual(t, took, 3*time.Second, "stuck service: want 504 within the request timeout")
	// With every slot taken, requests are refused at once.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { do(t, tcp, "POST", base+"/v1/leases", `{"pool":"seats","holder":"a"}`) })
	}
	time.Sleep(100 * time.Millisecond) // let the four occupy the slots
	code, body = do(t, tcp, "GET", base+"/v1/status", "")
	assert.Equal(t, 503, code, "saturated: %v", body)
	assert.Equal(t, "busy", body["code"], "saturated: %v", body)
	wg.Wait()
	code, _ = do(t, tcp, "GET", base+"/readyz", "")
	assert.Equal(t, 503, code, "readyz before ready")
	close(svc.ready)
	code, _ = do(t, tcp, "GET", base+"/readyz", "")
	assert.Equal(t, 200, code, "readyz when ready")
}

func TestSocketInUse(t *testing.T) {
	svc := newStub()
	sock := filepath.Join(t.TempDir(), "s.sock")
	srv, err := Listen(svc, Config{Socket: sock, RequestTimeout: time.Second}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	_, err = Listen(svc, Config{Socket: sock, RequestTimeout: time.Second}, slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, ErrSocketInUse, "second listener")
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	_, err = Listen(svc, Config{Socket: file, RequestTimeout: time.Second}, slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, ErrNotSocket, "regular file")
	// A stale socket (no listener) is replaced.
	stale := filepath.Join(t.TempDir(), "stale.sock")
	ln, _ := net.Listen("unix", stale)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	s2, err := Listen(svc, Config{Socket: stale, RequestTimeout: time.Second}, slog.New(slog.DiscardHandler))
	require.NoError(t, err, "stale socket")
	s2.Close()
}
