package main

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
)

func TestConnectErrorsBecomeClearMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"unauthenticated", connect.NewError(connect.CodeUnauthenticated, errors.New("token expired")),
			"meshctl: the admin token was refused: token expired"},
		{"unauthenticated bare", connect.NewError(connect.CodeUnauthenticated, nil),
			"meshctl: the admin token was refused\n"},
		{"permission", connect.NewError(connect.CodePermissionDenied, errors.New("role viewer cannot create pools")),
			"meshctl: the admin token is not allowed to do this: role viewer cannot create pools"},
		{"invalid argument", connect.NewError(connect.CodeInvalidArgument, errors.New(`pool name "a b" has a space`)),
			"meshctl: pool name \"a b\" has a space\n"},
		{"not found", connect.NewError(connect.CodeNotFound, errors.New("no token abcdefghij")),
			"meshctl: no token abcdefghij\n"},
		{"already exists", connect.NewError(connect.CodeAlreadyExists, errors.New("pool designer exists")),
			"meshctl: pool designer exists\n"},
		{"unavailable from master", connect.NewError(connect.CodeUnavailable, errors.New("no leader")),
			"meshctl: master is unavailable: https://127.0.0.1:"},
		{"internal", connect.NewError(connect.CodeInternal, errors.New("disk full")),
			"meshctl: master error at https://127.0.0.1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.fake.update(func(f *fakeAdmin) { f.err = tt.err })
			_, stderr, code := h.run("pool", "list")
			if code != exitFailure {
				t.Errorf("exit %d, want %d", code, exitFailure)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.want)
			}
			if strings.Contains(stderr, "Run '") {
				t.Errorf("a failed call is not a usage error: %q", stderr)
			}
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
	if code != exitFailure {
		t.Errorf("exit %d", code)
	}
	if strings.Contains(stderr, testToken) || strings.Contains(stderr, "s3cretpart") {
		t.Errorf("the token was printed: %q", stderr)
	}
	if !strings.Contains(stderr, "the admin token was refused") {
		t.Errorf("stderr %q", stderr)
	}
}

func TestWrongCAIsAClearTLSError(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	other := otherCA(t)
	_, stderr, code := h.run("status", "--ca", other)
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	for _, s := range []string{"cannot verify the master's TLS certificate", h.srv.URL, "is " + other + " the cluster CA?"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr %q lacks %q", stderr, s)
		}
	}
	if n := len(h.fake.recordedCalls()); n != 0 {
		t.Errorf("the master got %d calls over an unverified connection", n)
	}
}

func TestWithoutCASystemRootsAreUsed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	delete(h.env, envCA)
	_, stderr, code := h.run("status")
	if code != exitFailure {
		t.Errorf("exit %d", code)
	}
	if !strings.Contains(stderr, "cannot verify the master's TLS certificate") || !strings.Contains(stderr, "--ca") {
		t.Errorf("stderr %q should point at --ca", stderr)
	}
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
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("--ca %s: exit %d, stderr %q; want exit 2 and %q", tc.path, code, stderr, tc.want)
		}
	}
}

func TestPlainHTTPServerIsNamed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	addr := "https://" + plain.Listener.Addr().String()
	_, stderr, code := h.run("status", "--addr", addr)
	if code != exitFailure || !strings.Contains(stderr, "did not answer with TLS") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestUnreachableMaster(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "https://" + l.Addr().String()
	l.Close()
	_, stderr, code := h.run("members", "--addr", addr)
	if code != exitFailure {
		t.Errorf("exit %d", code)
	}
	if want := "meshctl: cannot reach master at " + addr + ": dial tcp"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
}

func TestTimeoutIsNamed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.update(func(f *fakeAdmin) { f.block = true })
	_, stderr, code := h.run("status", "--timeout", "200ms")
	if code != exitFailure {
		t.Errorf("exit %d", code)
	}
	if want := "did not answer within 200ms"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
}

func TestWrongPathIsUnsupported(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, stderr, code := h.run("pool", "list", "--addr", h.srv.URL+"/dashboard")
	if code != exitFailure {
		t.Errorf("exit %d", code)
	}
	if want := "does not serve ListPools"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
}

func TestNonTLSNonHTTPServerIsNamed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
	if code != exitFailure || !strings.Contains(stderr, "did not answer with TLS") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestBadTokenIsNotEchoed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, stderr, code := h.run("status", "--token", "abc\u00e9secret")
	if code != exitUsage || strings.Contains(stderr, "secret") || !strings.Contains(stderr, "at byte 3") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
