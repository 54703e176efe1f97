package main

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConnectErrorsBecomeClearMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"unauthenticated", connect.NewError(connect.CodeUnauthenticated, errors.New("token expired")),
			"meshctl: the master refused the admin token: token expired"},
		{"unauthenticated bare", connect.NewError(connect.CodeUnauthenticated, nil),
			"meshctl: the master refused the admin token\n"},
		{"permission", connect.NewError(connect.CodePermissionDenied, errors.New("role viewer cannot create pools")),
			"meshctl: the admin token is not allowed to do this: role viewer cannot create pools"},
		{"invalid argument", connect.NewError(connect.CodeInvalidArgument, errors.New(`pool name "a b" has a space`)),
			"meshctl: pool name \"a b\" has a space\n"},
		{"not found", connect.NewError(connect.CodeNotFound, errors.New("no token abcdefghij")),
			"meshctl: no token abcdefghij\n"},
		{"already exists", connect.NewError(connect.CodeAlreadyExists, errors.New("pool designer exists")),
			"meshctl: pool designer exists\n"},
		{"unavailable from master", connect.NewError(connect.CodeUnavailable, errors.New("no leader")),
			"meshctl: the master is unavailable: https://127.0.0.1:"},
		{"internal", connect.NewError(connect.CodeInternal, errors.New("disk full")),
			"meshctl: the master failed at https://127.0.0.1:"},
		{"canceled by master", connect.NewError(connect.CodeCanceled, errors.New("shutting down")),
			"meshctl: the master failed at https://127.0.0.1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.fake.update(func(f *fakeAdmin) { f.err = tt.err })
			_, stderr, code := h.run("pool", "list")
			assert.Equal(t, exitFailure, code, "exit code")
			assert.Contains(t, stderr, tt.want, "stderr")
			assert.NotContains(t, stderr, "Run '", "a failed call is not a usage error")
		})
	}
}

func TestTokenNeverAppearsInErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// A careless server that echoes what it was sent.
	h.fake.update(func(f *fakeAdmin) {
		f.err = connect.NewError(connect.CodeUnauthenticated, errors.New("bad token "+testToken))
	})
	_, stderr, code := h.run("status")
	assert.Equal(t, exitFailure, code, "exit code")
	assert.NotContains(t, stderr, testToken, "the token was printed")
	assert.NotContains(t, stderr, "s3cretpart", "the token was printed")
	assert.Contains(t, stderr, "the master refused the admin token", "stderr")
}

func TestWrongCAIsAClearTLSError(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	other := otherCA(t)
	_, stderr, code := h.run("status", "--ca", other)
	assert.Equal(t, exitFailure, code, "exit code")
	for _, s := range []string{"cannot verify the master's TLS certificate", h.srv.URL, "is " + other + " the cluster CA?"} {
		assert.Contains(t, stderr, s, "stderr")
	}
	assert.Empty(t, h.fake.recordedCalls(), "the master got calls over an unverified connection")
}

func TestWithoutCASystemRootsAreUsed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	delete(h.env, envCA)
	_, stderr, code := h.run("status")
	assert.Equal(t, exitFailure, code, "exit code")
	assert.Contains(t, stderr, "cannot verify the master's TLS certificate", "stderr")
	assert.Contains(t, stderr, "--ca", "stderr should point at --ca")
}

func TestCAFileProblemsAreUsageErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	notPEM := writeFile(t, "ca.txt", "hello")
	for _, tc := range []struct{ path, want string }{
		{"/nonexistent/ca.pem", "--ca: open /nonexistent/ca.pem"},
		{notPEM, "no PEM certificate"},
	} {
		_, stderr, code := h.run("status", "--ca", tc.path)
		assert.Equal(t, exitUsage, code, "--ca %s: exit code; stderr %q", tc.path, stderr)
		assert.Contains(t, stderr, tc.want, "--ca %s", tc.path)
	}
}

func TestPlainHTTPServerIsNamed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	addr := "https://" + plain.Listener.Addr().String()
	_, stderr, code := h.run("status", "--addr", addr)
	assert.Equal(t, exitFailure, code, "exit code; stderr %q", stderr)
	assert.Contains(t, stderr, "did not answer with TLS")
}

func TestUnreachableMaster(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := "https://" + l.Addr().String()
	l.Close()
	_, stderr, code := h.run("members", "--addr", addr)
	assert.Equal(t, exitFailure, code, "exit code")
	assert.Contains(t, stderr, "meshctl: cannot reach the master at "+addr+": dial tcp")
}

func TestTimeoutIsNamed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.update(func(f *fakeAdmin) { f.block = true })
	_, stderr, code := h.run("status", "--timeout", "200ms")
	assert.Equal(t, exitFailure, code, "exit code")
	assert.Contains(t, stderr, "did not answer within 200ms")
}

func TestWrongPathIsUnsupported(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, stderr, code := h.run("pool", "list", "--addr", h.srv.URL+"/dashboard")
	assert.Equal(t, exitFailure, code, "exit code")
	assert.Contains(t, stderr, "does not serve ListPools")
}

func TestNonTLSNonHTTPServerIsNamed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	// Something else on the port (an SSH daemon, say) that speaks first.
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			c.Close()
		}
	}()
	_, stderr, code := h.run("status", "--addr", l.Addr().String())
	assert.Equal(t, exitFailure, code, "exit code; stderr %q", stderr)
	assert.Contains(t, stderr, "did not answer with TLS")
}

func TestBadTokenIsNotEchoed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, stderr, code := h.run("status", "--token", "abc\u00e9secret")
	assert.Equal(t, exitUsage, code, "exit code; stderr %q", stderr)
	assert.NotContains(t, stderr, "secret", "the bad token was echoed")
	assert.Contains(t, stderr, "at byte 3")
}

// TestAlertBadInput: an unknown kind, thresholds that are not numbers, a
// reset with settings: usage errors, no call made.
func TestAlertBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, args := range [][]string{
		{"alert", "list", "--kind", "expiry"},
		{"alert", "rule", "set", "expiry", "--thresholds", "30"},
		{"alert", "rule", "set", "pool_usage", "--thresholds", "eighty"},
		{"alert", "rule", "set", "pool_usage", "--reset", "--thresholds", "80"},
		{"alert", "ack"},
		{"alert", "channel", "set", "ops"},
		{"alert", "channel", "set", "ops", "--email", "a@b.example", "--webhook", "https://x.example"},
		{"alert", "channel", "set", "ops", "--email", "a@b.example", "--kinds", "expiry"},
		{"alert", "channel", "set", "ops", "--email", "a@b.example", "--min-severity", "loud"},
		{"alert", "channel", "set", "ops", "--webhook", "https://x.example", "--secret-file", "/does/not/exist"},
	} {
		_, stderr, code := h.run(args...)
		assert.Equal(t, exitUsage, code, "%v: stderr %q", args, stderr)
		assert.NotEmpty(t, stderr, "%v", args)
	}
	assert.Empty(t, h.fake.calls, "bad input made a call")
}
